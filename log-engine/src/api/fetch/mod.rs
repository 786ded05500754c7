//! Fetch (key 1): whole stored batches from each requested partition, with long polling.
//!
//! The first partition with data always gets at least one batch, even past `max_bytes`
//! (KIP-74). With fewer than `min_bytes` available the request waits, up to `max_wait_ms`,
//! for records to become visible. There are no fetch sessions (session id 0) and no
//! transactions yet, so the last stable offset equals the high watermark.

use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use super::{Ctx, Reply};
use crate::broker::Broker;
use crate::error::LogError;
use std::sync::Arc;

/// Longest wait honoured, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

fn partition_error(index: i32, code: ResponseError, hwm: i64, log_start: i64) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_error_code(code.code())
        .with_high_watermark(hwm)
        .with_last_stable_offset(hwm)
        .with_log_start_offset(log_start)
        .with_preferred_read_replica(BrokerId(-1))
        .with_records(None)
}

/// Reads every requested partition once; returns the response and the bytes it carries.
fn read_all(broker: &Broker, req: &FetchRequest) -> (FetchResponse, usize) {
    let mut remaining = usize::try_from(req.max_bytes).unwrap_or(0);
    let mut total = 0usize;
    let read_committed = req.isolation_level == 1;
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
                let (start, hwm) = partition.offsets();
                Ok((Vec::new(), hwm, start))
            } else {
                partition
                    .read(fp.fetch_offset, budget)
                    .map(|r| (r.records, r.high_watermark, r.log_start_offset))
            };
            match data {
                Ok((records, hwm, log_start)) => {
                    total += records.len();
                    remaining = remaining.saturating_sub(records.len());
                    parts.push(
                        PartitionData::default()
                            .with_partition_index(fp.partition)
                            .with_error_code(0)
                            .with_high_watermark(hwm)
                            .with_last_stable_offset(hwm)
                            .with_log_start_offset(log_start)
                            .with_aborted_transactions(read_committed.then(Vec::new))
                            .with_preferred_read_replica(BrokerId(-1))
                            .with_records(Some(records.into())),
                    );
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
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(ft.topic.clone())
                .with_topic_id(ft.topic_id)
                .with_partitions(parts),
        );
    }
    let resp = FetchResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_session_id(0)
        .with_responses(topics);
    (resp, total)
}

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: FetchRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
        let deadline = tokio::time::Instant::now() + wait;
        let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0).max(1);
        loop {
            // Register interest before reading so an append in between is not missed.
            let notified = broker.data_ready().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (resp, total) = read_all(&broker, &req);
            if total >= min_bytes || tokio::time::Instant::now() >= deadline {
                return ctx.respond_or_log(&resp);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }))
}
