//! AlterConfigs (key 33, the older non-incremental form): a topic's explicit configs are
//! replaced by the given set. Broker configs cannot be altered at run time.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::{Ctx, str_bytes};
use crate::broker::{ApiError, Broker};

const RESOURCE_TOPIC: i8 = 2;

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
            let outcome = if r.resource_type == RESOURCE_TOPIC {
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
            } else {
                Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    "only topic configs can be altered; broker settings come from its config file",
                ))
            };
            match outcome {
                Ok(()) => base.with_error_code(0),
                Err(e) => base
                    .with_error_code(e.code.code())
                    .with_error_message(Some(str_bytes(e.message))),
            }
        })
        .collect();
    ctx.respond(
        &AlterConfigsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses),
    )
}
