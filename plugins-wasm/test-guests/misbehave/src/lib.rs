//! `misbehave`: a source whose `poll` misbehaves on purpose, for the host's sandbox tests.
//!
//! `mode` picks the behaviour: `ok` (one record per poll to topic `t`, counted in the
//! `polls_total` metric), `spin` (loops
//! forever), `alloc` (allocates until memory runs out), `trap` (panics), `fatal` and
//! `retriable` (return that plugin error).

use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Connector, Plugin, PluginError, PluginSpec, Position,
    SourceBatch, SourceBatchBuilder, SourceConnector, SourceTask,
};

/// The connector half.
pub struct Misbehave;

impl Plugin for Misbehave {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "misbehave".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test guest whose poll misbehaves on purpose".to_string(),
            config_def: vec![
                ConfigKeyBuilder::new(
                    "mode",
                    ConfigType::String,
                    "ok, spin, alloc, trap, fatal or retriable.",
                )
                .default_value("ok")
                .build(),
            ],
        }
    }
}

impl Connector for Misbehave {
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok((0..max_tasks.max(1)).map(|_| cfg.clone()).collect())
    }
}

impl SourceConnector for Misbehave {
    type Task = MisbehaveTask;
}

/// One task.
pub struct MisbehaveTask {
    mode: String,
    polls: u64,
}

impl SourceTask for MisbehaveTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        Ok(Self {
            mode: cfg.get("mode").unwrap_or("ok").to_string(),
            polls: 0,
        })
    }

    fn start(&mut self, _committed: Vec<Position>) -> Result<(), PluginError> {
        Ok(())
    }

    fn poll(&mut self, _max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        self.polls += 1;
        match self.mode.as_str() {
            "spin" => {
                let mut x = self.polls;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("misbehave was told to trap"),
            "fatal" => Err(PluginError::Fatal("misbehave was told to fail".to_string())),
            "retriable" => Err(PluginError::Retriable(
                "misbehave was told to retry".to_string(),
            )),
            _ => {
                culvert_connector_sdk::metrics::counter("polls_total", 1.0, &[("mode", "ok")])
                    .map_err(PluginError::Fatal)?;
                culvert_connector_sdk::metrics::histogram("batch_records", 1.0, &[])
                    .map_err(PluginError::Fatal)?;
                if let Err(e) = culvert_connector_sdk::metrics::counter("polls_total", -1.0, &[]) {
                    culvert_connector_sdk::log::debug("refused as expected", &[("reason", &e)]);
                } else {
                    return Err(PluginError::Fatal(
                        "a negative counter increment was taken".into(),
                    ));
                }
                let mut batch = SourceBatchBuilder::new();
                let value = self.polls.to_string();
                batch
                    .push("t", None, Some(value.as_bytes()), &[], None)
                    .map_err(PluginError::Fatal)?;
                Ok(Some(batch.build()))
            }
        }
    }
}

culvert_connector_sdk::export_source_connector!(Misbehave);
