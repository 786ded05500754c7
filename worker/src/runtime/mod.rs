//! The task runtime: runs the committed task configurations of every connector that is not
//! STOPPED, each under a supervisor that restarts it with backoff when it fails.
//!
//! `Runtime::reconcile` compares what the config topic says with what runs: tasks whose
//! connector or task configuration changed are restarted, removed ones stopped, new ones
//! started, and paused connectors' tasks paused. The herder wakes it after every change; it
//! also looks every second (for changes other processes wrote).
//!
//! - `settings` — the framework's keys of a connector config (converters, errors, restarts).
//! - `converter` — JsonConverter, StringConverter, ByteArrayConverter.
//! - `errors` — tolerance, dead-letter topic with context headers, retry backoff.
//! - `retry_topics` — a sink's retry tiers (`errors.retry.topics`): failed records parked
//!   in delay topics and consumed again when due.
//! - `task` — what every task shares: identity, control channel, status writes.
//! - `metrics` — Connect's metric groups as Prometheus series.
//! - `source_task`, `sink_task` — the two task loops.
//! - `sink_offsets` — a sink's consumer-group offsets for the REST API (KIP-875).
//! - `transform` — the SMT hook (the chain from `culvert-smt`), record by record;
//!   `batch_transform` — the same chain batch by batch when it has WASM (`wasm:`) steps.
//! - `topic_creation` — KIP-158 topic creation for sources.

mod batch_transform;
pub(crate) use batch_transform::check_plugins as check_wasm_transforms;
mod converter;
mod errors;
mod metrics;
mod retry_topics;
mod settings;
mod sink_offsets;
mod sink_task;
mod source_task;
mod task;
mod topic_creation;
mod transform;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use culvert_plugin_host::{Grants, PluginKind, PluginRegistry};
use tokio::sync::{Mutex, Notify, watch};
use tokio::task::JoinHandle;

pub use converter::{CONVERTER_CLASSES, Converter, HEADER_CONVERTER_CLASS};
pub use settings::TaskSettings;
pub use sink_offsets::SinkOffset;
use task::{Control, Identity, TaskContext};

use crate::cluster::Lease;
use crate::cluster::protocol::{CONNECTOR_TASK, Work};
use crate::config::{ConfigProviders, WorkerConfig};
use crate::stores::{
    ClientSettings, ConfigState, OffsetState, Properties, State, StatusState, Store, TargetState,
};

/// How often the runtime compares the config topic with what runs, without being woken.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);

type TaskKey = (String, u32);

/// A task the runtime runs: the configurations it was started with and its supervisor.
struct Running {
    connector_config: Properties,
    task_config: Properties,
    control: watch::Sender<Control>,
    supervisor: JoinHandle<()>,
}

/// The worker's task runtime. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("worker_id", &self.inner.identity.worker_id)
            .finish_non_exhaustive()
    }
}

struct Inner {
    registry: Arc<PluginRegistry>,
    worker: WorkerConfig,
    clients: ClientSettings,
    configs: Arc<Store<ConfigState>>,
    statuses: Arc<Store<StatusState>>,
    offsets: Arc<Store<OffsetState>>,
    providers: ConfigProviders,
    identity: Identity,
    /// The work the cluster assigned this worker; `None` runs everything (standalone).
    assignment: std::sync::Mutex<Option<BTreeSet<(String, i32)>>>,
    tasks: Mutex<BTreeMap<TaskKey, Running>>,
    wake: Notify,
    shutting_down: std::sync::atomic::AtomicBool,
    worker_metrics: Arc<metrics::WorkerMetrics>,
    task_metrics: std::sync::Mutex<BTreeMap<TaskKey, Arc<metrics::TaskMetrics>>>,
}

/// What a worker needs to run tasks.
#[derive(Debug)]
pub struct RuntimeParts {
    pub registry: Arc<PluginRegistry>,
    pub worker: WorkerConfig,
    pub clients: ClientSettings,
    pub configs: Arc<Store<ConfigState>>,
    pub statuses: Arc<Store<StatusState>>,
    pub offsets: Arc<Store<OffsetState>>,
    pub providers: ConfigProviders,
    pub worker_id: String,
    /// Writes happen only while it is valid (`Lease::unlimited()` for standalone).
    pub lease: Arc<Lease>,
    /// In a cluster: run nothing until `assign` says what (standalone runs everything).
    pub clustered: bool,
}

