//! One sink task: turns records into body parts and endpoint URLs, queues them per
//! endpoint, delivers what is ready on every `put` (the worker also calls `put` with no
//! records when idle) and reports as durable only offsets below the first record still
//! waiting.

use std::rc::Rc;

use culvert_connector_sdk::{
    Config, HeldRecord, PartitionOffset, PluginError, RecordFailure, SinkRecord, SinkRecords,
    TopicPartition,
};
use serde_json::Value;

use crate::endpoints::{Endpoints, Failed, Queued};
use crate::settings::{Format, Settings};
use crate::template::Fields;

/// A running task.
#[derive(Debug)]
pub struct HttpSinkTask {
    settings: Settings,
    endpoints: Endpoints,
    /// Records from earlier batches that failed for good during `flush`; handed back to
    /// the host by the next `put` (their offsets stay uncommitted until then).
    late: Vec<Failed>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The JSON of a key or value, looking through a Connect envelope to its payload.
fn json_of(bytes: Option<&[u8]>) -> Option<Value> {
    let v: Value = serde_json::from_slice(bytes?).ok()?;
    match v {
        Value::Object(mut m) if m.len() == 2 && m.contains_key("schema") => m.remove("payload"),
        other => Some(other),
    }
}

/// The JSON of a value as given — an envelope's payload, or the whole value — without
/// building it; `None` when the value is not JSON.
fn json_bytes(raw: &[u8]) -> Option<&[u8]> {
    let trimmed = raw.trim_ascii_start();
    if trimmed.starts_with(b"{") && contains(trimmed, b"\"schema\"") {
        type Fields<'a> = std::collections::BTreeMap<String, &'a serde_json::value::RawValue>;
        if let Ok(fields) = serde_json::from_slice::<Fields<'_>>(raw) {
            if fields.len() == 2 && fields.contains_key("schema") {
                return fields.get("payload").map(|p| p.get().as_bytes());
            }
            return Some(raw);
        }
    }
    serde_json::from_slice::<&serde_json::value::RawValue>(raw)
        .is_ok()
        .then_some(raw)
}

/// Shared topic names, the last ones looked up first.
#[derive(Default)]
struct Topics(Vec<Rc<str>>);

impl Topics {
    fn get(&mut self, topic: &str) -> Rc<str> {
        if let Some(known) = self.0.iter().rev().find(|t| ***t == *topic) {
            return Rc::clone(known);
        }
        let new: Rc<str> = topic.into();
        self.0.push(Rc::clone(&new));
        new
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

impl HttpSinkTask {
    /// The URL and body of one record, or why it cannot be sent.
    fn prepare(&self, r: &SinkRecord<'_>) -> Result<Option<(String, Vec<u8>)>, String> {
        let Some(raw) = r.record.value else {
            return if self.settings.fail_on_null {
                Err("the record has no value (behavior.on.null.values=fail)".into())
            } else {
                Ok(None)
            };
        };
        // The value is parsed only when the URL reads its fields; otherwise the body is its
        // JSON as given (an envelope's payload), checked but not rebuilt.
        let value = if self.settings.url.reads_value() {
            json_of(Some(raw))
        } else {
            None
        };
        let body = match &value {
            Some(v) => v.to_string().into_bytes(),
            None => self.body_as_given(raw),
        };
        let url = if self.settings.url.reads_record() {
            let key = json_of(r.record.key);
            let key_text = r.record.key.map(String::from_utf8_lossy);
            let key_text = match (&key, key_text) {
                (Some(Value::String(s)), _) => Some(s.clone()),
                (_, Some(t)) => Some(t.into_owned()),
                (_, None) => None,
            };
            self.settings.url.render(&Fields {
                topic: r.record.topic,
                partition: r.partition,
                key_text: key_text.as_deref(),
                key: key.as_ref(),
                value: value.as_ref(),
            })?
        } else {
            self.settings.url.render(&Fields {
                topic: r.record.topic,
                partition: r.partition,
                key_text: None,
                key: None,
                value: None,
            })?
        };
        Ok(Some((url, body)))
    }

    /// The body of a value nobody parsed: its JSON as given, else the raw bytes (`single`)
    /// or the text as a JSON string.
    fn body_as_given(&self, raw: &[u8]) -> Vec<u8> {
        let single = self.settings.format == Format::Single;
        match json_bytes(raw) {
            Some(json) if single => json.to_vec(),
            // Body formats separate records by lines: a value spread over lines is rebuilt.
            Some(json) if json.contains(&b'\n') || json.contains(&b'\r') => {
                serde_json::from_slice::<Value>(json)
                    .map(|v| v.to_string().into_bytes())
                    .unwrap_or_else(|_| json.to_vec())
            }
            Some(json) => json.to_vec(),
            None if single => raw.to_vec(),
            // Text that is not JSON travels as a JSON string.
            None => Value::String(String::from_utf8_lossy(raw).into_owned())
                .to_string()
                .into_bytes(),
        }
    }

    /// Delivery failures for the host: this batch's by index, earlier batches' handed back
    /// whole.
    fn report(failed: Vec<Failed>, out: &mut Vec<RecordFailure>) {
        for f in failed {
            out.push(match f.record.index {
                Some(index) => RecordFailure::new(index as usize, f.message),
                None => RecordFailure::held(
                    HeldRecord {
                        topic: f.record.record_topic.to_string(),
                        consumed_topic: f.record.topic.to_string(),
                        partition: f.record.partition,
                        offset: f.record.offset,
                        key: f.record.key,
                        value: f.record.value,
                    },
                    f.message,
                ),
            });
        }
    }
}

impl culvert_connector_sdk::SinkTask for HttpSinkTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        let settings = Settings::parse(&cfg)
            .map_err(|i| PluginError::Fatal(culvert_connector_sdk::describe_issues(&i)))?;
        Ok(Self {
            settings,
            endpoints: Endpoints::default(),
            late: Vec::new(),
        })
    }

