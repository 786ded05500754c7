//! `datagen`: a built-in source that generates JSON records, for demos, tests and benchmarks.
//!
//! Each task emits records `{"task":T,"counter":N,"timestamp_ms":MS}` with the JSON string
//! key `"T:N"` to `kafka.topic`, counting N from 0: one record every `max.interval` ms (500
//! by default, as Confluent's datagen), or batches of `batch.size` as fast as possible with
//! 0; `pad.bytes` pads values with a `"pad"` field up to that size. After `iterations`
//! records (per task) it goes quiet; an `iterations` below 1 means it never stops. Its source
//! partition is `{"task":T}` and its offset `{"counter":N}` (the last record written), so a
//! restarted task resumes at N + 1.

use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Connector, Importance, Plugin, PluginError, PluginSpec,
    Position, SourceBatch, SourceBatchBuilder, SourceConnector, SourceTask,
};

const TOPIC: &str = "kafka.topic";
const ITERATIONS: &str = "iterations";
const BATCH_SIZE: &str = "batch.size";
const MAX_INTERVAL: &str = "max.interval";
const PAD_BYTES: &str = "pad.bytes";
const TASK_ID: &str = "task.id";
const DEFAULT_BATCH_SIZE: u32 = 1000;

/// The connector half.
pub struct Datagen;

impl Plugin for Datagen {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "datagen".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Generates JSON records with a per-task counter and a timestamp"
                .to_string(),
            config_def: vec![
                ConfigKeyBuilder::new(TOPIC, ConfigType::String, "Topic to write records to.")
                    .required()
                    .importance(Importance::High)
                    .build(),
                ConfigKeyBuilder::new(
                    ITERATIONS,
                    ConfigType::Long,
                    "Number of records each task emits; less than 1 means unlimited.",
                )
                .default_value("-1")
                .build(),
                ConfigKeyBuilder::new(
                    PAD_BYTES,
                    ConfigType::Int,
                    "Adds a \"pad\" text field so each value is at least this many bytes (for \
                     benchmarks); 0 adds nothing.",
                )
                .default_value("0")
                .importance(Importance::Low)
                .build(),
                ConfigKeyBuilder::new(
                    MAX_INTERVAL,
                    ConfigType::Long,
                    "Milliseconds between records (as Confluent's datagen); 0 means as fast as \
                     possible, in batches of batch.size.",
                )
                .default_value("500")
                .build(),
                ConfigKeyBuilder::new(
                    BATCH_SIZE,
                    ConfigType::Int,
                    "Largest number of records returned by one poll.",
                )
                .default_value(&DEFAULT_BATCH_SIZE.to_string())
                .importance(Importance::Low)
                .build(),
            ],
        }
    }

    fn validate(cfg: &Config) -> Vec<culvert_connector_sdk::ConfigIssue> {
        let mut issues = culvert_connector_sdk::validate_against(&Self::spec().config_def, cfg);
        if let Some(topic) = cfg.get(TOPIC)
            && topic.trim().is_empty()
        {
            issues.push(culvert_connector_sdk::ConfigIssue {
                key: TOPIC.to_string(),
                message: "kafka.topic must not be empty".to_string(),
            });
        }
        if let Ok(Some(size)) = cfg.parse::<i32>(BATCH_SIZE)
            && size < 1
        {
            issues.push(culvert_connector_sdk::ConfigIssue {
                key: BATCH_SIZE.to_string(),
                message: format!("batch.size must be at least 1, got {size}"),
            });
        }
        issues
    }
}

impl Connector for Datagen {
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok((0..max_tasks.max(1))
            .map(|id| cfg.with(TASK_ID, id.to_string()))
            .collect())
    }
}

impl SourceConnector for Datagen {
    type Task = DatagenTask;
}

/// One datagen task.
pub struct DatagenTask {
    topic: String,
    task_id: u32,
    /// Records to emit in total; `None` means unlimited.
    iterations: Option<u64>,
    batch_size: u32,
    /// Milliseconds between records; 0 = no pause.
    max_interval_ms: i64,
    /// Smallest value size; values are padded up to it.
    pad_bytes: usize,
    last_emit_ms: Option<i64>,
    next_counter: u64,
    partition: String,
}

