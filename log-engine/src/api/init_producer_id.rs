//! InitProducerId (key 22): a producer id and epoch for idempotent producers. With an
//! existing id and epoch (v3+, KIP-360) the epoch is bumped instead. Transactional ids are
//! refused until transactions are implemented.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::Ctx;
use crate::broker::Broker;

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: InitProducerIdRequest,
) -> Result<Bytes, String> {
    let resp = InitProducerIdResponse::default()
        .with_throttle_time_ms(0)
        .with_ongoing_txn_producer_id(ProducerId(-1))
        .with_ongoing_txn_producer_epoch(-1);
    let resp = if req.transactional_id.is_some() {
        tracing::warn!(client = %ctx.client_id, "transactional producer refused: transactions are not supported yet");
        resp.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    } else if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX {
        resp.with_error_code(0)
            .with_producer_id(req.producer_id)
            .with_producer_epoch(req.producer_epoch + 1)
    } else {
        match broker.allocate_producer_id() {
            Ok(id) => resp
                .with_error_code(0)
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(0),
            Err(e) => {
                tracing::error!(error = %e, "cannot allocate a producer id");
                resp.with_error_code(ResponseError::CoordinatorNotAvailable.code())
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
            }
        }
    };
    ctx.respond(&resp)
}
