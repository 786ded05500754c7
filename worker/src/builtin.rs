//! Connector components compiled from `connectors/` and embedded in the binary by
//! `build.rs`, so `cargo run` alone yields a working set of plugins.

use culvert_plugin_host::{HostError, Plugin, PluginEngine};

/// One embedded component.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinComponent {
    /// The connector crate's package name.
    pub name: &'static str,
    /// The component's bytes (a wasm32-wasip2 component).
    pub bytes: &'static [u8],
}

impl BuiltinComponent {
    /// Where the component came from, as shown in listings and errors.
    pub fn origin(&self) -> String {
        format!("builtin:{}", self.name)
    }
}

include!(concat!(env!("OUT_DIR"), "/builtin_connectors.rs"));

/// Looks up an embedded component by crate name.
pub fn find(name: &str) -> Option<&'static BuiltinComponent> {
    BUILTIN_CONNECTORS.iter().find(|c| c.name == name)
}

/// Loads every embedded component; each result says which one it was.
pub async fn load_all(
    engine: &PluginEngine,
) -> Vec<(&'static BuiltinComponent, Result<Plugin, HostError>)> {
    let mut out = Vec::with_capacity(BUILTIN_CONNECTORS.len());
    for component in BUILTIN_CONNECTORS {
        let plugin = Plugin::load(engine, &component.origin(), component.bytes).await;
        out.push((component, plugin));
    }
    out
}
