//! The connector components built into the binary (compiled from `connectors/` by the
//! `culvert-guests` crate).

pub use culvert_guests::{BUILTIN, Component, builtin as find};

/// `(name, bytes)` of every built-in component, as `PluginRegistry::load` takes them.
pub fn components() -> Vec<(&'static str, &'static [u8])> {
    BUILTIN.iter().map(|c| (c.name, c.bytes)).collect()
}
