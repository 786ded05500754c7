//! DeleteTopics (key 20): by name (v1–5) or by name or id (v6).

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use uuid::Uuid;

use super::{Ctx, str_bytes};
use crate::broker::Broker;

fn delete(broker: &Broker, name: Option<TopicName>, id: Uuid) -> DeletableTopicResult {
    let name = name.map(|n| n.0.to_string()).or_else(|| {
        (!id.is_nil())
            .then(|| {
                broker
                    .topics()
                    .into_iter()
                    .find(|t| t.id == id)
                    .map(|t| t.name.clone())
            })
            .flatten()
    });
    let result = DeletableTopicResult::default().with_topic_id(id);
    let Some(name) = name else {
        return result
            .with_error_code(ResponseError::UnknownTopicId.code())
            .with_error_message(Some(str_bytes("This server does not host this topic ID.")));
    };
    let result = result.with_name(Some(TopicName(str_bytes(name.clone()))));
    match broker.delete_topic(&name) {
        Ok(id) => result.with_topic_id(id).with_error_code(0),
        Err(e) => result
            .with_error_code(e.code.code())
            .with_error_message(Some(str_bytes(e.message))),
    }
}

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: DeleteTopicsRequest,
) -> Result<Bytes, String> {
    let responses = if ctx.version >= 6 {
        req.topics
            .into_iter()
            .map(|t| delete(broker, t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| delete(broker, Some(n), Uuid::nil()))
            .collect()
    };
    ctx.respond(
        &DeleteTopicsResponse::default()
            .with_throttle_time_ms(0)
            .with_responses(responses),
    )
}
