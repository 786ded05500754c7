//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on topic configs.
//! Broker configs are static (from the config file) and cannot be altered at run time.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::{Ctx, outcome_parts, topic_resource};
use crate::broker::{ApiError, Broker};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

fn alter(
    broker: &Broker,
    name: &str,
    ops: &[(String, i8, Option<String>)],
    validate_only: bool,
) -> Result<(), ApiError> {
    let topic = broker.existing_topic(name)?;
    let mut set = BTreeMap::new();
    let mut delete = Vec::new();
    for (key, op, value) in ops {
        let current = || {
            topic
                .config
                .describe(broker.config())
                .into_iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, v, _)| v)
                .unwrap_or_default()
        };
        let list = |s: String| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect()
        };
        match (*op, value) {
            (SET, Some(v)) => {
                set.insert(key.clone(), v.clone());
            }
            (DELETE, _) => delete.push(key.clone()),
            (APPEND, Some(v)) => {
                let mut items = list(current());
                for item in list(v.clone()) {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                set.insert(key.clone(), items.join(","));
            }
            (SUBTRACT, Some(v)) => {
                let remove = list(v.clone());
                let items: Vec<String> = list(current())
                    .into_iter()
                    .filter(|i| !remove.contains(i))
                    .collect();
                set.insert(key.clone(), items.join(","));
            }
            (op, None) if op != DELETE => {
                return Err(ApiError::new(
                    ResponseError::InvalidConfig,
                    format!("Null value not supported for {key}"),
                ));
            }
            (op, _) => {
                return Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    format!("Unknown config operation {op} for {key}"),
                ));
            }
        }
    }
    broker.alter_topic_config(name, set, &delete, false, validate_only)
}

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: IncrementalAlterConfigsRequest,
) -> Result<Bytes, String> {
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let base = AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let outcome = topic_resource(r.resource_type).and_then(|()| {
                let ops: Vec<(String, i8, Option<String>)> = r
                    .configs
                    .iter()
                    .map(|c| {
                        (
                            c.name.to_string(),
                            c.config_operation,
                            c.value.as_ref().map(|v| v.to_string()),
                        )
                    })
                    .collect();
                alter(broker, &r.resource_name, &ops, req.validate_only)
            });
            let (code, message) = outcome_parts(outcome);
            base.with_error_code(code).with_error_message(message)
        })
        .collect();
    ctx.respond(
        &IncrementalAlterConfigsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses),
    )
}
