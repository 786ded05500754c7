//! CreatePartitions (key 37): add partitions to a topic.

use bytes::Bytes;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::{Ctx, outcome_parts};
use crate::broker::Broker;

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: CreatePartitionsRequest,
) -> Result<Bytes, String> {
    let results = req
        .topics
        .iter()
        .map(|t| {
            let (code, message) =
                outcome_parts(broker.create_partitions(&t.name, t.count, req.validate_only));
            CreatePartitionsTopicResult::default()
                .with_name(t.name.clone())
                .with_error_code(code)
                .with_error_message(message)
        })
        .collect();
    ctx.respond(
        &CreatePartitionsResponse::default()
            .with_throttle_time_ms(0)
            .with_results(results),
    )
}
