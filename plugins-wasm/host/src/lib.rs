//! The Culvert plugin host: loads connector and transform components with wasmtime and runs
//! them in a sandbox.
//!
//! - [`PluginEngine`] owns the wasmtime engine and the linker with every host capability.
//! - [`Plugin`] is one loaded, compiled and inspected component (name, version, kind).
//! - [`PluginRegistry`] holds the built-in plugins and those under `plugin.path` (with
//!   [`Manifest`]s), several versions side by side, and resolves `connector.class`.
//! - [`SourceTaskInstance`], [`SinkTaskInstance`] and [`TransformInstance`] run one task or
//!   transform each, in its own store with memory limits and a per-call deadline.
//! - [`Records`] is a validated batch; [`SourceRecords`] adds a source's positions;
//!   [`RecordsBuilder`] and [`SinkBatchBuilder`] build batches for plugins.
//!
//! The host knows components, capabilities and batches; it knows nothing of topics storage,
//! offsets storage or REST (see ARCHITECTURE.md).

mod batch;
mod bindings;
mod engine;
mod error;
mod grants;
mod http;
mod instance;
mod logging;
mod manifest;
mod metrics;
mod object_store;
mod plugin;
mod registry;
mod sandbox;
mod sink;
mod source;
mod sql;
mod state;
mod transform;

pub use batch::{Header, Record, Records, RecordsBuilder, SourceRecord, SourceRecords};
pub use engine::{PluginEngine, PluginLimits};
pub use error::HostError;
pub use grants::{ALLOW_BUCKETS, ALLOW_HOSTS, ALLOW_PRIVATE, ALLOW_SQL_URLS, Grants};
pub use instance::TaskError;
pub use manifest::{Manifest, sha256_hex};
pub use metrics::PluginMetrics;
pub use object_store::ObjectClients;
pub use plugin::{ConfigKeySpec, Plugin, PluginKind, PluginSpec};
pub use registry::{LoadProblem, PluginRegistry};
pub use sink::{
    HeldRecord, PartitionOffset, RecordFailure, SinkBatch, SinkBatchBuilder, SinkTaskInstance,
    TopicPartition,
};
pub use source::{Position, SourceTaskInstance};
pub use sql::SqlPools;
pub use transform::{TransformInstance, TransformOutput};
