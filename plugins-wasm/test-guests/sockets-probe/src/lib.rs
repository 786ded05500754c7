//! `sockets-probe`: a source that opens a TCP connection itself, so its component imports
//! `wasi:sockets`. The host must refuse to load it: plugins reach the network only through
//! the granted `http-client` capability.

use culvert_connector_sdk::{
    Config, Connector, Plugin, PluginError, PluginSpec, Position, SourceBatch, SourceConnector,
    SourceTask,
};

/// The connector half.
pub struct SocketsProbe;

impl Plugin for SocketsProbe {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "sockets-probe".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test guest that opens raw sockets".to_string(),
            config_def: Vec::new(),
        }
    }
}

impl Connector for SocketsProbe {
    fn task_configs(cfg: &Config, _max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok(vec![cfg.clone()])
    }
}

impl SourceConnector for SocketsProbe {
    type Task = ProbeTask;
}

/// One task.
pub struct ProbeTask;

impl SourceTask for ProbeTask {
    fn new(_cfg: Config) -> Result<Self, PluginError> {
        Ok(Self)
    }

    fn start(&mut self, _committed: Vec<Position>) -> Result<(), PluginError> {
        Ok(())
    }

    fn poll(&mut self, _max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        match std::net::TcpStream::connect("127.0.0.1:9") {
            Ok(_) => Err(PluginError::Fatal(
                "connected through a raw socket".to_string(),
            )),
            Err(e) => Err(PluginError::Retriable(format!("connect failed: {e}"))),
        }
    }
}

culvert_connector_sdk::export_source_connector!(SocketsProbe);
