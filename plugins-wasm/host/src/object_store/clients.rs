//! S3 clients shared by every plugin of one engine, one per endpoint, region, addressing
//! style and credentials; and the translation of SDK errors into the WIT's `store-error`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;

use crate::bindings::culvert::connector::object_store::{ServiceError, StoreError, StoreOptions};

/// Longest time one request (with its retries) may take.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest time to establish a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine's S3 clients. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct ObjectClients {
    clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl std::fmt::Debug for ObjectClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.clients.lock().map(|c| c.len()).unwrap_or_default();
        f.debug_struct("ObjectClients")
            .field("clients", &count)
            .finish()
    }
}

fn env_credentials() -> Result<Credentials, StoreError> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(ak), Some(sk)) => Ok(Credentials::new(
            ak,
            sk,
            var("AWS_SESSION_TOKEN"),
            None,
            "worker-environment",
        )),
        _ => Err(StoreError::Invalid(
            "no credentials given, and the worker's environment has no AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY"
                .into(),
        )),
    }
}

impl ObjectClients {
    /// The client for `options` (its endpoint already checked against the grant).
    pub(crate) fn client(&self, options: &StoreOptions) -> Result<aws_sdk_s3::Client, StoreError> {
        let credentials = match &options.credentials {
            Some(c) => Credentials::new(
                &c.access_key_id,
                &c.secret_access_key,
                c.session_token.clone(),
                None,
                "connector-config",
            ),
            None => env_credentials()?,
        };
        let region = options
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_string());
        let key = format!(
            "{region}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            options.endpoint.as_deref().unwrap_or_default(),
            options.path_style,
            credentials.access_key_id(),
            credentials.secret_access_key(),
            credentials.session_token().unwrap_or_default()
        );
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| StoreError::Connect("the S3 client cache is poisoned".into()))?;
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials)
            .force_path_style(options.path_style)
            .http_client(http)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(OPERATION_TIMEOUT)
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            // S3-compatible stores often reject the newer default checksum headers.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &options.endpoint {
            config = config.endpoint_url(endpoint);
        }
        let client = aws_sdk_s3::Client::from_conf(config.build());
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// Turns an SDK error into the plugin's error. A 404 (other than a missing bucket or
/// upload) means the object does not exist.
pub(crate) fn store_error<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &e {
        SdkError::TimeoutError(_) => StoreError::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => StoreError::Timeout,
        SdkError::DispatchFailure(_) => StoreError::Connect(DisplayErrorContext(&e).to_string()),
        SdkError::ConstructionFailure(_) => {
            StoreError::Invalid(DisplayErrorContext(&e).to_string())
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let err = ctx.err();
            let code = err.code().map(str::to_string);
            if status == 404 && !matches!(code.as_deref(), Some("NoSuchBucket" | "NoSuchUpload")) {
                return StoreError::NotFound;
            }
            StoreError::Service(ServiceError {
                status,
                message: err
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| DisplayErrorContext(&e).to_string()),
                code,
            })
        }
        _ => StoreError::Connect(DisplayErrorContext(&e).to_string()),
    }
}
