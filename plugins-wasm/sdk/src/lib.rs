//! The Culvert connector SDK: write a connector or transform as an ordinary Rust trait impl,
//! export it with one macro, and `cargo build --target wasm32-wasip2` yields a component the
//! Culvert worker loads.
//!
//! - [`Plugin`] says what a plugin is (spec, validation); every plugin implements it.
//! - [`Connector`] splits a connector's work into task configurations;
//!   [`SourceConnector`] names its [`SourceTask`], [`SinkConnector`] its [`SinkTask`].
//! - [`Transform`] names its [`Transformer`], one instance per configured transform.
//! - [`Config`] reads configuration values; [`ConfigKeyBuilder`] declares them.
//! - [`SourceBatchBuilder`] and [`TransformBatchBuilder`] build outgoing batches;
//!   [`SinkRecords`] and [`TransformRecords`] read incoming ones.
//! - [`log`] writes into the worker's log; [`metrics`] records counters, gauges and
//!   histograms; [`http`] makes HTTP requests through the host.
//! - [`export_source_connector!`], [`export_sink_connector!`] and [`export_transform!`]
//!   export the implementation as the component's world.

pub mod bindings {
    //! Bindings generated from the `culvert:connector` WIT package, one module per world.
    //! The shared imported interfaces (`types`, `logging`) are generated once, in `source`.
    #![allow(missing_docs, unreachable_pub, clippy::all)]

    pub mod source {
        //! The `source-connector` world (and the shared interfaces).
        wit_bindgen::generate!({
            path: "../wit",
            world: "source-connector",
            pub_export_macro: true,
            export_macro_name: "export_source_world",
            default_bindings_module: "culvert_connector_sdk::bindings::source",
        });
    }

    pub mod sink {
        //! The `sink-connector` world.
        wit_bindgen::generate!({
            path: "../wit",
            world: "sink-connector",
            with: {
                "culvert:connector/types@0.1.0": crate::bindings::source::culvert::connector::types,
                "culvert:connector/logging@0.1.0": crate::bindings::source::culvert::connector::logging,
                "culvert:connector/metrics@0.1.0": crate::bindings::source::culvert::connector::metrics,
                "culvert:connector/http-client@0.1.0": crate::bindings::source::culvert::connector::http_client,
                "culvert:connector/sql@0.1.0": crate::bindings::source::culvert::connector::sql,
                "culvert:connector/object-store@0.1.0": crate::bindings::source::culvert::connector::object_store,
            },
            pub_export_macro: true,
            export_macro_name: "export_sink_world",
            default_bindings_module: "culvert_connector_sdk::bindings::sink",
        });
    }

    pub mod transform {
        //! The `transform` world.
        wit_bindgen::generate!({
            path: "../wit",
            world: "transform",
            with: {
                "culvert:connector/types@0.1.0": crate::bindings::source::culvert::connector::types,
                "culvert:connector/logging@0.1.0": crate::bindings::source::culvert::connector::logging,
                "culvert:connector/metrics@0.1.0": crate::bindings::source::culvert::connector::metrics,
            },
            pub_export_macro: true,
            export_macro_name: "export_transform_world",
            default_bindings_module: "culvert_connector_sdk::bindings::transform",
        });
    }
}

mod batch;
mod config;
pub mod encoding;
#[doc(hidden)]
pub mod export;
pub mod http;
pub mod log;
pub mod metrics;
pub mod object_store;
mod read;
pub mod sql;

pub use batch::{HeaderValue, Part, SourceBatchBuilder, TransformBatchBuilder};
pub use bindings::sink::exports::culvert::connector::sink::SinkBatch;
pub use bindings::source::culvert::connector::types::{
    ConfigIssue, ConfigKey, ConfigType, HeldRecord, Importance, PartitionOffset, PluginError,
    PluginSpec, RecordFailure, TopicPartition,
};

impl RecordFailure {
    /// Record `index` of the batch being handled failed, because of `message`.
    pub fn new(index: usize, message: impl Into<String>) -> Self {
        Self {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            message: message.into(),
            held: None,
        }
    }

    /// A sink's record from an earlier `put` failed for good; it is handed back whole.
    pub fn held(record: HeldRecord, message: impl Into<String>) -> Self {
        Self {
            index: 0,
            message: message.into(),
            held: Some(record),
        }
    }
}
pub use bindings::source::exports::culvert::connector::source::{Position, SourceBatch};
pub use bindings::transform::exports::culvert::connector::transformation::TransformBatch;
pub use config::{Config, ConfigKeyBuilder, describe_issues, validate_against, validate_with};
pub use read::{Headers, Record, SinkRecord, SinkRecords, TransformRecords};

