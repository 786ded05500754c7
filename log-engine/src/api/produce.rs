//! Produce (key 0): validate each partition's record batch and append it verbatim.
//!
//! acks=0 gets no response; acks=1 is answered after the write; acks=-1 (all) is answered
//! after the fsync when the topic's flush policy is `always` (one group-committed fsync
//! covers every batch waiting for it; the fsyncs of different partitions, also those of
//! requests behind this one, run side by side). Under `always`, acks 0 and 1 still
//! trigger a prompt background fsync so their records become visible to consumers. Transactional batches
//! are accepted only for partitions added to the producer's ongoing transaction.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;
use crate::clock::now_ms;
use crate::error::LogError;
use crate::log::FlushPolicy;
use crate::log::batch::{BatchHeader, set_log_append_time};
use crate::partition::Partition;

/// zstd batches need Produce v7+ (Kafka rejects them below with this error).
const ZSTD: i16 = 4;

fn error(index: i32, code: ResponseError, message: impl Into<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(Some(str_bytes(message)))
}

/// Validates and appends one partition's batch.
fn append(
    ctx: &Ctx,
    txns: Option<&crate::txn::TxnCoordinator>,
    partition: &Partition,
    log_append_time: bool,
    records: Option<&bytes::Bytes>,
) -> Result<(PartitionProduceResponse, i64), (ResponseError, String)> {
    let invalid = |m: String| (ResponseError::InvalidRecord, m);
    let records = records.ok_or_else(|| invalid("the partition carries no record batch".into()))?;
    let header = BatchHeader::parse(records).map_err(invalid)?;
    if header.total_size() != records.len() {
        return Err(invalid(format!(
            "exactly one record batch per partition is allowed; the first is {} of {} bytes",
            header.total_size(),
            records.len()
        )));
    }
    if header.magic != 2 {
        return Err(invalid(format!(
            "record batch magic {} is not supported",
            header.magic
        )));
    }
    if header.is_control() {
        return Err(invalid(
            "control batches are written only by the transaction coordinator".into(),
        ));
    }
    if header.is_transactional() {
        let txns = txns.ok_or_else(|| {
            (
                ResponseError::CoordinatorNotAvailable,
                "the transaction coordinator is starting".to_string(),
            )
        })?;
        txns.check_write(
            header.producer_id,
            header.producer_epoch,
            partition.topic(),
            partition.index(),
        )?;
    }
    if header.compression() == ZSTD && ctx.version < 7 {
        return Err((
            ResponseError::UnsupportedCompressionType,
            "zstd batches need Produce v7 or later".into(),
        ));
    }
    // Stored as received (the log writes the base offset beside it), unless LogAppendTime
    // rewrites the timestamps and the CRC.
    let append_time = log_append_time.then(now_ms);
    let stamped;
    let batch: &[u8] = match append_time {
        Some(ts) => {
            let mut copy = records.to_vec();
            set_log_append_time(&mut copy, ts);
            stamped = copy;
            &stamped
        }
        None => records,
    };
    let info = partition.append(batch).map_err(|e| match e {
        LogError::BatchTooLarge { .. } => (ResponseError::MessageTooLarge, e.to_string()),
        LogError::InvalidBatch(m) if m.starts_with("CRC") => (ResponseError::CorruptMessage, m),
        LogError::InvalidBatch(m) => (ResponseError::InvalidRecord, m),
        LogError::OutOfOrderSequence { .. } => {
            (ResponseError::OutOfOrderSequenceNumber, e.to_string())
        }
        LogError::InvalidProducerEpoch { .. } => {
            (ResponseError::InvalidProducerEpoch, e.to_string())
        }
        other => (ResponseError::KafkaStorageError, other.to_string()),
    })?;
    let (log_start, _) = partition.offsets();
    let resp = PartitionProduceResponse::default()
        .with_index(partition.index())
        .with_error_code(0)
        .with_base_offset(info.base_offset)
        .with_log_append_time_ms(append_time.unwrap_or(-1))
        .with_log_start_offset(log_start);
    Ok((resp, info.last_offset))
}

