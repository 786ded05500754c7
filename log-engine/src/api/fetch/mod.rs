//! Fetch (key 1): whole stored batches from each requested partition, with long polling.
//!
//! The first partition with data always gets at least one batch, even past `max_bytes`
//! (KIP-74). With fewer than `min_bytes` available the request waits, up to `max_wait_ms`,
//! for records to become visible. There are no fetch sessions (session id 0). A
//! `read_committed` fetch (isolation level 1) reads only below the last stable offset and
//! gets the aborted transactions its range covers. The batches are only located here; the
//! connection sends them from the segment files (see [`wire`]).

mod wire;

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::FetchRequest;

pub(crate) use self::wire::Chunk;
use self::wire::{PartitionOut, Records, TopicOut};
use super::{Ctx, Reply};
use crate::broker::Broker;
use crate::error::LogError;
use crate::log::{Isolation, LocatedRead};

/// Longest wait honoured, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

fn partition_error(index: i32, code: ResponseError, hwm: i64, log_start: i64) -> PartitionOut {
    PartitionOut {
        index,
        error_code: code.code(),
        high_watermark: hwm,
        last_stable_offset: hwm,
        log_start_offset: log_start,
        aborted: None,
        records: Records::Null,
    }
}

/// Locates every requested partition's batches once; returns the response's topics and
/// the bytes they carry.
fn read_all(broker: &Broker, req: &FetchRequest) -> (Vec<TopicOut>, usize) {
    let mut remaining = usize::try_from(req.max_bytes).unwrap_or(0);
    let mut total = 0usize;
    let isolation = if req.isolation_level == 1 {
        Isolation::ReadCommitted
    } else {
        Isolation::ReadUncommitted
    };
    let mut topics = Vec::with_capacity(req.topics.len());
    for ft in &req.topics {
        let topic = broker.topic(&ft.topic);
        let mut parts = Vec::with_capacity(ft.partitions.len());
        for fp in &ft.partitions {
            let Some(partition) = topic.as_ref().and_then(|t| t.partition(fp.partition)) else {
                parts.push(partition_error(
                    fp.partition,
                    ResponseError::UnknownTopicOrPartition,
                    -1,
                    -1,
                ));
                continue;
            };
            let part_max = usize::try_from(fp.partition_max_bytes).unwrap_or(0);
            // KIP-74: the first batch found is returned even when it exceeds the limits.
            let budget = if total == 0 {
                part_max.min(remaining).max(1)
            } else {
                part_max.min(remaining)
            };
            let data = if budget == 0 && total > 0 {
                let (log_start, high_watermark, last_stable) = partition.offsets_with_stable();
                Ok(LocatedRead {
                    slice: None,
                    high_watermark,
                    last_stable_offset: last_stable,
                    log_start_offset: log_start,
                    aborted: Vec::new(),
                })
            } else {
                partition.locate(fp.fetch_offset, budget, isolation)
            };
            match data {
                Ok(read) => {
                    let records = read.slice.map_or(Records::Empty, Records::File);
                    total += records.len();
                    remaining = remaining.saturating_sub(records.len());
                    parts.push(PartitionOut {
                        index: fp.partition,
                        error_code: 0,
                        high_watermark: read.high_watermark,
                        last_stable_offset: read.last_stable_offset,
                        log_start_offset: read.log_start_offset,
                        aborted: (isolation == Isolation::ReadCommitted).then(|| {
                            read.aborted
                                .iter()
                                .map(|t| (t.producer_id, t.first_offset))
                                .collect()
                        }),
                        records,
                    });
                }
                Err(LogError::OffsetOutOfRange {
                    log_start, log_end, ..
                }) => {
                    parts.push(partition_error(
                        fp.partition,
                        ResponseError::OffsetOutOfRange,
                        log_end,
                        log_start,
                    ));
                }
                Err(e) => {
                    tracing::error!(topic = %ft.topic.0, partition = fp.partition, error = %e, "fetch read failed");
                    parts.push(partition_error(
                        fp.partition,
                        ResponseError::KafkaStorageError,
                        -1,
                        -1,
                    ));
                }
            }
        }
        topics.push(TopicOut {
            name: ft.topic.0.to_string(),
            partitions: parts,
        });
    }
    (topics, total)
}

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: FetchRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Spliced(Box::pin(async move {
        let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
        let deadline = tokio::time::Instant::now() + wait;
        let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0).max(1);
        loop {
            // Register interest before reading so an append in between is not missed.
            let notified = broker.data_ready().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (topics, total) = read_all(&broker, &req);
            if total >= min_bytes || tokio::time::Instant::now() >= deadline {
                return match wire::encode(ctx.version, ctx.correlation_id, &topics) {
                    Ok(chunks) => Some(chunks),
                    Err(e) => {
                        tracing::error!(version = ctx.version, error = %e,
                            "cannot encode fetch response");
                        None
                    }
                };
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }))
}
