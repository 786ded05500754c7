//! `lines-source`: emits each line of its `lines` setting as one record to `topic`, then goes
//! quiet. Its source partition is `{"source":"lines"}` and its offset `{"line":N}` (the last
//! line written), so a restarted task continues after the last committed line.
//!
//! It is an example of a connector written outside Culvert's tree: it depends only on
//! `culvert-connector-sdk` and is tested with `culvert-connector-testkit`.

use culvert_connector_sdk::{
    Config, ConfigIssue, ConfigKeyBuilder, ConfigType, Connector, Importance, Plugin, PluginError,
    PluginSpec, Position, SourceBatch, SourceBatchBuilder, SourceConnector, SourceTask,
    validate_against,
};

const TOPIC: &str = "topic";
const LINES: &str = "lines";
const PARTITION: &str = r#"{"source":"lines"}"#;

/// The connector half.
pub struct LinesSource;

impl Plugin for LinesSource {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "lines-source".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Emits the lines of its configuration as records".to_string(),
            config_def: vec![
                ConfigKeyBuilder::new(TOPIC, ConfigType::String, "Topic to write to.")
                    .required()
                    .importance(Importance::High)
                    .build(),
                ConfigKeyBuilder::new(LINES, ConfigType::String, "Text; one record per line.")
                    .required()
                    .build(),
            ],
        }
    }

    fn validate(cfg: &Config) -> Vec<ConfigIssue> {
        let mut issues = validate_against(&Self::spec().config_def, cfg);
        if cfg.get(TOPIC).is_some_and(|t| t.trim().is_empty()) {
            issues.push(ConfigIssue {
                key: TOPIC.to_string(),
                message: "topic must not be empty".to_string(),
            });
        }
        issues
    }
}

impl Connector for LinesSource {
    /// One task: the lines are one ordered stream.
    fn task_configs(cfg: &Config, _max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok(vec![cfg.clone()])
    }
}

impl SourceConnector for LinesSource {
    type Task = LinesTask;
}

/// The task.
pub struct LinesTask {
    topic: String,
    lines: Vec<String>,
    next: usize,
}

impl SourceTask for LinesTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        let topic = cfg
            .get(TOPIC)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| PluginError::Fatal(format!("{TOPIC} is required")))?
            .to_string();
        let lines = cfg
            .get(LINES)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        Ok(Self {
            topic,
            lines,
            next: 0,
        })
    }

    fn start(&mut self, committed: Vec<Position>) -> Result<(), PluginError> {
        if let Some(pos) = committed.iter().rev().find(|p| p.partition == PARTITION) {
            let last: usize = pos
                .offset
                .trim_start_matches(r#"{"line":"#)
                .trim_end_matches('}')
                .parse()
                .map_err(|_| PluginError::Fatal(format!("bad committed offset {}", pos.offset)))?;
            self.next = last + 1;
        }
        Ok(())
    }

    fn poll(&mut self, max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        if self.next >= self.lines.len() {
            return Ok(None);
        }
        let end = self
            .lines
            .len()
            .min(self.next + max_records.max(1) as usize);
        let mut batch = SourceBatchBuilder::new();
        for line in &self.lines[self.next..end] {
            batch
                .push(&self.topic, None, Some(line.as_bytes()), &[], None)
                .map_err(PluginError::Fatal)?;
        }
        self.next = end;
        batch.checkpoint(Position {
            partition: PARTITION.to_string(),
            offset: format!(r#"{{"line":{}}}"#, end - 1),
        });
        Ok(Some(batch.build()))
    }
}

culvert_connector_sdk::export_source_connector!(LinesSource);
