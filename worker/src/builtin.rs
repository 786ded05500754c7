//! The connector components built into the binary (compiled from `connectors/` by the
//! `culvert-guests` crate), and the plugin registry they start.

use std::path::PathBuf;

pub use culvert_guests::{BUILTIN, Component, builtin as find};
use culvert_plugin_host::{PluginEngine, PluginRegistry};

/// `(name, bytes)` of every built-in component, as `PluginRegistry::load` takes them.
pub fn components() -> Vec<(&'static str, &'static [u8])> {
    BUILTIN.iter().map(|c| (c.name, c.bytes)).collect()
}

/// The built-in components (with their Kafka Connect class names) plus every plugin under
/// `plugin_path`.
pub async fn registry(engine: &PluginEngine, plugin_path: &[PathBuf]) -> PluginRegistry {
    let mut registry = PluginRegistry::load(engine, &components(), plugin_path).await;
    for c in BUILTIN {
        registry.add_aliases(c.name, c.aliases);
    }
    registry
}
