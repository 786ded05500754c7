//! Retry topics for sinks (`errors.retry.topics`, e.g. `5s,1m,10m`): a record the plugin's
//! `put` fails on is parked in the connector's first retry topic instead of going to the
//! error handler, and returns to `put` once its delay has passed; failing again, it moves
//! to the next tier, and after the last one the error handler takes it (dead-letter topic
//! with `errors.tolerance=all`, else the task fails). Meanwhile the connector's topics
//! flow on: one failing endpoint does not hold back the others.
//!
//! A tier record holds the record as the plugin was given it (converted and transformed),
//! so it skips conversion and transforms on the way back; its `culvert.retry.*` headers
//! say which topic it has, where it was first consumed, when it is due and why it failed.
//! The sink task consumes the tier topics in the connector's group and pauses a tier
//! partition (and seeks back) while its head record is not due yet.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureProducer;

use super::errors::{durable_producer, ensure_topics, record_to};
use crate::stores::ClientSettings;

/// The record's topic as the plugin was given it.
pub(super) const TOPIC: &str = "culvert.retry.topic";
/// Where the record was first consumed: topic, partition, offset.
const ORIGINAL_TOPIC: &str = "culvert.retry.original.topic";
const ORIGINAL_PARTITION: &str = "culvert.retry.original.partition";
const ORIGINAL_OFFSET: &str = "culvert.retry.original.offset";
/// The tier (1-based) and when (epoch ms) the record is due back.
const TIER: &str = "culvert.retry.tier";
const DUE: &str = "culvert.retry.due.ms";
/// Why its last attempt failed.
const ERROR: &str = "culvert.retry.error";
/// Every header this module writes starts so; they are removed before `put`.
const PREFIX: &str = "culvert.retry.";

/// One tier of `errors.retry.topics`: how long a record waits in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RetryTier {
    /// As written (`5s`); part of the tier topic's name.
    pub(super) label: String,
    pub(super) delay: Duration,
}

/// Parses `errors.retry.topics`: comma-separated delays with a unit (`ms`, `s`, `m`, `h`).
pub(super) fn parse(text: &str) -> Result<Vec<RetryTier>, String> {
    let mut tiers = Vec::new();
    for item in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let digits = item.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &item[digits.len()..];
        let n: u64 = digits.parse().map_err(|_| {
            format!(
                "Invalid value {item} in errors.retry.topics: expected a delay such as 500ms, \
                 5s, 1m or 2h"
            )
        })?;
        let delay = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => {
                return Err(format!(
                    "Invalid value {item} in errors.retry.topics: the unit must be one of ms, \
                     s, m, h"
                ));
            }
        };
        if delay.is_zero() {
            return Err(format!(
                "Invalid value {item} in errors.retry.topics: a tier's delay must be above 0"
            ));
        }
        tiers.push(RetryTier {
            label: item.to_string(),
            delay,
        });
    }
    if tiers.len() > 16 {
        return Err(format!(
            "errors.retry.topics names {} tiers; at most 16 are allowed",
            tiers.len()
        ));
    }
    Ok(tiers)
}

/// The tier topic of `connector` for `label`: `<connector>-retry-<label>`, with characters
/// Kafka does not allow in topic names replaced by `_`.
pub(super) fn topic_name(connector: &str, label: &str) -> String {
    format!("{connector}-retry-{label}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(249)
        .collect()
}

/// Where a record was first consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) offset: i64,
}

/// A record read back from a tier topic.
#[derive(Debug)]
pub(super) struct Returned<'a> {
    /// The record's topic as the plugin was given it.
    pub(super) topic: &'a str,
    pub(super) origin: Origin,
    pub(super) due_ms: i64,
    /// Its own headers, without the `culvert.retry.*` ones.
    pub(super) headers: Vec<culvert_plugin_host::Header<'a>>,
}

/// Reads a tier record's headers; `Err` names what is missing or malformed (a record
/// that Culvert did not write).
pub(super) fn read<'a>(
    headers: &[culvert_plugin_host::Header<'a>],
) -> Result<Returned<'a>, String> {
    let text = |name: &str| -> Result<&'a str, String> {
        let value = headers
            .iter()
            .rev()
            .find(|h| h.name == name)
            .and_then(|h| h.value)
            .ok_or_else(|| format!("the retry topic record has no {name} header"))?;
        std::str::from_utf8(value).map_err(|_| format!("its {name} header is not UTF-8"))
    };
    let number = |name: &str| -> Result<i64, String> {
        text(name)?
            .parse()
            .map_err(|_| format!("its {name} header is not a number"))
    };
    Ok(Returned {
        topic: text(TOPIC)?,
        origin: Origin {
            topic: text(ORIGINAL_TOPIC)?.to_string(),
            partition: i32::try_from(number(ORIGINAL_PARTITION)?)
                .map_err(|_| format!("its {ORIGINAL_PARTITION} header is out of range"))?,
            offset: number(ORIGINAL_OFFSET)?,
        },
        due_ms: number(DUE)?,
        headers: headers
            .iter()
            .filter(|h| !h.name.starts_with(PREFIX))
            .copied()
            .collect(),
    })
}

/// A failed record to park, as the plugin was given it.
#[derive(Debug)]
pub(super) struct Parking<'a> {
    pub(super) topic: &'a str,
    pub(super) origin: &'a Origin,
    pub(super) key: Option<&'a [u8]>,
    pub(super) value: Option<&'a [u8]>,
    pub(super) headers: Vec<(&'a str, Option<&'a [u8]>)>,
    pub(super) timestamp_ms: Option<i64>,
    pub(super) message: &'a str,
}