impl Runtime {
    /// Builds the runtime and starts its reconcile loop.
    pub fn start(parts: RuntimeParts) -> Self {
        let runtime = Self {
            inner: Arc::new(Inner {
                registry: parts.registry,
                worker: parts.worker,
                clients: parts.clients,
                configs: parts.configs,
                statuses: parts.statuses,
                offsets: parts.offsets,
                providers: parts.providers,
                identity: Identity {
                    worker_id: parts.worker_id,
                    generation: Arc::new(AtomicI32::new(0)),
                    lease: parts.lease,
                },
                assignment: std::sync::Mutex::new(parts.clustered.then(BTreeSet::new)),
                tasks: Mutex::new(BTreeMap::new()),
                wake: Notify::new(),
                shutting_down: std::sync::atomic::AtomicBool::new(false),
                worker_metrics: Arc::default(),
                task_metrics: std::sync::Mutex::new(BTreeMap::new()),
            }),
        };
        let looping = runtime.clone();
        tokio::spawn(async move {
            let inner = &looping.inner;
            while !inner
                .shutting_down
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                let woken = inner.wake.notified();
                looping.reconcile().await;
                let _ = tokio::time::timeout(RECONCILE_EVERY, woken).await;
            }
        });
        runtime
    }

    /// The worker configuration the runtime runs tasks with.
    pub fn worker_config(&self) -> &WorkerConfig {
        &self.inner.worker
    }

    /// Asks the reconcile loop to look now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Runs only `work` from now on (`None`: everything configured), as of cluster
    /// `generation`; returns once revoked tasks have stopped and new ones started.
    pub async fn assign(&self, work: Option<&Work>, generation: i32) {
        let items = work.map(|w| {
            w.iter()
                .flat_map(|(c, ts)| ts.iter().map(move |t| (c.clone(), *t)))
                .collect()
        });
        *self
            .inner
            .assignment
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = items;
        self.inner
            .identity
            .generation
            .store(generation, Ordering::SeqCst);
        self.reconcile().await;
    }

    fn is_assigned(&self, connector: &str, task: i32) -> bool {
        let assignment = self
            .inner
            .assignment
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        assignment
            .as_ref()
            .is_none_or(|a| a.contains(&(connector.to_string(), task)))
    }

    /// Makes the running tasks match the config topic (and the assignment).
    pub async fn reconcile(&self) {
        let inner = &self.inner;
        let mut desired: BTreeMap<TaskKey, (Properties, Properties, TargetState)> = BTreeMap::new();
        let mut connectors: BTreeMap<String, TargetState> = BTreeMap::new();
        {
            let state = inner.configs.read();
            for (name, config) in state.connectors() {
                let target = state.target_state(name);
                if self.is_assigned(name, CONNECTOR_TASK) {
                    connectors.insert(name.to_string(), target);
                }
                if target == TargetState::Stopped {
                    continue;
                }
                for (i, task) in state.tasks(name).iter().enumerate() {
                    if !self.is_assigned(name, i as i32) {
                        continue;
                    }
                    desired.insert(
                        (name.to_string(), i as u32),
                        (config.clone(), task.clone(), target),
                    );
                }
            }
        }
        let mut tasks = inner.tasks.lock().await;
        if inner
            .shutting_down
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let outdated: Vec<TaskKey> = tasks
            .iter()
            .filter(|(key, running)| match desired.get(*key) {
                None => true,
                Some((c, t, _)) => {
                    *c != running.connector_config
                        || *t != running.task_config
                        || running.supervisor.is_finished()
                }
            })
            .map(|(key, _)| key.clone())
            .collect();
        // Stopped together: a revocation of many tasks takes one grace period, not many.
        let stopping: Vec<(TaskKey, Running)> = outdated
            .into_iter()
            .filter_map(|key| tasks.remove(&key).map(|running| (key, running)))
            .collect();
        let stops = stopping.into_iter().map(|(key, running)| async move {
            self.stop_task(&key, running).await;
            key
        });
        for key in futures_util::future::join_all(stops).await {
            if !desired.contains_key(&key) {
                inner.task_metrics_of(&key, false);
            }
        }
        for (key, (connector_config, task_config, target)) in desired {
            let control = match target {
                TargetState::Paused => Control::Pause,
                _ => Control::Run,
            };
            if let Some(running) = tasks.get(&key) {
                let changed = running.control.send_if_modified(|c| {
                    let changed = *c != control;
                    *c = control;
                    changed
                });
                if changed {
                    tracing::debug!(connector = %key.0, task = key.1, ?control, "task told");
                }
                continue;
            }
            let (tx, rx) = watch::channel(control);
            let supervisor = tokio::spawn(supervise(
                Arc::clone(inner),
                key.clone(),
                connector_config.clone(),
                task_config.clone(),
                rx,
            ));
            tasks.insert(
                key,
                Running {
                    connector_config,
                    task_config,
                    control: tx,
                    supervisor,
                },
            );
        }
        drop(tasks);
        self.announce_connectors(connectors).await;
    }

    /// In a cluster, the worker assigned a connector reports its state: RUNNING, PAUSED or
    /// STOPPED after its target state, whenever the status topic says otherwise (it gained
    /// the connector, the target changed, another worker wrote last). A FAILED status (the
    /// plugin could not produce task configs) is left standing: the leader lifts it.
    async fn announce_connectors(&self, connectors: BTreeMap<String, TargetState>) {
        let inner = &self.inner;
        let clustered = inner
            .assignment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if !clustered || !inner.identity.lease.is_valid() {
            return;
        }
        for (name, target) in connectors {
            let state = match target {
                TargetState::Started => State::Running,
                TargetState::Paused => State::Paused,
                TargetState::Stopped => State::Stopped,
            };
            let stale = match inner.statuses.read().connector(&name) {
                Some(s) if s.state == State::Failed => false,
                Some(s) => s.state != state || s.worker_id != inner.identity.worker_id,
                None => true,
            };
            // Deleted meanwhile: its statuses are gone and must stay gone.
            let configured = inner.configs.read().connector(&name).is_some();
            if stale && configured {
                let key = crate::stores::StatusKey::Connector(name);
                inner
                    .identity
                    .write_status(&inner.statuses, key, state, None)
                    .await;
            }
        }
    }

    async fn stop_task(&self, key: &TaskKey, running: Running) {
        let _ = running.control.send(Control::Stop);
        let grace = Duration::from_millis(
            u64::try_from(self.inner.worker.task_shutdown_graceful_timeout_ms).unwrap_or(5000),
        );
        let mut supervisor = running.supervisor;
        if tokio::time::timeout(grace, &mut supervisor).await.is_err() {
            tracing::warn!(connector = %key.0, task = key.1,
                "the task did not stop within task.shutdown.graceful.timeout.ms; abandoning it");
            supervisor.abort();
        }
    }

    /// Restarts the tasks of `connector` that `pick` selects (by task id); they start again
    /// at once with fresh instances.
    pub async fn restart(&self, connector: &str, pick: impl Fn(u32) -> bool) {
        let mut tasks = self.inner.tasks.lock().await;
        let keys: Vec<TaskKey> = tasks
            .keys()
            .filter(|(c, t)| c == connector && pick(*t))
            .cloned()
            .collect();
        for key in keys {
            if let Some(running) = tasks.remove(&key) {
                self.stop_task(&key, running).await;
            }
        }
        drop(tasks);
        self.reconcile().await;
    }

    /// Stops every task gracefully (their positions and offsets committed) and marks them
    /// UNASSIGNED, as Connect does when a worker leaves.
    pub async fn shutdown(&self) {
        self.inner
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut tasks = self.inner.tasks.lock().await;
        let all = std::mem::take(&mut *tasks);
        let stops = all.into_iter().map(|(key, running)| async move {
            self.stop_task(&key, running).await;
            key
        });
        for key in futures_util::future::join_all(stops).await {
            write_status(&self.inner, &key, State::Unassigned, None).await;
        }
    }
}

