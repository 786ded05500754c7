//! `culvert standalone [--data-dir DIR] [--config FILE] [connector.json ...]`: the embedded
//! broker in-process plus one worker — stores on compacted topics of that broker, the
//! herder, and the REST API — until Ctrl-C or SIGTERM. Connector files (Connect's
//! `{"name", "config"}` or a flat config with `name`) are created or updated at start.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use culvert_log_engine::{BrokerConfig, RunningBroker};
use serde_json::Value;

use super::broker::wait_for_signal;
use crate::cluster::Lease;
use crate::config::{Mode, WorkerConfig, load_properties};
use crate::herder::Herder;
use crate::rest::{RestState, router};
use crate::runtime::Runtime;
use crate::stores::Properties;

/// What `standalone` was asked to do.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) data_dir: PathBuf,
    pub(crate) config: Option<PathBuf>,
    pub(crate) broker_listener: SocketAddr,
    pub(crate) connectors: Vec<PathBuf>,
}

/// Reads a connector file: `{"name": ..., "config": {...}}` or a flat map with `name`.
pub(crate) fn connector_file(path: &Path) -> Result<(String, Properties), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let Value::Object(mut map) = json else {
        return Err(format!("{} must hold a JSON object", path.display()));
    };
    let flat = match map.remove("config") {
        Some(Value::Object(config)) => {
            let mut config = config;
            if let Some(name) = map.remove("name") {
                config.entry("name").or_insert(name);
            }
            config
        }
        Some(_) => return Err(format!("{}: \"config\" must be an object", path.display())),
        None => map,
    };
    let mut props = BTreeMap::new();
    for (k, v) in flat {
        match v {
            Value::String(s) => {
                props.insert(k, s);
            }
            Value::Number(_) | Value::Bool(_) => {
                props.insert(k, v.to_string());
            }
            Value::Null => {}
            _ => {
                return Err(format!(
                    "{}: the value of {k} must be a string",
                    path.display()
                ));
            }
        }
    }
    let name = props
        .get("name")
        .cloned()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| format!("{} names no connector (\"name\")", path.display()))?;
    Ok((name, props))
}

/// What `start` brought up.
struct Started {
    broker: RunningBroker,
    herder: Arc<Herder>,
    runtime: Runtime,
    rest: tokio::net::TcpListener,
    plugin_metrics: Arc<culvert_plugin_host::PluginMetrics>,
}

async fn start(options: &Options) -> Result<Started, String> {
    let props = load_properties(options.config.as_deref()).map_err(|e| e.to_string())?;
    let broker = RunningBroker::start(BrokerConfig {
        listener: options.broker_listener,
        data_dir: options.data_dir.join("broker"),
        ..BrokerConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the embedded broker: {e}"))?;
    let mut props = props;
    props.insert("bootstrap.servers".into(), broker.bootstrap());
    let (config, warnings) =
        WorkerConfig::from_properties(&props, Mode::Standalone).map_err(|e| e.to_string())?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let node = super::node::assemble(&config, &options.data_dir.join("plugin-cache")).await?;
    let runtime = node.runtime(&config, Lease::unlimited(), false);
    let herder = Arc::new(node.herder(&config, runtime.clone()));
    for path in &options.connectors {
        let (name, props) = connector_file(path)?;
        herder
            .put_config(&name, props, None, false)
            .await
            .map_err(|e| format!("connector {name} from {}: {e}", path.display()))?;
    }
    Ok(Started {
        broker,
        herder,
        runtime,
        rest: node.rest,
        plugin_metrics: node.plugin_metrics,
    })
}

pub(crate) async fn run(options: Options) -> ExitCode {
    let Started {
        broker,
        herder,
        runtime,
        rest,
        plugin_metrics,
    } = match start(&options).await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("culvert standalone: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = match rest.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("culvert standalone: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cluster_id = broker.broker().cluster_id().to_string();
    let mut banner = format!(
        "culvert standalone: REST API on http://{addr} (broker bootstrap.servers={}, data in {})\n",
        broker.bootstrap(),
        options.data_dir.display()
    );
    if herder.connectors().is_empty() {
        banner.push_str(&format!(
            "no connectors yet; create one with: curl -X POST -H 'Content-Type: application/json' \
             --data @examples/datagen.json http://{addr}/connectors\n"
        ));
    }
    super::node::banner(&banner);
    let state = Arc::new(RestState {
        herder,
        loggers: crate::logging::global(),
        kafka_cluster_id: cluster_id,
        plugin_metrics: Some(plugin_metrics),
    });
    let server = axum::serve(rest, router(state)).with_graceful_shutdown(wait_for_signal());
    if let Err(e) = server.await {
        eprintln!("culvert standalone: the REST server failed: {e}");
    }
    // Tasks stop first, committing their offsets, while the broker still runs.
    runtime.shutdown().await;
    match broker.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("culvert standalone: broker shutdown failed: {e}");
            ExitCode::FAILURE
        }
    }
}
