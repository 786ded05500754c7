//! A running source task: poll the plugin, convert, produce with acks=all and idempotence,
//! and make a source position committable only once every record before it is acked.
//! Positions are flushed to the offsets topic every `offset.flush.interval.ms` and on a
//! graceful stop, then the plugin hears of them through `committed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use culvert_plugin_host::{Grants, Plugin, Position, SourceTaskInstance, TaskError};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::Value;
use tokio::sync::mpsc;

use super::batch_transform::{BatchChain, Item};
use super::errors::{ErrorHandler, FailedRecord, Retry, Stage};
use super::metrics::{TaskMetrics, add, time};
use super::task::{Control, TaskContext};
use super::transform::{self, Transformed};
use crate::stores::{State, encode_offset_key};

/// Largest number of records asked of one `poll`.
const MAX_POLL_RECORDS: u32 = 10_000;
/// Polled batches whose records may be awaiting acks at once (bytes bound them first).
const IN_FLIGHT_BATCHES: usize = 64;
/// Longest wait between polls of a task that had nothing to send.
const MAX_IDLE: Duration = Duration::from_millis(200);

/// A produced batch awaiting its acks.
struct InFlight {
    /// The batch's share of `max.buffered.bytes`, returned once it is acked.
    _budget: tokio::sync::OwnedSemaphorePermit,
    deliveries: Vec<DeliveryFuture>,
    /// `(n, position)`: committable once the first `n` deliveries are acked.
    checkpoints: Vec<(usize, Position)>,
}

/// Positions acked and not yet flushed, plus the first delivery failure.
#[derive(Default)]
struct Acked {
    positions: BTreeMap<String, String>,
    failure: Option<String>,
}

/// Awaits deliveries in order and publishes the positions they make committable.
async fn ack_loop(
    mut batches: mpsc::Receiver<InFlight>,
    acked: Arc<Mutex<Acked>>,
    metrics: Arc<TaskMetrics>,
) {
    while let Some(batch) = batches.recv().await {
        let mut checkpoints = batch.checkpoints.into_iter().peekable();
        let mut done = 0usize;
        let publish =
            |n: usize, cps: &mut std::iter::Peekable<std::vec::IntoIter<(usize, Position)>>| {
                let mut a = acked.lock().unwrap_or_else(|p| p.into_inner());
                while let Some((_, p)) = cps.next_if(|(upto, _)| *upto <= n) {
                    a.positions.insert(p.partition, p.offset);
                }
            };
        publish(0, &mut checkpoints);
        for delivery in batch.deliveries {
            let outcome = match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(e.to_string()),
                Err(_) => Err("the producer was closed before the record was acked".to_string()),
            };
            if let Err(e) = outcome {
                let mut a = acked.lock().unwrap_or_else(|p| p.into_inner());
                a.failure
                    .get_or_insert(format!("a record could not be written: {e}"));
                return;
            }
            done += 1;
            add(&metrics.source_written, 1);
            metrics
                .source_active
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            publish(done, &mut checkpoints);
        }
    }
}

/// Runs the task until told to stop; `Err` is the trace of a failure.
pub(super) async fn run(
    mut ctx: TaskContext,
    plugin: Plugin,
    grants: Grants,
    config: Vec<(String, String)>,
    mut batch_chain: Option<BatchChain>,
) -> Result<(), String> {
    let committed: Vec<Position> = ctx
        .offsets
        .read()
        .offsets(&ctx.connector)
        .map(|(p, o)| Position {
            partition: p.to_string(),
            offset: o.to_string(),
        })
        .collect();
    let started = start_with_retry(&ctx, &plugin, &grants, &config, &committed).await;
    let mut instance = ctx.count_start(started)?;
    let mut props = ctx.settings.producer.clone();
    props.insert("acks".into(), "all".into());
    props.insert("enable.idempotence".into(), "true".into());
    props
        .entry("queue.buffering.max.kbytes".into())
        .or_insert_with(|| "65536".into());
    let producer: FutureProducer = ctx
        .clients
        .config(&props)
        .map_err(|e| format!("cannot create the task's producer: {e}"))?
        .create()
        .map_err(|e| format!("cannot create the task's producer: {e}"))?;
    let mut errors = ctx.error_handler().await?;
    let acked = Arc::new(Mutex::new(Acked::default()));
    let (to_acker, batches) = mpsc::channel(IN_FLIGHT_BATCHES);
    let acker = tokio::spawn(ack_loop(
        batches,
        Arc::clone(&acked),
        Arc::clone(&ctx.metrics),
    ));
    // The loop starts from the state announced: a pause arriving in between must still be
    // reported.
    let paused = ctx.announce_start().await;
    let outcome = poll_loop(
        &mut ctx,
        paused,
        (&mut instance, &mut batch_chain),
        &producer,
        &mut errors,
        &to_acker,
        &acked,
    )
    .await;
    if let Some(chain) = batch_chain {
        chain.close().await;
    }
    // Drain: stop producing, wait for outstanding acks, then commit what is durable. A
    // worker that lost its lease writes nothing more: dropping the producer purges what it
    // still holds, and the offsets are not flushed (the work may run elsewhere already).
    let fenced = !ctx.identity.lease.is_valid();
    if fenced {
        drop(producer);
    }
    drop(to_acker);
    let drained = tokio::time::timeout(ctx.settings.shutdown_timeout, acker).await;
    if drained.is_err() {
        tracing::warn!(connector = %ctx.connector, task = ctx.task,
            "records were still awaiting acks at shutdown; their positions are not committed");
    }
    let flushed = flush_offsets(&ctx, &mut instance, &acked).await;
    let stopped = instance.stop().await.map_err(|e| e.to_string());
    outcome?;
    flushed?;
    stopped
}

