//! The `object-store` capability: S3 and S3-compatible stores through aws-sdk-s3, for
//! plugins.
//!
//! `store.open` checks a custom endpoint against `plugin.allow.hosts` and hands out a client
//! from the engine-wide cache ([`ObjectClients`]); every bucket and key is checked against
//! `plugin.allow.buckets` before a request is made. Whole-object reads are capped at 64 MiB
//! (larger objects are read in ranges); multipart uploads stream 8 MiB parts as they fill
//! and are aborted when dropped unfinished.

mod clients;
mod upload;

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use wasmtime::component::Resource;

use crate::bindings::culvert::connector::object_store::{
    Host, HostStore, Listing, ObjectInfo, StoreError, StoreOptions,
};
use crate::grants::{ALLOW_BUCKETS, HttpGrant, ObjectGrant};
use crate::state::StoreState;
pub use clients::ObjectClients;
use clients::store_error;
#[allow(unreachable_pub)] // public because the generated bindings re-export it
pub use upload::UploadHandle;

/// Largest object (or range) handed to a plugin in one call.
const MAX_READ_BYTES: u64 = 64 << 20;
/// Most keys one listing page may ask for.
const MAX_KEYS: u32 = 1000;

/// What one store may reach, and the clients it uses.
#[derive(Debug)]
pub(crate) struct ObjectAccess {
    pub(crate) grant: ObjectGrant,
    pub(crate) hosts: HttpGrant,
    pub(crate) clients: Arc<ObjectClients>,
}

/// The host side of a plugin's `store` handle.
#[allow(unreachable_pub)] // public because the generated bindings re-export it
#[derive(Debug)]
pub struct StoreHandle {
    client: aws_sdk_s3::Client,
    access: Arc<ObjectAccess>,
}

impl StoreHandle {
    fn check_key(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        if key.is_empty() {
            return Err(StoreError::Invalid("the object key is empty".into()));
        }
        self.access
            .grant
            .check_key(bucket, key)
            .map_err(StoreError::Denied)
    }
}

/// Checks a custom endpoint against the HTTP host grant.
fn check_endpoint(endpoint: &str, hosts: &HttpGrant) -> Result<(), StoreError> {
    let url = url::Url::parse(endpoint)
        .map_err(|e| StoreError::Invalid(format!("endpoint {endpoint:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(StoreError::Invalid(format!(
            "endpoint {endpoint:?} must be an http or https URL"
        )));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => {
            return Err(StoreError::Invalid(format!(
                "endpoint {endpoint:?} has no host"
            )));
        }
    };
    let port = url.port_or_known_default().unwrap_or(443);
    hosts
        .check_host(&host, port)
        .map_err(|why| StoreError::Denied(format!("endpoint {why}")))
}

fn strip_quotes(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_string())
}

fn millis(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<i64> {
    t.and_then(|t| t.to_millis().ok())
}

/// Reads a response body, refusing more than `MAX_READ_BYTES`.
async fn read_body(mut body: ByteStream, declared: Option<i64>) -> Result<Vec<u8>, StoreError> {
    let declared = declared.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    if declared > MAX_READ_BYTES {
        return Err(StoreError::TooLarge(declared));
    }
    let mut out = Vec::with_capacity(declared as usize);
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| StoreError::Connect(format!("reading the object failed: {e}")))?
    {
        out.extend_from_slice(&chunk);
        if out.len() as u64 > MAX_READ_BYTES {
            return Err(StoreError::TooLarge(out.len() as u64));
        }
    }
    Ok(out)
}

impl Host for StoreState {}

