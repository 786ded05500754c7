//! JoinGroup (key 11): enter a group's join barrier; parked until the generation forms.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;
use crate::group::state::{JoinParams, JoinResult};

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: JoinGroupRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let params = JoinParams {
            version: ctx.version,
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
            client_id: ctx.client_id.clone(),
            client_host: ctx.client_host.clone(),
            session_timeout: ms(req.session_timeout_ms),
            // v0 has no rebalance timeout: the session timeout stands in.
            rebalance_timeout: if ctx.version == 0 {
                ms(req.session_timeout_ms)
            } else {
                ms(req.rebalance_timeout_ms)
            },
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
        };
        let result = match broker.groups() {
            Some(groups) => groups.join(&req.group_id, params).await,
            None => JoinResult::error(ResponseError::CoordinatorNotAvailable, &req.member_id),
        };
        let resp = JoinGroupResponse::default()
            .with_throttle_time_ms(0)
            .with_error_code(result.error)
            .with_generation_id(result.generation)
            .with_protocol_type(result.protocol_type.map(str_bytes))
            .with_protocol_name(result.protocol_name.map(str_bytes))
            .with_leader(str_bytes(result.leader))
            .with_skip_assignment(false)
            .with_member_id(str_bytes(result.member_id))
            .with_members(
                result
                    .members
                    .into_iter()
                    .map(|(id, instance, metadata)| {
                        JoinGroupResponseMember::default()
                            .with_member_id(str_bytes(id))
                            .with_group_instance_id(instance.map(str_bytes))
                            .with_metadata(metadata)
                    })
                    .collect(),
            );
        ctx.respond_or_log(&resp)
    }))
}
