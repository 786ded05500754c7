//! InitProducerId (key 22): a producer id and epoch. Idempotent producers get a fresh id,
//! or with an existing id and epoch (v3+, KIP-360) a bumped epoch. Transactional producers
//! go through the transaction coordinator, which keeps one producer id per transactional id
//! and bumps its epoch, fencing the previous holder and aborting what it left open.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{Ctx, Reply};
use crate::broker::Broker;

fn response(result: Result<(i64, i16), ResponseError>) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default()
        .with_throttle_time_ms(0)
        .with_ongoing_txn_producer_id(ProducerId(-1))
        .with_ongoing_txn_producer_epoch(-1);
    match result {
        Ok((id, epoch)) => resp
            .with_error_code(0)
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(code) => resp
            .with_error_code(code.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

pub(crate) fn handle(
    broker: &Arc<Broker>,
    ctx: &Ctx,
    req: InitProducerIdRequest,
) -> Result<Reply, String> {
    if let Some(id) = req.transactional_id.clone() {
        let broker = Arc::clone(broker);
        let ctx = ctx.clone();
        // PRODUCER_FENCED exists from v4 on; older clients know INVALID_PRODUCER_EPOCH.
        let fenced = if ctx.version >= 4 {
            ResponseError::ProducerFenced
        } else {
            ResponseError::InvalidProducerEpoch
        };
        return Ok(Reply::Deferred(Box::pin(async move {
            let result = match broker.txns() {
                Some(txns) => {
                    txns.init_producer_id(
                        &broker,
                        &id,
                        req.transaction_timeout_ms,
                        (req.producer_id.0, req.producer_epoch),
                        fenced,
                    )
                    .await
                }
                None => Err(ResponseError::CoordinatorNotAvailable),
            };
            if let Err(code) = result {
                tracing::info!(transactional_id = %id.0, client = %ctx.client_id, error = ?code,
                    "InitProducerId refused");
            }
            ctx.respond_or_log(&response(result))
        })));
    }
    let result =
        if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX {
            Ok((req.producer_id.0, req.producer_epoch + 1))
        } else {
            broker
                .allocate_producer_id()
                .map(|id| (id, 0))
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot allocate a producer id");
                    ResponseError::CoordinatorNotAvailable
                })
        };
    ctx.respond(&response(result)).map(Reply::Ready)
}
