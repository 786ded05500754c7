//! FindCoordinator (key 10): this broker coordinates every group (key type 0) and every
//! transactional id (key type 1); v0–3 ask for one key, v4+ for a batch.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::{Ctx, str_bytes};
use crate::broker::Broker;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

/// `(error, message, node, host, port)` for one key.
fn locate(broker: &Broker, key_type: i8) -> (i16, Option<StrBytes>, i32, StrBytes, i32) {
    let (host, port) = broker.advertised();
    if key_type == KEY_TYPE_GROUP || key_type == KEY_TYPE_TRANSACTION {
        (0, None, broker.node_id(), str_bytes(host), i32::from(port))
    } else {
        (
            ResponseError::InvalidRequest.code(),
            Some(str_bytes(format!(
                "key type {key_type} is not a group or a transaction"
            ))),
            -1,
            str_bytes(""),
            -1,
        )
    }
}

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: FindCoordinatorRequest,
) -> Result<Bytes, String> {
    let resp = FindCoordinatorResponse::default().with_throttle_time_ms(0);
    let resp = if ctx.version >= 4 {
        resp.with_coordinators(
            req.coordinator_keys
                .into_iter()
                .map(|key| {
                    let (code, message, node, host, port) = locate(broker, req.key_type);
                    Coordinator::default()
                        .with_key(key)
                        .with_node_id(BrokerId(node))
                        .with_host(host)
                        .with_port(port)
                        .with_error_code(code)
                        .with_error_message(message)
                })
                .collect(),
        )
    } else {
        let (code, message, node, host, port) = locate(broker, req.key_type);
        resp.with_error_code(code)
            .with_error_message(message)
            .with_node_id(BrokerId(node))
            .with_host(host)
            .with_port(port)
    };
    ctx.respond(&resp)
}
