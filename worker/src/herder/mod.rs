//! The herder: the connectors' lifecycle on one worker. It validates configurations against
//! the plugin, writes configs, target states and task configurations to the config store
//! (tasks take effect at their commit record), and reports statuses from the status store.
//!
//! With a [`Runtime`] attached, the herder wakes it after every change so tasks start, stop,
//! pause and restart; without one (tools, tests of the control plane) tasks are stored but
//! not run and report UNASSIGNED, never a fake RUNNING.

mod changes;
mod offsets_topics;
mod validation;

use std::collections::BTreeMap;
use std::sync::Arc;

use culvert_plugin_host::{Plugin, PluginKind, PluginRegistry};

use crate::cluster::ClusterView;
use crate::config::ConfigProviders;
use crate::runtime::Runtime;

use crate::stores::{
    ConfigState, OffsetState, Properties, State, Status, StatusState, Store, StoreError,
    TargetState,
};

/// Why a herder request failed, with the REST status it maps to.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HerderError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    AlreadyExists(String),
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for HerderError {
    fn from(e: StoreError) -> Self {
        HerderError::Internal(e.to_string())
    }
}

/// A connector as `GET /connectors/{name}` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: Properties,
    pub tasks: Vec<u32>,
    /// `source`, `sink` or `unknown`.
    pub kind: &'static str,
}

/// A connector's and its tasks' states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: Status,
    pub tasks: Vec<(u32, Status)>,
    pub kind: &'static str,
}

/// The herder of one worker.
#[derive(Debug)]
pub struct Herder {
    worker_id: String,
    generation: i32,
    registry: Arc<PluginRegistry>,
    configs: Arc<Store<ConfigState>>,
    statuses: Arc<Store<StatusState>>,
    offsets: Arc<Store<OffsetState>>,
    /// One lock per connector: its changes run one at a time, each seeing the previous
    /// one's result, while a slow plugin holds up only its own connector.
    changes: std::sync::Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// `topic.tracking.enable` and `topic.tracking.allow.reset`.
    topic_tracking: (bool, bool),
    /// Resolve `${provider:...}` placeholders before plugins see a configuration.
    providers: ConfigProviders,
    /// Runs the tasks, when this worker runs any.
    runtime: Option<Runtime>,
    /// In distributed mode: the cluster view and the membership loop's waker.
    cluster: Option<(
        Arc<std::sync::RwLock<ClusterView>>,
        Arc<tokio::sync::Notify>,
    )>,
}

impl Herder {
    /// A herder over loaded stores; `worker_id` is the advertised `host:port`.
    pub fn new(
        worker_id: String,
        registry: Arc<PluginRegistry>,
        configs: Arc<Store<ConfigState>>,
        statuses: Arc<Store<StatusState>>,
        offsets: Arc<Store<OffsetState>>,
    ) -> Self {
        Self {
            worker_id,
            generation: 0,
            registry,
            configs,
            statuses,
            offsets,
            changes: std::sync::Mutex::new(BTreeMap::new()),
            topic_tracking: (true, true),
            providers: ConfigProviders::default(),
            runtime: None,
            cluster: None,
        }
    }

    /// Runs tasks with `runtime`.
    pub fn with_runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The runtime, when this worker runs tasks.
    pub fn runtime(&self) -> Option<&Runtime> {
        self.runtime.as_ref()
    }

    /// Tells the runtime (and, in a cluster, the membership loop) the config topic changed.
    fn wake_runtime(&self) {
        if let Some(r) = &self.runtime {
            r.wake();
        }
        if let Some((_, wake)) = &self.cluster {
            wake.notify_one();
        }
    }

    /// Joins the herder to a cluster: `view` says who leads, `wake` is woken after every
    /// config write so the leader reassigns new work at once.
    pub fn with_cluster(
        mut self,
        view: Arc<std::sync::RwLock<ClusterView>>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        self.cluster = Some((view, wake));
        self
    }

    /// The cluster's state as this worker sees it, in distributed mode.
    pub fn cluster(&self) -> Option<ClusterView> {
        self.cluster
            .as_ref()
            .map(|(view, _)| view.read().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// The advertised `host:port` of this worker.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Uses the worker's config providers (`config.providers`).
    pub fn with_config_providers(mut self, providers: ConfigProviders) -> Self {
        self.providers = providers;
        self
    }

    /// Sets `topic.tracking.enable` and `topic.tracking.allow.reset` (both on by default).
    pub fn with_topic_tracking(mut self, enabled: bool, allow_reset: bool) -> Self {
        self.topic_tracking = (enabled, allow_reset);
        self
    }

    /// Waits for and holds connector `name`'s change lock.
    async fn change_lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.changes.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(locks.entry(name.to_string()).or_default())
        };
        lock.lock_owned().await
    }

