//! Metadata (key 3): brokers, cluster id, controller, topics and partitions. Auto-creates
//! requested topics when the client allows it and the broker is configured to.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::{Ctx, str_bytes};
use crate::broker::Broker;
use crate::topic::Topic;

/// Sentinel for "authorized operations not requested" (KIP-430).
const OPERATIONS_OMITTED: i32 = i32::MIN;

fn describe(broker: &Broker, topic: &Topic) -> MetadataResponseTopic {
    let node = BrokerId(broker.node_id());
    MetadataResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(TopicName(str_bytes(topic.name.clone()))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.is_internal())
        .with_topic_authorized_operations(OPERATIONS_OMITTED)
        .with_partitions(
            topic
                .partitions
                .iter()
                .map(|p| {
                    MetadataResponsePartition::default()
                        .with_error_code(0)
                        .with_partition_index(p.index())
                        .with_leader_id(node)
                        .with_leader_epoch(-1)
                        .with_replica_nodes(vec![node])
                        .with_isr_nodes(vec![node])
                        .with_offline_replicas(Vec::new())
                })
                .collect(),
        )
}

fn missing(name: TopicName, code: ResponseError) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code.code())
        .with_name(Some(name))
        .with_topic_authorized_operations(OPERATIONS_OMITTED)
}

pub(crate) fn handle(broker: &Broker, ctx: &Ctx, req: MetadataRequest) -> Result<Bytes, String> {
    // v0: an empty list means every topic; v1+: null means every topic.
    let requested = match req.topics {
        Some(list) if !(ctx.version == 0 && list.is_empty()) => Some(list),
        _ => None,
    };
    let topics = match requested {
        None => broker
            .topics()
            .iter()
            .map(|t| describe(broker, t))
            .collect(),
        Some(list) => list
            .into_iter()
            .filter_map(|t| t.name)
            .map(|name| {
                if let Some(topic) = broker.topic(&name) {
                    return describe(broker, &topic);
                }
                let auto = broker.config().auto_create_topics
                    && (ctx.version < 4 || req.allow_auto_topic_creation);
                if !auto {
                    return missing(name, ResponseError::UnknownTopicOrPartition);
                }
                match broker.create_topic(&name, -1, -1, Default::default(), false) {
                    Ok(topic) => describe(broker, &topic),
                    // Another request created it meanwhile.
                    Err(e) if e.code == ResponseError::TopicAlreadyExists => broker
                        .topic(&name)
                        .map(|t| describe(broker, &t))
                        .unwrap_or_else(|| missing(name, ResponseError::LeaderNotAvailable)),
                    Err(e) => missing(name, e.code),
                }
            })
            .collect(),
    };
    let (host, port) = broker.advertised();
    let resp = MetadataResponse::default()
        .with_throttle_time_ms(0)
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(broker.node_id()))
                .with_host(str_bytes(host))
                .with_port(i32::from(port))
                .with_rack(None),
        ])
        .with_cluster_id(Some(str_bytes(broker.cluster_id())))
        .with_controller_id(BrokerId(broker.node_id()))
        .with_topics(topics)
        .with_cluster_authorized_operations(OPERATIONS_OMITTED);
    ctx.respond(&resp)
}
