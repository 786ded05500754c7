//! OffsetDelete (key 47): drop committed offsets of a group that has no members (Kafka
//! Connect uses it to reset a stopped sink connector's offsets).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::{Ctx, Reply};
use crate::broker::Broker;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: OffsetDeleteRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let partitions: Vec<(String, i32)> = req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.partition_index))
            })
            .collect();
        let outcome = match broker.groups() {
            Some(groups) => groups.delete_offsets(&req.group_id, &partitions).await,
            None => Err(ResponseError::CoordinatorNotAvailable),
        };
        let resp = match outcome {
            Ok(()) => OffsetDeleteResponse::default()
                .with_error_code(0)
                .with_topics(
                    req.topics
                        .iter()
                        .map(|t| {
                            OffsetDeleteResponseTopic::default()
                                .with_name(t.name.clone())
                                .with_partitions(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            OffsetDeleteResponsePartition::default()
                                                .with_partition_index(p.partition_index)
                                                .with_error_code(0)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                ),
            Err(code) => OffsetDeleteResponse::default().with_error_code(code.code()),
        };
        ctx.respond_or_log(&resp.with_throttle_time_ms(0))
    }))
}
