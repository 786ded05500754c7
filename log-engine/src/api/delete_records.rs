//! DeleteRecords (key 21): move partitions' log start offsets forward (-1 = high watermark).

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::Ctx;
use crate::broker::Broker;
use crate::error::LogError;

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: DeleteRecordsRequest,
) -> Result<Bytes, String> {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let topic = broker.topic(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index);
                    let Some(partition) =
                        topic.as_ref().and_then(|t| t.partition(p.partition_index))
                    else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_low_watermark(-1);
                    };
                    let target = if p.offset == -1 {
                        partition.offsets().1
                    } else {
                        p.offset
                    };
                    match partition.advance_log_start(target) {
                        Ok(low) => result.with_error_code(0).with_low_watermark(low),
                        Err(LogError::OffsetOutOfRange { .. }) => result
                            .with_error_code(ResponseError::OffsetOutOfRange.code())
                            .with_low_watermark(-1),
                        Err(e) => {
                            tracing::error!(topic = %t.name.0, error = %e, "delete records failed");
                            result
                                .with_error_code(ResponseError::KafkaStorageError.code())
                                .with_low_watermark(-1)
                        }
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ctx.respond(
        &DeleteRecordsResponse::default()
            .with_throttle_time_ms(0)
            .with_topics(topics),
    )
}
