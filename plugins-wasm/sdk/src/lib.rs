//! The Culvert connector SDK: write a connector as an ordinary Rust trait impl, export it
//! with one macro, and `cargo build --target wasm32-wasip2` yields a component the Culvert
//! worker loads.
//!
//! - [`Connector`] is the connector half (spec, validate, task configs);
//!   [`SourceConnector`] names its task type, a [`SourceTask`].
//! - [`Config`] reads configuration values; [`ConfigKeyBuilder`] declares them.
//! - [`SourceBatchBuilder`] builds the columnar batches a source task returns.
//! - [`log`] writes into the worker's log.
//! - [`export_source_connector!`] exports a [`SourceConnector`] as the component's world.

pub mod bindings {
    //! Bindings generated from the `culvert:connector` WIT package.
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    wit_bindgen::generate!({
        path: "../wit",
        world: "source-connector",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "culvert_connector_sdk::bindings",
    });
}

mod batch;
mod config;
#[doc(hidden)]
pub mod export;
pub mod log;

pub use batch::{HeaderValue, SourceBatchBuilder};
pub use bindings::culvert::connector::types::{
    ConfigIssue, ConfigKey, ConfigType, Importance, PluginError, PluginSpec,
};
pub use bindings::exports::culvert::connector::source::{Position, SourceBatch};
pub use config::{Config, ConfigKeyBuilder, validate_against};

/// The connector half of a plugin: what it is, how its configuration is checked, and how its
/// work is split into tasks. Mirrors Kafka Connect's `Connector`.
pub trait Connector {
    /// Name, version, description and configuration definition.
    fn spec() -> PluginSpec;

    /// Checks a connector configuration. The default checks it against the definition in
    /// [`Connector::spec`] (required keys present, values of the declared type).
    fn validate(cfg: &Config) -> Vec<ConfigIssue> {
        validate_against(&Self::spec().config_def, cfg)
    }

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