/// A sink task's retry tiers and the producer that parks records in them.
pub(super) struct RetryTopics {
    /// Per tier, its topic and delay.
    tiers: Vec<(String, Duration)>,
    producer: FutureProducer,
}

impl std::fmt::Debug for RetryTopics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryTopics")
            .field("tiers", &self.tiers)
            .finish_non_exhaustive()
    }
}

impl RetryTopics {
    /// Creates the tier topics of `connector` where missing (one partition each) and the
    /// producer that writes them.
    pub(super) async fn new(
        connector: &str,
        tiers: &[RetryTier],
        clients: &ClientSettings,
        producer_props: &std::collections::BTreeMap<String, String>,
        replication_factor: i16,
    ) -> Result<Self, String> {
        let tiers: Vec<(String, Duration)> = tiers
            .iter()
            .map(|t| (topic_name(connector, &t.label), t.delay))
            .collect();
        let names: Vec<&str> = tiers.iter().map(|(t, _)| t.as_str()).collect();
        ensure_topics(clients, &names, replication_factor, "the retry").await?;
        let producer = durable_producer(clients, producer_props, "the retry topics'")?;
        Ok(Self { tiers, producer })
    }

    /// The tier topics, first tier first.
    pub(super) fn topics(&self) -> impl Iterator<Item = &str> {
        self.tiers.iter().map(|(t, _)| t.as_str())
    }

    /// The tier (0-based) whose topic `topic` is.
    pub(super) fn tier_of(&self, topic: &str) -> Option<usize> {
        self.tiers.iter().position(|(t, _)| t == topic)
    }

    /// The tier a record consumed from `topic` goes to when it fails, or `None` when it
    /// has been through every tier.
    pub(super) fn next_tier(&self, topic: &str) -> Option<usize> {
        let next = self.tier_of(topic).map_or(0, |t| t + 1);
        (next < self.tiers.len()).then_some(next)
    }

    /// Writes `record` to tier `tier`, due after that tier's delay; returns once the
    /// write is durable.
    pub(super) async fn park(&self, tier: usize, record: Parking<'_>) -> Result<(), String> {
        let Some((topic, delay)) = self.tiers.get(tier) else {
            return Err(format!("there is no retry tier {}", tier + 1));
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let due = now_ms.saturating_add(delay.as_millis() as i64);
        let mut headers = OwnedHeaders::new();
        for (name, value) in &record.headers {
            headers = headers.insert(Header {
                key: name,
                value: *value,
            });
        }
        let origin = record.origin;
        let context = [
            (TOPIC, record.topic.to_string()),
            (ORIGINAL_TOPIC, origin.topic.clone()),
            (ORIGINAL_PARTITION, origin.partition.to_string()),
            (ORIGINAL_OFFSET, origin.offset.to_string()),
            (TIER, (tier + 1).to_string()),
            (DUE, due.to_string()),
            (ERROR, record.message.to_string()),
        ];
        for (name, value) in &context {
            headers = headers.insert(Header {
                key: name,
                value: Some(value.as_bytes()),
            });
        }
        let mut out = record_to(topic, headers, record.key, record.value);
        if let Some(ts) = record.timestamp_ms {
            out = out.timestamp(ts);
        }
        match self.producer.send(out, Duration::from_secs(30)).await {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(format!("cannot write to the retry topic {topic}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_with_units_and_refuse_what_is_not_a_delay() {
        let tiers = parse("5s, 1m,10m,250ms,2h").expect("valid");
        let delays: Vec<u64> = tiers.iter().map(|t| t.delay.as_millis() as u64).collect();
        assert_eq!(delays, [5_000, 60_000, 600_000, 250, 7_200_000]);
        assert_eq!(tiers[1].label, "1m");
        assert!(parse("").expect("empty").is_empty());
        for (bad, says) in [
            ("5", "unit"),
            ("5d", "unit"),
            ("x5s", "expected a delay"),
            ("0s", "above 0"),
            ("-1s", "expected a delay"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn tier_topics_are_named_by_connector_and_label_with_legal_characters() {
        assert_eq!(
            topic_name("orders-to-http", "5s"),
            "orders-to-http-retry-5s"
        );
        assert_eq!(topic_name("my sink/eu", "1m"), "my_sink_eu-retry-1m");
    }

    #[test]
    fn a_tier_record_reads_back_without_its_retry_headers() {
        let h = |name: &'static str, value: &'static str| culvert_plugin_host::Header {
            name,
            value: Some(value.as_bytes()),
        };
        let headers = [
            h("trace", "abc"),
            h(TOPIC, "orders"),
            h(ORIGINAL_TOPIC, "orders-raw"),
            h(ORIGINAL_PARTITION, "2"),
            h(ORIGINAL_OFFSET, "41"),
            h(TIER, "1"),
            h(DUE, "1700000000000"),
            h(ERROR, "503"),
        ];
        let r = read(&headers).expect("readable");
        assert_eq!(r.topic, "orders");
        assert_eq!(
            r.origin,
            Origin {
                topic: "orders-raw".into(),
                partition: 2,
                offset: 41
            }
        );
        assert_eq!(r.due_ms, 1_700_000_000_000);
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.headers[0].name, "trace");
        let e = read(&headers[..3]).expect_err("incomplete");
        assert!(e.contains(ORIGINAL_PARTITION), "{e}");
        let mut bad = headers;
        bad[6] = h(DUE, "soon");
        assert!(read(&bad).expect_err("bad due").contains(DUE));
    }
}
