//! What both worker modes assemble from a `WorkerConfig`: the three stores (followed in the
//! background), the plugin registry (compiled components cached under a directory), the
//! bound REST listener and the worker id it advertises, and the Kafka cluster id.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use culvert_plugin_host::{PluginEngine, PluginLimits, PluginMetrics, PluginRegistry};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::builtin;
use crate::cluster::Lease;
use crate::config::{ConfigProviders, TopicSettings, WorkerConfig};
use crate::herder::Herder;
use crate::runtime::{Runtime, RuntimeParts};
use crate::stores::{
    Apply, ClientSettings, ConfigState, OffsetState, StatusState, Store, TopicLog,
};

/// How often the stores pick up records written by others (other workers, tools).
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// The assembled parts.
pub(crate) struct Node {
    pub(crate) clients: ClientSettings,
    pub(crate) providers: ConfigProviders,
    pub(crate) configs: Arc<Store<ConfigState>>,
    pub(crate) statuses: Arc<Store<StatusState>>,
    pub(crate) offsets: Arc<Store<OffsetState>>,
    pub(crate) registry: Arc<PluginRegistry>,
    pub(crate) plugin_metrics: Arc<PluginMetrics>,
    pub(crate) rest: tokio::net::TcpListener,
    /// The advertised `host:port`.
    pub(crate) worker_id: String,
}

async fn open_store<S: Apply>(
    clients: &ClientSettings,
    settings: &TopicSettings,
    role: &str,
    single: bool,
) -> Result<Arc<Store<S>>, String> {
    let log = TopicLog::open(clients, settings, role, single)
        .await
        .map_err(|e| e.to_string())?;
    let store = Store::load(log).await.map_err(|e| e.to_string())?;
    store.follow(FOLLOW_EVERY);
    Ok(store)
}

/// Opens the stores, loads the plugins and binds the REST listener.
pub(crate) async fn assemble(config: &WorkerConfig, cache_dir: &Path) -> Result<Node, String> {
    let providers = ConfigProviders::new(&config.config_providers)?;
    let clients = ClientSettings {
        bootstrap_servers: config.bootstrap_servers.join(","),
        security: config.security_props.clone(),
        producer: config.producer.clone(),
        consumer: config.consumer.clone(),
        admin: config.admin.clone(),
    };
    let configs = open_store(&clients, &config.config_topic, "config.storage.topic", true).await?;
    let statuses = open_store(
        &clients,
        &config.status_topic,
        "status.storage.topic",
        false,
    )
    .await?;
    let offsets = open_store(
        &clients,
        &config.offset_topic,
        "offset.storage.topic",
        false,
    )
    .await?;
    let engine = PluginEngine::with_cache(PluginLimits::default(), Some(cache_dir))
        .map_err(|e| e.to_string())?;
    let registry = builtin::registry(&engine, &config.plugin_path).await;
    for problem in registry.problems() {
        tracing::warn!(origin = %problem.origin, error = %problem.error, "skipped a plugin");
    }
    let listener = config
        .listeners
        .first()
        .ok_or_else(|| "no REST listener configured".to_string())?;
    let host = listener.host.clone().unwrap_or_else(|| "0.0.0.0".into());
    let rest = tokio::net::TcpListener::bind((host.as_str(), listener.port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{}: {e}", listener.port))?;
    let port = rest.local_addr().map_err(|e| e.to_string())?.port();
    let advertised_host = config.rest_advertised_host_name.clone().unwrap_or_else(|| {
        if host == "0.0.0.0" {
            "127.0.0.1".into()
        } else {
            host.clone()
        }
    });
    let advertised_port = config.rest_advertised_port.unwrap_or(port);
    Ok(Node {
        clients,
        providers,
        configs,
        statuses,
        offsets,
        registry: Arc::new(registry),
        plugin_metrics: engine.metrics(),
        rest,
        worker_id: format!("{advertised_host}:{advertised_port}"),
    })
}

impl Node {
    /// Starts the task runtime over these parts: `clustered` runs only assigned work, and
    /// `lease` gates every write.
    pub(crate) fn runtime(
        &self,
        config: &WorkerConfig,
        lease: Arc<Lease>,
        clustered: bool,
    ) -> Runtime {
        Runtime::start(RuntimeParts {
            registry: Arc::clone(&self.registry),
            worker: config.clone(),
            clients: self.clients.clone(),
            configs: Arc::clone(&self.configs),
            statuses: Arc::clone(&self.statuses),
            offsets: Arc::clone(&self.offsets),
            providers: self.providers.clone(),
            worker_id: self.worker_id.clone(),
            lease,
            clustered,
        })
    }

    /// The herder over these parts, running tasks with `runtime`.
    pub(crate) fn herder(&self, config: &WorkerConfig, runtime: Runtime) -> Herder {
        Herder::new(
            self.worker_id.clone(),
            Arc::clone(&self.registry),
            Arc::clone(&self.configs),
            Arc::clone(&self.statuses),
            Arc::clone(&self.offsets),
        )
        .with_runtime(runtime)
        .with_topic_tracking(
            config.topic_tracking_enable,
            config.topic_tracking_allow_reset,
        )
        .with_config_providers(self.providers.clone())
    }
}

/// Prints the banner whose first line says where REST listens; a closed stdout (a
/// supervisor that stopped reading) must not stop the worker.
pub(crate) fn banner(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The Kafka cluster id (`GET /` reports it), asked of the brokers on a blocking thread.
pub(crate) async fn kafka_cluster_id(clients: &ClientSettings) -> Result<String, String> {
    let config = clients.config(&clients.admin)?;
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
        consumer
            .client()
            .fetch_cluster_id(Duration::from_secs(10))
            .ok_or_else(|| "the Kafka cluster did not report its cluster id".to_string())
    })
    .await
    .map_err(|e| format!("the cluster id lookup was lost: {e}"))?
}
