//! `discard-sink`: a sink that drops every record and reports everything it was handed as
//! durable — the far end of the pipeline benchmark, costing as little as a sink can.

use culvert_connector_sdk::{
    Config, Connector, PartitionOffset, Plugin, PluginError, PluginSpec, RecordFailure,
    SinkConnector, SinkRecords, SinkTask,
};

/// The connector half.
pub struct DiscardSink;

impl Plugin for DiscardSink {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "discard-sink".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Benchmark sink that drops every record".to_string(),
            config_def: Vec::new(),
        }
    }
}

impl Connector for DiscardSink {
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok((0..max_tasks.max(1)).map(|_| cfg.clone()).collect())
    }
}

impl SinkConnector for DiscardSink {
    type Task = DiscardTask;
}

/// One task.
pub struct DiscardTask;

impl SinkTask for DiscardTask {
    fn new(_cfg: Config) -> Result<Self, PluginError> {
        Ok(Self)
    }

    fn put(&mut self, _records: SinkRecords<'_>) -> Result<Vec<RecordFailure>, PluginError> {
        Ok(Vec::new())
    }

    fn flush(
        &mut self,
        current: Vec<PartitionOffset>,
    ) -> Result<Vec<PartitionOffset>, PluginError> {
        Ok(current)
    }
}

culvert_connector_sdk::export_sink_connector!(DiscardSink);
