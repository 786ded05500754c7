//! Heartbeat (key 12): keeps a member's session alive; tells it when to rejoin.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::{Ctx, Reply};
use crate::broker::Broker;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: HeartbeatRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let code = match broker.groups() {
            Some(groups) => {
                groups
                    .heartbeat(
                        &req.group_id,
                        &req.member_id,
                        req.group_instance_id.as_deref(),
                        req.generation_id,
                    )
                    .await
            }
            None => ResponseError::CoordinatorNotAvailable.code(),
        };
        ctx.respond_or_log(
            &HeartbeatResponse::default()
                .with_throttle_time_ms(0)
                .with_error_code(code),
        )
    }))
}
