//! Running one sink task: its own store and instance, driven through `start`, `open`,
//! `put`, `flush`, `close` and `stop`; plus the batch the host hands to `put`.

use wasmtime::component::ResourceAny;

use crate::batch::{Header, Record, RecordsBuilder};
use crate::bindings::culvert::connector::types as wit_types;
use crate::bindings::sink::SinkConnector;
use crate::bindings::sink::exports::culvert::connector::sink as wit;
use crate::grants::Grants;
use crate::instance::{Session, TaskError};
use crate::plugin::{Instance, Plugin};

/// A Kafka topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// The offset of the next record to read in a topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A record a plugin could not handle, by its index in the batch it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    pub index: usize,
    pub message: String,
    /// A sink's record from an earlier `put`, handed back whole (then `index` means nothing).
    pub held: Option<HeldRecord>,
}

/// A record a sink took in an earlier `put` and reports failed later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    /// The record's own topic, as the plugin was given it.
    pub topic: String,
    /// The topic it was consumed from; `partition` and `offset` are this topic's.
    pub consumed_topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// A batch for `put`, built with [`SinkBatchBuilder`].
#[derive(Debug)]
pub struct SinkBatch {
    batch: wit::SinkBatch,
}

impl SinkBatch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.batch.offsets.len()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.batch.offsets.is_empty()
    }

    /// Record `i` with its partition and offset, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<(Record<'_>, i32, i64)> {
        let b = &self.batch;
        let record = crate::batch::record_at(&b.records, &b.topics, &b.topic_index, i)?;
        Some((record, b.partitions[i], b.offsets[i]))
    }

    /// The topic record `i` was consumed from (its partition and offset are that topic's).
    pub fn consumed_topic(&self, i: usize) -> Option<&str> {
        let b = &self.batch;
        let at = *b.consumed_topic_index.get(i)?;
        b.topics.get(usize::from(at)).map(String::as_str)
    }

    /// Bytes of keys, values and headers.
    pub fn byte_size(&self) -> usize {
        let r = &self.batch.records;
        r.keys.len() + r.values.len() + r.headers.len()
    }
}

/// Builds a [`SinkBatch`] record by record.
#[derive(Debug, Default)]
pub struct SinkBatchBuilder {
    records: RecordsBuilder,
    consumed_topic_index: Vec<u16>,
    partitions: Vec<i32>,
    offsets: Vec<i64>,
}

