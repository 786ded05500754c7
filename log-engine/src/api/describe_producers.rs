//! DescribeProducers (key 61, v0): the producers a partition remembers — id, epoch, last
//! sequence and timestamp, coordinator epoch and where an open transaction starts — as
//! `kafka-transactions.sh describe-producers` shows them (the way to find a transaction
//! that holds back the last stable offset).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::{Ctx, Reply};
use crate::broker::Broker;

pub(crate) fn handle(
    broker: &Arc<Broker>,
    ctx: &Ctx,
    req: DescribeProducersRequest,
) -> Result<Reply, String> {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topic(&t.name);
            let partitions = t
                .partition_indexes
                .into_iter()
                .map(|index| {
                    let base = PartitionResponse::default().with_partition_index(index);
                    let Some(partition) = topic.as_ref().and_then(|t| t.partition(index)) else {
                        return base.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    base.with_error_code(0).with_active_producers(
                        partition
                            .producers()
                            .into_iter()
                            .map(|(p, open_since)| {
                                ProducerState::default()
                                    .with_producer_id(ProducerId(p.producer_id))
                                    .with_producer_epoch(i32::from(p.epoch))
                                    .with_last_sequence(p.last_sequence)
                                    .with_last_timestamp(p.last_timestamp)
                                    .with_coordinator_epoch(p.coordinator_epoch)
                                    .with_current_txn_start_offset(open_since.unwrap_or(-1))
                            })
                            .collect(),
                    )
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ctx.respond(
        &DescribeProducersResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(topics),
    )
    .map(Reply::Ready)
}