impl Inner {
    /// The metrics of task `key`, created on first use; `remove` drops them instead.
    fn task_metrics_of(&self, key: &TaskKey, create: bool) -> Option<Arc<metrics::TaskMetrics>> {
        let mut all = self.task_metrics.lock().unwrap_or_else(|p| p.into_inner());
        if create {
            Some(Arc::clone(all.entry(key.clone()).or_default()))
        } else {
            all.remove(key);
            None
        }
    }
}

impl Runtime {
    /// The runtime's metrics in Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let inner = &self.inner;
        let all: Vec<(TaskKey, Arc<metrics::TaskMetrics>)> = inner
            .task_metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, m)| (k.clone(), Arc::clone(m)))
            .collect();
        let views: Vec<metrics::TaskView<'_>> = all
            .iter()
            .map(|((connector, task), m)| metrics::TaskView {
                connector,
                task: *task,
                sink: m.sink.load(std::sync::atomic::Ordering::Relaxed),
                metrics: m,
            })
            .collect();
        let mut states = BTreeMap::new();
        let mut connectors = Vec::new();
        {
            let configs = inner.configs.read();
            let statuses = inner.statuses.read();
            for (name, config) in configs.connectors() {
                let class = config.get("connector.class").cloned().unwrap_or_default();
                let version = config.get("connector.plugin.version").map(String::as_str);
                let kind = match inner.registry.resolve(&class, version).map(|p| p.kind()) {
                    Ok(PluginKind::Source) => "source",
                    Ok(PluginKind::Sink) => "sink",
                    _ => "unknown",
                };
                let state = statuses
                    .connector(name)
                    .map_or("UNASSIGNED", |s| s.state.name());
                connectors.push((name.to_string(), kind, class, state));
                for t in 0..configs.tasks(name).len() as u32 {
                    let state = statuses
                        .task(name, t)
                        .map_or("UNASSIGNED", |s| s.state.name());
                    *states.entry((name.to_string(), state)).or_insert(0u64) += 1;
                }
            }
        }
        metrics::render(&inner.worker_metrics, &views, &states, &connectors)
    }
}

