//! The connector test kit: build a connector crate into a component and run it under the
//! real Culvert plugin host, in-process — no broker, no worker. Feed records in, collect
//! records out, in ordinary `#[test]` functions.
//!
//! ```ignore
//! let plugin = culvert_connector_testkit::Harness::build_this_crate()?;
//! let mut task = plugin.source(&[("topic", "t")])?;
//! let records = task.poll_all(10)?;
//! ```
//!
//! - [`Harness`] builds (with `cargo build --target wasm32-wasip2`) or loads a component.
//! - [`SourceRun`], [`SinkRun`] and [`TransformRun`] drive one task or transform.
//! - [`OwnedRecord`] is a record as plain owned data, easy to build and compare.

mod build;

use culvert_plugin_host::{
    Grants, Header, PartitionOffset, Plugin, PluginEngine, PluginLimits, Record, Records,
    RecordsBuilder, SinkBatchBuilder, SinkTaskInstance, SourceTaskInstance, TaskError,
    TransformInstance,
};

pub use build::build_component;
pub use culvert_plugin_host::{PluginKind, Position, RecordFailure};

/// What went wrong in a test run.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// Building the component failed.
    #[error("building the component: {0}")]
    Build(String),
    /// The host refused or failed the plugin.
    #[error(transparent)]
    Host(#[from] culvert_plugin_host::HostError),
    /// A task call failed.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A record could not be put into a batch, or the config grants are invalid.
    #[error("invalid input: {0}")]
    Record(String),
}

/// A record as plain owned data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedRecord {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp_ms: Option<i64>,
}

impl OwnedRecord {
    /// A record with a value and nothing else.
    pub fn value(topic: &str, value: impl Into<Vec<u8>>) -> Self {
        Self {
            topic: topic.to_string(),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// The value as UTF-8 text (lossy), for assertions.
    pub fn value_str(&self) -> String {
        String::from_utf8_lossy(self.value.as_deref().unwrap_or_default()).into_owned()
    }

    fn from_record(r: &Record<'_>) -> Self {
        Self {
            topic: r.topic.to_string(),
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            headers: r
                .headers()
                .iter()
                .map(|h| (h.name.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect(),
            timestamp_ms: r.timestamp_ms,
        }
    }

    fn push_to(
        &self,
        push: impl FnOnce(&Record<'_>, &[Header<'_>]) -> Result<(), String>,
    ) -> Result<(), TestkitError> {
        let record = Record::new(
            &self.topic,
            self.key.as_deref(),
            self.value.as_deref(),
            self.timestamp_ms,
        );
        let headers: Vec<Header<'_>> = self
            .headers
            .iter()
            .map(|(name, value)| Header {
                name,
                value: value.as_deref(),
            })
            .collect();
        push(&record, &headers).map_err(TestkitError::Record)
    }
}

fn owned(records: &Records) -> Vec<OwnedRecord> {
    records
        .iter()
        .map(|r| OwnedRecord::from_record(&r))
        .collect()
}

fn pairs(config: &[(&str, &str)]) -> Vec<(String, String)> {
    config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One task configuration: ordered key/value pairs.
pub type TaskConfig = Vec<(String, String)>;

/// A loaded component plus the runtime that drives it.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    plugin: Plugin,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

/// Builds the calling crate (call from its tests) and loads it.
#[macro_export]
macro_rules! harness_for_this_crate {
    () => {
        $crate::build_component(env!("CARGO_MANIFEST_DIR"), env!("CARGO_PKG_NAME"))
            .and_then(|bytes| $crate::Harness::load(env!("CARGO_PKG_NAME"), &bytes))
    };
}

impl Harness {
    /// Loads component `bytes` with the default limits.
    pub fn load(origin: &str, bytes: &[u8]) -> Result<Self, TestkitError> {
        Self::load_with(origin, bytes, PluginLimits::default())
    }

    /// Loads component `bytes` with `limits`.
    pub fn load_with(
        origin: &str,
        bytes: &[u8],
        limits: PluginLimits,
    ) -> Result<Self, TestkitError> {
        // I/O too: the sql, http and object-store capabilities talk to real servers.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestkitError::Build(format!("cannot start a runtime: {e}")))?;
        let engine = PluginEngine::new(limits)?;
        let plugin = runtime.block_on(Plugin::load(&engine, origin, bytes))?;
        Ok(Self { runtime, plugin })
    }

    /// The loaded plugin (spec, kind).
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// `validate`: `(key, message)` for every problem.
    pub fn validate(&self, config: &[(&str, &str)]) -> Result<Vec<(String, String)>, TestkitError> {
        Ok(self
            .runtime
            .block_on(self.plugin.validate("test", &pairs(config)))?)
    }

    /// `task-configs`, with the plugin's own refusal as an error message.
    pub fn task_configs(
        &self,
        config: &[(&str, &str)],
        max_tasks: u32,
    ) -> Result<Result<Vec<TaskConfig>, String>, TestkitError> {
        Ok(self
            .runtime
            .block_on(self.plugin.task_configs("test", &pairs(config), max_tasks))?)
    }

    /// Starts source task 0 with `config` and no committed positions. Grants
    /// (`plugin.allow.hosts`, ...) are read from `config`, as the worker reads them from the
    /// connector configuration.
    pub fn source(&self, config: &[(&str, &str)]) -> Result<SourceRun<'_>, TestkitError> {
        self.source_from(config, &[])
    }

    /// Starts source task 0 with `config`, resuming from `committed`.
    pub fn source_from(
        &self,
        config: &[(&str, &str)],
        committed: &[Position],
    ) -> Result<SourceRun<'_>, TestkitError> {
        let grants = Grants::from_config(&pairs(config)).map_err(TestkitError::Record)?;
        let task = self.runtime.block_on(SourceTaskInstance::start(
            &self.plugin,
            "test",
            0,
            &grants,
            &pairs(config),
            committed,
        ))?;
        Ok(SourceRun {
            harness: self,
            task: InRuntime::new(task, self.runtime.handle()),
            positions: Vec::new(),
        })
    }

    /// Starts sink task 0 with `config`.
    pub fn sink(&self, config: &[(&str, &str)]) -> Result<SinkRun<'_>, TestkitError> {
        let grants = Grants::from_config(&pairs(config)).map_err(TestkitError::Record)?;
        let task = self.runtime.block_on(SinkTaskInstance::start(
            &self.plugin,
            "test",
            0,
            &grants,
            &pairs(config),
        ))?;
        Ok(SinkRun {
            harness: self,
            task: InRuntime::new(task, self.runtime.handle()),
            next_offsets: Vec::new(),
        })
    }

    /// Creates the transform with `config`.
    pub fn transform(&self, config: &[(&str, &str)]) -> Result<TransformRun<'_>, TestkitError> {
        let instance =
            self.runtime
                .block_on(TransformInstance::new(&self.plugin, "test", &pairs(config)))?;
        Ok(TransformRun {
            harness: self,
            instance,
        })
    }
}

