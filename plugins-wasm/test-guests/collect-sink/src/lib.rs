//! `collect-sink`: a sink for the host's tests. It checks that each partition's offsets
//! arrive consecutively, fails records whose value contains `fail.containing`, and reports
//! from `flush` the offset after the last record it accepted per partition.

use std::collections::BTreeMap;

use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Connector, PartitionOffset, Plugin, PluginError,
    PluginSpec, RecordFailure, SinkConnector, SinkRecords, SinkTask,
};

/// The connector half.
pub struct CollectSink;

impl Plugin for CollectSink {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "collect-sink".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test sink that checks offsets and counts records".to_string(),
            config_def: vec![
                ConfigKeyBuilder::new(
                    "fail.containing",
                    ConfigType::String,
                    "Records whose value contains this text are reported as failed.",
                )
                .build(),
            ],
        }
    }
}

impl Connector for CollectSink {
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok((0..max_tasks.max(1)).map(|_| cfg.clone()).collect())
    }
}

impl SinkConnector for CollectSink {
    type Task = CollectTask;
}

/// One task.
pub struct CollectTask {
    fail_containing: Option<Vec<u8>>,
    /// (topic, partition) → offset after the last accepted record.
    next: BTreeMap<(String, i32), i64>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

impl SinkTask for CollectTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        Ok(Self {
            fail_containing: cfg
                .get("fail.containing")
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec()),
            next: BTreeMap::new(),
        })
    }

    fn put(&mut self, records: SinkRecords<'_>) -> Result<Vec<RecordFailure>, PluginError> {
        let mut failures = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let key = (r.consumed_topic.to_string(), r.partition);
            if let Some(next) = self.next.get(&key)
                && *next != r.offset
            {
                return Err(PluginError::Fatal(format!(
                    "{}-{}: expected offset {next}, got {}",
                    key.0, key.1, r.offset
                )));
            }
            self.next.insert(key, r.offset + 1);
            if let (Some(needle), Some(value)) = (&self.fail_containing, r.record.value)
                && contains(value, needle)
            {
                failures.push(RecordFailure::new(
                    i,
                    format!("offset {} contains the failure marker", r.offset),
                ));
            }
        }
        Ok(failures)
    }

    fn flush(
        &mut self,
        _current: Vec<PartitionOffset>,
    ) -> Result<Vec<PartitionOffset>, PluginError> {
        Ok(self
            .next
            .iter()
            .map(|((topic, partition), offset)| PartitionOffset {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
            })
            .collect())
    }
}

culvert_connector_sdk::export_sink_connector!(CollectSink);
