//! Error handling for records: with `errors.tolerance=none` a bad record fails the task; with
//! `all` it is skipped, logged when `errors.log.enable` is set, and written to the
//! dead-letter topic with Connect's `__connect.errors.*` context headers — for sources and
//! sinks alike, and for every stage (conversion, transforms, the plugin's own per-record
//! failures). Retriable plugin errors are retried with jittered exponential backoff.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use super::metrics::{TaskMetrics, add};
use super::settings::ErrorPolicy;
use crate::stores::ClientSettings;

/// Where in the pipeline a record failed, with Connect's stage names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    KeyConverter,
    ValueConverter,
    Transformation,
    TaskPut,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    pub(super) fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }

    /// The exception class Connect reports for this stage's failures.
    fn exception(self) -> &'static str {
        match self {
            Stage::KeyConverter | Stage::ValueConverter => {
                "org.apache.kafka.connect.errors.DataException"
            }
            _ => "org.apache.kafka.connect.errors.ConnectException",
        }
    }
}

/// One record that failed, as it was when the stage got it.
#[derive(Debug)]
pub(super) struct FailedRecord<'a> {
    pub(super) stage: Stage,
    /// What ran: a converter's or the connector's class.
    pub(super) class_name: &'a str,
    pub(super) message: &'a str,
    /// The record's topic (the consumed topic for sinks, the target topic for sources).
    pub(super) topic: &'a str,
    /// Kafka coordinates, for consumed records.
    pub(super) partition: Option<i32>,
    pub(super) offset: Option<i64>,
    pub(super) key: Option<&'a [u8]>,
    pub(super) value: Option<&'a [u8]>,
    pub(super) headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

/// A task's error handler.
pub(super) struct ErrorHandler {
    policy: ErrorPolicy,
    connector: String,
    task: u32,
    dlq: Option<FutureProducer>,
    metrics: Arc<TaskMetrics>,
}

impl std::fmt::Debug for ErrorHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorHandler")
            .field("policy", &self.policy)
            .field("connector", &self.connector)
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

impl ErrorHandler {
    /// A handler for task `task` of `connector`; creates the dead-letter topic (one
    /// partition) when one is configured and missing.
    pub(super) async fn new(
        policy: ErrorPolicy,
        connector: &str,
        task: u32,
        clients: &ClientSettings,
        producer_props: &std::collections::BTreeMap<String, String>,
        metrics: Arc<TaskMetrics>,
    ) -> Result<Self, String> {
        let dlq = match &policy.dlq_topic {
            None => None,
            Some(topic) => {
                let topics = [topic.as_str()];
                let what = "the dead letter queue";
                ensure_topics(clients, &topics, policy.dlq_replication_factor, what).await?;
                Some(durable_producer(clients, producer_props, what)?)
            }
        };
        Ok(Self {
            policy,
            connector: connector.to_string(),
            task,
            dlq,
            metrics,
        })
    }

    /// Handles a failed record: `Err(trace)` when the task must fail; otherwise the record
    /// was logged and dead-lettered as configured, and is skipped.
    pub(super) async fn report(&mut self, failed: FailedRecord<'_>) -> Result<(), String> {
        let where_ = match (failed.partition, failed.offset) {
            (Some(p), Some(o)) => format!("{}-{p} at offset {o}", failed.topic),
            _ => format!("a record for topic {}", failed.topic),
        };
        self.metrics.failure();
        if !self.policy.tolerate_all {
            return Err(format!(
                "Tolerance exceeded in error handler: stage {} ({}) failed on {where_}: {}",
                failed.stage.name(),
                failed.class_name,
                failed.message
            ));
        }
        add(&self.metrics.records_skipped, 1);
        if self.policy.log {
            add(&self.metrics.errors_logged, 1);
            if self.policy.log_messages {
                tracing::error!(connector = %self.connector, task = self.task,
                    stage = failed.stage.name(), key = ?failed.key.map(String::from_utf8_lossy),
                    value = ?failed.value.map(String::from_utf8_lossy),
                    "error handling {where_}: {}", failed.message);
            } else {
                tracing::error!(connector = %self.connector, task = self.task,
                    stage = failed.stage.name(), "error handling {where_}: {}", failed.message);
            }
        }
        let (Some(producer), Some(topic)) = (&self.dlq, &self.policy.dlq_topic) else {
            return Ok(());
        };
        let mut headers = OwnedHeaders::new();
        for (name, value) in &failed.headers {
            headers = headers.insert(Header {
                key: name,
                value: *value,
            });
        }
        if self.policy.dlq_context_headers {
            let partition = failed.partition.map(|p| p.to_string());
            let offset = failed.offset.map(|o| o.to_string());
            let task = self.task.to_string();
            let context: [(&str, Option<&str>); 9] = [
                ("topic", Some(failed.topic)),
                ("partition", partition.as_deref()),
                ("offset", offset.as_deref()),
                ("connector.name", Some(&self.connector)),
                ("task.id", Some(&task)),
                ("stage", Some(failed.stage.name())),
                ("class.name", Some(failed.class_name)),
                ("exception.class.name", Some(failed.stage.exception())),
                ("exception.message", Some(failed.message)),
            ];
            for (name, value) in context {
                if let Some(value) = value {
                    headers = headers.insert(Header {
                        key: &format!("__connect.errors.{name}"),
                        value: Some(value.as_bytes()),
                    });
                }
            }
            let trace = format!("{}: {}", failed.stage.exception(), failed.message);
            headers = headers.insert(Header {
                key: "__connect.errors.exception.stacktrace",
                value: Some(trace.as_bytes()),
            });
        }
        let record = record_to(topic, headers, failed.key, failed.value);
        // Waited for: a record is only skipped once its dead letter is durable.
        match producer.send(record, Duration::from_secs(30)).await {
            Ok(_) => {
                add(&self.metrics.dlq_requests, 1);
                Ok(())
            }
            Err((e, _)) => {
                add(&self.metrics.dlq_failures, 1);
                Err(format!(
                    "cannot write to the dead letter queue {topic}: {e}"
                ))
            }
        }
    }
}

