//! AddPartitionsToTxn (key 24, v0–3, the client versions): adds partitions to the
//! producer's transaction before it writes to them. Versions 4+ (brokers verifying on
//! behalf of each other, KIP-890) are not advertised.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TopicName};

use super::{Ctx, Reply, by_topic, str_bytes};
use crate::broker::Broker;
use crate::txn::TxnProducer;

/// PRODUCER_FENCED exists from v2 on; older clients know INVALID_PRODUCER_EPOCH.
pub(crate) fn fenced_code(version: i16) -> ResponseError {
    if version >= 2 {
        ResponseError::ProducerFenced
    } else {
        ResponseError::InvalidProducerEpoch
    }
}

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: AddPartitionsToTxnRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let partitions: Vec<(String, i32)> = req
            .v3_and_below_topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.name.to_string(), p)))
            .collect();
        let producer = TxnProducer {
            transactional_id: &req.v3_and_below_transactional_id,
            producer_id: req.v3_and_below_producer_id.0,
            epoch: req.v3_and_below_producer_epoch,
            fenced: fenced_code(ctx.version),
        };
        let codes = match broker.txns() {
            Some(txns) => txns.add_partitions(&broker, producer, &partitions).await,
            None => vec![ResponseError::CoordinatorNotAvailable.code(); partitions.len()],
        };
        let results = partitions
            .into_iter()
            .zip(codes)
            .map(|((topic, index), code)| {
                let result = AddPartitionsToTxnPartitionResult::default()
                    .with_partition_index(index)
                    .with_partition_error_code(code);
                (topic, result)
            });
        let topics: Vec<AddPartitionsToTxnTopicResult> = by_topic(results)
            .into_iter()
            .map(|(name, parts)| {
                AddPartitionsToTxnTopicResult::default()
                    .with_name(TopicName(str_bytes(name)))
                    .with_results_by_partition(parts)
            })
            .collect();
        ctx.respond_or_log(
            &AddPartitionsToTxnResponse::default()
                .with_throttle_time_ms(0)
                .with_results_by_topic_v3_and_below(topics),
        )
    }))
}
