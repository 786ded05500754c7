//! A compacted internal topic: created or checked at start, read from the beginning, then
//! followed; written with `acks=all` and idempotence. Kafka Connect's `KafkaBasedLog` on
//! rdkafka, so it works the same against the embedded broker and any Kafka.
//!
//! Like Connect, a worker refuses to start on an existing topic that is not compacted (its
//! records would eventually be deleted), and on a config topic with more than one partition
//! (its order is the whole consistency model).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::{Security, TopicSettings, is_security_key};

/// How long one store operation (metadata, a write, catching up) may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An internal topic cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The topic exists but is not compacted, or the config topic has several partitions.
    #[error("{0}")]
    Unsuitable(String),
    /// A Kafka operation failed.
    #[error("cannot {action} topic {topic}: {reason}")]
    Kafka {
        action: &'static str,
        topic: String,
        reason: String,
    },
}

/// One record read from a topic log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

/// Client settings shared by the logs: `bootstrap.servers`, the worker's security keys and
/// its `producer.*`, `consumer.*` and `admin.*` settings.
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    pub bootstrap_servers: String,
    /// Security keys in Connect's names (`security.protocol`, `sasl.jaas.config`, ...),
    /// the base every client's own settings override.
    pub security: BTreeMap<String, String>,
    pub producer: BTreeMap<String, String>,
    pub consumer: BTreeMap<String, String>,
    pub admin: BTreeMap<String, String>,
}

impl ClientSettings {
    /// A librdkafka configuration: the bootstrap servers, the security settings (Connect's
    /// keys translated, with `extra`'s security keys overriding the worker's) and the rest
    /// of `extra` as librdkafka keys.
    pub(crate) fn config(&self, extra: &BTreeMap<String, String>) -> Result<ClientConfig, String> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        let mut security = self.security.clone();
        for (k, v) in extra {
            if is_security_key(k) {
                security.insert(k.clone(), v.clone());
            } else {
                c.set(k, v);
            }
        }
        let security = Security::parse(&security).map_err(|p| p.join("; "))?;
        for (k, v) in security.librdkafka() {
            c.set(k, v);
        }
        Ok(c)
    }
}

/// A compacted topic read from the start and written with acks=all.
pub struct TopicLog {
    topic: String,
    producer: FutureProducer,
    consumer: Arc<BaseConsumer>,
    /// The next offset to read, per partition.
    positions: Vec<i64>,
}

impl std::fmt::Debug for TopicLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicLog")
            .field("topic", &self.topic)
            .field("positions", &self.positions)
            .finish_non_exhaustive()
    }
}

fn kafka(action: &'static str, topic: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Kafka {
        action,
        topic: topic.to_string(),
        reason: e.to_string(),
    }
}

/// Runs blocking rdkafka calls off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("the blocking call failed: {e}"))
}

/// The partition count of `topic`, or `None` when it does not exist.
async fn partition_count(
    consumer: &Arc<BaseConsumer>,
    topic: &str,
) -> Result<Option<i32>, StoreError> {
    let c = Arc::clone(consumer);
    let name = topic.to_string();
    let metadata = blocking(move || c.fetch_metadata(Some(&name), TIMEOUT))
        .await
        .map_err(|e| kafka("describe", topic, e))?
        .map_err(|e| kafka("describe", topic, e))?;
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match t.error() {
        None => Ok(Some(t.partitions().len() as i32)),
        Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
            Ok(None)
        }
        Some(e) => Err(kafka("describe", topic, RDKafkaErrorCode::from(e))),
    }
}

/// Creates `settings.name` compacted if missing; checks an existing topic is compacted
/// (and, for the config topic, has one partition). `role` is the worker key naming it.
async fn ensure_topic(
    clients: &ClientSettings,
    consumer: &Arc<BaseConsumer>,
    settings: &TopicSettings,
    role: &str,
    single_partition: bool,
) -> Result<i32, StoreError> {
    let topic = settings.name.as_str();
    let admin: AdminClient<DefaultClientContext> = clients
        .config(&clients.admin)
        .map_err(|e| kafka("create an admin client for", topic, e))?
        .create()
        .map_err(|e| kafka("create an admin client for", topic, e))?;
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    if partition_count(consumer, topic).await?.is_none() {
        let mut new = NewTopic::new(
            topic,
            settings.partitions,
            TopicReplication::Fixed(i32::from(settings.replication_factor)),
        );
        for (k, v) in &settings.configs {
            if k != "cleanup.policy" {
                new = new.set(k, v);
            }
        }
        new = new.set("cleanup.policy", "compact");
        let created = admin
            .create_topics([&new], &options)
            .await
            .map_err(|e| kafka("create", topic, e))?;
        for result in created {
            match result {
                Ok(_) => tracing::info!(topic, role, "created internal topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(kafka("create", topic, code)),
            }
        }
    }
    let described = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &options)
        .await
        .map_err(|e| kafka("describe the configs of", topic, e))?;
    let policy = described
        .into_iter()
        .next()
        .and_then(Result::ok)
        .and_then(|r| {
            r.entries
                .iter()
                .find(|e| e.name == "cleanup.policy")
                .and_then(|e| e.value.clone())
        })
        .unwrap_or_else(|| "delete".to_string());
    if !policy.split(',').any(|p| p.trim() == "compact") {
        return Err(StoreError::Unsuitable(format!(
            "Topic '{topic}' supplied via the '{role}' property is required to have \
             'cleanup.policy=compact' to guarantee consistency and durability of the worker's \
             state, but found the topic currently has 'cleanup.policy={policy}'. Continuing \
             would likely result in eventually losing connector configurations, offsets or \
             statuses. Change the '{role}' property in the worker configuration to use a topic \
             with 'cleanup.policy=compact'."
        )));
    }
    let partitions = partition_count(consumer, topic)
        .await?
        .ok_or_else(|| kafka("describe", topic, "the topic vanished after it was created"))?;
    if single_partition && partitions != 1 {
        return Err(StoreError::Unsuitable(format!(
            "Topic '{topic}' supplied via the '{role}' property is required to have a single \
             partition in order to guarantee consistency of connector configurations, but \
             found {partitions} partitions."
        )));
    }
    Ok(partitions)
}

