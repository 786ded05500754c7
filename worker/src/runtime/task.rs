//! What every running task shares: who it is, its settings, the worker's stores, the
//! control channel the runtime steers it with, and status and topic-tracking writes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::cluster::Lease;

use super::errors::ErrorHandler;
use super::metrics::{TaskMetrics, WorkerMetrics, add};
use super::settings::TaskSettings;
use crate::stores::{
    ClientSettings, OffsetState, State, Status, StatusKey, StatusState, Store, encode_topic_status,
};

/// What the runtime wants a task to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    Run,
    Pause,
    Stop,
}

/// How often a task waiting for the worker's lease looks again.
pub(super) const LEASE_POLL: Duration = Duration::from_millis(20);
/// How long a status write waits for a lapsed lease to come back.
const STATUS_WAIT: Duration = Duration::from_secs(30);

/// Who writes statuses for the runtime's tasks: the worker, in its current generation, and
/// only while its lease on the work is valid. Shared by the runtime and every task.
#[derive(Debug, Clone)]
pub(super) struct Identity {
    pub(super) worker_id: String,
    pub(super) generation: Arc<AtomicI32>,
    pub(super) lease: Arc<Lease>,
}

impl Identity {
    /// Writes a status unless the lease has lapsed or a newer generation of another worker
    /// owns the entry (Connect's safe-write rule). A failed write is logged: the status
    /// topic is advisory.
    pub(super) async fn write_status(
        &self,
        statuses: &Store<StatusState>,
        key: StatusKey,
        state: State,
        trace: Option<String>,
    ) {
        // A lapsed lease comes back with the next heartbeat or round; a fenced worker writes
        // nothing (its work may run elsewhere).
        let waited = std::time::Instant::now();
        let fences = self.lease.fences();
        while !self.lease.is_valid() || self.lease.fences() != fences {
            // Fenced meanwhile: the status belongs to work that may run elsewhere now, even
            // if a new assignment has made the lease valid again.
            if self.lease.is_fenced()
                || self.lease.fences() != fences
                || waited.elapsed() >= STATUS_WAIT
            {
                tracing::info!(
                    ?key,
                    ?state,
                    "status not written: this worker's lease is void"
                );
                return;
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
        let status = Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: self.generation.load(Ordering::SeqCst),
        };
        let previous = {
            let read = statuses.read();
            match &key {
                StatusKey::Connector(c) => read.connector(c).cloned(),
                StatusKey::Task(c, t) => read.task(c, *t).cloned(),
                _ => None,
            }
        };
        if !status.may_replace(previous.as_ref()) {
            tracing::info!(
                ?key,
                ?state,
                "status not written: a newer generation owns it"
            );
            return;
        }
        if let Err(e) = statuses
            .write(key.encode().as_bytes(), Some(&status.encode()))
            .await
        {
            tracing::warn!(?key, error = %e, "cannot write a status");
        }
    }
}

/// One task's identity, settings and handles.
#[derive(Debug)]
pub(super) struct TaskContext {
    pub(super) connector: String,
    pub(super) task: u32,
    /// The connector's `connector.class`, for error reports.
    pub(super) class: String,
    pub(super) settings: TaskSettings,
    pub(super) clients: ClientSettings,
    pub(super) statuses: Arc<Store<StatusState>>,
    pub(super) offsets: Arc<Store<OffsetState>>,
    pub(super) identity: Identity,
    pub(super) control: watch::Receiver<Control>,
    /// Topics already recorded as used by this connector (KIP-558).
    tracked: BTreeSet<String>,
    /// Whether `topic.tracking.enable` is on.
    track_topics: bool,
    pub(super) metrics: Arc<TaskMetrics>,
    pub(super) worker_metrics: Arc<WorkerMetrics>,
    /// Topics this task already made sure exist (`topic.creation.*`).
    ensured: BTreeSet<String>,
}

impl TaskContext {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        connector: &str,
        task: u32,
        class: &str,
        settings: TaskSettings,
        clients: ClientSettings,
        stores: (Arc<Store<StatusState>>, Arc<Store<OffsetState>>),
        identity: Identity,
        control: watch::Receiver<Control>,
        track_topics: bool,
        (metrics, worker_metrics): (Arc<TaskMetrics>, Arc<WorkerMetrics>),
    ) -> Self {
        let tracked = stores
            .0
            .read()
            .topics(connector)
            .map(str::to_string)
            .collect();
        Self {
            connector: connector.to_string(),
            task,
            class: class.to_string(),
            settings,
            clients,
            statuses: stores.0,
            offsets: stores.1,
            identity,
            control,
            tracked,
            track_topics,
            metrics,
            worker_metrics,
            ensured: BTreeSet::new(),
        }
    }