    /// The plugins this worker can run.
    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// The plugin a stored configuration names (`connector.class` at
    /// `connector.plugin.version`).
    fn plugin_of(&self, config: &Properties) -> Result<&Plugin, HerderError> {
        let class = config
            .get("connector.class")
            .map(String::as_str)
            .unwrap_or_default();
        let version = config.get("connector.plugin.version").map(String::as_str);
        self.registry
            .resolve(class, version)
            .map_err(|e| HerderError::Internal(e.to_string()))
    }

    fn kind_of(&self, config: &Properties) -> &'static str {
        self.plugin_of(config)
            .map_or("unknown", |p| match p.kind() {
                PluginKind::Source => "source",
                PluginKind::Sink => "sink",
                PluginKind::Transform => "unknown",
            })
    }

    /// The connectors' names, sorted.
    pub fn connectors(&self) -> Vec<String> {
        self.configs
            .read()
            .connectors()
            .map(|(n, _)| n.to_string())
            .collect()
    }

    fn not_found(name: &str) -> HerderError {
        HerderError::NotFound(format!("Connector {name} not found"))
    }

    /// A connector's configuration (placeholders unresolved).
    pub fn config(&self, name: &str) -> Result<Properties, HerderError> {
        self.configs
            .read()
            .connector(name)
            .cloned()
            .ok_or_else(|| Self::not_found(name))
    }

    /// A connector's configuration, tasks and type.
    pub fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let state = self.configs.read();
        let config = state
            .connector(name)
            .cloned()
            .ok_or_else(|| Self::not_found(name))?;
        let tasks = (0..state.tasks(name).len() as u32).collect();
        drop(state);
        Ok(ConnectorInfo {
            name: name.to_string(),
            kind: self.kind_of(&config),
            config,
            tasks,
        })
    }

    /// A connector's task configurations.
    pub fn task_configs(&self, name: &str) -> Result<Vec<Properties>, HerderError> {
        let state = self.configs.read();
        if state.connector(name).is_none() {
            return Err(Self::not_found(name));
        }
        Ok(state.tasks(name).to_vec())
    }

    /// A connector's and its tasks' statuses. Tasks that have no status yet (nothing runs
    /// them) are UNASSIGNED.
    pub fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        let (config, task_count) = {
            let state = self.configs.read();
            let config = state.connector(name).cloned();
            (config, state.tasks(name).len() as u32)
        };
        let config = config.ok_or_else(|| {
            HerderError::NotFound(format!("No status found for connector {name}"))
        })?;
        let statuses = self.statuses.read();
        let connector = statuses.connector(name).cloned().ok_or_else(|| {
            HerderError::NotFound(format!("No status found for connector {name}"))
        })?;
        let known: BTreeMap<u32, Status> =
            statuses.tasks(name).map(|(n, s)| (n, s.clone())).collect();
        drop(statuses);
        let tasks = (0..task_count)
            .map(|n| {
                let status = known.get(&n).cloned().unwrap_or_else(|| Status {
                    state: State::Unassigned,
                    trace: None,
                    worker_id: self.worker_id.clone(),
                    generation: self.generation,
                });
                (n, status)
            })
            .collect();
        Ok(ConnectorStatus {
            name: name.to_string(),
            connector,
            tasks,
            kind: self.kind_of(&config),
        })
    }

    /// A connector's committed offsets as (partition, offset) pairs: a source's from the
    /// offsets topic, a sink's from its consumer group (`{"kafka_topic", "kafka_partition"}`
    /// → `{"kafka_offset"}`, as Connect shows them).
    pub async fn offsets(
        &self,
        name: &str,
    ) -> Result<Vec<(serde_json::Value, serde_json::Value)>, HerderError> {
        let config = self.config(name)?;
        if self.kind_of(&config) == "sink" {
            let runtime = self.runtime.as_ref().ok_or_else(|| {
                HerderError::BadRequest(format!(
                    "The offsets of sink connector {name} need the task runtime, which this \
                     worker does not run"
                ))
            })?;
            let offsets = runtime
                .sink_offsets(name, &config)
                .await
                .map_err(HerderError::Internal)?;
            return Ok(offsets
                .into_iter()
                .map(|(topic, partition, offset)| {
                    (
                        serde_json::json!({"kafka_topic": topic, "kafka_partition": partition}),
                        serde_json::json!({"kafka_offset": offset}),
                    )
                })
                .collect());
        }
        Ok(self
            .offsets
            .read()
            .offsets(name)
            .map(|(p, o)| (p.clone(), o.clone()))
            .collect())
    }

    /// The connector's target state.
    pub fn target_state(&self, name: &str) -> Result<TargetState, HerderError> {
        let state = self.configs.read();
        if state.connector(name).is_none() {
            return Err(Self::not_found(name));
        }
        Ok(state.target_state(name))
    }
}
