//! `post-sink`: a sink for the worker's end-to-end tests. Each `put` POSTs the batch to
//! `url` as NDJSON — one `[topic, partition, offset, key, value]` array per record, key and
//! value as text (null when absent) — and the records count as durable once the server
//! answered 2xx. Records whose value contains `fail.containing` are reported as failed
//! instead; a non-2xx answer or a connection error is a retriable error.

use std::collections::BTreeMap;

use culvert_connector_sdk::http::{self, Request};
use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Connector, PartitionOffset, Plugin, PluginError,
    PluginSpec, RecordFailure, SinkConnector, SinkRecords, SinkTask,
};
use serde_json::Value;

/// The connector half.
pub struct PostSink;

impl Plugin for PostSink {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "post-sink".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test sink that POSTs batches as NDJSON".to_string(),
            config_def: vec![
                ConfigKeyBuilder::new("url", ConfigType::String, "Where batches are POSTed.")
                    .required()
                    .build(),
                ConfigKeyBuilder::new(
                    "fail.containing",
                    ConfigType::String,
                    "Records whose value contains this text are reported as failed.",
                )
                .build(),
            ],
        }
    }
}

impl Connector for PostSink {
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok((0..max_tasks.max(1)).map(|_| cfg.clone()).collect())
    }
}

impl SinkConnector for PostSink {
    type Task = PostTask;
}

/// One task.
pub struct PostTask {
    url: String,
    fail_containing: Option<Vec<u8>>,
    /// (topic, partition) → offset after the last record posted.
    posted: BTreeMap<(String, i32), i64>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn text(bytes: Option<&[u8]>) -> Value {
    bytes.map_or(Value::Null, |b| {
        Value::String(String::from_utf8_lossy(b).into_owned())
    })
}

impl SinkTask for PostTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        Ok(Self {
            url: cfg
                .get("url")
                .ok_or_else(|| PluginError::Fatal("url is required".into()))?
                .to_string(),
            fail_containing: cfg
                .get("fail.containing")
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec()),
            posted: BTreeMap::new(),
        })
    }

    fn put(&mut self, records: SinkRecords<'_>) -> Result<Vec<RecordFailure>, PluginError> {
        let mut failures = Vec::new();
        let mut body = Vec::new();
        let mut last = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            last.insert((r.consumed_topic.to_string(), r.partition), r.offset + 1);
            if let (Some(needle), Some(value)) = (&self.fail_containing, r.record.value)
                && contains(value, needle)
            {
                failures.push(RecordFailure::new(
                    i,
                    format!("offset {} contains the failure marker", r.offset),
                ));
                continue;
            }
            let line = Value::Array(vec![
                Value::String(r.record.topic.to_string()),
                Value::from(r.partition),
                Value::from(r.offset),
                text(r.record.key),
                text(r.record.value),
            ]);
            body.extend_from_slice(line.to_string().as_bytes());
            body.push(b'\n');
        }
        if !body.is_empty() {
            let req = Request::post(&self.url, body).header("content-type", "application/x-ndjson");
            match http::send(&req) {
                Ok(resp) if (200..300).contains(&resp.status) => {}
                Ok(resp) => {
                    return Err(PluginError::Retriable(format!(
                        "the server answered {}",
                        resp.status
                    )));
                }
                Err(e) => return Err(PluginError::Retriable(e.message())),
            }
        }
        self.posted.extend(last);
        Ok(failures)
    }

    fn flush(
        &mut self,
        current: Vec<PartitionOffset>,
    ) -> Result<Vec<PartitionOffset>, PluginError> {
        // Only partitions the host asked about (it may have revoked others).
        Ok(current
            .into_iter()
            .filter_map(|c| {
                let posted = self.posted.get(&(c.topic.clone(), c.partition))?;
                Some(PartitionOffset {
                    offset: (*posted).min(c.offset),
                    ..c
                })
            })
            .collect())
    }
}

culvert_connector_sdk::export_sink_connector!(PostSink);