    /// Counts a task start (`task-startup-*` metrics) and passes its outcome on.
    pub(super) fn count_start<T>(&self, started: Result<T, String>) -> Result<T, String> {
        let w = &self.worker_metrics;
        add(&w.task_startup_attempts, 1);
        add(
            match &started {
                Ok(_) => &w.task_startup_successes,
                Err(_) => &w.task_startup_failures,
            },
            1,
        );
        started
    }

    /// The task's error handler (creating its dead-letter topic when one is configured).
    pub(super) async fn error_handler(&self) -> Result<ErrorHandler, String> {
        ErrorHandler::new(
            self.settings.errors.clone(),
            &self.connector,
            self.task,
            &self.clients,
            &self.settings.producer,
            Arc::clone(&self.metrics),
        )
        .await
    }

    /// The sink's retry tiers, when `errors.retry.topics` names any (topics created).
    pub(super) async fn retry_topics(
        &self,
    ) -> Result<Option<super::retry_topics::RetryTopics>, String> {
        let errors = &self.settings.errors;
        if errors.retry_topics.is_empty() {
            return Ok(None);
        }
        super::retry_topics::RetryTopics::new(
            &self.connector,
            &errors.retry_topics,
            &self.clients,
            &self.settings.producer,
            errors.dlq_replication_factor,
        )
        .await
        .map(Some)
    }

    /// Writes the first status of a started task: PAUSED for a paused connector (never a
    /// passing RUNNING), RUNNING otherwise. Returns whether it starts paused.
    pub(super) async fn announce_start(&self) -> bool {
        let paused = self.wanted() == Control::Pause;
        let state = if paused {
            State::Paused
        } else {
            State::Running
        };
        self.set_status(state, None).await;
        paused
    }

    /// The control's current value.
    pub(super) fn wanted(&self) -> Control {
        *self.control.borrow()
    }

    /// Writes the task's status; a failed write is logged (the status topic is advisory).
    pub(super) async fn set_status(&self, state: State, trace: Option<String>) {
        let key = StatusKey::Task(self.connector.clone(), self.task);
        self.identity
            .write_status(&self.statuses, key, state, trace)
            .await;
    }

    /// Waits until the worker may write for its work (its lease is valid). `false` when
    /// the task is told to stop meanwhile: it must then stop without writing.
    pub(super) async fn may_write(&mut self) -> bool {
        while !self.identity.lease.is_valid() {
            if self.wanted() == Control::Stop {
                return false;
            }
            let _ = tokio::time::timeout(LEASE_POLL, self.control.changed()).await;
        }
        true
    }

    /// Creates `topic` per `topic.creation.*` before the task first writes to it.
    pub(super) async fn ensure_topic(&mut self, topic: &str) -> Result<(), String> {
        let Some(rules) = &self.settings.topic_creation else {
            return Ok(());
        };
        if self.ensured.contains(topic) {
            return Ok(());
        }
        rules.ensure(&self.clients, topic).await?;
        self.ensured.insert(topic.to_string());
        Ok(())
    }

    /// Records that the connector used `topic`, the first time it does. As in Connect, a
    /// topic the status topic already lists for the connector (another task, an earlier
    /// run) is not written again.
    pub(super) async fn track_topic(&mut self, topic: &str) {
        if !self.track_topics || self.tracked.contains(topic) {
            return;
        }
        self.tracked.insert(topic.to_string());
        let known = self
            .statuses
            .read()
            .topics(&self.connector)
            .any(|t| t == topic);
        if known {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let key = StatusKey::Topic(topic.to_string(), self.connector.clone()).encode();
        let value = encode_topic_status(topic, &self.connector, self.task, now);
        if let Err(e) = self.statuses.write(key.as_bytes(), Some(&value)).await {
            tracing::warn!(connector = %self.connector, topic, error = %e,
                "cannot record the topic as active");
        }
    }
}
