//! CreateTopics (key 19): create topics with partitions and configs, or only validate.
//! Replication factors above 1 are refused as Kafka refuses them on a one-broker cluster.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::{Ctx, str_bytes};
use crate::broker::{ApiError, Broker};

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: CreateTopicsRequest,
) -> Result<Bytes, String> {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = t.name.0.to_string();
        let mut configs = BTreeMap::new();
        let mut bad = None;
        for c in &t.configs {
            match &c.value {
                Some(v) => {
                    configs.insert(c.name.to_string(), v.to_string());
                }
                None => {
                    bad = Some(format!(
                        "Null value not supported for topic configs: {}",
                        c.name
                    ))
                }
            }
        }
        let mut partitions = t.num_partitions;
        if !t.assignments.is_empty() {
            // Manual assignment: every replica must be this broker.
            if t.assignments
                .iter()
                .any(|a| a.broker_ids.iter().any(|b| b.0 != broker.node_id()))
            {
                bad = Some(format!(
                    "Replica assignment names a broker other than {}",
                    broker.node_id()
                ));
            }
            partitions = t.assignments.len() as i32;
        }
        let outcome = match bad {
            Some(message) => Err(ApiError::new(ResponseError::InvalidConfig, message)),
            None => broker.create_topic(
                &name,
                partitions,
                t.replication_factor,
                configs,
                req.validate_only,
            ),
        };
        let result = CreatableTopicResult::default().with_name(t.name.clone());
        results.push(match outcome {
            Ok(topic) => result
                .with_error_code(0)
                .with_topic_id(topic.id)
                .with_num_partitions(if req.validate_only {
                    if partitions == -1 {
                        broker.config().default_partitions
                    } else {
                        partitions
                    }
                } else {
                    topic.partitions.len() as i32
                })
                .with_replication_factor(1)
                .with_configs(Some(
                    topic
                        .config
                        .describe(broker.config())
                        .into_iter()
                        .map(|(k, v, source)| {
                            CreatableTopicConfigs::default()
                                .with_name(str_bytes(k))
                                .with_value(Some(str_bytes(v)))
                                .with_read_only(false)
                                .with_config_source(source.code())
                                .with_is_sensitive(false)
                        })
                        .collect(),
                )),
            Err(e) => result
                .with_error_code(e.code.code())
                .with_error_message(Some(str_bytes(e.message)))
                .with_num_partitions(-1)
                .with_replication_factor(-1),
        });
    }
    ctx.respond(
        &CreateTopicsResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(results),
    )
}
