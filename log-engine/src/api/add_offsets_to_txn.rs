//! AddOffsetsToTxn (key 25): makes a consumer group's offsets part of the producer's
//! transaction. The group's offsets live in partition 0 of `__consumer_offsets`, which joins
//! the transaction so its marker settles the offsets sent by TxnOffsetCommit.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::add_partitions_to_txn::fenced_code;
use super::{Ctx, Reply};
use crate::broker::Broker;
use crate::group::OFFSETS_TOPIC;
use crate::txn::TxnProducer;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: AddOffsetsToTxnRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let code = if req.group_id.is_empty() {
            ResponseError::InvalidGroupId.code()
        } else {
            let producer = TxnProducer {
                transactional_id: &req.transactional_id,
                producer_id: req.producer_id.0,
                epoch: req.producer_epoch,
                fenced: fenced_code(ctx.version),
            };
            match broker.txns() {
                Some(txns) => txns
                    .add_partitions(&broker, producer, &[(OFFSETS_TOPIC.to_string(), 0)])
                    .await
                    .first()
                    .copied()
                    .unwrap_or(ResponseError::UnknownServerError.code()),
                None => ResponseError::CoordinatorNotAvailable.code(),
            }
        };
        ctx.respond_or_log(
            &AddOffsetsToTxnResponse::default()
                .with_throttle_time_ms(0)
                .with_error_code(code),
        )
    }))
}
