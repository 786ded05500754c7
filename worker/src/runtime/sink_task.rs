//! A running sink task: consume the connector's topics in group `connect-<name>`, convert,
//! hand batches to the plugin's `put`, and commit consumer offsets only for what `flush`
//! reports durable — every `offset.flush.interval.ms`, before partitions are revoked, and
//! on stop.
//!
//! `put` runs as its own tokio task carrying the plugin instance, so the consumer keeps
//! being polled while a slow sink works: records gather into the next batch up to a memory
//! bound, then the partitions are paused (never dropped from the group for a slow `put`).
//!
//! With `errors.retry.topics`, records `put` fails on are parked in tier topics (see
//! `retry_topics`) that this task also consumes: a tier partition whose head record is not
//! due yet is paused and sought back to it until it is.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use culvert_plugin_host::{
    Grants, PartitionOffset, Plugin, Record, RecordFailure, SinkBatch, SinkBatchBuilder,
    SinkTaskInstance, TaskError, TopicPartition,
};
use futures_util::FutureExt;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::task::JoinHandle;

use super::batch_transform::{BatchChain, Item};
use super::errors::{ErrorHandler, FailedRecord, Retry, Stage};
use super::metrics::{TaskMetrics, add, time};
use super::retry_topics::{self, Origin, Parking, RetryTopics};
use super::settings::SinkTopics;
use super::task::{Control, TaskContext};
use super::transform::{self, Transformed};
use crate::stores::State;

/// Records per `put`, at most.
const MAX_BATCH_RECORDS: usize = 10_000;
/// How long a full next batch waits for a running `put` before the partitions are paused.
const PAUSE_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
/// An idle sink still gets `put` (with no records) this often, as Connect calls `put` after
/// every consumer poll: sinks that hold records back (retrying an endpoint that is down)
/// retry them without waiting for new records.
const IDLE_PUT: std::time::Duration = std::time::Duration::from_secs(1);

type Tp = (String, i32);

/// Rebalance events for the task loop, and the durable offsets committed on revocation.
#[derive(Default)]
struct Shared {
    /// Offsets `flush` reported durable and not yet committed.
    durable: BTreeMap<Tp, i64>,
    assigned: Vec<Tp>,
    revoked: Vec<Tp>,
}

struct SinkContext {
    shared: Mutex<Shared>,
    metrics: Arc<TaskMetrics>,
}

impl ClientContext for SinkContext {
    /// librdkafka's statistics carry each partition's consumer lag.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut lag = BTreeMap::new();
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 && p.consumer_lag >= 0 {
                    lag.insert((topic.clone(), partition), p.consumer_lag);
                }
            }
        }
        *self.metrics.lag.lock().unwrap_or_else(|p| p.into_inner()) = lag;
    }
}

fn tpl_of(offsets: &BTreeMap<Tp, i64>) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in offsets {
        let _ = tpl.add_partition_offset(t, *p, Offset::Offset(*o));
    }
    tpl
}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let revoked: Vec<Tp> = list
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        // What the plugin already reported durable is committed before the partitions go.
        let mut commit = BTreeMap::new();
        for tp in &revoked {
            if let Some(o) = shared.durable.remove(tp) {
                commit.insert(tp.clone(), o);
            }
        }
        // Asynchronous: this callback runs on a tokio thread, and the broker answering a
        // synchronous commit may be served by this very runtime (the embedded broker).
        if !commit.is_empty()
            && let Err(e) = consumer.commit(&tpl_of(&commit), CommitMode::Async)
        {
            tracing::warn!(error = %e, "cannot commit offsets of revoked partitions");
        }
        shared.revoked.extend(revoked);
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            let assigned = list
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect::<Vec<_>>();
            shared.assigned.extend(assigned);
        }
    }
}

type Consumed = StreamConsumer<SinkContext>;