impl Runtime {
    /// A sink connector's consumer group (`consumer.override.group.id`, else
    /// `connect-<name>`) and topics.
    fn sink_group(
        &self,
        name: &str,
        config: &Properties,
    ) -> Result<(String, settings::SinkTopics), String> {
        let resolved = self.inner.providers.resolve(config)?;
        let s = TaskSettings::parse(&resolved, &self.inner.worker, true)
            .map_err(|p| format!("the connector configuration is invalid: {}", p.join("; ")))?;
        let group = s
            .consumer
            .get("group.id")
            .cloned()
            .unwrap_or_else(|| format!("connect-{name}"));
        let topics = s
            .topics
            .ok_or_else(|| "the sink names no topics".to_string())?;
        Ok((group, topics))
    }

    /// A sink connector's committed consumer offsets.
    pub async fn sink_offsets(
        &self,
        name: &str,
        config: &Properties,
    ) -> Result<Vec<SinkOffset>, String> {
        let (group, topics) = self.sink_group(name, config)?;
        sink_offsets::read(&self.inner.clients, &group, &topics).await
    }

    /// Commits new offsets for a stopped sink connector (`None` resets a partition).
    pub async fn alter_sink_offsets(
        &self,
        name: &str,
        config: &Properties,
        offsets: Vec<(String, i32, Option<i64>)>,
    ) -> Result<(), String> {
        let (group, _) = self.sink_group(name, config)?;
        sink_offsets::alter(&self.inner.clients, &group, offsets).await
    }

    /// Deletes a stopped sink connector's consumer group and its offsets.
    pub async fn reset_sink_offsets(&self, name: &str, config: &Properties) -> Result<(), String> {
        let (group, _) = self.sink_group(name, config)?;
        sink_offsets::reset(&self.inner.clients, &group).await
    }
}

