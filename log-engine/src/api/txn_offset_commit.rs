//! TxnOffsetCommit (key 28, v0–3): a consumer group's offsets committed inside the
//! producer's transaction. The group must have been added with AddOffsetsToTxn; the offsets
//! take effect when the transaction commits (see `group::txn_offsets`).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::offset_commit::{code_per_entry, known_entries};
use super::{Ctx, Reply, by_topic, str_bytes};
use crate::broker::Broker;
use crate::group::{OFFSETS_TOPIC, OffsetEntry, TxnMember};

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: TxnOffsetCommitRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let entries: Vec<OffsetEntry> = req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(move |p| OffsetEntry {
                    topic: t.name.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                })
            })
            .collect();
        let (known, to_commit) = known_entries(&broker, &entries);
        let producer = (req.producer_id.0, req.producer_epoch);
        let allowed = match broker.txns() {
            Some(txns) => txns
                .check_write(producer.0, producer.1, OFFSETS_TOPIC, 0)
                .map_err(|(code, message)| {
                    tracing::info!(transactional_id = %req.transactional_id.0,
                        group = %req.group_id.0, %message, "TxnOffsetCommit refused");
                    code
                }),
            None => Err(ResponseError::CoordinatorNotAvailable),
        };
        let m = to_commit.len();
        let codes = match (allowed, broker.groups()) {
            (Err(code), _) => vec![code.code(); m],
            (Ok(()), None) => vec![ResponseError::CoordinatorNotAvailable.code(); m],
            (Ok(()), Some(groups)) => {
                let member = TxnMember {
                    member_id: &req.member_id,
                    instance_id: req.group_instance_id.as_deref(),
                    generation: req.generation_id,
                };
                groups
                    .txn_commit(&req.group_id, producer, member, to_commit)
                    .await
            }
        };
        let results = entries
            .iter()
            .zip(code_per_entry(&known, codes))
            .map(|(e, code)| {
                let part = TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(e.partition)
                    .with_error_code(code);
                (e.topic.clone(), part)
            });
        let topics: Vec<TxnOffsetCommitResponseTopic> = by_topic(results)
            .into_iter()
            .map(|(name, parts)| {
                TxnOffsetCommitResponseTopic::default()
                    .with_name(TopicName(str_bytes(name)))
                    .with_partitions(parts)
            })
            .collect();
        ctx.respond_or_log(
            &TxnOffsetCommitResponse::default()
                .with_throttle_time_ms(0)
                .with_topics(topics),
        )
    }))
}