/// A task instance dropped inside the harness's runtime: its store may hold pooled
/// database connections, which go back to their pool on a runtime task.
struct InRuntime<T> {
    value: Option<T>,
    handle: tokio::runtime::Handle,
}

impl<T> InRuntime<T> {
    fn new(value: T, handle: &tokio::runtime::Handle) -> Self {
        Self {
            value: Some(value),
            handle: handle.clone(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for InRuntime<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<T> std::ops::Deref for InRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl<T> std::ops::DerefMut for InRuntime<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl<T> Drop for InRuntime<T> {
    fn drop(&mut self) {
        let _inside = self.handle.enter();
        drop(self.value.take());
    }
}

/// A running source task.
#[derive(Debug)]
pub struct SourceRun<'h> {
    harness: &'h Harness,
    task: InRuntime<SourceTaskInstance>,
    positions: Vec<Position>,
}

impl SourceRun<'_> {
    /// One `poll` of up to `max` records; `None` when the task has nothing now.
    pub fn poll(&mut self, max: u32) -> Result<Option<Vec<OwnedRecord>>, TestkitError> {
        let Some(batch) = self.harness.runtime.block_on(self.task.poll(max))? else {
            return Ok(None);
        };
        for (_, position) in batch.checkpoints() {
            self.positions.retain(|p| p.partition != position.partition);
            self.positions.push(position.clone());
        }
        Ok(Some(owned(batch.records())))
    }

    /// One `poll` of up to `max` records, counted and dropped without copies (for
    /// benchmarks); `None` when the task has nothing now.
    pub fn poll_count(&mut self, max: u32) -> Result<Option<usize>, TestkitError> {
        let Some(batch) = self.harness.runtime.block_on(self.task.poll(max))? else {
            return Ok(None);
        };
        for (_, position) in batch.checkpoints() {
            self.positions.retain(|p| p.partition != position.partition);
            self.positions.push(position.clone());
        }
        Ok(Some(batch.records().len()))
    }

    /// Polls until the task has nothing more (or `max_polls` polls), returning every record.
    pub fn poll_all(&mut self, max_polls: usize) -> Result<Vec<OwnedRecord>, TestkitError> {
        let mut out = Vec::new();
        for _ in 0..max_polls {
            match self.poll(1000)? {
                Some(records) => out.extend(records),
                None => break,
            }
        }
        Ok(out)
    }

    /// The latest position per source partition from the checkpoints seen so far — what
    /// the worker would commit once every record was written.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// Tells the task its positions so far are committed, then stops it.
    pub fn commit_and_stop(mut self) -> Result<Vec<Position>, TestkitError> {
        let positions = std::mem::take(&mut self.positions);
        self.harness
            .runtime
            .block_on(self.task.committed(&positions))?;
        if let Some(task) = self.task.value.take() {
            self.harness.runtime.block_on(task.stop())?;
        }
        Ok(positions)
    }
}

/// A running sink task. Records put are numbered per topic-partition 0 from offset 0.
#[derive(Debug)]
pub struct SinkRun<'h> {
    harness: &'h Harness,
    task: InRuntime<SinkTaskInstance>,
    next_offsets: Vec<PartitionOffset>,
}

impl SinkRun<'_> {
    /// Puts `records` (as partition 0 of their topics); returns the failed ones.
    pub fn put(&mut self, records: &[OwnedRecord]) -> Result<Vec<RecordFailure>, TestkitError> {
        self.put_consumed(None, records)
    }

