//! The worker's state on compacted topics, in Kafka Connect's formats so that Connect's
//! tools (and a migration from Connect) read them unchanged: connector and task configs,
//! target states and commits (`config_records`), connector and task statuses
//! (`status_records`), and source offsets (`offset_records`); the state each topic
//! describes once its records are applied in order (`config_state`, `status_state`,
//! `offset_state`); `topic_log`, which reads and writes such a topic (created compacted,
//! or checked, at start); and `store`, a topic plus its state with read-your-writes.
//!
//! Keys are UTF-8 strings except offsets keys (JSON arrays); values are schemaless JSON
//! (Connect's internal JsonConverter with `schemas.enable=false`); a tombstone (no value)
//! deletes.

mod config_records;
mod config_state;
mod offset_records;
mod offset_state;
mod status_records;
mod status_state;
mod store;
mod topic_log;

pub use config_records::{ConfigRecord, TargetState};
pub use config_state::{ConfigState, Properties, RestartRequest};
pub use offset_records::{OffsetKey, encode_offset_key};
pub use offset_state::OffsetState;
pub use status_records::{State, Status, StatusKey, encode_topic_status};
pub use status_state::StatusState;
pub use store::{Apply, Store};
pub use topic_log::{ClientSettings, LogRecord, StoreError, TopicLog};

/// A record of an internal topic that does not follow Connect's format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("record {key:?} of the {topic} topic is malformed: {reason}")]
pub struct FormatError {
    pub topic: &'static str,
    pub key: String,
    pub reason: String,
}

pub(crate) fn malformed(topic: &'static str, key: &str, reason: impl Into<String>) -> FormatError {
    FormatError {
        topic,
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Parses `value` as a JSON object.
pub(crate) fn object(
    topic: &'static str,
    key: &str,
    value: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, FormatError> {
    match serde_json::from_slice::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(topic, key, "the value is not a JSON object")),
        Err(e) => Err(malformed(topic, key, format!("the value is not JSON: {e}"))),
    }
}