fn config_error(issue: culvert_connector_sdk::ConfigIssue) -> PluginError {
    PluginError::Fatal(issue.message)
}

impl SourceTask for DatagenTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        let topic = cfg
            .get(TOPIC)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| PluginError::Fatal(format!("{TOPIC} is required")))?
            .to_string();
        let task_id = cfg
            .parse::<u32>(TASK_ID)
            .map_err(config_error)?
            .unwrap_or(0);
        let iterations = cfg
            .parse::<i64>(ITERATIONS)
            .map_err(config_error)?
            .unwrap_or(-1);
        let batch_size = cfg
            .parse::<u32>(BATCH_SIZE)
            .map_err(config_error)?
            .unwrap_or(DEFAULT_BATCH_SIZE)
            .max(1);
        Ok(Self {
            topic,
            task_id,
            iterations: u64::try_from(iterations).ok().filter(|n| *n > 0),
            batch_size,
            max_interval_ms: cfg
                .parse::<i64>(MAX_INTERVAL)
                .map_err(config_error)?
                .unwrap_or(500)
                .max(0),
            last_emit_ms: None,
            pad_bytes: cfg
                .parse::<u32>(PAD_BYTES)
                .map_err(config_error)?
                .unwrap_or(0) as usize,
            next_counter: 0,
            partition: format!("{{\"task\":{task_id}}}"),
        })
    }

    fn start(&mut self, committed: Vec<Position>) -> Result<(), PluginError> {
        let Some(pos) = committed
            .iter()
            .rev()
            .find(|p| p.partition == self.partition)
        else {
            return Ok(());
        };
        let offset: serde_json::Value = serde_json::from_str(&pos.offset).map_err(|e| {
            PluginError::Fatal(format!("committed offset {} is not JSON: {e}", pos.offset))
        })?;
        let last = offset
            .get("counter")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                PluginError::Fatal(format!(
                    "committed offset {} has no unsigned \"counter\" field",
                    pos.offset
                ))
            })?;
        self.next_counter = last.saturating_add(1);
        culvert_connector_sdk::log::info(
            "datagen resuming",
            &[("next_counter", &self.next_counter.to_string())],
        );
        Ok(())
    }

    fn poll(&mut self, max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        let mut want = u64::from(max_records.min(self.batch_size));
        if let Some(total) = self.iterations {
            want = want.min(total.saturating_sub(self.next_counter));
        }
        if want == 0 {
            return Ok(None);
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        if self.max_interval_ms > 0 {
            if self
                .last_emit_ms
                .is_some_and(|last| now_ms - last < self.max_interval_ms)
            {
                return Ok(None);
            }
            self.last_emit_ms = Some(now_ms);
            want = 1;
        }
        let mut batch = SourceBatchBuilder::new();
        let mut value = String::with_capacity(80);
        let mut key = String::with_capacity(24);
        for _ in 0..want {
            let n = self.next_counter;
            value.clear();
            key.clear();
            use std::fmt::Write;
            let _ = write!(
                value,
                "{{\"task\":{},\"counter\":{n},\"timestamp_ms\":{now_ms}",
                self.task_id
            );
            // `,"pad":"…"` brings the value up to pad.bytes.
            let missing = self.pad_bytes.saturating_sub(value.len() + 1);
            if missing > 0 {
                value.push_str(",\"pad\":\"");
                let fill = missing.saturating_sub(9);
                value.extend(std::iter::repeat_n('x', fill));
                value.push('"');
            }
            value.push('}');
            let _ = write!(key, "\"{}:{n}\"", self.task_id);
            batch
                .push(
                    &self.topic,
                    Some(key.as_bytes()),
                    Some(value.as_bytes()),
                    &[],
                    Some(now_ms),
                )
                .map_err(PluginError::Fatal)?;
            self.next_counter += 1;
        }
        batch.checkpoint(Position {
            partition: self.partition.clone(),
            offset: format!("{{\"counter\":{}}}", self.next_counter - 1),
        });
        Ok(Some(batch.build()))
    }
}

culvert_connector_sdk::export_source_connector!(Datagen);