    fn put(&mut self, records: SinkRecords<'_>) -> Result<Vec<RecordFailure>, PluginError> {
        let now = now_ms();
        let mut failures = Vec::new();
        Self::report(std::mem::take(&mut self.late), &mut failures);
        if self.endpoints.queued() + records.len() > self.settings.max_buffered {
            // Make room first; if the endpoints are still failing, the host retries this
            // batch later (and stops consuming meanwhile).
            let failed = self.endpoints.deliver(&self.settings, now, true);
            Self::report(failed, &mut failures);
            if self.endpoints.queued() + records.len() > self.settings.max_buffered {
                // Failures already taken out must still reach the host.
                self.late.extend(failures.into_iter().filter_map(|f| {
                    let held = f.held?;
                    Some(Failed {
                        record: Queued {
                            body: Vec::new(),
                            topic: held.consumed_topic.into(),
                            record_topic: held.topic.into(),
                            partition: held.partition,
                            offset: held.offset,
                            key: held.key,
                            value: held.value,
                            index: None,
                            queued_ms: now,
                        },
                        message: f.message,
                    })
                }));
                return Err(PluginError::Retriable(format!(
                    "{} records wait for endpoints that are failing (max.buffered.records = {})",
                    self.endpoints.queued(),
                    self.settings.max_buffered
                )));
            }
        }
        // Records of a batch share a few topics: one shared string each, not one per record.
        let mut topics = Topics::default();
        for (i, r) in records.iter().enumerate() {
            match self.prepare(&r) {
                Ok(Some((url, body))) => self.endpoints.push(
                    url,
                    Queued {
                        body,
                        topic: topics.get(r.consumed_topic),
                        record_topic: topics.get(r.record.topic),
                        partition: r.partition,
                        offset: r.offset,
                        key: r.record.key.map(<[u8]>::to_vec),
                        value: r.record.value.map(<[u8]>::to_vec),
                        index: Some(i as u32),
                        queued_ms: now,
                    },
                ),
                Ok(None) => {}
                Err(message) => failures.push(RecordFailure::new(i, message)),
            }
        }
        let failed = self.endpoints.deliver(&self.settings, now, false);
        self.endpoints.forget_indexes();
        Self::report(failed, &mut failures);
        Ok(failures)
    }

    fn flush(
        &mut self,
        current: Vec<PartitionOffset>,
    ) -> Result<Vec<PartitionOffset>, PluginError> {
        let failed = self.endpoints.deliver(&self.settings, now_ms(), true);
        self.late.extend(failed);
        let waiting = self
            .endpoints
            .first_undelivered(self.late.iter().map(|f| &f.record));
        Ok(current
            .into_iter()
            .map(|c| {
                let offset = waiting
                    .get(&(c.topic.clone(), c.partition))
                    .map_or(c.offset, |first| (*first).min(c.offset));
                PartitionOffset { offset, ..c }
            })
            .collect())
    }

    fn close(&mut self, partitions: Vec<TopicPartition>) -> Result<(), PluginError> {
        let gone: Vec<(String, i32)> = partitions
            .into_iter()
            .map(|p| (p.topic, p.partition))
            .collect();
        self.endpoints.drop_partitions(&gone);
        self.late.retain(|f| {
            !gone
                .iter()
                .any(|(t, p)| **t == *f.record.topic && *p == f.record.partition)
        });
        Ok(())
    }
}
