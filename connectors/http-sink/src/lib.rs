//! `http-sink`: a built-in sink that delivers records to HTTP endpoints.
//!
//! - [`settings`]: the configuration keys, parsed once.
//! - [`template`]: per-record URLs from record fields (`${value.customer}`).
//! - [`endpoints`]: per-endpoint FIFO queues, batching by count, bytes and linger time,
//!   concurrent sends, retries with backoff and `Retry-After` per endpoint.
//! - [`task`]: the task: bodies (JSON array, NDJSON, one request per record), failures
//!   reported per record, offsets durable only below the first record still waiting.
//!
//! One endpoint that is down does not hold up the others: its records wait in its own
//! queue (up to `max.buffered.records` in all) and are retried on their own schedule.

mod endpoints;
mod settings;
mod task;
mod template;

use culvert_connector_sdk::{
    Config, ConfigIssue, ConfigKeyBuilder, ConfigType, Connector, Importance, Plugin, PluginSpec,
    SinkConnector,
};
use settings::*;

/// The connector half.
pub struct HttpSink;

fn key(name: &str, ty: ConfigType, doc: &str, default: Option<&str>) -> ConfigKeyBuilder {
    let key = ConfigKeyBuilder::new(name, ty, doc);
    match default {
        Some(d) => key.default_value(d),
        None => key,
    }
}

impl Plugin for HttpSink {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "http-sink".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Delivers records to HTTP endpoints in batches, with per-record URLs, \
                          retries and per-endpoint isolation"
                .to_string(),
            config_def: vec![
                key(
                    URL,
                    ConfigType::String,
                    "Endpoint URL; may take ${topic}, ${partition}, ${key}, ${key.field} and \
                     ${value.field} from each record. Its host must be in plugin.allow.hosts.",
                    None,
                )
                .required()
                .importance(Importance::High)
                .build(),
                key(
                    METHOD,
                    ConfigType::String,
                    "POST, PUT or PATCH.",
                    Some("POST"),
                )
                .build(),
                key(
                    HEADERS,
                    ConfigType::String,
                    "Extra headers, Name:Value separated by header.separator.",
                    Some(""),
                )
                .build(),
                key(
                    HEADER_SEPARATOR,
                    ConfigType::String,
                    "Separates headers.",
                    Some("|"),
                )
                .importance(Importance::Low)
                .build(),
                key(
                    AUTH_TYPE,
                    ConfigType::String,
                    "NONE, BASIC or BEARER.",
                    Some("NONE"),
                )
                .build(),
                key(USER, ConfigType::String, "User for BASIC auth.", None).build(),
                key(
                    PASSWORD,
                    ConfigType::Password,
                    "Password for BASIC auth.",
                    None,
                )
                .build(),
                key(
                    BEARER_TOKEN,
                    ConfigType::Password,
                    "Token for BEARER auth.",
                    None,
                )
                .build(),
                key(
                    FORMAT,
                    ConfigType::String,
                    "json_array (a JSON array per request), ndjson (one JSON value per line) \
                     or single (one request per record, the value as the body).",
                    Some("json_array"),
                )
                .build(),
                key(
                    BATCH_MAX_SIZE,
                    ConfigType::Int,
                    "Most records per request.",
                    Some("100"),
                )
                .build(),
                key(
                    BATCH_MAX_BYTES,
                    ConfigType::Int,
                    "Most body bytes per request (a bigger single record goes alone).",
                    Some("1048576"),
                )
                .build(),
                key(
                    LINGER,
                    ConfigType::Long,
                    "How long a batch that is not full may wait for more records, in ms.",
                    Some("0"),
                )
                .build(),
                key(
                    SUCCESS_CODES,
                    ConfigType::String,
                    "Status codes that mean delivered (ranges like 200-299, comma-separated).",
                    Some("200-299"),
                )
                .build(),
                key(
                    RETRY_CODES,
                    ConfigType::String,
                    "Status codes retried with backoff; other failures are final.",
                    Some("408,429,500-599"),
                )
                .build(),
                key(
                    MAX_RETRIES,
                    ConfigType::Int,
                    "Retries of one batch before its records fail; -1 retries until delivered.",
                    Some("-1"),
                )
                .build(),
                key(
                    BACKOFF,
                    ConfigType::Long,
                    "First retry delay in ms, doubled each time (Retry-After wins).",
                    Some("500"),
                )
                .build(),
                key(
                    BACKOFF_MAX,
                    ConfigType::Long,
                    "Longest retry delay in ms.",
                    Some("30000"),
                )
                .build(),
                key(
                    TIMEOUT,
                    ConfigType::Int,
                    "Timeout of one request in ms.",
                    Some("30000"),
                )
                .build(),
                key(
                    MAX_BUFFERED,
                    ConfigType::Int,
                    "Most records held for failing endpoints before the task stops taking more.",
                    Some("100000"),
                )
                .build(),
                key(
                    NULL_VALUES,
                    ConfigType::String,
                    "Tombstones: ignore (skip them) or fail.",
                    Some("ignore"),
                )
                .build(),
            ],
        }
    }

    fn validate(cfg: &Config) -> Vec<ConfigIssue> {
        culvert_connector_sdk::validate_with(&Self::spec().config_def, cfg, Settings::parse(cfg))
    }
}

impl Connector for HttpSink {
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok((0..max_tasks.max(1)).map(|_| cfg.clone()).collect())
    }
}

impl SinkConnector for HttpSink {
    type Task = task::HttpSinkTask;
}

culvert_connector_sdk::export_sink_connector!(HttpSink);
