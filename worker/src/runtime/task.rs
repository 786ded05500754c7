//! What every running task shares: who it is, its settings, the worker's stores, the
//! control channel the runtime steers it with, and status and topic-tracking writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::watch;

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
    pub(super) worker_id: String,
    pub(super) generation: i32,
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
        (worker_id, generation): (String, i32),
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
            worker_id,
            generation,
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
        let status = Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: self.generation,
        };
        let key = StatusKey::Task(self.connector.clone(), self.task).encode();
        if let Err(e) = self
            .statuses
            .write(key.as_bytes(), Some(&status.encode()))
            .await
        {
            tracing::warn!(connector = %self.connector, task = self.task, error = %e,
                "cannot write the task status");
        }
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

    /// Records that the connector used `topic`, the first time it does.
    pub(super) async fn track_topic(&mut self, topic: &str) {
        if !self.track_topics || self.tracked.contains(topic) {
            return;
        }
        self.tracked.insert(topic.to_string());
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
