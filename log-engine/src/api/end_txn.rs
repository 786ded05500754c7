//! EndTxn (key 26, v0–3): commits or aborts the producer's transaction. Answered once the
//! markers are fsynced in every partition of the transaction and the outcome is recorded.
//! Versions 4+ (KIP-890's new error and per-transaction epoch bump) are not advertised.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::add_partitions_to_txn::fenced_code;
use super::{Ctx, Reply};
use crate::broker::Broker;
use crate::txn::TxnProducer;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: EndTxnRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let producer = TxnProducer {
            transactional_id: &req.transactional_id,
            producer_id: req.producer_id.0,
            epoch: req.producer_epoch,
            fenced: fenced_code(ctx.version),
        };
        let result = match broker.txns() {
            Some(txns) => txns.end_txn(&broker, producer, req.committed).await,
            None => Err(ResponseError::CoordinatorNotAvailable),
        };
        if let Err(code) = result {
            tracing::info!(transactional_id = %req.transactional_id.0, commit = req.committed,
                error = ?code, "EndTxn refused");
        }
        ctx.respond_or_log(
            &EndTxnResponse::default()
                .with_throttle_time_ms(0)
                .with_error_code(result.err().map_or(0, |c| c.code()))
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
    }))
}