impl TopicLog {
    /// Creates or checks the topic, and positions a reader at its beginning.
    pub async fn open(
        clients: &ClientSettings,
        settings: &TopicSettings,
        role: &str,
        single_partition: bool,
    ) -> Result<Self, StoreError> {
        let topic = settings.name.clone();
        let mut consumer_props = clients.consumer.clone();
        for (k, v) in [
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            ("group.id", "culvert-internal-topic-reader"),
            // A write is read back before it returns: do not let a long poll delay that.
            ("fetch.wait.max.ms", "20"),
        ] {
            consumer_props.insert(k.into(), v.into());
        }
        let consumer: BaseConsumer = clients
            .config(&consumer_props)
            .map_err(|e| kafka("create a consumer for", &topic, e))?
            .create()
            .map_err(|e| kafka("create a consumer for", &topic, e))?;
        let consumer = Arc::new(consumer);
        let partitions = ensure_topic(clients, &consumer, settings, role, single_partition).await?;
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment
                .add_partition_offset(&topic, p, Offset::Beginning)
                .map_err(|e| kafka("read", &topic, e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| kafka("read", &topic, e))?;
        let mut producer_props = clients.producer.clone();
        for (k, v) in [
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "0"),
            ("message.timeout.ms", "30000"),
        ] {
            producer_props.insert(k.into(), v.into());
        }
        let producer: FutureProducer = clients
            .config(&producer_props)
            .map_err(|e| kafka("create a producer for", &topic, e))?
            .create()
            .map_err(|e| kafka("create a producer for", &topic, e))?;
        Ok(Self {
            topic,
            producer,
            consumer,
            positions: vec![0; partitions as usize],
        })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Reads every record up to the topic's current end, in order per partition.
    pub async fn read_to_end(&mut self) -> Result<Vec<LogRecord>, StoreError> {
        let topic = self.topic.clone();
        let consumer = Arc::clone(&self.consumer);
        let mut positions = self.positions.clone();
        let records = blocking(move || -> Result<(Vec<LogRecord>, Vec<i64>), StoreError> {
            // One ListOffsets request for every partition: "latest" is timestamp -1.
            let mut query = TopicPartitionList::new();
            for p in 0..positions.len() as i32 {
                query
                    .add_partition_offset(&topic, p, Offset::End)
                    .map_err(|e| kafka("read the end offsets of", &topic, e))?;
            }
            let answer = consumer
                .offsets_for_times(query, TIMEOUT)
                .map_err(|e| kafka("read the end offsets of", &topic, e))?;
            let mut ends: Vec<Option<i64>> = vec![None; positions.len()];
            for e in answer.elements() {
                if let (Offset::Offset(o), Some(slot)) =
                    (e.offset(), ends.get_mut(e.partition() as usize))
                {
                    *slot = Some(o);
                }
            }
            // A partition the batched answer left out is asked for on its own.
            let ends = ends
                .into_iter()
                .enumerate()
                .map(|(p, end)| match end {
                    Some(end) => Ok(end),
                    None => consumer
                        .fetch_watermarks(&topic, p as i32, TIMEOUT)
                        .map(|(_, high)| high)
                        .map_err(|e| kafka("read the end offsets of", &topic, e)),
                })
                .collect::<Result<Vec<i64>, StoreError>>()?;
            let deadline = std::time::Instant::now() + TIMEOUT;
            let mut out = Vec::new();
            while positions.iter().zip(&ends).any(|(at, end)| at < end) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(kafka(
                        "read",
                        &topic,
                        format!(
                            "did not reach the end ({ends:?}) within {TIMEOUT:?}; at {positions:?}"
                        ),
                    ));
                }
                match consumer.poll(left.min(Duration::from_millis(500))) {
                    None => {}
                    Some(Err(e)) => return Err(kafka("read", &topic, e)),
                    Some(Ok(m)) => {
                        let p = m.partition() as usize;
                        if let Some(at) = positions.get_mut(p) {
                            *at = m.offset() + 1;
                        }
                        out.push(LogRecord {
                            partition: m.partition(),
                            offset: m.offset(),
                            key: m.key().map(<[u8]>::to_vec),
                            value: m.payload().map(<[u8]>::to_vec),
                        });
                    }
                }
            }
            Ok((out, positions))
        })
        .await
        .map_err(|e| kafka("read", &self.topic, e))??;
        self.positions = records.1;
        Ok(records.0)
    }

    /// Writes one record and waits until the broker acknowledged it; returns its partition
    /// and offset.
    pub async fn send(&self, key: &[u8], value: Option<&[u8]>) -> Result<(i32, i64), StoreError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record, TIMEOUT)
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(e, _)| match e {
                KafkaError::MessageProduction(code) => kafka("write to", &self.topic, code),
                other => kafka("write to", &self.topic, other),
            })
    }
}