/// A consumed record as it was, kept for the dead-letter topic when conversion or the
/// transforms changed what the plugin gets.
#[derive(Clone)]
struct Original {
    topic: String,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

/// What a batch carries besides its records.
#[derive(Default)]
struct Gathered {
    /// By index in the batch.
    originals: BTreeMap<usize, Original>,
    /// Per consumed partition, the offset after the last record taken — put, skipped or
    /// dropped by a transform. Offsets follow the consumed coordinates, whatever topic a
    /// transform gave the record.
    positions: BTreeMap<Tp, i64>,
    /// Records a WASM step of the chain failed on (batch transforms run just before `put`).
    transform_failures: Vec<TransformFailure>,
    /// By index in the batch: records back from a retry topic, already transformed.
    returned: BTreeSet<usize>,
}

/// A record `put` failed on.
struct PutFailure<'a> {
    /// Its topic as the plugin was given it.
    topic: &'a str,
    /// Where it was consumed: topic, partition, offset.
    consumed: (&'a str, i32, i64),
    /// Key and value as the plugin was given them, and as consumed.
    given: (Option<&'a [u8]>, Option<&'a [u8]>),
    original: (Option<&'a [u8]>, Option<&'a [u8]>),
    headers: Vec<(&'a str, Option<&'a [u8]>)>,
    timestamp_ms: Option<i64>,
    message: &'a str,
}

/// A consumed record the batch transforms failed on, for the error handler.
struct TransformFailure {
    original: Original,
    partition: i32,
    offset: i64,
    headers: Vec<(String, Option<Vec<u8>>)>,
    message: String,
}

/// The batch being gathered.
#[derive(Default)]
struct Gathering {
    builder: SinkBatchBuilder,
    bytes: usize,
    extra: Gathered,
}

type PutResult = (
    SinkTaskInstance,
    SinkBatch,
    Gathered,
    Result<Vec<RecordFailure>, TaskError>,
);

/// Runs the task until told to stop; `Err` is the trace of a failure.
pub(super) async fn run(
    mut ctx: TaskContext,
    plugin: Plugin,
    grants: Grants,
    config: Vec<(String, String)>,
    batch_chain: Option<BatchChain>,
) -> Result<(), String> {
    let started = start_with_retry(&ctx, &plugin, &grants, &config).await;
    let instance = ctx.count_start(started)?;
    let mut props = ctx.settings.consumer.clone();
    props
        .entry("group.id".into())
        .or_insert_with(|| format!("connect-{}", ctx.connector));
    props
        .entry("auto.offset.reset".into())
        .or_insert_with(|| "earliest".into());
    props
        .entry("queued.max.messages.kbytes".into())
        .or_insert_with(|| "16384".into());
    props
        .entry("statistics.interval.ms".into())
        .or_insert_with(|| "5000".into());
    props.insert("enable.auto.commit".into(), "false".into());
    props.insert("enable.auto.offset.store".into(), "false".into());
    let consumer: Arc<Consumed> = Arc::new(
        ctx.clients
            .config(&props)
            .map_err(|e| format!("cannot create the task's consumer: {e}"))?
            .create_with_context(SinkContext {
                shared: Mutex::new(Shared::default()),
                metrics: Arc::clone(&ctx.metrics),
            })
            .map_err(|e| format!("cannot create the task's consumer: {e}"))?,
    );
    let mut topics: Vec<String> = match &ctx.settings.topics {
        Some(SinkTopics::List(list)) => list.clone(),
        Some(SinkTopics::Regex(r)) => vec![r.clone()],
        None => return Err("the sink has no topics to consume".into()),
    };
    let retry = ctx.retry_topics().await?;
    if let Some(retry) = &retry {
        topics.extend(retry.topics().map(str::to_string));
    }
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&refs)
        .map_err(|e| format!("cannot subscribe to {}: {e}", topics.join(",")))?;
    let errors = ctx.error_handler().await?;
    let paused = ctx.announce_start().await;
    let mut sink = Sink {
        consumer,
        instance: Some(instance),
        putting: None,
        next: Gathering::default(),
        current: BTreeMap::new(),
        committed: BTreeMap::new(),
        owned: BTreeSet::new(),
        errors,
        paused,
        buffer_paused: false,
        last_put: tokio::time::Instant::now(),
        batch_chain: batch_chain.map(|c| Arc::new(tokio::sync::Mutex::new(c))),
        retry,
        parked: BTreeMap::new(),
        awaiting: BTreeMap::new(),
        origins: BTreeMap::new(),
    };
    let outcome = sink.run(&mut ctx).await;
    let closing = sink.close_all(&ctx).await;
    if let Some(chain) = sink.batch_chain.take().and_then(Arc::into_inner) {
        chain.into_inner().close().await;
    }
    let stopped = match sink.instance.take() {
        Some(instance) => instance.stop().await.map_err(|e| e.to_string()),
        None => Ok(()),
    };
    // Closing a consumer waits for the broker to see it leave the group: off the runtime.
    let consumer = sink.consumer;
    let _ = tokio::task::spawn_blocking(move || {
        consumer.unsubscribe();
        drop(consumer);
    })
    .await;
    outcome?;
    closing?;
    stopped
}

async fn start_with_retry(
    ctx: &TaskContext,
    plugin: &Plugin,
    grants: &Grants,
    config: &[(String, String)],
) -> Result<SinkTaskInstance, String> {
    let mut retry = Retry::new(&ctx.settings.errors, &ctx.metrics);
    loop {
        match SinkTaskInstance::start(plugin, &ctx.connector, ctx.task, grants, config).await {
            Ok(i) => return Ok(i),
            Err(TaskError::Retriable(why)) => retry.wait(&why).await?,
            Err(e) => return Err(e.to_string()),
        }
    }
}

