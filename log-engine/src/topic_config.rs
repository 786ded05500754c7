//! Topic configuration: Kafka's topic-level keys, their defaults and validation.
//!
//! Every key Kafka accepts on a topic is accepted and reported back by DescribeConfigs; the
//! ones this single-node broker acts on are parsed into [`TopicConfig`]. An unknown key or a
//! malformed value is refused with a message that names it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::BrokerConfig;
use crate::log::{FlushPolicy, MAX_SEGMENT_BYTES, PartitionConfig};

/// Kafka's topic-level configuration keys (plus Culvert's `flush.policy`).
pub const KNOWN_KEYS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "flush.policy",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// Where a reported config value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic (`DYNAMIC_TOPIC_CONFIG`, 1).
    Topic,
    /// The broker's default (`DEFAULT_CONFIG`, 5).
    Default,
}

impl ConfigSource {
    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            ConfigSource::Topic => 1,
            ConfigSource::Default => 5,
        }
    }
}

/// A topic's configuration: the keys set on it, and what they mean to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// Keys set explicitly on the topic, verbatim.
    overrides: BTreeMap<String, String>,
    /// `cleanup.policy` contains `compact`.
    pub compact: bool,
    /// `cleanup.policy` contains `delete`.
    pub delete: bool,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub delete_retention_ms: i64,
    pub partition: PartitionConfig,
    /// `message.timestamp.type=LogAppendTime`.
    pub log_append_time: bool,
    /// `min.cleanable.dirty.ratio`: compact once this share of the log is new.
    pub min_cleanable_dirty_ratio: f64,
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse::<T>()
        .map_err(|_| format!("Invalid value {value} for configuration {key}: not a number"))
}

impl TopicConfig {
    /// Builds a topic's configuration from the keys set on it, over the broker defaults.
    pub fn new(overrides: BTreeMap<String, String>, broker: &BrokerConfig) -> Result<Self, String> {
        for key in overrides.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                return Err(format!("Unknown topic config name: {key}"));
            }
        }
        let get = |k: &str| overrides.get(k).map(String::as_str);
        let policy = get("cleanup.policy").unwrap_or("delete");
        let mut compact = false;
        let mut delete = false;
        for part in policy.split(',').map(str::trim) {
            match part {
                "compact" => compact = true,
                "delete" => delete = true,
                other => {
                    return Err(format!(
                        "Invalid value {other} for configuration cleanup.policy: String must be \
                         one of: compact, delete"
                    ));
                }
            }
        }
        let num = |k: &str, default: i64| -> Result<i64, String> {
            get(k).map_or(Ok(default), |v| parse_num::<i64>(k, v))
        };
        let segment_bytes = num("segment.bytes", broker.segment_bytes as i64)?;
        if segment_bytes < 14 || segment_bytes as u64 > MAX_SEGMENT_BYTES {
            return Err(format!(
                "Invalid value {segment_bytes} for configuration segment.bytes: must be between \
                 14 and {MAX_SEGMENT_BYTES}"
            ));
        }
        let max_message_bytes = num("max.message.bytes", broker.max_message_bytes as i64)?;
        if max_message_bytes < 0 {
            return Err(format!(
                "Invalid value {max_message_bytes} for configuration max.message.bytes: must be \
                 at least 0"
            ));
        }
        let index_interval = num("index.interval.bytes", 4096)?.max(0);
        let flush = Self::flush_policy(&overrides, broker)?;
        let timestamp_type = get("message.timestamp.type").unwrap_or("CreateTime");
        let log_append_time = match timestamp_type {
            "CreateTime" => false,
            "LogAppendTime" => true,
            other => {
                return Err(format!(
                    "Invalid value {other} for configuration message.timestamp.type: String \
                     must be one of: CreateTime, LogAppendTime"
                ));
            }
        };
        // The remaining keys must at least be well-formed where Kafka types them as numbers.
        for key in [
            "delete.retention.ms",
            "file.delete.delay.ms",
            "flush.messages",
            "flush.ms",
            "local.retention.bytes",
            "local.retention.ms",
            "max.compaction.lag.ms",
            "message.timestamp.after.max.ms",
            "message.timestamp.before.max.ms",
            "message.timestamp.difference.max.ms",
            "min.compaction.lag.ms",
            "min.insync.replicas",
            "retention.bytes",
            "retention.ms",
            "segment.index.bytes",
            "segment.jitter.ms",
            "segment.ms",
        ] {
            if let Some(v) = get(key) {
                parse_num::<i64>(key, v)?;
            }
        }
        if let Some(v) = get("min.cleanable.dirty.ratio") {
            parse_num::<f64>("min.cleanable.dirty.ratio", v)?;
        }
        Ok(Self {
            compact,
            delete,
            retention_ms: num("retention.ms", 604_800_000)?,
            retention_bytes: num("retention.bytes", -1)?,
            delete_retention_ms: num("delete.retention.ms", 86_400_000)?,
            partition: PartitionConfig {
                segment_bytes: segment_bytes as u64,
                index_interval_bytes: index_interval as u64,
                max_message_bytes: max_message_bytes as usize,
                flush,
                segment_ms: Duration::from_millis(num("segment.ms", 604_800_000)?.max(1) as u64),
                require_keys: compact,
            },
            min_cleanable_dirty_ratio: get("min.cleanable.dirty.ratio").map_or(Ok(0.5), |v| {
                parse_num::<f64>("min.cleanable.dirty.ratio", v)
            })?,
            log_append_time,
            overrides,
        })
    }

    /// `flush.policy` (always | interval | os) wins; otherwise Kafka's `flush.messages=1`
    /// means always and a finite `flush.ms` means interval; otherwise the broker default.
    fn flush_policy(
        overrides: &BTreeMap<String, String>,
        broker: &BrokerConfig,
    ) -> Result<FlushPolicy, String> {
        let flush_ms = overrides
            .get("flush.ms")
            .map(|v| parse_num::<i64>("flush.ms", v))
            .transpose()?;
        let interval = || Duration::from_millis(flush_ms.unwrap_or(1000).max(1) as u64);
        match overrides.get("flush.policy").map(|s| s.trim()) {
            Some("always") => return Ok(FlushPolicy::Always),
            Some("interval") => return Ok(FlushPolicy::Interval(interval())),
            Some("os") => return Ok(FlushPolicy::Os),
            Some(other) => {
                return Err(format!(
                    "Invalid value {other} for configuration flush.policy: String must be one \
                     of: always, interval, os"
                ));
            }
            None => {}
        }
        if let Some(messages) = overrides.get("flush.messages")
            && parse_num::<i64>("flush.messages", messages)? == 1
        {
            return Ok(FlushPolicy::Always);
        }
        match flush_ms {
            Some(ms) if ms < i64::MAX => Ok(FlushPolicy::Interval(interval())),
            _ => Ok(broker.default_flush),
        }
    }

    /// The keys set on the topic.
    pub fn overrides(&self) -> &BTreeMap<String, String> {
        &self.overrides
    }

    /// Every known key with its effective value and source, for DescribeConfigs.
    pub fn describe(&self, broker: &BrokerConfig) -> Vec<(&'static str, String, ConfigSource)> {
        KNOWN_KEYS
            .iter()
            .map(|&key| match self.overrides.get(key) {
                Some(v) => (key, v.clone(), ConfigSource::Topic),
                None => (key, default_value(key, broker), ConfigSource::Default),
            })
            .collect()
    }
}

