//! The connector components built into the binary (compiled from `connectors/` by the
//! `culvert-guests` crate), loaded into a plugin engine.

use culvert_plugin_host::{HostError, Plugin, PluginEngine};

pub use culvert_guests::{BUILTIN, Component, builtin as find};

/// Loads every embedded component; each result says which one it was.
pub async fn load_all(
    engine: &PluginEngine,
) -> Vec<(&'static Component, Result<Plugin, HostError>)> {
    let mut out = Vec::with_capacity(BUILTIN.len());
    for component in BUILTIN {
        let plugin = Plugin::load(engine, &component.origin(), component.bytes).await;
        out.push((component, plugin));
    }
    out
}