struct Sink {
    consumer: Arc<Consumed>,
    /// The plugin instance while no `put` runs.
    instance: Option<SinkTaskInstance>,
    putting: Option<JoinHandle<PutResult>>,
    next: Gathering,
    /// Per owned partition, the offset after the last record `put` took.
    current: BTreeMap<Tp, i64>,
    /// Per owned partition, the offset last committed (unchanged ones are not sent again).
    committed: BTreeMap<Tp, i64>,
    owned: BTreeSet<Tp>,
    errors: ErrorHandler,
    /// Paused by the connector's target state.
    paused: bool,
    /// Paused because the next batch is full.
    buffer_paused: bool,
    /// When the last `put` started; an idle task gets an empty `put` every [`IDLE_PUT`].
    last_put: tokio::time::Instant,
    /// The transform chain when it has WASM steps: applied to each batch before `put`.
    batch_chain: Option<Arc<tokio::sync::Mutex<BatchChain>>>,
    /// `errors.retry.topics`: the tiers failed records wait in.
    retry: Option<RetryTopics>,
    /// Tier partitions paused until their head record is due: (its offset, due epoch ms).
    parked: BTreeMap<Tp, (i64, i64)>,
    /// Tier partitions resumed after parking, with the offset expected next: other records
    /// arriving first were fetched before the seek back, and are ignored.
    awaiting: BTreeMap<Tp, i64>,
    /// Where records back from a tier topic were first consumed, by their tier coordinates,
    /// until committed.
    origins: BTreeMap<(Tp, i64), Origin>,
}