/// The value a key has when the topic does not set it.
fn default_value(key: &str, broker: &BrokerConfig) -> String {
    match key {
        "cleanup.policy" => "delete".into(),
        "compression.type" => "producer".into(),
        "delete.retention.ms" => "86400000".into(),
        "file.delete.delay.ms" => "60000".into(),
        "flush.messages" | "flush.ms" | "max.compaction.lag.ms" => i64::MAX.to_string(),
        "flush.policy" => match broker.default_flush {
            FlushPolicy::Always => "always".into(),
            FlushPolicy::Interval(_) => "interval".into(),
            FlushPolicy::Os => "os".into(),
        },
        "index.interval.bytes" => "4096".into(),
        "local.retention.bytes" | "local.retention.ms" => "-2".into(),
        "max.message.bytes" => broker.max_message_bytes.to_string(),
        "message.downconversion.enable" | "unclean.leader.election.enable" => "false".into(),
        "message.timestamp.after.max.ms"
        | "message.timestamp.before.max.ms"
        | "message.timestamp.difference.max.ms" => i64::MAX.to_string(),
        "message.timestamp.type" => "CreateTime".into(),
        "min.cleanable.dirty.ratio" => "0.5".into(),
        "min.compaction.lag.ms" => "0".into(),
        "min.insync.replicas" => "1".into(),
        "preallocate" | "remote.storage.enable" => "false".into(),
        "retention.bytes" => "-1".into(),
        "retention.ms" => "604800000".into(),
        "segment.bytes" => broker.segment_bytes.to_string(),
        "segment.index.bytes" => "10485760".into(),
        "segment.jitter.ms" => "0".into(),
        "segment.ms" => "604800000".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<TopicConfig, String> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TopicConfig::new(map, &BrokerConfig::default())
    }

    #[test]
    fn defaults_and_overrides() {
        let c = cfg(&[]).expect("defaults");
        assert!(c.delete && !c.compact);
        assert_eq!(c.partition.flush, FlushPolicy::Always);
        let c = cfg(&[("cleanup.policy", "compact"), ("flush.ms", "250")]).expect("set");
        assert!(c.compact && !c.delete);
        assert_eq!(
            c.partition.flush,
            FlushPolicy::Interval(Duration::from_millis(250))
        );
        assert_eq!(
            cfg(&[("flush.policy", "os")]).expect("os").partition.flush,
            FlushPolicy::Os
        );
        let described = c.describe(&BrokerConfig::default());
        assert!(described.contains(&("cleanup.policy", "compact".into(), ConfigSource::Topic)));
        assert!(described.contains(&("retention.ms", "604800000".into(), ConfigSource::Default)));
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        assert_eq!(
            cfg(&[("colour", "blue")]).expect_err("unknown"),
            "Unknown topic config name: colour"
        );
        assert!(
            cfg(&[("cleanup.policy", "shred")])
                .expect_err("bad")
                .contains("cleanup.policy")
        );
        assert!(
            cfg(&[("retention.ms", "soon")])
                .expect_err("bad")
                .contains("retention.ms")
        );
        assert!(
            cfg(&[("segment.bytes", "0")])
                .expect_err("bad")
                .contains("segment.bytes")
        );
    }
}
