//! OffsetCommit (key 8): persist a group's consumed positions (acknowledged once fsynced).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, TopicName};

use super::{Ctx, Reply, by_topic, str_bytes};
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
        let (known, to_commit) = known_entries(&broker, &entries);
        let codes = match broker.groups() {
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
        };
        let results = entries
            .iter()
            .zip(code_per_entry(&known, codes))
            .map(|(e, code)| {
                let part = OffsetCommitResponsePartition::default()
                    .with_partition_index(e.partition)
                    .with_error_code(code);
                (e.topic.clone(), part)
            });
        let topics: Vec<OffsetCommitResponseTopic> = by_topic(results)
            .into_iter()
            .map(|(name, parts)| {
                OffsetCommitResponseTopic::default()
                    .with_name(TopicName(str_bytes(name)))
                    .with_partitions(parts)
            })
            .collect();
        ctx.respond_or_log(
            &OffsetCommitResponse::default()
                .with_throttle_time_ms(0)
                .with_topics(topics),
        )
    }))
}

/// Which entries name a partition this broker has (the others are refused one by one), and
/// those entries.
pub(crate) fn known_entries(
    broker: &Broker,
    entries: &[OffsetEntry],
) -> (Vec<bool>, Vec<OffsetEntry>) {
    let known: Vec<bool> = entries
        .iter()
        .map(|e| {
            broker
                .topic(&e.topic)
                .is_some_and(|t| t.partition(e.partition).is_some())
        })
        .collect();
    let to_commit = entries
        .iter()
        .zip(&known)
        .filter(|(_, k)| **k)
        .map(|(e, _)| e.clone())
        .collect();
    (known, to_commit)
}

/// Every entry's code: the coordinator's `codes` for known partitions, in order, and
/// UNKNOWN_TOPIC_OR_PARTITION for the rest.
pub(crate) fn code_per_entry(known: &[bool], codes: Vec<i16>) -> impl Iterator<Item = i16> + '_ {
    let mut codes = codes.into_iter();
    known.iter().map(move |&k| {
        if k {
            codes
                .next()
                .unwrap_or(ResponseError::UnknownServerError.code())
        } else {
            ResponseError::UnknownTopicOrPartition.code()
        }
    })
}