impl Sink {
    async fn run(&mut self, ctx: &mut TaskContext) -> Result<(), String> {
        let interval = ctx.settings.offset_flush_interval;
        let mut flush_at = tokio::time::Instant::now() + interval;
        let mut full_since: Option<tokio::time::Instant> = None;
        loop {
            self.rebalanced(ctx).await?;
            match ctx.wanted() {
                Control::Stop => return Ok(()),
                Control::Pause if !self.paused => {
                    self.paused = true;
                    self.set_paused(true);
                    ctx.set_status(State::Paused, None).await;
                }
                Control::Run if self.paused => {
                    self.paused = false;
                    // Still paused when a slow put holds a full batch.
                    self.set_paused(self.buffer_paused);
                    ctx.set_status(State::Running, None).await;
                }
                _ => {}
            }
            // Nothing reaches the external system while the worker's lease is void.
            let may_write = ctx.identity.lease.is_valid();
            if self.putting.is_none() && may_write {
                if !self.next.builder.is_empty() {
                    self.start_put(&ctx.metrics);
                } else {
                    self.absorb_skipped();
                }
            }
            // With the next batch full, records are no longer taken. Only when the running
            // put takes long are the partitions paused, so the consumer keeps polling (and
            // stays in the group) without buffering more; pausing costs a re-fetch.
            let full = self.next.bytes >= ctx.settings.max_buffered_bytes
                || self.next.builder.len() >= MAX_BATCH_RECORDS;
            if !full {
                full_since = None;
            } else if full_since.is_none() {
                full_since = Some(tokio::time::Instant::now());
            }
            let pause_at = full_since.map_or(flush_at, |t| t + PAUSE_AFTER);
            let slow = full_since.is_some_and(|t| t.elapsed() >= PAUSE_AFTER);
            if slow != self.buffer_paused && !self.paused {
                self.buffer_paused = slow;
                self.set_paused(slow);
            }
            let receive = !full || self.buffer_paused;
            let consumer = Arc::clone(&self.consumer);
            let unpark_at = self.parked.values().map(|(_, due)| *due).min().map(|due| {
                let wait = u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0);
                tokio::time::Instant::now() + std::time::Duration::from_millis(wait)
            });
            tokio::select! {
                biased;
                _ = ctx.control.changed() => {}
                joined = async {
                    match self.putting.as_mut() {
                        Some(h) => h.await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.putting = None;
                    let (instance, batch, originals, result) =
                        joined.map_err(|e| format!("the put call was lost: {e}"))?;
                    self.instance = Some(instance);
                    self.after_put(ctx, &batch, &originals, result).await?;
                }
                _ = tokio::time::sleep_until(pause_at), if !receive => {}
                _ = tokio::time::sleep_until(self.last_put + IDLE_PUT),
                    if may_write && !self.paused && self.putting.is_none() => {
                    self.start_put(&ctx.metrics);
                }
                _ = tokio::time::sleep(super::task::LEASE_POLL), if !may_write => {}
                _ = async {
                    match unpark_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => self.unpark_due(),
                message = consumer.recv(), if receive => {
                    match message {
                        Ok(m) => self.take(ctx, &m).await?,
                        Err(e) => consume_error(ctx, e)?,
                    }
                    // Take whatever else is already fetched, without waiting.
                    while self.next.builder.len() < MAX_BATCH_RECORDS
                        && self.next.bytes < ctx.settings.max_buffered_bytes
                    {
                        match consumer.recv().now_or_never() {
                            Some(Ok(m)) => self.take(ctx, &m).await?,
                            Some(Err(e)) => consume_error(ctx, e)?,
                            None => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(flush_at) => {
                    self.flush(ctx, None).await?;
                    flush_at = tokio::time::Instant::now() + interval;
                }
            }
        }
    }

    /// The state shared with the rebalance callback.
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        let context = self.consumer.context();
        context.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_paused(&self, pause: bool) {
        let Ok(assignment) = self.consumer.assignment() else {
            return;
        };
        let result = if pause {
            self.consumer.pause(&assignment)
        } else {
            // Parked tier partitions stay paused until their record is due.
            let mut resume = TopicPartitionList::new();
            for e in assignment.elements() {
                let tp = (e.topic().to_string(), e.partition());
                if !self.parked.contains_key(&tp) {
                    resume.add_partition(e.topic(), e.partition());
                }
            }
            self.consumer.resume(&resume)
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, pause, "cannot pause or resume the task's partitions");
        }
    }

    /// Pauses tier partition `tp` and rewinds it to `offset`, whose record is due at
    /// `due_ms`; it resumes then (see [`Sink::unpark_due`]).
    fn park(&mut self, tp: &Tp, offset: i64, due_ms: i64) {
        let mut list = TopicPartitionList::new();
        list.add_partition(&tp.0, tp.1);
        if let Err(e) = self.consumer.pause(&list) {
            tracing::warn!(error = %e, topic = %tp.0, partition = tp.1,
                "cannot pause a retry topic partition");
        }
        // Asynchronous (no timeout): librdkafka drops what it fetched past `offset`.
        let rewind = self.consumer.seek(
            &tp.0,
            tp.1,
            Offset::Offset(offset),
            std::time::Duration::ZERO,
        );
        if let Err(e) = rewind {
            tracing::warn!(error = %e, topic = %tp.0, partition = tp.1,
                "cannot rewind a retry topic partition");
        }
        self.awaiting.remove(tp);
        self.parked.insert(tp.clone(), (offset, due_ms));
    }

    /// Resumes the tier partitions whose head record is due.
    fn unpark_due(&mut self) {
        let now = now_ms();
        let due: Vec<(Tp, i64)> = self
            .parked
            .iter()
            .filter(|(_, (_, due))| *due <= now)
            .map(|(tp, (offset, _))| (tp.clone(), *offset))
            .collect();
        let mut list = TopicPartitionList::new();
        for (tp, offset) in due {
            self.parked.remove(&tp);
            self.awaiting.insert(tp.clone(), offset);
            list.add_partition(&tp.0, tp.1);
        }
        if !self.paused
            && !self.buffer_paused
            && let Err(e) = self.consumer.resume(&list)
        {
            tracing::warn!(error = %e, "cannot resume retry topic partitions");
        }
    }

    /// Takes a record consumed from a retry tier's partition `tp`: parks the partition when
    /// the record is not due yet, else hands it on as the plugin had it before (no
    /// conversion, no transforms).
    async fn take_returned(
        &mut self,
        ctx: &mut TaskContext,
        m: &BorrowedMessage<'_>,
        tp: Tp,
    ) -> Result<(), String> {
        let offset = m.offset();
        if let Some(&(parked_at, due)) = self.parked.get(&tp) {
            // Fetched behind a parked record (or after a resume of every partition).
            self.park(&tp, parked_at, due);
            return Ok(());
        }
        if let Some(&expected) = self.awaiting.get(&tp) {
            if offset != expected {
                if offset > expected {
                    // A prefetch from before the rewind; rewind again to be sure.
                    self.park(&tp, expected, 0);
                    self.unpark_due();
                }
                return Ok(());
            }
            self.awaiting.remove(&tp);
        }
        let headers = headers_of(m);
        let returned = match retry_topics::read(&headers) {
            Ok(r) => r,
            Err(why) => {
                self.next.extra.positions.insert(tp, offset + 1);
                let why = format!("not a Culvert retry record: {why}");
                let stage = (Stage::KafkaConsume, "errors.retry.topics", why.as_str());
                return self.report_consumed(stage, m, &headers).await;
            }
        };
        if returned.due_ms > now_ms() {
            self.park(&tp, offset, returned.due_ms);
            return Ok(());
        }
        add(&ctx.metrics.sink_read, 1);
        self.next.extra.positions.insert(tp.clone(), offset + 1);
        let record = Record::new(
            returned.topic,
            m.key(),
            m.payload(),
            m.timestamp().to_millis(),
        );
        self.next
            .builder
            .push_consumed(&record, &returned.headers, &tp.0, tp.1, offset)
            .map_err(|e| format!("{}-{} at offset {offset}: {e}", tp.0, tp.1))?;
        let index = self.next.builder.len() - 1;
        self.next.extra.returned.insert(index);
        self.next.bytes += m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len);
        self.origins.insert((tp, offset), returned.origin);
        Ok(())
    }

    /// Converts one consumed record into the next batch (or the error handler).
    async fn take(&mut self, ctx: &mut TaskContext, m: &BorrowedMessage<'_>) -> Result<(), String> {
        let topic = m.topic();
        let tp = (topic.to_string(), m.partition());
        if !self.owned.contains(&tp) {
            // Assigned in a rebalance the loop has not seen yet.
            self.owned.insert(tp.clone());
        }
        if self
            .retry
            .as_ref()
            .is_some_and(|r| r.tier_of(topic).is_some())
        {
            return self.take_returned(ctx, m, tp).await;
        }
        add(&ctx.metrics.sink_read, 1);
        self.next.extra.positions.insert(tp, m.offset() + 1);
        let headers = headers_of(m);
        let key = (ctx.settings.key_converter.to_plugin(m.key()))
            .map_err(|e| (Stage::KeyConverter, "key.converter", e));
        let value = (ctx.settings.value_converter.to_plugin(m.payload()))
            .map_err(|e| (Stage::ValueConverter, "value.converter", e));
        let (key, value) = match key.and_then(|k| value.map(|v| (k, v))) {
            Ok(kv) => kv,
            Err((stage, class, e)) => {
                self.report_consumed((stage, class, &e), m, &headers)
                    .await?;
                // Skipped: its position was recorded, so it counts as delivered.
                return Ok(());
            }
        };
        let mut changed = matches!(key, Some(std::borrow::Cow::Owned(_)))
            || matches!(value, Some(std::borrow::Cow::Owned(_)));
        let ts = m.timestamp().to_millis();
        let chain = Arc::clone(&ctx.settings.transforms);
        let transformed = if self.batch_chain.is_some() {
            // The chain has WASM steps: it runs on the whole batch before `put`.
            changed = true;
            None
        } else if chain.is_empty() {
            None
        } else {
            changed = true;
            let at = (topic, Some(m.partition()), Some(m.offset()));
            match transform::apply(&chain, at, key.as_deref(), value.as_deref(), &headers, ts) {
                Ok(Some(t)) => Some(t),
                Ok(None) => return Ok(()),
                Err(e) => {
                    let why = (Stage::Transformation, "transforms", e.as_str());
                    self.report_consumed(why, m, &headers).await?;
                    return Ok(());
                }
            }
        };
        let transformed_headers = transformed.as_ref().map(Transformed::headers);
        let record = match &transformed {
            Some(t) => Record::new(
                &t.topic,
                t.key.as_deref(),
                t.value.as_deref(),
                t.timestamp_ms,
            ),
            None => Record::new(topic, key.as_deref(), value.as_deref(), ts),
        };
        let record_headers = transformed_headers.as_deref().unwrap_or(&headers);
        self.next
            .builder
            .push_consumed(&record, record_headers, topic, m.partition(), m.offset())
            .map_err(|e| format!("{topic}-{} at offset {}: {e}", m.partition(), m.offset()))?;
        if changed {
            let index = self.next.builder.len() - 1;
            self.next.extra.originals.insert(
                index,
                Original {
                    topic: topic.to_string(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                },
            );
        }
        self.next.bytes += m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len);
        ctx.track_topic(topic).await;
        Ok(())
    }

    /// Hands a consumed record that failed at `stage` to the error handler, as consumed.
    async fn report_consumed(
        &mut self,
        (stage, class_name, message): (Stage, &str, &str),
        m: &BorrowedMessage<'_>,
        headers: &[culvert_plugin_host::Header<'_>],
    ) -> Result<(), String> {
        self.errors
            .report(FailedRecord {
                stage,
                class_name,
                message,
                topic: m.topic(),
                partition: Some(m.partition()),
                offset: Some(m.offset()),
                key: m.key(),
                value: m.payload(),
                headers: headers.iter().map(|h| (h.name, h.value)).collect(),
            })
            .await
    }

    fn start_put(&mut self, metrics: &Arc<TaskMetrics>) {
        self.last_put = tokio::time::Instant::now();
        let Some(mut instance) = self.instance.take() else {
            return;
        };
        let gathered = std::mem::take(&mut self.next);
        let batch = gathered.builder.build();
        let originals = gathered.extra;
        let chain = self.batch_chain.clone();
        if !batch.is_empty() {
            metrics.batch(batch.len());
            add(&metrics.sink_sent, batch.len() as u64);
        }
        let metrics = Arc::clone(metrics);
        self.putting = Some(tokio::spawn(async move {
            let (batch, originals) = match chain {
                Some(chain) => match transform_batch(&chain, batch, originals).await {
                    Ok(done) => done,
                    Err((batch, originals, why)) => {
                        return (instance, batch, originals, Err(TaskError::Fatal(why)));
                    }
                },
                None => (batch, originals),
            };
            let started = std::time::Instant::now();
            let result = instance.put(&batch).await;
            let took = started.elapsed().as_micros() as u64;
            time(&metrics.put_time_us, &metrics.put_time_max_us, took);
            (instance, batch, originals, result)
        }));
    }

    /// Waits for a running `put` to finish and handles its outcome.
    async fn settle_put(&mut self, ctx: &TaskContext) -> Result<(), String> {
        if let Some(handle) = self.putting.take() {
            let (instance, batch, originals, result) = handle
                .await
                .map_err(|e| format!("the put call was lost: {e}"))?;
            self.instance = Some(instance);
            self.after_put(ctx, &batch, &originals, result).await?;
        }
        Ok(())
    }

    async fn after_put(
        &mut self,
        ctx: &TaskContext,
        batch: &SinkBatch,
        originals: &Gathered,
        result: Result<Vec<RecordFailure>, TaskError>,
    ) -> Result<(), String> {
        for f in &originals.transform_failures {
            self.errors
                .report(FailedRecord {
                    stage: Stage::Transformation,
                    class_name: "transforms",
                    message: &f.message,
                    topic: &f.original.topic,
                    partition: Some(f.partition),
                    offset: Some(f.offset),
                    key: f.original.key.as_deref(),
                    value: f.original.value.as_deref(),
                    headers: f
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_deref()))
                        .collect(),
                })
                .await?;
        }
        let failures = match result {
            Ok(f) => f,
            Err(TaskError::Retriable(why)) => {
                // The same batch again, after a backoff, until errors.retry.timeout.
                let mut retry = Retry::new(&ctx.settings.errors, &ctx.metrics);
                loop {
                    tracing::warn!(connector = %ctx.connector, task = ctx.task, "put: {why}; retrying");
                    retry.wait(&why).await?;
                    let Some(instance) = self.instance.as_mut() else {
                        return Err("the plugin instance is gone".into());
                    };
                    match instance.put(batch).await {
                        Ok(f) => break f,
                        Err(TaskError::Retriable(_)) => continue,
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }
            Err(e) => return Err(e.to_string()),
        };
        for f in &failures {
            if let Some(held) = &f.held {
                // Taken by an earlier put; the plugin handed it back whole.
                let given = (held.key.as_deref(), held.value.as_deref());
                self.put_failed(
                    ctx,
                    PutFailure {
                        topic: &held.topic,
                        consumed: (&held.consumed_topic, held.partition, held.offset),
                        given,
                        original: given,
                        headers: Vec::new(),
                        timestamp_ms: None,
                        message: &f.message,
                    },
                )
                .await?;
                continue;
            }
            let (Some((record, partition, offset)), Some(consumed)) =
                (batch.get(f.index), batch.consumed_topic(f.index))
            else {
                continue;
            };
            let given = (record.key, record.value);
            let original = originals
                .originals
                .get(&f.index)
                .map_or(given, |o| (o.key.as_deref(), o.value.as_deref()));
            let headers = record.headers();
            self.put_failed(
                ctx,
                PutFailure {
                    topic: record.topic,
                    consumed: (consumed, partition, offset),
                    given,
                    original,
                    headers: headers.iter().map(|h| (h.name, h.value)).collect(),
                    timestamp_ms: record.timestamp_ms,
                    message: &f.message,
                },
            )
            .await?;
        }
        self.advance(&originals.positions);
        Ok(())
    }

    /// A record `put` failed on: parked in the next retry tier when one is left, else
    /// handed to the error handler with where it was first consumed.
    async fn put_failed(&mut self, ctx: &TaskContext, f: PutFailure<'_>) -> Result<(), String> {
        let (consumed, partition, offset) = f.consumed;
        let tp = (consumed.to_string(), partition);
        let returned = self.origins.get(&(tp, offset)).cloned();
        let origin = returned.clone().unwrap_or_else(|| Origin {
            topic: consumed.to_string(),
            partition,
            offset,
        });
        if let Some(retry) = &self.retry
            && let Some(tier) = retry.next_tier(consumed)
        {
            let parking = Parking {
                topic: f.topic,
                origin: &origin,
                key: f.given.0,
                value: f.given.1,
                headers: f.headers,
                timestamp_ms: f.timestamp_ms,
                message: f.message,
            };
            retry.park(tier, parking).await?;
            add(&ctx.metrics.retry_parked, 1);
            return Ok(());
        }
        // Back from a retry topic, the record is as the plugin had it (no originals).
        let (key, value) = if returned.is_some() {
            f.given
        } else {
            f.original
        };
        self.errors
            .report(FailedRecord {
                stage: Stage::TaskPut,
                class_name: &ctx.class,
                message: f.message,
                topic: &origin.topic,
                partition: Some(origin.partition),
                offset: Some(origin.offset),
                key,
                value,
                headers: f.headers,
            })
            .await
    }

    /// Records `positions` as handed over (for partitions still owned).
    fn advance(&mut self, positions: &BTreeMap<Tp, i64>) {
        for (tp, offset) in positions {
            if self.owned.contains(tp) {
                self.current.insert(tp.clone(), *offset);
            }
        }
    }

    /// With no `put` running and nothing gathered, records that were only skipped or
    /// dropped count as handed over.
    fn absorb_skipped(&mut self) {
        if self.putting.is_none() && self.next.builder.is_empty() {
            let positions = std::mem::take(&mut self.next.extra.positions);
            self.advance(&positions);
        }
    }

    /// Asks the plugin what is durable (of `only`, or every partition) and commits it.
    async fn flush(&mut self, ctx: &TaskContext, only: Option<&[Tp]>) -> Result<(), String> {
        self.settle_put(ctx).await?;
        if !ctx.identity.lease.is_valid() {
            return Ok(());
        }
        self.absorb_skipped();
        let current: Vec<PartitionOffset> = self
            .current
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .map(|((topic, partition), offset)| PartitionOffset {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
            })
            .collect();
        if current.is_empty() {
            return Ok(());
        }
        let Some(instance) = self.instance.as_mut() else {
            return Err("the plugin instance is gone".into());
        };
        let durable = match instance.flush(&current).await {
            Ok(d) => d,
            Err(TaskError::Retriable(why)) => {
                tracing::warn!(connector = %ctx.connector, task = ctx.task,
                    "flush: {why}; nothing committed this time");
                return Ok(());
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut commit = BTreeMap::new();
        {
            let mut shared = self.shared();
            for d in durable {
                let tp = (d.topic, d.partition);
                // The periodic path skips unchanged offsets; closing commits all again.
                let new = only.is_some() || self.committed.get(&tp) != Some(&d.offset);
                if self.owned.contains(&tp) && new {
                    shared.durable.insert(tp.clone(), d.offset);
                    commit.insert(tp, d.offset);
                }
            }
        }
        let m = &ctx.metrics;
        if commit.is_empty() {
            add(&m.commit_skips, 1);
            return Ok(());
        }
        let mode = if only.is_some() {
            CommitMode::Sync
        } else {
            CommitMode::Async
        };
        let started = std::time::Instant::now();
        // A synchronous commit blocks its thread until the broker answers: off the runtime.
        let consumer = Arc::clone(&self.consumer);
        let tpl = tpl_of(&commit);
        let committed = match mode {
            CommitMode::Async => consumer.commit(&tpl, mode),
            CommitMode::Sync => {
                match tokio::task::spawn_blocking(move || consumer.commit(&tpl, mode)).await {
                    Ok(result) => result,
                    Err(e) => return Err(format!("the offset commit was lost: {e}")),
                }
            }
        };
        if let Err(e) = committed {
            add(&m.offset_commit_failures, 1);
            return Err(format!("cannot commit consumer offsets: {e}"));
        }
        add(&m.offset_commits, 1);
        let took = started.elapsed().as_micros() as u64;
        time(&m.offset_commit_time_us, &m.offset_commit_time_max_us, took);
        {
            let mut shared = self.shared();
            for (tp, o) in &commit {
                if shared.durable.get(tp) == Some(o) {
                    shared.durable.remove(tp);
                }
            }
        }
        // Records back from retry topics below the committed offsets are done with.
        self.origins
            .retain(|(tp, offset), _| commit.get(tp).is_none_or(|c| offset >= c));
        self.committed.extend(commit);
        Ok(())
    }

    /// Applies rebalance events: `open` for new partitions, `close` for revoked ones.
    async fn rebalanced(&mut self, ctx: &TaskContext) -> Result<(), String> {
        let (assigned, revoked) = {
            let mut shared = self.shared();
            (
                std::mem::take(&mut shared.assigned),
                std::mem::take(&mut shared.revoked),
            )
        };
        if !revoked.is_empty() {
            self.settle_put(ctx).await?;
            for tp in &revoked {
                self.owned.remove(tp);
                self.current.remove(tp);
                self.committed.remove(tp);
                self.parked.remove(tp);
                self.awaiting.remove(tp);
            }
            self.origins.retain(|(tp, _), _| !revoked.contains(tp));
            let list = to_partitions(&revoked);
            if let Some(instance) = self.instance.as_mut() {
                instance.close(&list).await.map_err(|e| e.to_string())?;
            }
        }
        if !assigned.is_empty() {
            self.settle_put(ctx).await?;
            for tp in &assigned {
                self.owned.insert(tp.clone());
            }
            if let Some(instance) = self.instance.as_mut() {
                instance
                    .open(&to_partitions(&assigned))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if self.paused || self.buffer_paused {
                self.set_paused(true);
            }
        }
        ctx.metrics.partitions.store(
            self.owned.len() as i64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }

    /// On stop: put what was gathered, flush and commit everything, close the partitions.
    async fn close_all(&mut self, ctx: &TaskContext) -> Result<(), String> {
        self.settle_put(ctx).await?;
        let may_write = ctx.identity.lease.is_valid();
        if may_write && !self.next.builder.is_empty() && self.instance.is_some() {
            self.start_put(&ctx.metrics);
            self.settle_put(ctx).await?;
        }
        let all: Vec<Tp> = self.owned.iter().cloned().collect();
        self.flush(ctx, Some(&all)).await?;
        if let Some(instance) = self.instance.as_mut() {
            instance
                .close(&to_partitions(&all))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// A consumed record's headers, borrowed.
fn headers_of<'m>(m: &'m BorrowedMessage<'_>) -> Vec<culvert_plugin_host::Header<'m>> {
    m.headers().map_or_else(Vec::new, |hs| {
        hs.iter()
            .map(|h| culvert_plugin_host::Header {
                name: h.key,
                value: h.value,
            })
            .collect()
    })
}

/// Wall-clock milliseconds since the Unix epoch (retry records carry due times in it).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// librdkafka reports most consumer errors for information only (a topic that does not
/// exist yet, a broker connection that dropped) and keeps consuming; only a fatal one ends
/// the task. A sink subscribed to a topic nobody created yet waits for it, as Connect's do.
fn consume_error(ctx: &TaskContext, e: rdkafka::error::KafkaError) -> Result<(), String> {
    match e {
        rdkafka::error::KafkaError::MessageConsumptionFatal(_) => {
            Err(format!("cannot consume: {e}"))
        }
        _ => {
            tracing::warn!(connector = %ctx.connector, task = ctx.task, error = %e,
                "the consumer reported an error; it keeps consuming");
            Ok(())
        }
    }
}

fn to_partitions(tps: &[Tp]) -> Vec<TopicPartition> {
    tps.iter()
        .map(|(topic, partition)| TopicPartition {
            topic: topic.clone(),
            partition: *partition,
        })
        .collect()
}

/// Runs the WASM-bearing chain on a gathered batch: the batch `put` gets, with originals
/// re-indexed to it and the failed records kept for the error handler. On a broken
/// transform, the untouched batch and the reason.
async fn transform_batch(
    chain: &tokio::sync::Mutex<BatchChain>,
    batch: SinkBatch,
    mut gathered: Gathered,
) -> Result<(SinkBatch, Gathered), (SinkBatch, Gathered, String)> {
    let mut coordinates = Vec::with_capacity(batch.len());
    let mut items = Vec::with_capacity(batch.len());
    for n in 0..batch.len() {
        let Some((record, partition, offset)) = batch.get(n) else {
            continue;
        };
        coordinates.push((partition, offset));
        if gathered.returned.contains(&n) {
            // Back from a retry topic: transformed before it was parked.
            continue;
        }
        items.push(Item::of(
            &record,
            &record.headers(),
            (Some(partition), Some(offset)),
            n,
        ));
    }
    let applied = match chain.lock().await.apply(items).await {
        Ok(a) => a,
        Err(why) => return Err((batch, gathered, why)),
    };
    let original_of = |n: usize, gathered: &Gathered| -> Original {
        gathered.originals.get(&n).cloned().unwrap_or_else(|| {
            let record = batch.get(n).map(|(r, _, _)| r);
            Original {
                topic: record.map(|r| r.topic.to_string()).unwrap_or_default(),
                key: record.and_then(|r| r.key.map(<[u8]>::to_vec)),
                value: record.and_then(|r| r.value.map(<[u8]>::to_vec)),
            }
        })
    };
    for (origin, message) in applied.failures {
        let (partition, offset) = coordinates.get(origin).copied().unwrap_or((0, -1));
        let headers = batch
            .get(origin)
            .map(|(r, _, _)| {
                r.headers()
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        gathered.transform_failures.push(TransformFailure {
            original: original_of(origin, &gathered),
            partition,
            offset,
            headers,
            message,
        });
    }
    let mut builder = SinkBatchBuilder::new();
    let mut originals = BTreeMap::new();
    let mut returned = BTreeSet::new();
    let mut items = applied.items.into_iter().peekable();
    for n in 0..batch.len() {
        let Some((record, partition, offset)) = batch.get(n) else {
            continue;
        };
        let consumed = batch.consumed_topic(n).unwrap_or(record.topic);
        if gathered.returned.contains(&n) {
            let pushed =
                builder.push_consumed(&record, &record.headers(), consumed, partition, offset);
            if let Err(e) = pushed {
                return Err((batch, gathered, format!("a record from a retry topic: {e}")));
            }
            returned.insert(builder.len() - 1);
            continue;
        }
        while let Some(item) = items.next_if(|i| i.origin == n) {
            let record = Record::new(
                &item.topic,
                item.key.as_deref(),
                item.value.as_deref(),
                item.timestamp_ms,
            );
            let pushed =
                builder.push_consumed(&record, &item.host_headers(), consumed, partition, offset);
            if let Err(e) = pushed {
                return Err((batch, gathered, format!("a transformed record: {e}")));
            }
            originals.insert(builder.len() - 1, original_of(n, &gathered));
        }
    }
    gathered.originals = originals;
    gathered.returned = returned;
    Ok((builder.build(), gathered))
}