async fn start_with_retry(
    ctx: &TaskContext,
    plugin: &Plugin,
    grants: &Grants,
    config: &[(String, String)],
    committed: &[Position],
) -> Result<SourceTaskInstance, String> {
    let mut retry = Retry::new(&ctx.settings.errors, &ctx.metrics);
    loop {
        match SourceTaskInstance::start(plugin, &ctx.connector, ctx.task, grants, config, committed)
            .await
        {
            Ok(i) => return Ok(i),
            Err(TaskError::Retriable(why)) => retry.wait(&why).await?,
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn poll_loop(
    ctx: &mut TaskContext,
    mut paused: bool,
    (instance, batch_chain): (&mut SourceTaskInstance, &mut Option<BatchChain>),
    producer: &FutureProducer,
    errors: &mut ErrorHandler,
    to_acker: &mpsc::Sender<InFlight>,
    acked: &Arc<Mutex<Acked>>,
) -> Result<(), String> {
    let mut next_flush = Instant::now() + ctx.settings.offset_flush_interval;
    let mut idle = Duration::from_millis(5);
    let budget_kib = u32::try_from(ctx.settings.max_buffered_bytes / 1024)
        .unwrap_or(u32::MAX)
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS as u32);
    let budget = &Arc::new(tokio::sync::Semaphore::new(budget_kib as usize));
    loop {
        if let Some(failure) = acked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failure
            .take()
        {
            return Err(failure);
        }
        if Instant::now() >= next_flush {
            flush_offsets(ctx, instance, acked).await?;
            next_flush = Instant::now() + ctx.settings.offset_flush_interval;
        }
        match ctx.wanted() {
            Control::Stop => return Ok(()),
            Control::Pause => {
                if !paused {
                    paused = true;
                    ctx.set_status(State::Paused, None).await;
                }
                let wait = next_flush.saturating_duration_since(Instant::now());
                let _ = tokio::time::timeout(wait, ctx.control.changed()).await;
                continue;
            }
            Control::Run if paused => {
                paused = false;
                ctx.set_status(State::Running, None).await;
            }
            Control::Run => {}
        }
        let poll_started = Instant::now();
        let polled = poll_with_retry(ctx, instance).await?;
        let m = &ctx.metrics;
        time(
            &m.poll_time_us,
            &m.poll_time_max_us,
            poll_started.elapsed().as_micros() as u64,
        );
        let Some(batch) = polled else {
            let wait = idle.min(next_flush.saturating_duration_since(Instant::now()));
            let _ = tokio::time::timeout(wait, ctx.control.changed()).await;
            idle = (idle * 2).min(MAX_IDLE);
            continue;
        };
        idle = Duration::from_millis(5);
        // Records awaiting acks hold at most max.buffered.bytes (counted in KiB).
        let kib = u32::try_from(batch.byte_size().div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, budget_kib);
        let budget = Arc::clone(budget)
            .acquire_many_owned(kib)
            .await
            .map_err(|_| "the in-flight budget closed".to_string())?;
        ctx.metrics.batch(batch.len());
        add(&ctx.metrics.source_polled, batch.len() as u64);
        // Records without their own timestamp get the time before the lease check, never a
        // time after it: a record produced after a freeze cannot pass for an older one.
        let stamp = epoch_ms();
        // deliveries-so-far after each record, to translate the plugin's checkpoints.
        let mut sent_after = Vec::with_capacity(batch.len());
        let mut deliveries = Vec::with_capacity(batch.len());
        if let Some(chain) = batch_chain.as_mut() {
            // The chain has WASM steps: transform the whole batch, then send its outputs in
            // the order of the records they came from.
            let items = batch
                .iter()
                .enumerate()
                .map(|(n, r)| Item::of(&r, &r.headers(), (None, None), n))
                .collect();
            let applied = chain.apply(items).await?;
            let mut failures = applied.failures;
            failures.sort_by_key(|(origin, _)| *origin);
            let mut failures = failures.into_iter().peekable();
            let mut outputs = applied.items.into_iter().peekable();
            for (n, record) in batch.iter().enumerate() {
                if !ctx.identity.lease.is_valid() && !ctx.may_write().await {
                    return Ok(());
                }
                let headers = record.headers();
                while let Some((_, why)) = failures.next_if(|(o, _)| *o == n) {
                    let why = (Stage::Transformation, "transforms", why);
                    skip(ctx, errors, &record, &headers, why).await?;
                }
                while let Some(item) = outputs.next_if(|i| i.origin == n) {
                    let out = Transformed::from(item);
                    let at = (&record, headers.as_slice());
                    if let Some(d) = send(ctx, producer, errors, at, Some(&out), stamp).await? {
                        deliveries.push(d);
                    }
                }
                sent_after.push(deliveries.len());
            }
        } else {
            for record in batch.iter() {
                if !ctx.identity.lease.is_valid() && !ctx.may_write().await {
                    // Told to stop while the lease was void: the rest of the batch is dropped.
                    return Ok(());
                }
                if let Some(delivery) = produce(ctx, producer, errors, &record, stamp).await? {
                    deliveries.push(delivery);
                }
                sent_after.push(deliveries.len());
            }
        }
        let checkpoints = batch
            .checkpoints()
            .iter()
            .map(|(n, p)| (if *n == 0 { 0 } else { sent_after[*n - 1] }, p.clone()))
            .collect();
        ctx.metrics.source_active.fetch_add(
            deliveries.len() as i64,
            std::sync::atomic::Ordering::Relaxed,
        );
        to_acker
            .send(InFlight {
                _budget: budget,
                deliveries,
                checkpoints,
            })
            .await
            .map_err(|_| {
                // The tracker stops only when a delivery failed: report that failure.
                let failure = acked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .failure
                    .take();
                failure.unwrap_or_else(|| "the acknowledgement tracker stopped".to_string())
            })?;
    }
}

async fn poll_with_retry(
    ctx: &TaskContext,
    instance: &mut SourceTaskInstance,
) -> Result<Option<culvert_plugin_host::SourceRecords>, String> {
    let mut retry = Retry::new(&ctx.settings.errors, &ctx.metrics);
    loop {
        match instance.poll(MAX_POLL_RECORDS).await {
            Ok(batch) => return Ok(batch),
            Err(TaskError::Retriable(why)) => {
                tracing::warn!(connector = %ctx.connector, task = ctx.task, "poll: {why}; retrying");
                retry.wait(&why).await?;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Transforms (record by record), converts and sends one record; `None` when it was
/// dropped or skipped by the error handler.
async fn produce(
    ctx: &mut TaskContext,
    producer: &FutureProducer,
    errors: &mut ErrorHandler,
    record: &culvert_plugin_host::Record<'_>,
    stamp: i64,
) -> Result<Option<DeliveryFuture>, String> {
    let original_headers = record.headers();
    let chain = &ctx.settings.transforms;
    let transformed = if chain.is_empty() {
        None
    } else {
        let at = (record.topic, None, None);
        let ts = record.timestamp_ms;
        match transform::apply(chain, at, record.key, record.value, &original_headers, ts) {
            Ok(Some(t)) => Some(t),
            // Dropped by a transform: nothing to write, and done.
            Ok(None) => return Ok(None),
            Err(e) => {
                let why = (Stage::Transformation, "transforms", e);
                return skip(ctx, errors, record, &original_headers, why).await;
            }
        }
    };
    send(
        ctx,
        producer,
        errors,
        (record, &original_headers),
        transformed.as_ref(),
        stamp,
    )
    .await
}

/// Converts and sends `record` as `transformed` left it (or as it is).
async fn send(
    ctx: &mut TaskContext,
    producer: &FutureProducer,
    errors: &mut ErrorHandler,
    (record, original_headers): (
        &culvert_plugin_host::Record<'_>,
        &[culvert_plugin_host::Header<'_>],
    ),
    transformed: Option<&Transformed>,
    stamp: i64,
) -> Result<Option<DeliveryFuture>, String> {
    let failed = |stage, class_name, message: &str| (stage, class_name, message.to_string());
    let transformed_headers = transformed.map(Transformed::headers);
    let headers = transformed_headers.as_deref().unwrap_or(original_headers);
    let (topic, key, value, timestamp_ms) = match transformed {
        Some(t) => (
            t.topic.as_str(),
            t.key.as_deref(),
            t.value.as_deref(),
            t.timestamp_ms,
        ),
        None => (record.topic, record.key, record.value, record.timestamp_ms),
    };
    let key = (ctx.settings.key_converter.to_kafka(key))
        .map_err(|e| failed(Stage::KeyConverter, "key.converter", &e));
    let value = (ctx.settings.value_converter.to_kafka(value))
        .map_err(|e| failed(Stage::ValueConverter, "value.converter", &e));
    let (key, value) = match key.and_then(|k| value.map(|v| (k, v))) {
        Ok(kv) => kv,
        Err(why) => return skip(ctx, errors, record, original_headers, why).await,
    };
    ctx.ensure_topic(topic).await?;
    ctx.track_topic(topic).await;
    let mut owned = OwnedHeaders::new_with_capacity(headers.len());
    for h in headers {
        owned = owned.insert(Header {
            key: h.name,
            value: h.value,
        });
    }
    let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
    if !headers.is_empty() {
        out = out.headers(owned);
    }
    if let Some(k) = key.as_deref() {
        out = out.key(k);
    }
    if let Some(v) = value.as_deref() {
        out = out.payload(v);
    }
    out = out.timestamp(timestamp_ms.unwrap_or(stamp));
    loop {
        match producer.send_result(out) {
            Ok(delivery) => return Ok(Some(delivery)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                out = back;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err((e, _)) => {
                let message = e.to_string();
                return skip(
                    ctx,
                    errors,
                    record,
                    original_headers,
                    failed(Stage::KafkaProduce, "producer", &message),
                )
                .await;
            }
        }
    }
}

async fn skip(
    ctx: &TaskContext,
    errors: &mut ErrorHandler,
    record: &culvert_plugin_host::Record<'_>,
    headers: &[culvert_plugin_host::Header<'_>],
    (stage, class_name, message): (Stage, &str, String),
) -> Result<Option<DeliveryFuture>, String> {
    let class_name = if stage == Stage::KafkaProduce {
        ctx.class.as_str()
    } else {
        class_name
    };
    errors
        .report(FailedRecord {
            stage,
            class_name,
            message: &message,
            topic: record.topic,
            partition: None,
            offset: None,
            key: record.key,
            value: record.value,
            headers: headers.iter().map(|h| (h.name, h.value)).collect(),
        })
        .await?;
    Ok(None)
}

/// Writes the acked positions to the offsets topic and tells the plugin.
async fn flush_offsets(
    ctx: &TaskContext,
    instance: &mut SourceTaskInstance,
    acked: &Arc<Mutex<Acked>>,
) -> Result<(), String> {
    if !ctx.identity.lease.is_valid() {
        // Kept for the next flush; a fenced worker never writes them.
        return Ok(());
    }
    let positions = std::mem::take(&mut acked.lock().unwrap_or_else(|p| p.into_inner()).positions);
    if positions.is_empty() {
        return Ok(());
    }
    let mut records = Vec::with_capacity(positions.len());
    let mut committed = Vec::with_capacity(positions.len());
    for (partition, offset) in positions {
        let p: Value = serde_json::from_str(&partition)
            .map_err(|e| format!("the plugin's source partition {partition} is not JSON: {e}"))?;
        let o: Value = serde_json::from_str(&offset)
            .map_err(|e| format!("the plugin's source offset {offset} is not JSON: {e}"))?;
        records.push((
            encode_offset_key(&ctx.connector, &p),
            Some(o.to_string().into_bytes()),
        ));
        committed.push(Position { partition, offset });
    }
    let started = Instant::now();
    let written = ctx.offsets.write_many(&records).await;
    let m = &ctx.metrics;
    if let Err(e) = written {
        add(&m.offset_commit_failures, 1);
        return Err(format!("cannot commit source offsets: {e}"));
    }
    add(&m.offset_commits, 1);
    let took = started.elapsed().as_micros() as u64;
    time(&m.offset_commit_time_us, &m.offset_commit_time_max_us, took);
    match instance.committed(&committed).await {
        Ok(()) => Ok(()),
        Err(TaskError::Retriable(why)) => {
            tracing::warn!(connector = %ctx.connector, task = ctx.task,
                "committed: {why}; the offsets are stored, the plugin hears of them next time");
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}
