//! ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3, v7) or the first
//! offset whose record timestamp is at or after a given time. With `read_committed`
//! (isolation level 1) "latest" is the last stable offset, as a transactional consumer sees
//! the end of the partition.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::records::RecordBatchDecoder;

use super::Ctx;
use crate::broker::Broker;
use crate::log::batch::BatchHeader;
use crate::partition::Partition;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

/// `(offset, timestamp)` of the first record in `batch` with timestamp `>= target`.
fn find_in_batch(batch: &[u8], target: i64) -> Result<Option<(i64, i64)>, String> {
    let header = BatchHeader::parse(batch)?;
    let mut buf = Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut buf)
        .map_err(|e| format!("decoding a stored batch: {e}"))?;
    Ok(set.records.iter().find_map(|r| {
        // LogAppendTime batches carry the append time for every record.
        let ts = if header.log_append_time() {
            header.max_timestamp
        } else {
            r.timestamp
        };
        (ts >= target).then_some((r.offset, ts))
    }))
}

fn lookup(
    partition: &Partition,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64), (ResponseError, String)> {
    let (log_start, hwm, stable) = partition.offsets_with_stable();
    let storage = |e: String| (ResponseError::KafkaStorageError, e);
    match timestamp {
        LATEST if read_committed => Ok((stable, -1)),
        LATEST => Ok((hwm, -1)),
        EARLIEST => Ok((log_start, -1)),
        t if t >= 0 || t == MAX_TIMESTAMP => {
            let target = if t == MAX_TIMESTAMP {
                partition.max_timestamp()
            } else {
                t
            };
            if target < 0 {
                return Ok((-1, -1));
            }
            let Some(batch) = partition
                .batch_for_timestamp(target)
                .map_err(|e| storage(e.to_string()))?
            else {
                return Ok((-1, -1));
            };
            let found = find_in_batch(&batch, target).map_err(storage)?;
            Ok(found
                .filter(|&(offset, _)| !read_committed || offset < stable)
                .unwrap_or((-1, -1)))
        }
        other => Err((
            ResponseError::InvalidRequest,
            format!("timestamp {other} is not a valid query"),
        )),
    }
}

pub(crate) fn handle(broker: &Broker, ctx: &Ctx, req: ListOffsetsRequest) -> Result<Bytes, String> {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let topic = broker.topic(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let base = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_leader_epoch(-1);
                    let Some(partition) = topic.as_ref().and_then(|t| t.partition(p.partition_index)) else {
                        return base
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_offset(-1)
                            .with_timestamp(-1);
                    };
                    match lookup(partition, p.timestamp, req.isolation_level == 1) {
                        Ok((offset, timestamp)) => base.with_error_code(0).with_offset(offset).with_timestamp(timestamp),
                        Err((code, message)) => {
                            tracing::warn!(topic = %t.name.0, partition = p.partition_index, %message, "list offsets failed");
                            base.with_error_code(code.code()).with_offset(-1).with_timestamp(-1)
                        }
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    ctx.respond(
        &ListOffsetsResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(topics),
    )
}
