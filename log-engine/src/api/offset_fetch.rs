//! OffsetFetch (key 9): a group's committed offsets (v1–7 one group; v8+ several).
//! Partitions without a commit answer offset -1 and empty metadata. With `require_stable`
//! (v7+), a partition whose offset an open transaction holds answers UNSTABLE_OFFSET_COMMIT.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;
use crate::group::FetchedOffset;

async fn fetch(
    broker: &Broker,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Result<Vec<(String, Vec<FetchedOffset>)>, ResponseError> {
    match broker.groups() {
        Some(groups) => Ok(groups.fetch_offsets(group, topics, require_stable).await),
        None => Err(ResponseError::CoordinatorNotAvailable),
    }
}

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: OffsetFetchRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let resp = if ctx.version >= 8 {
            let mut groups = Vec::with_capacity(req.groups.len());
            for g in &req.groups {
                let topics = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let group = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                groups.push(
                    match fetch(&broker, &g.group_id, topics, req.require_stable).await {
                        Ok(found) => group.with_error_code(0).with_topics(
                            found
                                .into_iter()
                                .map(|(t, parts)| {
                                    OffsetFetchResponseTopics::default()
                                        .with_name(TopicName(str_bytes(t)))
                                        .with_partitions(
                                            parts
                                                .into_iter()
                                                .map(|p| {
                                                    OffsetFetchResponsePartitions::default()
                                                        .with_partition_index(p.partition)
                                                        .with_committed_offset(p.offset)
                                                        .with_committed_leader_epoch(p.leader_epoch)
                                                        .with_metadata(Some(str_bytes(p.metadata)))
                                                        .with_error_code(p.error_code)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        ),
                        Err(code) => group.with_error_code(code.code()),
                    },
                );
            }
            OffsetFetchResponse::default().with_groups(groups)
        } else {
            let topics = req.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                    .collect()
            });
            match fetch(&broker, &req.group_id, topics, req.require_stable).await {
                Ok(found) => OffsetFetchResponse::default()
                    .with_error_code(0)
                    .with_topics(
                        found
                            .into_iter()
                            .map(|(t, parts)| {
                                OffsetFetchResponseTopic::default()
                                    .with_name(TopicName(str_bytes(t)))
                                    .with_partitions(
                                        parts
                                            .into_iter()
                                            .map(|p| {
                                                OffsetFetchResponsePartition::default()
                                                    .with_partition_index(p.partition)
                                                    .with_committed_offset(p.offset)
                                                    .with_committed_leader_epoch(p.leader_epoch)
                                                    .with_metadata(Some(str_bytes(p.metadata)))
                                                    .with_error_code(p.error_code)
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    ),
                Err(code) => OffsetFetchResponse::default().with_error_code(code.code()),
            }
        };
        ctx.respond_or_log(&resp.with_throttle_time_ms(0))
    }))
}