pub(crate) fn handle(broker: &Broker, ctx: &Ctx, req: ProduceRequest) -> Result<Reply, String> {
    let acks = req.acks;
    if !matches!(acks, -1..=1) {
        let responses = req
            .topic_data
            .iter()
            .map(|t| {
                TopicProduceResponse::default()
                    .with_name(t.name.clone())
                    .with_partition_responses(
                        t.partition_data
                            .iter()
                            .map(|p| {
                                error(
                                    p.index,
                                    ResponseError::InvalidRequiredAcks,
                                    format!("acks={acks} is not -1, 0 or 1"),
                                )
                            })
                            .collect(),
                    )
            })
            .collect();
        let resp = ProduceResponse::default().with_responses(responses);
        return ctx.respond(&resp).map(Reply::Ready);
    }
    // Partitions whose acknowledgement waits for an fsync: (partition, last offset).
    let mut durable: Vec<(Arc<Partition>, i64)> = Vec::new();
    let mut responses = Vec::with_capacity(req.topic_data.len());
    for topic_data in &req.topic_data {
        let topic = broker.topic(&topic_data.name);
        let mut parts = Vec::with_capacity(topic_data.partition_data.len());
        for pd in &topic_data.partition_data {
            let Some((topic, partition)) = topic
                .as_ref()
                .and_then(|t| t.partition(pd.index).map(|p| (t, Arc::clone(p))))
            else {
                parts.push(error(
                    pd.index,
                    ResponseError::UnknownTopicOrPartition,
                    "This server does not host this topic-partition.",
                ));
                continue;
            };
            match append(
                ctx,
                broker.txns(),
                &partition,
                topic.config.log_append_time,
                pd.records.as_ref(),
            ) {
                Ok((resp, last_offset)) => {
                    parts.push(resp);
                    if partition.flush_policy() == FlushPolicy::Always {
                        durable.push((partition, last_offset));
                    }
                }
                Err((code, message)) => {
                    tracing::debug!(topic = %topic_data.name.0, partition = pd.index, %message,
                        "produce rejected");
                    parts.push(error(pd.index, code, message));
                }
            }
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name.clone())
                .with_partition_responses(parts),
        );
    }
    let resp = ProduceResponse::default()
        .with_responses(responses)
        .with_throttle_time_ms(0);
    if acks != -1 {
        for (partition, offset) in durable {
            tokio::spawn(async move {
                if let Err(e) = partition.wait_durable(offset).await {
                    tracing::error!(topic = partition.topic(), partition = partition.index(),
                        error = %e, "fsync failed");
                }
            });
        }
        if acks == 0 {
            return Ok(Reply::None);
        }
        return ctx.respond(&resp).map(Reply::Ready);
    }
    if durable.is_empty() {
        return ctx.respond(&resp).map(Reply::Ready);
    }
    // The fsyncs start now, side by side: replies go out in request order, and waiting
    // for one partition's fsync before starting the next would serialise them.
    let syncs: Vec<_> = durable
        .into_iter()
        .map(|(partition, offset)| {
            let waiting = Arc::clone(&partition);
            let sync = tokio::spawn(async move { waiting.wait_durable(offset).await });
            (partition, sync)
        })
        .collect();
    let ctx = ctx.clone();
    Ok(Reply::Deferred(Box::pin(async move {
        let mut resp = resp;
        for (partition, sync) in syncs {
            let synced = sync.await.unwrap_or_else(|e| {
                Err(LogError::Io {
                    op: "fsync (task ended)",
                    path: partition.topic().into(),
                    source: std::io::Error::other(e.to_string()),
                })
            });
            if let Err(e) = synced {
                tracing::error!(topic = partition.topic(), partition = partition.index(),
                    error = %e, "fsync failed; failing the produce");
                for t in resp
                    .responses
                    .iter_mut()
                    .filter(|t| t.name.0.as_str() == partition.topic())
                {
                    for p in t
                        .partition_responses
                        .iter_mut()
                        .filter(|p| p.index == partition.index())
                    {
                        *p = error(p.index, ResponseError::KafkaStorageError, e.to_string());
                    }
                }
            }
        }
        ctx.respond_or_log(&resp)
    })))
}
