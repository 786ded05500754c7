//! The guest workspace, compiled: `build.rs` builds `connectors/` (the built-in connectors,
//! the SDK and the test guests) for wasm32-wasip2 and embeds the components here, so
//! `cargo build` alone yields a binary with a working set of plugins.
//!
//! [`BUILTIN`] holds the built-in connectors. With the `test-guests` feature, `TEST_GUESTS`
//! also holds the guests the plugin host's tests run (misbehaving plugins, probes).

/// One embedded component.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    /// The guest crate's package name.
    pub name: &'static str,
    /// The component's bytes (a wasm32-wasip2 component).
    pub bytes: &'static [u8],
    /// Kafka Connect class names it answers to (`[package.metadata.culvert] aliases`).
    pub aliases: &'static [&'static str],
}

impl Component {
    /// Where the component came from, as shown in listings and errors.
    pub fn origin(&self) -> String {
        format!("builtin:{}", self.name)
    }
}

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// Looks up a built-in connector by crate name.
pub fn builtin(name: &str) -> Option<&'static Component> {
    BUILTIN.iter().find(|c| c.name == name)
}

/// Looks up a test guest by crate name.
#[cfg(feature = "test-guests")]
pub fn test_guest(name: &str) -> Option<&'static Component> {
    TEST_GUESTS.iter().find(|c| c.name == name)
}
