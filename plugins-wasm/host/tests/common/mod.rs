//! Helpers shared by the capability tests.

use culvert_plugin_host::{Plugin, PluginEngine, PluginLimits};

/// Loads test guest `name` in a fresh engine and checks the capabilities it imports.
pub(crate) async fn load_probe(name: &str, capabilities: &[&str]) -> Plugin {
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let guest = culvert_guests::test_guest(name).expect("embedded");
    let plugin = Plugin::load(&engine, &guest.origin(), guest.bytes)
        .await
        .expect("load");
    assert_eq!(plugin.capabilities(), capabilities);
    plugin
}

/// Owned key/value pairs, as configurations are passed.
pub(crate) fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
