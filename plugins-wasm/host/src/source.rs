//! Running one source task: its own store and instance, driven through `start`, `poll`,
//! `committed` and `stop`.

use wasmtime::component::ResourceAny;

use crate::batch::SourceRecords;
use crate::bindings::SourceConnector;
use crate::bindings::exports::culvert::connector::source as wit;
use crate::grants::Grants;
use crate::instance::{Session, TaskError};
use crate::plugin::{Instance, Plugin};

/// A source position: Kafka Connect's source partition and offset, both JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    pub partition: String,
    pub offset: String,
}

/// One source task instance. Not shareable: one call at a time, as Kafka Connect does.
#[derive(Debug)]
pub struct SourceTaskInstance {
    session: Session<SourceConnector>,
    task: ResourceAny,
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
    /// Instantiates `plugin` for task `task_id` of `connector` with the connector's `grants`,
    /// constructs the task with `config` and starts it with the committed positions.
    pub async fn start(
        plugin: &Plugin,
        connector: &str,
        task_id: u32,
        grants: &Grants,
        config: &[(String, String)],
        committed: &[Position],
    ) -> Result<Self, TaskError> {
        let who = (connector, Some(task_id), grants);
        let mut session = Session::open(plugin, who, "start", "source", |i| match i {
            Instance::Source(s) => Some(s),
            _ => None,
        })
        .await?;
        session.begin("source-task constructor")?;
        let res = session
            .instance
            .culvert_connector_source()
            .source_task()
            .call_constructor(&mut session.store, &config.to_vec())
            .await;
        let task = session.finish("source-task constructor", res)?;
        let mut this = Self { session, task };
        let committed = to_wit(committed);
        let s = &mut this.session;
        s.begin("start")?;
        let res = s
            .instance
            .culvert_connector_source()
            .source_task()
            .call_start(&mut s.store, this.task, &committed)
            .await;
        s.settle("start", res)?;
        Ok(this)
    }

    /// Polls up to `max_records` records; `Ok(None)` means nothing to send right now.
    pub async fn poll(&mut self, max_records: u32) -> Result<Option<SourceRecords>, TaskError> {
        let s = &mut self.session;
        s.begin("poll")?;
        let res = s
            .instance
            .culvert_connector_source()
            .source_task()
            .call_poll(&mut s.store, self.task, max_records)
            .await;
        let Some(batch) = s.settle("poll", res)? else {
            return Ok(None);
        };
        if batch.topic_index.len() > max_records as usize {
            return Err(s.contract(
                "poll",
                format!(
                    "returned {} records for max-records {max_records}",
                    batch.topic_index.len()
                ),
            ));
        }
        SourceRecords::new(batch)
            .map(Some)
            .map_err(|reason| s.contract("poll", reason))
    }

    /// Tells the task which positions are durable.
    pub async fn committed(&mut self, positions: &[Position]) -> Result<(), TaskError> {
        let positions = to_wit(positions);
        let s = &mut self.session;
        s.begin("committed")?;
        let res = s
            .instance
            .culvert_connector_source()
            .source_task()
            .call_committed(&mut s.store, self.task, &positions)
            .await;
        s.settle("committed", res)
    }

    /// Stops the task and frees its instance. A poisoned instance is just dropped.
    pub async fn stop(mut self) -> Result<(), TaskError> {
        let s = &mut self.session;
        if s.poisoned() {
            return Ok(());
        }
        s.begin("stop")?;
        let res = s
            .instance
            .culvert_connector_source()
            .source_task()
            .call_stop(&mut s.store, self.task)
            .await;
        s.finish("stop", res)?;
        s.drop_resource("stop", self.task).await?;
        Ok(())
    }
}
