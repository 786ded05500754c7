//! ListTransactions (key 66, v0–1): the transactional ids this coordinator knows, filtered
//! by state names, producer ids and (v1, KIP-994) how long the transaction has been open.
//! State names it does not know come back in `unknown_state_filters`, as in Kafka. v2's
//! id pattern (a Java regular expression) is not advertised.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;
use crate::txn::store::TxnStatus;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: ListTransactionsRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let response = ListTransactionsResponse::default().with_throttle_time_ms(0);
        let Some(txns) = broker.txns() else {
            return ctx.respond_or_log(
                &response.with_error_code(ResponseError::CoordinatorNotAvailable.code()),
            );
        };
        let (mut states, mut unknown) = (Vec::new(), Vec::new());
        for name in &req.state_filters {
            match TxnStatus::ALL.iter().find(|s| s.name() == &**name) {
                Some(s) => states.push(*s),
                None => unknown.push(name.clone()),
            }
        }
        let producers: Vec<i64> = req.producer_id_filters.iter().map(|p| p.0).collect();
        let now = crate::clock::now_ms();
        let listed = txns
            .list()
            .await
            .into_iter()
            .filter(|(_, rec)| {
                (req.state_filters.is_empty() || states.contains(&rec.status))
                    && (producers.is_empty() || producers.contains(&rec.producer_id))
                    // KIP-994: only transactions open for longer than the duration.
                    && (req.duration_filter < 0
                        || (rec.status == TxnStatus::Ongoing
                            && now.saturating_sub(rec.start_ms) > req.duration_filter))
            })
            .map(|(id, rec)| {
                TransactionState::default()
                    .with_transactional_id(TransactionalId(str_bytes(id)))
                    .with_producer_id(ProducerId(rec.producer_id))
                    .with_transaction_state(str_bytes(rec.status.name()))
            })
            .collect();
        ctx.respond_or_log(
            &response
                .with_error_code(0)
                .with_unknown_state_filters(unknown)
                .with_transaction_states(listed),
        )
    }))
}
