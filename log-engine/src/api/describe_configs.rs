//! DescribeConfigs (key 32): every topic config with its effective value and source (Kafka
//! Connect checks `cleanup.policy` of its internal topics here), and the broker's defaults.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::{Ctx, str_bytes};
use crate::broker::Broker;
use crate::log::FlushPolicy;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// Kafka's `ConfigType` codes for DescribeConfigs v3+.
fn config_type(key: &str) -> i8 {
    const BOOLEAN: i8 = 1;
    const STRING: i8 = 2;
    const INT: i8 = 3;
    const LONG: i8 = 5;
    const DOUBLE: i8 = 6;
    const LIST: i8 = 7;
    match key {
        "cleanup.policy"
        | "follower.replication.throttled.replicas"
        | "leader.replication.throttled.replicas" => LIST,
        "compression.type" | "message.timestamp.type" | "flush.policy" => STRING,
        "max.message.bytes"
        | "segment.bytes"
        | "index.interval.bytes"
        | "segment.index.bytes"
        | "min.insync.replicas"
        | "num.partitions"
        | "message.max.bytes" => INT,
        "min.cleanable.dirty.ratio" => DOUBLE,
        "message.downconversion.enable"
        | "preallocate"
        | "remote.storage.enable"
        | "unclean.leader.election.enable"
        | "auto.create.topics.enable" => BOOLEAN,
        _ => LONG,
    }
}

fn entry(key: &str, value: String, source: i8, read_only: bool) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(str_bytes(key))
        .with_value(Some(str_bytes(value)))
        .with_read_only(read_only)
        .with_config_source(source)
        .with_is_sensitive(false)
        .with_config_type(config_type(key))
}

/// The broker-level settings clients commonly ask about (read-only here: static config).
fn broker_entries(broker: &Broker) -> Vec<(&'static str, String)> {
    let c = broker.config();
    vec![
        (
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
        ),
        ("num.partitions", c.default_partitions.to_string()),
        ("log.segment.bytes", c.segment_bytes.to_string()),
        ("message.max.bytes", c.max_message_bytes.to_string()),
        ("socket.request.max.bytes", c.max_request_bytes.to_string()),
        ("default.replication.factor", "1".into()),
        ("offsets.topic.replication.factor", "1".into()),
        (
            "log.flush.policy",
            match c.default_flush {
                FlushPolicy::Always => "always".into(),
                FlushPolicy::Interval(_) => "interval".into(),
                FlushPolicy::Os => "os".into(),
            },
        ),
    ]
}

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: DescribeConfigsRequest,
) -> Result<Bytes, String> {
    /// STATIC_BROKER_CONFIG
    const STATIC_BROKER: i8 = 4;
    let results = req
        .resources
        .iter()
        .map(|r| {
            let wanted = |k: &str| {
                r.configuration_keys.as_ref().is_none_or(|keys| keys.iter().any(|w| w.as_str() == k))
            };
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            match r.resource_type {
                RESOURCE_TOPIC => match broker.topic(r.resource_name.as_str()) {
                    Some(topic) => result.with_error_code(0).with_configs(
                        topic
                            .config
                            .describe(broker.config())
                            .into_iter()
                            .filter(|(k, _, _)| wanted(k))
                            .map(|(k, v, source)| entry(k, v, source.code(), false))
                            .collect(),
                    ),
                    None => result
                        .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                        .with_error_message(Some(str_bytes(format!(
                            "Topic {} does not exist",
                            r.resource_name.as_str()
                        )))),
                },
                RESOURCE_BROKER => {
                    let id = broker.node_id().to_string();
                    if !r.resource_name.is_empty() && r.resource_name.as_str() != id {
                        return result
                            .with_error_code(ResponseError::InvalidRequest.code())
                            .with_error_message(Some(str_bytes(format!(
                                "Unexpected broker id, expected {id} or empty string, but received {}",
                                r.resource_name.as_str()
                            ))));
                    }
                    result.with_error_code(0).with_configs(
                        broker_entries(broker)
                            .into_iter()
                            .filter(|(k, _)| wanted(k))
                            .map(|(k, v)| entry(k, v, STATIC_BROKER, true))
                            .collect(),
                    )
                }
                other => result
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(format!("resource type {other} is not supported")))),
            }
        })
        .collect();
    ctx.respond(
        &DescribeConfigsResponse::default()
            .with_throttle_time_ms(0)
            .with_results(results),
    )
}
