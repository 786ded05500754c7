//! DescribeTransactions (key 65, v0): each transactional id's state, producer id and epoch,
//! timeout, start time and partitions, as `kafka-transactions.sh describe` shows them. An
//! unknown id gets TRANSACTIONAL_ID_NOT_FOUND.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};

use super::{Ctx, Reply, by_topic, str_bytes};
use crate::broker::Broker;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: DescribeTransactionsRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let ids: Vec<&str> = req.transactional_ids.iter().map(|id| &*id.0).collect();
        let found = match broker.txns() {
            Some(txns) => txns.describe(&ids).await.into_iter().map(Ok).collect(),
            None => vec![Err(ResponseError::CoordinatorNotAvailable); ids.len()],
        };
        let states = req
            .transactional_ids
            .iter()
            .zip(found)
            .map(|(id, found)| {
                let base = TransactionState::default()
                    .with_transactional_id(id.clone())
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1);
                match found {
                    Err(code) => base.with_error_code(code.code()),
                    Ok(None) => base.with_error_code(ResponseError::TransactionalIdNotFound.code()),
                    Ok(Some(rec)) => base
                        .with_error_code(0)
                        .with_transaction_state(str_bytes(rec.status.name()))
                        .with_transaction_timeout_ms(rec.timeout_ms)
                        .with_transaction_start_time_ms(rec.start_ms)
                        .with_producer_id(ProducerId(rec.producer_id))
                        .with_producer_epoch(rec.producer_epoch)
                        .with_topics(
                            by_topic(rec.partitions)
                                .into_iter()
                                .map(|(topic, partitions)| {
                                    TopicData::default()
                                        .with_topic(TopicName(str_bytes(topic)))
                                        .with_partitions(partitions)
                                })
                                .collect(),
                        ),
                }
            })
            .collect();
        ctx.respond_or_log(
            &DescribeTransactionsResponse::default()
                .with_throttle_time_ms(0)
                .with_transaction_states(states),
        )
    }))
}
