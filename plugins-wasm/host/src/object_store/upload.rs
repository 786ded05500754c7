//! Multipart uploads: bytes a plugin writes are buffered and sent as 8 MiB parts as soon as
//! a part is full; `complete` sends the rest and assembles the object. An upload dropped
//! before `complete` is aborted so its parts do not linger (and bill) in the bucket.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use wasmtime::component::Resource;

use super::clients::store_error;
use crate::bindings::culvert::connector::object_store::{HostUpload, StoreError};
use crate::state::StoreState;

/// Size of every part but the last (S3 needs at least 5 MiB).
const PART_BYTES: usize = 8 << 20;

/// The host side of a plugin's `upload` handle.
#[allow(unreachable_pub)] // public because the generated bindings re-export it
#[derive(Debug)]
pub struct UploadHandle {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: String,
    buffer: Vec<u8>,
    parts: Vec<CompletedPart>,
    /// Set once completed or aborted; later calls fail.
    finished: Option<&'static str>,
}

impl UploadHandle {
    pub(crate) async fn start(
        client: aws_sdk_s3::Client,
        bucket: String,
        key: String,
        content_type: Option<String>,
    ) -> Result<Self, StoreError> {
        let created = client
            .create_multipart_upload()
            .bucket(&bucket)
            .key(&key)
            .set_content_type(content_type)
            .send()
            .await
            .map_err(store_error)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| StoreError::Connect("the store returned no upload id".into()))?
            .to_string();
        Ok(Self {
            client,
            bucket,
            key,
            upload_id,
            buffer: Vec::new(),
            parts: Vec::new(),
            finished: None,
        })
    }

    fn check_open(&self) -> Result<(), StoreError> {
        match self.finished {
            None => Ok(()),
            Some(how) => Err(StoreError::Invalid(format!(
                "the upload of {}/{} was already {how}",
                self.bucket, self.key
            ))),
        }
    }

    /// Sends the first `len` buffered bytes as the next part; drops them only once sent, so
    /// a failed part can be retried by writing again.
    async fn send_part(&mut self, len: usize) -> Result<(), StoreError> {
        let number = i32::try_from(self.parts.len() + 1)
            .map_err(|_| StoreError::Invalid("too many parts".into()))?;
        let body = self.buffer[..len].to_vec();
        let sent = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(store_error)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_string))
                .build(),
        );
        self.buffer.drain(..len);
        Ok(())
    }

    async fn write(&mut self, body: Vec<u8>) -> Result<(), StoreError> {
        self.check_open()?;
        self.buffer.extend_from_slice(&body);
        while self.buffer.len() >= PART_BYTES {
            self.send_part(PART_BYTES).await?;
        }
        Ok(())
    }

    async fn complete(&mut self) -> Result<String, StoreError> {
        self.check_open()?;
        if !self.buffer.is_empty() || self.parts.is_empty() {
            self.send_part(self.buffer.len()).await?;
        }
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(store_error)?;
        self.finished = Some("completed");
        Ok(done
            .e_tag()
            .map(|e| e.trim_matches('"').to_string())
            .unwrap_or_default())
    }

    async fn abort(&mut self) -> Result<(), StoreError> {
        self.check_open()?;
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await
            .map_err(store_error)?;
        self.finished = Some("aborted");
        self.buffer = Vec::new();
        Ok(())
    }
}

impl HostUpload for StoreState {
    async fn write(
        &mut self,
        upload: Resource<UploadHandle>,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<(), StoreError>> {
        Ok(self.table().get_mut(&upload)?.write(body).await)
    }

    async fn complete(
        &mut self,
        upload: Resource<UploadHandle>,
    ) -> wasmtime::Result<Result<String, StoreError>> {
        Ok(self.table().get_mut(&upload)?.complete().await)
    }

    async fn abort(
        &mut self,
        upload: Resource<UploadHandle>,
    ) -> wasmtime::Result<Result<(), StoreError>> {
        Ok(self.table().get_mut(&upload)?.abort().await)
    }

    async fn drop(&mut self, upload: Resource<UploadHandle>) -> wasmtime::Result<()> {
        let mut upload = self.table().delete(upload)?;
        if upload.finished.is_none()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(
                bucket = %upload.bucket,
                key = %upload.key,
                error = ?e,
                "could not abort an unfinished multipart upload; its parts stay in the bucket \
                 until a lifecycle rule removes them"
            );
        }
        Ok(())
    }
}
