//! Object storage — Amazon S3 and S3-compatible stores — through the host's
//! `object-store` capability. The host holds the S3 client and the credentials, checks every
//! bucket and key against the connector's `plugin.allow.buckets` grant (and a custom
//! endpoint against `plugin.allow.hosts`), caps whole-object reads at 64 MiB, and streams
//! multipart uploads in 8 MiB parts.
//!
//! ```ignore
//! let store = Store::open(&StoreOptions::s3_compatible("http://minio.internal:9000")
//!     .with_credentials(&key_id, &secret))?;
//! store.put("exports", "2024/01/part-0.json", b"...", Some("application/json"))?;
//! let upload = store.start_upload("exports", "2024/01/big.json", None)?;
//! upload.write(&chunk)?;          // repeat; parts stream out as they fill
//! let etag = upload.complete()?;
//! ```

use crate::bindings::source::culvert::connector::object_store as wit;

pub use wit::{
    Credentials, Listing, ObjectInfo, ServiceError, Store, StoreError, StoreOptions, Upload,
};

impl StoreOptions {
    /// Amazon S3 in `region`, with the worker's credentials unless others are set.
    pub fn aws(region: &str) -> Self {
        Self {
            region: Some(region.to_string()),
            endpoint: None,
            path_style: false,
            credentials: None,
        }
    }

    /// An S3-compatible store at `endpoint` (`http://host:port`), path-style addressing.
    pub fn s3_compatible(endpoint: &str) -> Self {
        Self {
            region: None,
            endpoint: Some(endpoint.to_string()),
            path_style: true,
            credentials: None,
        }
    }

    /// Sets the region.
    pub fn with_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }

    /// Uses static credentials instead of the worker's.
    pub fn with_credentials(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.credentials = Some(Credentials {
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            session_token: None,
        });
        self
    }
}

impl StoreError {
    /// The error as one readable sentence.
    pub fn message(&self) -> String {
        match self {
            StoreError::Denied(why) => format!("object store denied: {why}"),
            StoreError::Invalid(why) => format!("invalid request: {why}"),
            StoreError::NotFound => "no such object".to_string(),
            StoreError::Connect(why) => format!("connection failed: {why}"),
            StoreError::Timeout => "the request timed out".to_string(),
            StoreError::TooLarge(n) => {
                format!("the object is too large to read at once ({n} bytes)")
            }
            StoreError::Service(e) => match &e.code {
                Some(code) => format!("the store answered {} {code}: {}", e.status, e.message),
                None => format!("the store answered {}: {}", e.status, e.message),
            },
        }
    }

    /// Whether trying again later may succeed (connection trouble, timeouts, throttling
    /// and server errors).
    pub fn is_retriable(&self) -> bool {
        match self {
            StoreError::Connect(_) | StoreError::Timeout => true,
            StoreError::Service(e) => e.status == 429 || e.status >= 500,
            StoreError::Denied(_)
            | StoreError::Invalid(_)
            | StoreError::NotFound
            | StoreError::TooLarge(_) => false,
        }
    }
}
