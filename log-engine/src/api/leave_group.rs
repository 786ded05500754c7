//! LeaveGroup (key 13): one member (v0–2) or a batch with instance ids (v3+).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: LeaveGroupRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let members: Vec<(String, Option<String>)> = if ctx.version >= 3 {
            req.members
                .iter()
                .map(|m| {
                    (
                        m.member_id.to_string(),
                        m.group_instance_id.as_ref().map(|s| s.to_string()),
                    )
                })
                .collect()
        } else {
            vec![(req.member_id.to_string(), None)]
        };
        let outcome = match broker.groups() {
            Some(groups) => groups.leave(&req.group_id, &members).await,
            None => Err(ResponseError::CoordinatorNotAvailable),
        };
        let resp = match outcome {
            Ok(codes) if ctx.version >= 3 => LeaveGroupResponse::default()
                .with_error_code(0)
                .with_members(
                    members
                        .into_iter()
                        .zip(codes)
                        .map(|((id, instance), code)| {
                            MemberResponse::default()
                                .with_member_id(str_bytes(id))
                                .with_group_instance_id(instance.map(str_bytes))
                                .with_error_code(code)
                        })
                        .collect(),
                ),
            Ok(codes) => {
                LeaveGroupResponse::default().with_error_code(codes.first().copied().unwrap_or(0))
            }
            Err(code) => LeaveGroupResponse::default().with_error_code(code.code()),
        };
        ctx.respond_or_log(&resp.with_throttle_time_ms(0))
    }))
}
