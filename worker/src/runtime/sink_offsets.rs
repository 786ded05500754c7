//! A sink connector's offsets — its consumer group's committed offsets — for the REST API
//! (KIP-875): read, altered and reset with short-lived rdkafka clients on blocking threads
//! (their calls wait for the broker, which may be served by this very runtime).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::settings::SinkTopics;
use crate::stores::ClientSettings;

const TIMEOUT: Duration = Duration::from_secs(15);

/// One partition's committed position: (topic, partition, offset).
pub type SinkOffset = (String, i32, i64);

fn consumer(clients: &ClientSettings, group: &str) -> Result<BaseConsumer, String> {
    let mut props = clients.consumer.clone();
    props.insert("group.id".into(), group.into());
    props.insert("enable.auto.commit".into(), "false".into());
    clients
        .config(&props)?
        .create()
        .map_err(|e| format!("cannot create a consumer for group {group}: {e}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("the call was lost: {e}"))?
}

/// The committed offsets of `group` on the partitions of the topics a sink consumes.
pub(super) async fn read(
    clients: &ClientSettings,
    group: &str,
    topics: &SinkTopics,
) -> Result<Vec<SinkOffset>, String> {
    let consumer = consumer(clients, group)?;
    let topics = topics.clone();
    let group = group.to_string();
    blocking(move || {
        let metadata = consumer
            .fetch_metadata(None, TIMEOUT)
            .map_err(|e| format!("cannot list topics: {e}"))?;
        let regex = match &topics {
            SinkTopics::Regex(r) => {
                Some(regex::Regex::new(r).map_err(|e| format!("topics.regex {r}: {e}"))?)
            }
            SinkTopics::List(_) => None,
        };
        let wanted = |t: &str| match (&topics, &regex) {
            (SinkTopics::List(list), _) => list.iter().any(|l| l == t),
            (_, Some(re)) => re.is_match(t),
            _ => false,
        };
        let mut tpl = TopicPartitionList::new();
        for t in metadata.topics().iter().filter(|t| wanted(t.name())) {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
        if tpl.count() == 0 {
            return Ok(Vec::new());
        }
        let committed = consumer
            .committed_offsets(tpl, TIMEOUT)
            .map_err(|e| format!("cannot read the offsets of group {group}: {e}"))?;
        let mut out: Vec<SinkOffset> = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.topic().to_string(), e.partition(), o)),
                _ => None,
            })
            .collect();
        out.sort();
        Ok(out)
    })
    .await
}

/// Commits new offsets for `group`; `None` resets a partition to its earliest offset (the
/// sink's `auto.offset.reset`), as removing its committed offset would.
pub(super) async fn alter(
    clients: &ClientSettings,
    group: &str,
    offsets: Vec<(String, i32, Option<i64>)>,
) -> Result<(), String> {
    let consumer = consumer(clients, group)?;
    let group = group.to_string();
    blocking(move || {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, offset) in offsets {
            let offset = match offset {
                Some(o) => o,
                None => {
                    consumer
                        .fetch_watermarks(&topic, partition, TIMEOUT)
                        .map_err(|e| format!("cannot read {topic}-{partition}: {e}"))?
                        .0
                }
            };
            tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
                .map_err(|e| format!("{topic}-{partition}: {e}"))?;
        }
        consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| format!("cannot alter the offsets of group {group}: {e}"))
    })
    .await
}

/// Deletes `group` with its offsets, so the sink starts over from `auto.offset.reset`.
pub(super) async fn reset(clients: &ClientSettings, group: &str) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = clients
        .config(&clients.admin)
        .map_err(|e| format!("cannot create an admin client: {e}"))?
        .create()
        .map_err(|e| format!("cannot create an admin client: {e}"))?;
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin
        .delete_groups(&[group], &options)
        .await
        .map_err(|e| format!("cannot reset the offsets of group {group}: {e}"))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
            Err((_, code)) => {
                return Err(format!("cannot reset the offsets of group {group}: {code}"));
            }
        }
    }
    Ok(())
}
