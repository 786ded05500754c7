//! OffsetCommit (key 8): persist a group's consumed positions (acknowledged once fsynced).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, TopicName};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;
use crate::group::OffsetEntry;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: OffsetCommitRequest) -> Reply {
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
        // Offsets for partitions this broker does not have are refused one by one.
        let known: Vec<bool> = entries
            .iter()
            .map(|e| {
                broker
                    .topic(&e.topic)
                    .is_some_and(|t| t.partition(e.partition).is_some())
            })
            .collect();
        let to_commit: Vec<OffsetEntry> = entries
            .iter()
            .zip(&known)
            .filter(|(_, k)| **k)
            .map(|(e, _)| e.clone())
            .collect();
        let mut codes = match broker.groups() {
            Some(groups) => {
                groups
                    .commit(
                        &req.group_id,
                        &req.member_id,
                        req.group_instance_id.as_deref(),
                        req.generation_id_or_member_epoch,
                        to_commit,
                    )
                    .await
            }
            None => vec![ResponseError::CoordinatorNotAvailable.code(); entries.len()],
        }
        .into_iter();
        let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
        for (entry, known) in entries.iter().zip(known) {
            let code = if known {
                codes
                    .next()
                    .unwrap_or(ResponseError::UnknownServerError.code())
            } else {
                ResponseError::UnknownTopicOrPartition.code()
            };
            let part = OffsetCommitResponsePartition::default()
                .with_partition_index(entry.partition)
                .with_error_code(code);
            match topics.last_mut() {
                Some(t) if t.name.as_str() == entry.topic => t.partitions.push(part),
                _ => topics.push(
                    OffsetCommitResponseTopic::default()
                        .with_name(TopicName(str_bytes(entry.topic.clone())))
                        .with_partitions(vec![part]),
                ),
            }
        }
        ctx.respond_or_log(
            &OffsetCommitResponse::default()
                .with_throttle_time_ms(0)
                .with_topics(topics),
        )
    }))
}
