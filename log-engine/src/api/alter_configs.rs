//! AlterConfigs (key 33, the older non-incremental form): a topic's explicit configs are
//! replaced by the given set. Broker configs cannot be altered at run time.

use bytes::Bytes;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::{Ctx, outcome_parts, topic_resource};
use crate::broker::Broker;

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: AlterConfigsRequest,
) -> Result<Bytes, String> {
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let base = AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let outcome = topic_resource(r.resource_type).and_then(|()| {
                let set = r
                    .configs
                    .iter()
                    .filter_map(|c| {
                        c.value
                            .as_ref()
                            .map(|v| (c.name.to_string(), v.to_string()))
                    })
                    .collect();
                broker.alter_topic_config(&r.resource_name, set, &[], true, req.validate_only)
            });
            let (code, message) = outcome_parts(outcome);
            base.with_error_code(code).with_error_message(message)
        })
        .collect();
    ctx.respond(
        &AlterConfigsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses),
    )
}
