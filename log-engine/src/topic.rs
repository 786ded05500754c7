//! Topics: names, ids, configuration, partitions, and their persisted metadata.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::partition::Partition;
use crate::topic_config::TopicConfig;

/// A topic with its open partitions.
#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub config: TopicConfig,
    pub partitions: Vec<Arc<Partition>>,
}

impl Topic {
    /// Whether Kafka would call it internal (`__consumer_offsets`, `__transaction_state`).
    pub fn is_internal(&self) -> bool {
        self.name == "__consumer_offsets" || self.name == "__transaction_state"
    }

    /// Partition `index`, if it exists.
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// Longest topic name Kafka allows.
const MAX_NAME_LEN: usize = 249;

/// Checks a topic name the way Kafka does; the error is Kafka's message.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "Topic name is illegal, it can't be longer than {MAX_NAME_LEN} characters, topic \
             name: {name}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
    {
        return Err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII \
             alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// The persisted form of the topic registry (`meta/topics.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct TopicsFile {
    pub(crate) version: u32,
    pub(crate) topics: Vec<TopicRecord>,
}

/// One topic in `meta/topics.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TopicRecord {
    pub(crate) name: String,
    pub(crate) id: Uuid,
    pub(crate) partitions: i32,
    pub(crate) configs: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn names_follow_kafka_rules() {
        for ok in [
            "a",
            "orders.v1",
            "connect-offsets",
            "__consumer_offsets",
            "A_b-9",
        ] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a b", "é", &"x".repeat(250)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
