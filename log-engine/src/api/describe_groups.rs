//! DescribeGroups (key 15): state, protocol and members (metadata and assignment verbatim).
//! An unknown group is described as Dead, as Kafka does.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{Ctx, Reply, str_bytes};
use crate::broker::Broker;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: DescribeGroupsRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let mut out = Vec::with_capacity(req.groups.len());
        for id in &req.groups {
            let base = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(i32::MIN);
            let Some(groups) = broker.groups() else {
                out.push(base.with_error_code(ResponseError::CoordinatorNotAvailable.code()));
                continue;
            };
            out.push(match groups.describe(id).await {
                Some(d) => base
                    .with_error_code(0)
                    .with_group_state(str_bytes(d.state.name()))
                    .with_protocol_type(str_bytes(d.protocol_type))
                    .with_protocol_data(str_bytes(d.protocol))
                    .with_members(
                        d.members
                            .into_iter()
                            .map(|(member, instance, client, host, metadata, assignment)| {
                                DescribedGroupMember::default()
                                    .with_member_id(str_bytes(member))
                                    .with_group_instance_id(instance.map(str_bytes))
                                    .with_client_id(str_bytes(client))
                                    .with_client_host(str_bytes(host))
                                    .with_member_metadata(metadata)
                                    .with_member_assignment(assignment)
                            })
                            .collect(),
                    ),
                None => base.with_error_code(0).with_group_state(str_bytes("Dead")),
            });
        }
        ctx.respond_or_log(
            &DescribeGroupsResponse::default()
                .with_throttle_time_ms(0)
                .with_groups(out),
        )
    }))
}
