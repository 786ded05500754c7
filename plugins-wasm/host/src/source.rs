//! Running one source task: its own store and instance, driven through `start`, `poll`,
//! `committed` and `stop`.

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::batch::SourceRecords;
use crate::bindings::SourceConnector;
use crate::bindings::culvert::connector::types::PluginError;
use crate::bindings::exports::culvert::connector::source as wit;
use crate::error::HostError;
use crate::plugin::Plugin;
use crate::state::StoreState;

/// A source position: Kafka Connect's source partition and offset, both JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    pub partition: String,
    pub offset: String,
}

/// Why a task call failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The plugin reported a transient failure; the same call may be retried.
    #[error("retriable error from the plugin: {0}")]
    Retriable(String),
    /// The plugin reported that the task cannot continue.
    #[error("fatal error from the plugin: {0}")]
    Fatal(String),
    /// The instance trapped, broke the contract or could not be created; it is unusable.
    #[error(transparent)]
    Host(#[from] HostError),
}

impl From<PluginError> for TaskError {
    fn from(err: PluginError) -> Self {
        match err {
            PluginError::Retriable(msg) => TaskError::Retriable(msg),
            PluginError::Fatal(msg) => TaskError::Fatal(msg),
        }
    }
}

/// One source task instance. Not shareable: one call at a time, as Kafka Connect does.
pub struct SourceTaskInstance {
    plugin: Plugin,
    store: Store<StoreState>,
    instance: SourceConnector,
    task: ResourceAny,
    /// Set once a call trapped: the instance must not be entered again.
    poisoned: bool,
}

impl std::fmt::Debug for SourceTaskInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceTaskInstance")
            .field("plugin", &self.plugin.name())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

fn to_wit(positions: &[Position]) -> Vec<wit::Position> {
    positions
        .iter()
        .map(|p| wit::Position {
            partition: p.partition.clone(),
            offset: p.offset.clone(),
        })
        .collect()
}

impl SourceTaskInstance {
    /// Instantiates `plugin` for task `task_id` of `connector`, constructs the task with
    /// `config` and starts it with the committed positions.
    pub async fn start(
        plugin: &Plugin,
        connector: &str,
        task_id: u32,
        config: &[(String, String)],
        committed: &[Position],
    ) -> Result<Self, TaskError> {
        let (mut store, instance) = plugin
            .instantiate(connector, Some(task_id), "start")
            .await?;
        let task = instance
            .culvert_connector_source()
            .source_task()
            .call_constructor(&mut store, &config.to_vec())
            .await
            .map_err(|e| plugin.trap("source-task constructor", &e))?;
        let mut this = Self {
            plugin: plugin.clone(),
            store,
            instance,
            task,
            poisoned: false,
        };
        let committed = to_wit(committed);
        let res = this
            .instance
            .culvert_connector_source()
            .source_task()
            .call_start(&mut this.store, this.task, &committed)
            .await;
        this.settle("start", res)?;
        Ok(this)
    }

    /// Polls up to `max_records` records; `Ok(None)` means nothing to send right now.
    pub async fn poll(&mut self, max_records: u32) -> Result<Option<SourceRecords>, TaskError> {
        self.check_usable("poll")?;
        let res = self
            .instance
            .culvert_connector_source()
            .source_task()
            .call_poll(&mut self.store, self.task, max_records)
            .await;
        let Some(batch) = self.settle("poll", res)? else {
            return Ok(None);
        };
        if batch.topic_index.len() > max_records as usize {
            return Err(self.contract(
                "poll",
                format!(
                    "returned {} records for max-records {max_records}",
                    batch.topic_index.len()
                ),
            ));
        }
        SourceRecords::new(batch)
            .map(Some)
            .map_err(|reason| self.contract("poll", reason))
    }

    /// Tells the task which positions are durable.
    pub async fn committed(&mut self, positions: &[Position]) -> Result<(), TaskError> {
        self.check_usable("committed")?;
        let positions = to_wit(positions);
        let res = self
            .instance
            .culvert_connector_source()
            .source_task()
            .call_committed(&mut self.store, self.task, &positions)
            .await;
        self.settle("committed", res)
    }

    /// Stops the task and frees its instance. A poisoned instance is just dropped.
    pub async fn stop(mut self) -> Result<(), TaskError> {
        if self.poisoned {
            return Ok(());
        }
        let guest = self.instance.culvert_connector_source().source_task();
        guest
            .call_stop(&mut self.store, self.task)
            .await
            .map_err(|e| self.plugin.trap("stop", &e))?;
        self.task
            .resource_drop_async(&mut self.store)
            .await
            .map_err(|e| self.plugin.trap("stop", &e))?;
        Ok(())
    }

    fn check_usable(&self, call: &'static str) -> Result<(), TaskError> {
        if self.poisoned {
            return Err(HostError::Trap {
                plugin: self.plugin.name().to_string(),
                call,
                reason: "the instance trapped earlier and cannot be entered again".into(),
            }
            .into());
        }
        Ok(())
    }

    fn contract(&mut self, call: &'static str, reason: String) -> TaskError {
        HostError::Contract {
            plugin: self.plugin.name().to_string(),
            call,
            reason,
        }
        .into()
    }

    /// Turns a call's outcome into the task-level result, poisoning the instance on a trap.
    fn settle<T>(
        &mut self,
        call: &'static str,
        res: wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<T, TaskError> {
        match res {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(err)) => Err(err.into()),
            Err(trap) => {
                self.poisoned = true;
                Err(self.plugin.trap(call, &trap).into())
            }
        }
    }
}
