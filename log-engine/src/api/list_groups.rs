//! ListGroups (key 16): every group with its protocol type (v4 state filter, v5 type filter).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: ListGroupsRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let Some(groups) = broker.groups() else {
            return ctx.respond_or_log(
                &ListGroupsResponse::default()
                    .with_error_code(ResponseError::CoordinatorNotAvailable.code()),
            );
        };
        let wanted_state = |s: &str| {
            req.states_filter.is_empty()
                || req.states_filter.iter().any(|f| f.eq_ignore_ascii_case(s))
        };
        // Only classic groups exist here.
        let wanted_type = req.types_filter.is_empty()
            || req
                .types_filter
                .iter()
                .any(|t| t.eq_ignore_ascii_case("classic"));
        let listed = groups
            .list()
            .await
            .into_iter()
            .filter(|(_, _, state)| wanted_state(state.name()) && wanted_type)
            .map(|(id, protocol_type, state)| {
                ListedGroup::default()
                    .with_group_id(GroupId(str_bytes(id)))
                    .with_protocol_type(str_bytes(protocol_type))
                    .with_group_state(str_bytes(state.name()))
                    .with_group_type(str_bytes("classic"))
            })
            .collect();
        ctx.respond_or_log(
            &ListGroupsResponse::default()
                .with_throttle_time_ms(0)
                .with_error_code(0)
                .with_groups(listed),
        )
    }))
}
