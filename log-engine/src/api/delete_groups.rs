//! DeleteGroups (key 42): remove groups without members, with their offsets.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::{Ctx, Reply};
use crate::broker::Broker;

pub(crate) fn handle(broker: &Arc<Broker>, ctx: &Ctx, req: DeleteGroupsRequest) -> Reply {
    let broker = Arc::clone(broker);
    let ctx = ctx.clone();
    Reply::Deferred(Box::pin(async move {
        let mut results = Vec::with_capacity(req.groups_names.len());
        for id in &req.groups_names {
            let code = match broker.groups() {
                Some(groups) => groups.delete(id).await,
                None => ResponseError::CoordinatorNotAvailable.code(),
            };
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(id.clone())
                    .with_error_code(code),
            );
        }
        ctx.respond_or_log(
            &DeleteGroupsResponse::default()
                .with_throttle_time_ms(0)
                .with_results(results),
        )
    }))
}