impl HostStore for StoreState {
    async fn open(
        &mut self,
        options: StoreOptions,
    ) -> wasmtime::Result<Result<Resource<StoreHandle>, StoreError>> {
        let Some(access) = self.objects.clone() else {
            return Ok(Err(StoreError::Denied(format!(
                "this plugin instance has no object-store grant: the connector sets no \
                 {ALLOW_BUCKETS}"
            ))));
        };
        if let Some(endpoint) = &options.endpoint
            && let Err(e) = check_endpoint(endpoint, &access.hosts)
        {
            return Ok(Err(e));
        }
        let client = match access.clients.client(&options) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(self.table().push(StoreHandle { client, access })?))
    }

    async fn put(
        &mut self,
        store: Resource<StoreHandle>,
        bucket: String,
        key: String,
        body: Vec<u8>,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<String, StoreError>> {
        let store = self.table().get(&store)?;
        if let Err(e) = store.check_key(&bucket, &key) {
            return Ok(Err(e));
        }
        let sent = store
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .set_content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await;
        Ok(sent
            .map(|r| strip_quotes(r.e_tag()).unwrap_or_default())
            .map_err(store_error))
    }

    async fn get(
        &mut self,
        store: Resource<StoreHandle>,
        bucket: String,
        key: String,
    ) -> wasmtime::Result<Result<Vec<u8>, StoreError>> {
        let store = self.table().get(&store)?;
        if let Err(e) = store.check_key(&bucket, &key) {
            return Ok(Err(e));
        }
        let resp = store
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        Ok(match resp {
            Ok(r) => read_body(r.body, r.content_length).await,
            Err(e) => Err(store_error(e)),
        })
    }

    async fn get_range(
        &mut self,
        store: Resource<StoreHandle>,
        bucket: String,
        key: String,
        offset: u64,
        length: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, StoreError>> {
        let store = self.table().get(&store)?;
        if let Err(e) = store.check_key(&bucket, &key) {
            return Ok(Err(e));
        }
        if length == 0 {
            return Ok(Ok(Vec::new()));
        }
        if length > MAX_READ_BYTES {
            return Ok(Err(StoreError::TooLarge(length)));
        }
        let Some(last) = offset.checked_add(length - 1) else {
            return Ok(Err(StoreError::Invalid("offset + length overflows".into())));
        };
        let resp = store
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await;
        Ok(match resp {
            Ok(r) => read_body(r.body, r.content_length).await,
            Err(e) => Err(store_error(e)),
        })
    }

    async fn head(
        &mut self,
        store: Resource<StoreHandle>,
        bucket: String,
        key: String,
    ) -> wasmtime::Result<Result<ObjectInfo, StoreError>> {
        let store = self.table().get(&store)?;
        if let Err(e) = store.check_key(&bucket, &key) {
            return Ok(Err(e));
        }
        let resp = store
            .client
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await;
        Ok(resp
            .map(|r| ObjectInfo {
                key,
                size: r
                    .content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                etag: strip_quotes(r.e_tag()),
                last_modified_ms: millis(r.last_modified()),
            })
            .map_err(store_error))
    }

    async fn delete(
        &mut self,
        store: Resource<StoreHandle>,
        bucket: String,
        key: String,
    ) -> wasmtime::Result<Result<(), StoreError>> {
        let store = self.table().get(&store)?;
        if let Err(e) = store.check_key(&bucket, &key) {
            return Ok(Err(e));
        }
        let resp = store
            .client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        Ok(resp.map(|_| ()).map_err(store_error))
    }

    async fn list_objects(
        &mut self,
        store: Resource<StoreHandle>,
        bucket: String,
        prefix: String,
        delimiter: Option<String>,
        token: Option<String>,
        max_keys: u32,
    ) -> wasmtime::Result<Result<Listing, StoreError>> {
        let store = self.table().get(&store)?;
        if let Err(e) = store.access.grant.check_listing(&bucket, &prefix) {
            return Ok(Err(StoreError::Denied(e)));
        }
        if max_keys == 0 || max_keys > MAX_KEYS {
            return Ok(Err(StoreError::Invalid(format!(
                "max-keys must be between 1 and {MAX_KEYS}, not {max_keys}"
            ))));
        }
        let resp = store
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter)
            .set_continuation_token(token)
            .max_keys(max_keys as i32)
            .send()
            .await;
        Ok(resp
            .map(|r| Listing {
                objects: r
                    .contents()
                    .iter()
                    .map(|o| ObjectInfo {
                        key: o.key().unwrap_or_default().to_string(),
                        size: o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                        etag: strip_quotes(o.e_tag()),
                        last_modified_ms: millis(o.last_modified()),
                    })
                    .collect(),
                prefixes: r
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_string))
                    .collect(),
                next_token: if r.is_truncated().unwrap_or(false) {
                    r.next_continuation_token().map(str::to_string)
                } else {
                    None
                },
            })
            .map_err(store_error))
    }

    async fn start_upload(
        &mut self,
        store: Resource<StoreHandle>,
        bucket: String,
        key: String,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<Resource<UploadHandle>, StoreError>> {
        let store = self.table().get(&store)?;
        if let Err(e) = store.check_key(&bucket, &key) {
            return Ok(Err(e));
        }
        let started = UploadHandle::start(store.client.clone(), bucket, key, content_type).await;
        Ok(match started {
            Ok(upload) => Ok(self.table().push(upload)?),
            Err(e) => Err(e),
        })
    }

    async fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
        self.table().delete(store)?;
        Ok(())
    }
}
