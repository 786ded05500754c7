//! The Culvert plugin host: loads connector components with wasmtime and runs them.
//!
//! - [`PluginEngine`] owns the wasmtime engine and the linker with every host capability.
//! - [`Plugin`] is one loaded, compiled and inspected component (name, version, kind).
//! - [`SourceTaskInstance`] runs one source task in its own store.
//! - [`SourceRecords`] is a validated view of a batch a source task returned.
//!
//! The host knows components, capabilities and batches; it knows nothing of topics storage,
//! offsets storage or REST (see ARCHITECTURE.md).

mod batch;
mod bindings;
mod engine;
mod error;
mod logging;
mod plugin;
mod source;
mod state;

pub use batch::{Header, SourceRecord, SourceRecords};
pub use engine::{PluginEngine, PluginLimits};
pub use error::HostError;
pub use plugin::{ConfigKeySpec, Plugin, PluginKind, PluginSpec};
pub use source::{Position, SourceTaskInstance, TaskError};