/// What every plugin says about itself.
pub trait Plugin {
    /// Name, version, description and configuration definition.
    fn spec() -> PluginSpec;

    /// Checks a configuration. The default checks it against the definition in
    /// [`Plugin::spec`] (required keys present, values of the declared type).
    fn validate(cfg: &Config) -> Vec<ConfigIssue> {
        validate_against(&Self::spec().config_def, cfg)
    }
}

/// The connector half of a source or sink: how its work is split into tasks. Mirrors Kafka
/// Connect's `Connector`.
pub trait Connector: Plugin {
    /// Splits the work into at most `max_tasks` task configurations.
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String>;
}

/// A source connector: a [`Connector`] whose tasks produce records.
pub trait SourceConnector: Connector {
    /// The task type the host instantiates once per task configuration.
    type Task: SourceTask;
}

/// One running source task. Mirrors Kafka Connect's `SourceTask`.
pub trait SourceTask: Sized + 'static {
    /// Creates the task from its configuration. An error here is reported by `start`.
    fn new(cfg: Config) -> Result<Self, PluginError>;

    /// Starts the task with the last committed position of every known source partition.
    fn start(&mut self, committed: Vec<Position>) -> Result<(), PluginError>;

    /// Returns up to `max_records` records, or `None` when there is nothing to send now.
    fn poll(&mut self, max_records: u32) -> Result<Option<SourceBatch>, PluginError>;

    /// Called with the positions that are now durable. The default does nothing.
    fn committed(&mut self, positions: Vec<Position>) -> Result<(), PluginError> {
        let _ = positions;
        Ok(())
    }

    /// Stops the task. The default does nothing.
    fn stop(&mut self) {}
}

/// A sink connector: a [`Connector`] whose tasks write records somewhere.
pub trait SinkConnector: Connector {
    /// The task type the host instantiates once per task configuration.
    type Task: SinkTask;
}

/// One running sink task. Mirrors Kafka Connect's `SinkTask`.
pub trait SinkTask: Sized + 'static {
    /// Creates the task from its configuration. An error here is reported by `start`.
    fn new(cfg: Config) -> Result<Self, PluginError>;

    /// Starts the task. The default does nothing.
    fn start(&mut self) -> Result<(), PluginError> {
        Ok(())
    }

    /// The task was assigned `partitions`. The default does nothing.
    fn open(&mut self, partitions: Vec<TopicPartition>) -> Result<(), PluginError> {
        let _ = partitions;
        Ok(())
    }

    /// `partitions` are being taken away (after a `flush`). The default does nothing.
    fn close(&mut self, partitions: Vec<TopicPartition>) -> Result<(), PluginError> {
        let _ = partitions;
        Ok(())
    }

    /// Writes or buffers `records`; returns the ones it could not handle (by index, or
    /// [`RecordFailure::held`] for records kept from an earlier call), which the host
    /// dead-letters or fails the task on. Called with no records about once a second when
    /// none arrive.
    fn put(&mut self, records: SinkRecords<'_>) -> Result<Vec<RecordFailure>, PluginError>;

    /// Returns the offsets whose records are durable. The default, for sinks that write
    /// synchronously in `put`, returns `current` unchanged.
    fn flush(
        &mut self,
        current: Vec<PartitionOffset>,
    ) -> Result<Vec<PartitionOffset>, PluginError> {
        Ok(current)
    }

    /// Stops the task. The default does nothing.
    fn stop(&mut self) {}
}

/// A transform plugin.
pub trait Transform: Plugin {
    /// The type instantiated once per configured transform.
    type Instance: Transformer;
}

/// One configured transform.
pub trait Transformer: Sized + 'static {
    /// Creates the transform from its configuration (keys without the
    /// `transforms.<alias>.` prefix). An error here is reported by the first `apply`.
    fn new(cfg: Config) -> Result<Self, PluginError>;

    /// Transforms `records` into `out` (any number of outputs per input, each pushed with
    /// the index of its input). Returns the inputs it failed on.
    fn apply(
        &mut self,
        records: TransformRecords<'_>,
        out: &mut TransformBatchBuilder,
    ) -> Result<Vec<RecordFailure>, PluginError>;
}