/// Runs one task until it is told to stop, restarting it with backoff when it fails.
async fn supervise(
    inner: Arc<Inner>,
    key: TaskKey,
    connector_config: Properties,
    task_config: Properties,
    mut control: watch::Receiver<Control>,
) {
    let mut attempts: i64 = 0;
    let mut backoff = None;
    loop {
        let started = Instant::now();
        let (outcome, ctx_restart) = run_once(
            &inner,
            &key,
            &connector_config,
            &task_config,
            control.clone(),
        )
        .await;
        let trace = match outcome {
            Ok(()) => return,
            Err(trace) => trace,
        };
        tracing::error!(connector = %key.0, task = key.1, "task failed: {trace}");
        let policy = ctx_restart.unwrap_or(settings::RestartPolicy {
            enabled: true,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 10,
        });
        if started.elapsed() > policy.max {
            attempts = 0;
            backoff = None;
        }
        attempts += 1;
        let gives_up =
            !policy.enabled || (policy.max_attempts >= 0 && attempts > policy.max_attempts);
        let delay = backoff.unwrap_or(policy.initial);
        let trace = if gives_up {
            if policy.enabled {
                format!(
                    "{trace}\n(gave up after {} restarts; task.restart.max.attempts)",
                    attempts - 1
                )
            } else {
                trace
            }
        } else {
            format!(
                "{trace}\n(restart {attempts} in {} ms; task.restart.* configures this)",
                delay.as_millis()
            )
        };
        write_status(&inner, &key, State::Failed, Some(trace)).await;
        if !gives_up && let Some(m) = inner.task_metrics_of(&key, true) {
            metrics::add(&m.restarts, 1);
        }
        if gives_up {
            // Stays FAILED until the runtime stops or restarts it.
            while *control.borrow() != Control::Stop {
                if control.changed().await.is_err() {
                    return;
                }
            }
            return;
        }
        let wait = tokio::time::sleep(delay);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                changed = control.changed() => {
                    if changed.is_err() || *control.borrow() == Control::Stop {
                        return;
                    }
                }
            }
        }
        backoff = Some((delay * 2).min(policy.max));
        write_status(&inner, &key, State::Restarting, None).await;
    }
}

async fn write_status(inner: &Inner, key: &TaskKey, state: State, trace: Option<String>) {
    let status_key = crate::stores::StatusKey::Task(key.0.clone(), key.1);
    inner
        .identity
        .write_status(&inner.statuses, status_key, state, trace)
        .await;
}

/// One run of a task: resolve its configuration and plugin, then run the loop.
async fn run_once(
    inner: &Arc<Inner>,
    (connector, task): &TaskKey,
    connector_config: &Properties,
    task_config: &Properties,
    control: watch::Receiver<Control>,
) -> (Result<(), String>, Option<settings::RestartPolicy>) {
    let class = connector_config
        .get("connector.class")
        .cloned()
        .unwrap_or_default();
    let version = connector_config
        .get("connector.plugin.version")
        .map(String::as_str);
    let plugin = match inner.registry.resolve(&class, version) {
        Ok(p) => p.clone(),
        Err(e) => return (Err(e.to_string()), None),
    };
    let sink = plugin.kind() == PluginKind::Sink;
    let task_metrics = inner
        .task_metrics_of(&(connector.clone(), *task), true)
        .unwrap_or_default();
    task_metrics
        .sink
        .store(sink, std::sync::atomic::Ordering::Relaxed);
    if plugin.kind() == PluginKind::Transform {
        return (
            Err(format!("{class} is a transform, not a connector")),
            None,
        );
    }
    let resolved = match inner.providers.resolve(connector_config) {
        Ok(r) => r,
        Err(e) => return (Err(e), None),
    };
    let settings = match TaskSettings::parse(&resolved, &inner.worker, sink) {
        Ok(s) => s,
        Err(problems) => {
            return (
                Err(format!(
                    "the connector configuration is invalid: {}",
                    problems.join("; ")
                )),
                None,
            );
        }
    };
    let restart = settings.restart.clone();
    let pairs: Vec<(String, String)> = resolved.into_iter().collect();
    let grants = match Grants::from_config(&pairs) {
        Ok(g) => g,
        Err(e) => return (Err(e), Some(restart)),
    };
    let task_pairs: Vec<(String, String)> = match inner.providers.resolve(task_config) {
        Ok(t) => t.into_iter().collect(),
        Err(e) => return (Err(e), Some(restart)),
    };
    let batch_chain =
        match batch_transform::BatchChain::start(&settings.transforms, &inner.registry, connector)
            .await
        {
            Ok(c) => c,
            Err(e) => return (Err(e), Some(restart)),
        };
    let ctx = TaskContext::new(
        connector,
        *task,
        &class,
        settings,
        inner.clients.clone(),
        (Arc::clone(&inner.statuses), Arc::clone(&inner.offsets)),
        inner.identity.clone(),
        control,
        inner.worker.topic_tracking_enable,
        (task_metrics, Arc::clone(&inner.worker_metrics)),
    );
    let outcome = if sink {
        sink_task::run(ctx, plugin, grants, task_pairs, batch_chain).await
    } else {
        source_task::run(ctx, plugin, grants, task_pairs, batch_chain).await
    };
    (outcome, Some(restart))
}