impl SinkBatchBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Appends a record read from `record.topic`, `partition`, at `offset`.
    pub fn push(
        &mut self,
        record: &Record<'_>,
        headers: &[Header<'_>],
        partition: i32,
        offset: i64,
    ) -> Result<(), String> {
        self.push_consumed(record, headers, record.topic, partition, offset)
    }

    /// Appends a record read from `consumed_topic`, `partition`, at `offset`, whose own
    /// topic (`record.topic`) is another: a transform renamed it, or it is back from a
    /// retry topic.
    pub fn push_consumed(
        &mut self,
        record: &Record<'_>,
        headers: &[Header<'_>],
        consumed_topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), String> {
        let consumed = self.records.intern(consumed_topic)?;
        self.records.push(record, headers)?;
        self.add_coordinates(consumed, partition, offset);
        Ok(())
    }

    /// Appends a record read from another batch (headers included, copied as encoded) from
    /// `partition` at `offset` of its own topic.
    pub fn push_record(
        &mut self,
        record: &Record<'_>,
        partition: i32,
        offset: i64,
    ) -> Result<(), String> {
        let consumed = self.records.intern(record.topic)?;
        self.records.push_record(record)?;
        self.add_coordinates(consumed, partition, offset);
        Ok(())
    }

    fn add_coordinates(&mut self, consumed: u16, partition: i32, offset: i64) {
        self.consumed_topic_index.push(consumed);
        self.partitions.push(partition);
        self.offsets.push(offset);
    }

    /// The finished batch.
    pub fn build(self) -> SinkBatch {
        let (records, topics, topic_index) = self.records.build().into_parts();
        SinkBatch {
            batch: wit::SinkBatch {
                records,
                topics,
                topic_index,
                consumed_topic_index: self.consumed_topic_index,
                partitions: self.partitions,
                offsets: self.offsets,
            },
        }
    }
}

/// One sink task instance. Not shareable: one call at a time, as Kafka Connect does.
#[derive(Debug)]
pub struct SinkTaskInstance {
    session: Session<SinkConnector>,
    task: ResourceAny,
}

fn partitions_to_wit(partitions: &[TopicPartition]) -> Vec<wit_types::TopicPartition> {
    partitions
        .iter()
        .map(|p| wit_types::TopicPartition {
            topic: p.topic.clone(),
            partition: p.partition,
        })
        .collect()
}

/// Checks per-record failures against a batch of `n` records; held records (from earlier
/// batches) are allowed only when `sink`, and come last.
pub(crate) fn check_failures(
    failures: Vec<wit_types::RecordFailure>,
    n: usize,
    sink: bool,
) -> Result<Vec<RecordFailure>, String> {
    let mut held = Vec::new();
    let mut out: Vec<RecordFailure> = Vec::with_capacity(failures.len());
    for f in failures {
        match f.held {
            Some(_) if !sink => {
                return Err("reports a held record, which only sinks can have".into());
            }
            Some(h) => held.push(RecordFailure {
                index: usize::MAX,
                message: f.message,
                held: Some(HeldRecord {
                    topic: h.topic,
                    consumed_topic: h.consumed_topic,
                    partition: h.partition,
                    offset: h.offset,
                    key: h.key,
                    value: h.value,
                }),
            }),
            None => out.push(RecordFailure {
                index: f.index as usize,
                message: f.message,
                held: None,
            }),
        }
    }
    out.sort_by_key(|f| f.index);
    for pair in out.windows(2) {
        if pair[0].index == pair[1].index {
            return Err(format!("record {} is reported failed twice", pair[0].index));
        }
    }
    if let Some(f) = out.last()
        && f.index >= n
    {
        return Err(format!(
            "reports record {} failed but the batch held {n} records",
            f.index
        ));
    }
    out.extend(held);
    Ok(out)
}

impl SinkTaskInstance {
    /// Instantiates `plugin` for task `task_id` of `connector` with the connector's `grants`,
    /// constructs the task with `config` and starts it.
    pub async fn start(
        plugin: &Plugin,
        connector: &str,
        task_id: u32,
        grants: &Grants,
        config: &[(String, String)],
    ) -> Result<Self, TaskError> {
        let who = (connector, Some(task_id), grants);
        let mut session = Session::open(plugin, who, "start", "sink", |i| match i {
            Instance::Sink(s) => Some(s),
            _ => None,
        })
        .await?;
        session.begin("sink-task constructor")?;
        let res = session
            .instance
            .culvert_connector_sink()
            .sink_task()
            .call_constructor(&mut session.store, &config.to_vec())
            .await;
        let task = session.finish("sink-task constructor", res)?;
        let mut this = Self { session, task };
        let s = &mut this.session;
        s.begin("start")?;
        let res = s
            .instance
            .culvert_connector_sink()
            .sink_task()
            .call_start(&mut s.store, this.task)
            .await;
        s.settle("start", res)?;
        Ok(this)
    }

    /// The task was assigned `partitions`.
    pub async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), TaskError> {
        let partitions = partitions_to_wit(partitions);
        let s = &mut self.session;
        s.begin("open")?;
        let res = s
            .instance
            .culvert_connector_sink()
            .sink_task()
            .call_open(&mut s.store, self.task, &partitions)
            .await;
        s.settle("open", res)
    }

    /// `partitions` are taken away (call [`flush`](Self::flush) for them first).
    pub async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), TaskError> {
        let partitions = partitions_to_wit(partitions);
        let s = &mut self.session;
        s.begin("close")?;
        let res = s
            .instance
            .culvert_connector_sink()
            .sink_task()
            .call_close(&mut s.store, self.task, &partitions)
            .await;
        s.settle("close", res)
    }

    /// Hands a batch to the task; returns the records it could not handle.
    pub async fn put(&mut self, batch: &SinkBatch) -> Result<Vec<RecordFailure>, TaskError> {
        let s = &mut self.session;
        s.begin("put")?;
        let res = s
            .instance
            .culvert_connector_sink()
            .sink_task()
            .call_put(&mut s.store, self.task, &batch.batch)
            .await;
        let failures = s.settle("put", res)?;
        check_failures(failures, batch.len(), true).map_err(|reason| s.contract("put", reason))
    }

    /// Asks which offsets are durable, given the offsets after the last records handed
    /// over. Every returned offset is checked against `current`: a task cannot report
    /// records durable that it never received.
    pub async fn flush(
        &mut self,
        current: &[PartitionOffset],
    ) -> Result<Vec<PartitionOffset>, TaskError> {
        let wit_current: Vec<wit_types::PartitionOffset> = current
            .iter()
            .map(|p| wit_types::PartitionOffset {
                topic: p.topic.clone(),
                partition: p.partition,
                offset: p.offset,
            })
            .collect();
        let s = &mut self.session;
        s.begin("flush")?;
        let res = s
            .instance
            .culvert_connector_sink()
            .sink_task()
            .call_flush(&mut s.store, self.task, &wit_current)
            .await;
        let durable = s.settle("flush", res)?;
        let mut out = Vec::with_capacity(durable.len());
        for d in durable {
            let known = current
                .iter()
                .find(|c| c.topic == d.topic && c.partition == d.partition);
            match known {
                Some(c) if d.offset <= c.offset && d.offset >= 0 => out.push(PartitionOffset {
                    topic: d.topic,
                    partition: d.partition,
                    offset: d.offset,
                }),
                Some(c) => {
                    return Err(s.contract(
                        "flush",
                        format!(
                            "reports offset {} of {}-{} durable, outside 0..={}",
                            d.offset, d.topic, d.partition, c.offset
                        ),
                    ));
                }
                None => {
                    return Err(s.contract(
                        "flush",
                        format!(
                            "reports {}-{} durable, a partition it was not asked about",
                            d.topic, d.partition
                        ),
                    ));
                }
            }
        }
        Ok(out)
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
            .culvert_connector_sink()
            .sink_task()
            .call_stop(&mut s.store, self.task)
            .await;
        s.finish("stop", res)?;
        s.drop_resource("stop", self.task).await?;
        Ok(())
    }
}
