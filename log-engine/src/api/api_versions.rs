//! ApiVersions (key 18): the APIs and version ranges the broker serves.
//!
//! The response header is always v0, even for v3+ requests. A request at a version the
//! broker does not know gets a v0-format answer with UNSUPPORTED_VERSION and the list, so
//! the client retries at a version both sides know (KIP-511).

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use super::{Ctx, SUPPORTED, encode_frame};

fn response(error_code: i16) -> ApiVersionsResponse {
    let mut keys: Vec<ApiVersion> = SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    // Sorted by key, as Kafka sends it: librdkafka binary-searches this list, and
    // version 2.0.2 (Debian's kcat) does so without sorting it first.
    keys.sort_by_key(|k| k.api_key);
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(keys)
        .with_throttle_time_ms(0)
        .with_finalized_features_epoch(-1)
}

pub(crate) fn handle(ctx: &Ctx, _req: ApiVersionsRequest) -> Result<Bytes, String> {
    ctx.respond(&response(0))
}

/// The v0 answer to an ApiVersions request at an unknown version.
pub(crate) fn unsupported_version(correlation_id: i32) -> Result<Bytes, String> {
    encode_frame(
        ApiKey::ApiVersions,
        0,
        correlation_id,
        &response(ResponseError::UnsupportedVersion.code()),
    )
}