    /// Puts `records` as consumed from partition 0 of `consumed` while their own topics
    /// say otherwise (as after a topic-renaming transform); offsets and `flush` are
    /// `consumed`'s.
    pub fn put_from(
        &mut self,
        consumed: &str,
        records: &[OwnedRecord],
    ) -> Result<Vec<RecordFailure>, TestkitError> {
        self.put_consumed(Some(consumed), records)
    }

    fn put_consumed(
        &mut self,
        consumed: Option<&str>,
        records: &[OwnedRecord],
    ) -> Result<Vec<RecordFailure>, TestkitError> {
        let mut batch = SinkBatchBuilder::new();
        for r in records {
            let topic = consumed.unwrap_or(&r.topic);
            let next = match self.next_offsets.iter_mut().find(|o| o.topic == topic) {
                Some(o) => o,
                None => {
                    self.next_offsets.push(PartitionOffset {
                        topic: topic.to_string(),
                        partition: 0,
                        offset: 0,
                    });
                    let last = self.next_offsets.len() - 1;
                    &mut self.next_offsets[last]
                }
            };
            let offset = next.offset;
            next.offset += 1;
            r.push_to(|record, headers| batch.push_consumed(record, headers, topic, 0, offset))?;
        }
        Ok(self
            .harness
            .runtime
            .block_on(self.task.put(&batch.build()))?)
    }

    /// Flushes; returns the offsets the task reports durable.
    pub fn flush(&mut self) -> Result<Vec<PartitionOffset>, TestkitError> {
        Ok(self
            .harness
            .runtime
            .block_on(self.task.flush(&self.next_offsets))?)
    }

    /// Stops the task.
    pub fn stop(mut self) -> Result<(), TestkitError> {
        match self.task.value.take() {
            Some(task) => Ok(self.harness.runtime.block_on(task.stop())?),
            None => Ok(()),
        }
    }
}

/// A configured transform.
#[derive(Debug)]
pub struct TransformRun<'h> {
    harness: &'h Harness,
    instance: TransformInstance,
}

/// What one `apply` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub records: Vec<OwnedRecord>,
    /// Per output record, the index of its input record.
    pub origins: Vec<usize>,
    pub failures: Vec<RecordFailure>,
}

impl TransformRun<'_> {
    /// Transforms `records`.
    pub fn apply(&mut self, records: &[OwnedRecord]) -> Result<Applied, TestkitError> {
        let mut batch = RecordsBuilder::new();
        for r in records {
            r.push_to(|record, headers| batch.push(record, headers))?;
        }
        let out = self
            .harness
            .runtime
            .block_on(self.instance.apply(batch.build()))?;
        Ok(Applied {
            records: owned(&out.records),
            origins: out.origins,
            failures: out.failures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> Harness {
        let guest = culvert_guests::test_guest(name)
            .or_else(|| culvert_guests::builtin(name))
            .unwrap_or_else(|| panic!("{name} is not embedded"));
        Harness::load(name, guest.bytes).expect("load")
    }

    #[test]
    fn a_source_is_polled_to_the_end_and_reports_its_positions() {
        let h = load("datagen");
        assert_eq!(h.plugin().kind(), PluginKind::Source);
        let mut run = h
            .source(&[
                ("kafka.topic", "t"),
                ("iterations", "2500"),
                ("max.interval", "0"),
            ])
            .expect("start");
        let records = run.poll_all(100).expect("poll");
        assert_eq!(records.len(), 2500);
        assert_eq!(records[0].topic, "t");
        assert!(records[2499].value_str().contains("\"counter\":2499"));
        let positions = run.commit_and_stop().expect("stop");
        assert_eq!(positions.len(), 1);
        assert_eq!(positions[0].offset, "{\"counter\":2499}");
    }

    #[test]
    fn sinks_and_transforms_take_owned_records() {
        let h = load("collect-sink");
        let mut sink = h.sink(&[("fail.containing", "bad")]).expect("start");
        let failures = sink
            .put(&[
                OwnedRecord::value("a", "ok"),
                OwnedRecord::value("a", "bad"),
            ])
            .expect("put");
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].index, 1);
        let durable = sink.flush().expect("flush");
        assert_eq!(durable[0].offset, 2);
        sink.stop().expect("stop");

        let h = load("identity-transform");
        let mut t = h.transform(&[("drop.containing", "x")]).expect("new");
        let input = [
            OwnedRecord::value("a", "keep"),
            OwnedRecord::value("a", "xx"),
        ];
        let out = t.apply(&input).expect("apply");
        assert_eq!(out.records, [input[0].clone()]);
        assert_eq!(out.origins, [0]);
    }
}
