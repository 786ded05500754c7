//! The framework's part of a connector configuration — the keys the runtime reads, not the
//! plugin: converters, error handling, restarts, sink topics and client overrides, parsed
//! once per task start with Connect's messages for bad values.

use std::collections::BTreeMap;
use std::time::Duration;

use super::converter::Converter;
use crate::config::{Security, WorkerConfig};
use crate::stores::Properties;

/// `errors.*`: what happens to a record a stage fails on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ErrorPolicy {
    /// `errors.tolerance=all`: skip (and dead-letter) bad records instead of failing.
    pub(super) tolerate_all: bool,
    /// `errors.retry.timeout` in ms: how long retriable plugin errors are retried before the
    /// task fails; 0 or -1 retry forever (Connect always retries a `RetriableException`
    /// from `put`/`poll`).
    pub(super) retry_timeout_ms: i64,
    /// `errors.retry.delay.max.ms`: the cap of the jittered exponential backoff.
    pub(super) retry_delay_max: Duration,
    /// `errors.log.enable`.
    pub(super) log: bool,
    /// `errors.log.include.messages`.
    pub(super) log_messages: bool,
    /// `errors.deadletterqueue.topic.name` (empty: none).
    pub(super) dlq_topic: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor`.
    pub(super) dlq_replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub(super) dlq_context_headers: bool,
    /// `errors.retry.topics` (sinks; Culvert's own): tiers a record failing `put` waits in
    /// before the error handler gets it.
    pub(super) retry_topics: Vec<super::retry_topics::RetryTier>,
}

/// Culvert's own keys: failed tasks restart by themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RestartPolicy {
    /// `task.restart.enable` (default true).
    pub(super) enabled: bool,
    /// `task.restart.backoff.initial.ms` (default 1000).
    pub(super) initial: Duration,
    /// `task.restart.backoff.max.ms` (default 60000).
    pub(super) max: Duration,
    /// `task.restart.max.attempts` (default 10; -1 = no limit): consecutive failures after
    /// which the task stays FAILED.
    pub(super) max_attempts: i64,
}

/// What a sink task consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SinkTopics {
    List(Vec<String>),
    /// `topics.regex`, anchored as librdkafka wants (`^...`).
    Regex(String),
}

/// The framework settings of one connector.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    pub(super) key_converter: Converter,
    pub(super) value_converter: Converter,
    pub(super) errors: ErrorPolicy,
    pub(super) restart: RestartPolicy,
    /// `producer.override.*` (prefix removed), over the worker's `producer.*`.
    pub(super) producer: BTreeMap<String, String>,
    /// `consumer.override.*` (prefix removed), over the worker's `consumer.*`.
    pub(super) consumer: BTreeMap<String, String>,
    pub(super) offset_flush_interval: Duration,
    pub(super) shutdown_timeout: Duration,
    /// Sink tasks only.
    pub(super) topics: Option<SinkTopics>,
    /// `transforms` / `predicates`.
    pub(super) transforms: std::sync::Arc<culvert_smt::Chain>,
    /// `max.buffered.bytes` (Culvert's): record bytes a task holds at most — a source's
    /// records awaiting acks, a sink's next batch.
    pub(super) max_buffered_bytes: usize,
    /// Source tasks only: `topic.creation.*` when active.
    pub(super) topic_creation: Option<super::topic_creation::TopicCreation>,
}

struct Reader<'a> {
    config: &'a Properties,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn int(&mut self, key: &str, default: i64, min: i64) -> i64 {
        match self.config.get(key).map(|v| v.trim()) {
            None | Some("") => default,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= min => n,
                Ok(_) => {
                    self.problems.push(format!(
                        "Invalid value {v} for configuration {key}: Value must be at least {min}"
                    ));
                    default
                }
                Err(_) => {
                    self.problems.push(format!(
                        "Invalid value {v} for configuration {key}: Not a number of type LONG"
                    ));
                    default
                }
            },
        }
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        match self.config.get(key).map(|v| v.trim()) {
            None | Some("") => default,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                self.problems.push(format!(
                    "Invalid value {v} for configuration {key}: Expected value to be either \
                     true or false"
                ));
                default
            }
        }
    }

    fn text(&self, key: &str) -> Option<String> {
        self.config
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn prefixed(&self, prefix: &str, base: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = base.clone();
        for (k, v) in self.config {
            if let Some(rest) = k.strip_prefix(prefix)
                && !rest.is_empty()
            {
                out.insert(rest.to_string(), v.clone());
            }
        }
        out
    }
}

/// Client settings the `Principal` override policy lets a connector set.
const PRINCIPAL_KEYS: [&str; 3] = ["sasl.jaas.config", "sasl.mechanism", "security.protocol"];

/// `producer.override.*`, `consumer.override.*` and `admin.override.*` keys the worker's
/// `connector.client.config.override.policy` forbids.
fn override_problems(config: &Properties, policy: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for key in config.keys() {
        let Some(client_key) = [
            "producer.override.",
            "consumer.override.",
            "admin.override.",
        ]
        .iter()
        .find_map(|p| key.strip_prefix(p)) else {
            continue;
        };
        let allowed = match policy {
            "None" => false,
            "Principal" => PRINCIPAL_KEYS.contains(&client_key),
            _ => true,
        };
        if !allowed {
            problems.push(format!(
                "Invalid value {} for configuration {key}: the worker's \
                 connector.client.config.override.policy={policy} does not allow overriding \
                 {client_key}",
                config.get(key).map(String::as_str).unwrap_or_default()
            ));
        }
    }
    problems
}

fn ms(n: i64) -> Duration {
    Duration::from_millis(u64::try_from(n).unwrap_or(0))
}

impl TaskSettings {
    /// Parses a connector's configuration for a source (`sink == false`) or sink task;
    /// every problem is listed.
    pub(super) fn parse(
        config: &Properties,
        worker: &WorkerConfig,
        sink: bool,
    ) -> Result<Self, Vec<String>> {
        let mut r = Reader {
            config,
            problems: Vec::new(),
        };
        let key_converter = Converter::configure(
            "key.converter",
            config,
            &worker.key_converter,
            &worker.key_converter_props,
        );
        let value_converter = Converter::configure(
            "value.converter",
            config,
            &worker.value_converter,
            &worker.value_converter_props,
        );
        let header = config
            .get("header.converter")
            .unwrap_or(&worker.header_converter);
        if let Err(e) = Converter::check_header_converter(header) {
            r.problems.push(e);
        }
        let tolerate_all = match r.text("errors.tolerance").as_deref() {
            None | Some("none") => false,
            Some("all") => true,
            Some(v) => {
                r.problems.push(format!(
                    "Invalid value {v} for configuration errors.tolerance: String must be one \
                     of: none, all"
                ));
                false
            }
        };
        let errors = ErrorPolicy {
            tolerate_all,
            retry_timeout_ms: r.int("errors.retry.timeout", 0, -1),
            retry_delay_max: ms(r.int("errors.retry.delay.max.ms", 60_000, 1)),
            log: r.bool("errors.log.enable", false),
            log_messages: r.bool("errors.log.include.messages", false),
            dlq_topic: r.text("errors.deadletterqueue.topic.name"),
            dlq_replication_factor: i16::try_from(r.int(
                "errors.deadletterqueue.topic.replication.factor",
                i64::from(worker.offset_topic.replication_factor.max(1)),
                -1,
            ))
            .unwrap_or(1),
            dlq_context_headers: r.bool("errors.deadletterqueue.context.headers.enable", false),
            retry_topics: match r.text("errors.retry.topics") {
                None => Vec::new(),
                Some(_) if !sink => {
                    r.problems
                        .push("errors.retry.topics applies to sink connectors only".to_string());
                    Vec::new()
                }
                Some(text) => super::retry_topics::parse(&text).unwrap_or_else(|e| {
                    r.problems.push(e);
                    Vec::new()
                }),
            },
        };
        let max_buffered_bytes = r.int("max.buffered.bytes", 32 << 20, 1024);
        let restart = RestartPolicy {
            enabled: r.bool("task.restart.enable", true),
            initial: ms(r.int("task.restart.backoff.initial.ms", 1000, 0)),
            max: ms(r.int("task.restart.backoff.max.ms", 60_000, 0)),
            max_attempts: r.int("task.restart.max.attempts", 10, -1),
        };
        let topics = if sink {
            match (r.text("topics"), r.text("topics.regex")) {
                (Some(list), None) => {
                    let list: Vec<String> = list
                        .split(',')
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect();
                    if let Some(dlq) = &errors.dlq_topic
                        && list.contains(dlq)
                    {
                        r.problems.push(format!(
                            "The DLQ topic '{dlq}' may not be included in the list of topics \
                             ('topics'=[{}]) consumed by the connector",
                            list.join(", ")
                        ));
                    }
                    Some(SinkTopics::List(list))
                }
                (None, Some(regex)) => {
                    let anchored = if regex.starts_with('^') {
                        regex
                    } else {
                        format!("^{regex}")
                    };
                    Some(SinkTopics::Regex(anchored))
                }
                (Some(_), Some(_)) => {
                    r.problems.push(
                        "Must configure one of topics or topics.regex, but not both".to_string(),
                    );
                    None
                }
                (None, None) => {
                    r.problems
                        .push("Must configure one of topics or topics.regex".to_string());
                    None
                }
            }
        } else {
            None
        };
        for (prefix, base) in [
            ("producer.override.", &worker.producer),
            ("consumer.override.", &worker.consumer),
        ] {
            let client = r.prefixed(prefix, base);
            for problem in Security::override_problems(&worker.security_props, &client) {
                r.problems
                    .push(format!("with the {prefix}* settings: {problem}"));
            }
        }
        let mut problems = r.problems;
        problems.extend(override_problems(
            config,
            worker.client_config_override_policy,
        ));
        let transforms = culvert_smt::Chain::from_config(config).unwrap_or_else(|found| {
            problems.extend(found);
            culvert_smt::Chain::default()
        });
        let topic_creation = if sink {
            None
        } else {
            super::topic_creation::TopicCreation::parse(config, worker.topic_creation_enable)
                .unwrap_or_else(|found| {
                    problems.extend(found);
                    None
                })
        };
        let key_converter = key_converter.unwrap_or_else(|e| {
            problems.push(e);
            Converter::ByteArray
        });
        let value_converter = value_converter.unwrap_or_else(|e| {
            problems.push(e);
            Converter::ByteArray
        });
        if !problems.is_empty() {
            return Err(problems);
        }
        let r = Reader {
            config,
            problems: Vec::new(),
        };
        Ok(Self {
            key_converter,
            value_converter,
            errors,
            restart,
            producer: r.prefixed("producer.override.", &worker.producer),
            consumer: r.prefixed("consumer.override.", &worker.consumer),
            offset_flush_interval: ms(worker.offset_flush_interval_ms),
            shutdown_timeout: ms(worker.task_shutdown_graceful_timeout_ms),
            topics,
            transforms: std::sync::Arc::new(transforms),
            topic_creation,
            max_buffered_bytes: usize::try_from(max_buffered_bytes).unwrap_or(usize::MAX),
        })
    }

    /// The problems [`TaskSettings::parse`] would find in a connector configuration on
    /// `worker` (without one, Connect's defaults stand in for the worker's settings).
    pub fn problems(config: &Properties, worker: Option<&WorkerConfig>, sink: bool) -> Vec<String> {
        if let Some(worker) = worker {
            return Self::parse(config, worker, sink).err().unwrap_or_default();
        }
        let props = [(
            "bootstrap.servers".to_string(),
            "localhost:9092".to_string(),
        )]
        .into_iter()
        .collect();
        match WorkerConfig::from_properties(&props, crate::config::Mode::Standalone) {
            Ok((worker, _)) => Self::parse(config, &worker, sink).err().unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;

    fn worker() -> WorkerConfig {
        let props = [("bootstrap.servers".to_string(), "x:9092".to_string())]
            .into_iter()
            .collect();
        WorkerConfig::from_properties(&props, Mode::Standalone)
            .expect("valid")
            .0
    }

    fn config(pairs: &[(&str, &str)]) -> Properties {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_connect() {
        let s = TaskSettings::parse(&config(&[]), &worker(), false).expect("valid");
        assert_eq!(s.value_converter, Converter::Json { schemas: true });
        assert!(!s.errors.tolerate_all);
        assert_eq!(s.errors.retry_delay_max, Duration::from_secs(60));
        assert!(s.restart.enabled);
        assert_eq!(s.topics, None);
    }

    #[test]
    fn every_problem_is_listed() {
        let c = config(&[
            ("errors.tolerance", "some"),
            ("errors.log.enable", "maybe"),
            ("value.converter", "Avro"),
            ("topics", "a,b"),
            ("topics.regex", "a.*"),
        ]);
        let problems = TaskSettings::parse(&c, &worker(), true).expect_err("invalid");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("errors.tolerance"));
    }

    #[test]
    fn retry_topics_are_for_sinks_with_delays() {
        let tiers = [("topics", "orders"), ("errors.retry.topics", "5s,1m")];
        let s = TaskSettings::parse(&config(&tiers), &worker(), true).expect("valid");
        let delays: Vec<Duration> = s.errors.retry_topics.iter().map(|t| t.delay).collect();
        assert_eq!(delays, [Duration::from_secs(5), Duration::from_secs(60)]);
        let problems = TaskSettings::parse(&config(&tiers), &worker(), false).expect_err("source");
        assert_eq!(
            problems,
            ["errors.retry.topics applies to sink connectors only"]
        );
        let bad = [("topics", "orders"), ("errors.retry.topics", "5s,soon")];
        let problems = TaskSettings::parse(&config(&bad), &worker(), true).expect_err("bad");
        assert!(problems[0].contains("soon"), "{problems:?}");
    }

    #[test]
    fn the_override_policy_limits_client_overrides() {
        let c = config(&[
            ("producer.override.linger.ms", "5"),
            ("consumer.override.sasl.mechanism", "PLAIN"),
        ]);
        let mut w = worker();
        assert!(
            TaskSettings::parse(&c, &w, false).is_ok(),
            "All allows everything"
        );
        w.client_config_override_policy = "Principal";
        let problems = TaskSettings::parse(&c, &w, false).expect_err("linger.ms refused");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("producer.override.linger.ms"));
        w.client_config_override_policy = "None";
        let problems = TaskSettings::parse(&c, &w, false).expect_err("all refused");
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn sink_topics_and_overrides() {
        let c = config(&[
            ("topics", " a , b "),
            ("consumer.override.max.poll.records", "7"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ]);
        let s = TaskSettings::parse(&c, &worker(), true).expect("valid");
        assert_eq!(
            s.topics,
            Some(SinkTopics::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            s.consumer.get("max.poll.records").map(String::as_str),
            Some("7")
        );
        let c = config(&[
            ("topics", "dlq"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ]);
        assert!(TaskSettings::parse(&c, &worker(), true).is_err());
        let c = config(&[("topics.regex", "orders-.*")]);
        let s = TaskSettings::parse(&c, &worker(), true).expect("valid");
        assert_eq!(s.topics, Some(SinkTopics::Regex("^orders-.*".into())));
    }
}
