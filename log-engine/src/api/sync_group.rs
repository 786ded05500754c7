//! SyncGroup (key 14): the leader hands out assignments; followers wait for theirs.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;
use crate::group::state::SyncResult;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: SyncGroupRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let assignments = req
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect();
        let result = match broker.groups() {
            Some(groups) => {
                groups
                    .sync(
                        &req.group_id,
                        &req.member_id,
                        req.group_instance_id.as_deref(),
                        req.generation_id,
                        (req.protocol_type.as_deref(), req.protocol_name.as_deref()),
                        assignments,
                    )
                    .await
            }
            None => SyncResult {
                error: ResponseError::CoordinatorNotAvailable.code(),
                ..SyncResult::default()
            },
        };
        let resp = SyncGroupResponse::default()
            .with_throttle_time_ms(0)
            .with_error_code(result.error)
            .with_protocol_type(result.protocol_type.map(str_bytes))
            .with_protocol_name(result.protocol_name.map(str_bytes))
            .with_assignment(result.assignment);
        ctx.respond_or_log(&resp)
    }))
}
