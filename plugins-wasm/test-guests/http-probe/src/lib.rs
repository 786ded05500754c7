//! `http-probe`: a source whose `poll` sends one request through the host's `http-client`
//! capability — `method` (default GET) to `url` — and returns the response as a record (key:
//! the status code, value: the body), or the HTTP error as a fatal plugin error. For the
//! host's grant tests.

use culvert_connector_sdk::http::{self, Request};
use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Connector, Plugin, PluginError, PluginSpec, Position,
    SourceBatch, SourceBatchBuilder, SourceConnector, SourceTask,
};

/// The connector half.
pub struct HttpProbe;

impl Plugin for HttpProbe {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "http-probe".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test guest that makes one HTTP request per poll".to_string(),
            config_def: vec![
                ConfigKeyBuilder::new("url", ConfigType::String, "URL to request.")
                    .required()
                    .build(),
                ConfigKeyBuilder::new("method", ConfigType::String, "HTTP method.")
                    .default_value("GET")
                    .build(),
            ],
        }
    }
}

impl Connector for HttpProbe {
    fn task_configs(cfg: &Config, _max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok(vec![cfg.clone()])
    }
}

impl SourceConnector for HttpProbe {
    type Task = ProbeTask;
}

/// One task.
pub struct ProbeTask {
    url: String,
    method: String,
}

impl SourceTask for ProbeTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        Ok(Self {
            url: cfg.get("url").unwrap_or_default().to_string(),
            method: cfg.get("method").unwrap_or("GET").to_string(),
        })
    }

    fn start(&mut self, _committed: Vec<Position>) -> Result<(), PluginError> {
        Ok(())
    }

    fn poll(&mut self, _max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        let resp = http::send(&Request::new(&self.method, &self.url).timeout_ms(5000))
            .map_err(|e| PluginError::Fatal(e.message()))?;
        let mut batch = SourceBatchBuilder::new();
        batch
            .push(
                "responses",
                Some(resp.status.to_string().as_bytes()),
                Some(&resp.body),
                &[],
                None,
            )
            .map_err(PluginError::Fatal)?;
        Ok(Some(batch.build()))
    }
}

culvert_connector_sdk::export_source_connector!(HttpProbe);