/// A record for `topic` with `headers`, `key` and `value` (`None`: null).
pub(super) fn record_to<'a>(
    topic: &'a str,
    headers: OwnedHeaders,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
) -> FutureRecord<'a, [u8], [u8]> {
    let mut record = FutureRecord::to(topic).headers(headers);
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(v) = value {
        record = record.payload(v);
    }
    record
}

/// Creates `topics` (one partition each) where missing; `what` names them in errors.
pub(super) async fn ensure_topics(
    clients: &ClientSettings,
    topics: &[&str],
    replication_factor: i16,
    what: &str,
) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = clients
        .config(&clients.admin)
        .map_err(|e| format!("cannot create an admin client: {e}"))?
        .create()
        .map_err(|e| format!("cannot create an admin client: {e}"))?;
    let replication = i32::from(replication_factor);
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(replication)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let created = admin
        .create_topics(&new, &options)
        .await
        .map_err(|e| format!("cannot create {what} topics {}: {e}", topics.join(", ")))?;
    for r in created {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(format!("cannot create {what} topic {topic}: {code}"));
            }
        }
    }
    Ok(())
}

/// A producer whose sends are durable when acknowledged (acks=all, idempotent).
pub(super) fn durable_producer(
    clients: &ClientSettings,
    producer_props: &std::collections::BTreeMap<String, String>,
    what: &str,
) -> Result<FutureProducer, String> {
    let mut props = producer_props.clone();
    props.insert("acks".into(), "all".into());
    props.insert("enable.idempotence".into(), "true".into());
    clients
        .config(&props)?
        .create()
        .map_err(|e| format!("cannot create {what} producer: {e}"))
}

/// Jittered exponential backoff for retriable errors, bounded by `errors.retry.timeout`.
#[derive(Debug)]
pub(super) struct Retry {
    started: Instant,
    delay: Duration,
    max_delay: Duration,
    timeout_ms: i64,
    attempts: u64,
    metrics: Arc<TaskMetrics>,
}

impl Retry {
    pub(super) fn new(policy: &ErrorPolicy, metrics: &Arc<TaskMetrics>) -> Self {
        Self {
            started: Instant::now(),
            delay: Duration::from_millis(100),
            max_delay: policy.retry_delay_max,
            timeout_ms: policy.retry_timeout_ms,
            attempts: 0,
            metrics: Arc::clone(metrics),
        }
    }

    /// Waits before the next attempt; `Err` once `errors.retry.timeout` has passed.
    pub(super) async fn wait(&mut self, why: &str) -> Result<(), String> {
        let elapsed = self.started.elapsed();
        if self.timeout_ms > 0 && elapsed >= Duration::from_millis(self.timeout_ms as u64) {
            return Err(format!(
                "gave up after retrying for {} ms (errors.retry.timeout): {why}",
                elapsed.as_millis()
            ));
        }
        self.attempts += 1;
        add(&self.metrics.retries, 1);
        // Full jitter in [delay/2, delay].
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        let nanos = clock ^ self.attempts.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let half = self.delay / 2;
        let jitter = Duration::from_nanos(nanos % (half.as_nanos().max(1) as u64));
        tokio::time::sleep(half + jitter).await;
        self.delay = (self.delay * 2).min(self.max_delay);
        Ok(())
    }
}
