//! Errors of the plugin host.

/// What went wrong loading or running a plugin.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The engine could not be created (a wasmtime configuration problem).
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    /// The bytes are not a valid WebAssembly component.
    #[error("plugin {origin}: not a valid WebAssembly component: {reason}")]
    InvalidComponent { origin: String, reason: String },
    /// The component does not export one of the `culvert:connector` worlds.
    #[error("plugin {origin}: {reason}")]
    UnsupportedComponent { origin: String, reason: String },
    /// The component imports something plugins are not granted (e.g. raw sockets).
    #[error("plugin {origin}: refused: {reason}")]
    Denied { origin: String, reason: String },
    /// The plugin was used as a kind it is not (e.g. a transform as a source).
    #[error("plugin {plugin} is a {actual} plugin, not a {wanted}")]
    WrongKind {
        plugin: String,
        wanted: &'static str,
        actual: &'static str,
    },
    /// A `plugin.path` entry's manifest is missing, malformed or does not match it.
    #[error("plugin {origin}: {reason}")]
    Manifest { origin: String, reason: String },
    /// No loaded plugin has this name or alias.
    #[error("no plugin named {class}; installed: {known}")]
    UnknownPlugin { class: String, known: String },
    /// The plugin exists but not at the requested version.
    #[error("plugin {name} has no version {version}; installed: {available}")]
    UnknownVersion {
        name: String,
        version: String,
        available: String,
    },
    /// The component needs imports the host does not provide or grant.
    #[error("plugin {origin}: cannot be linked: {reason}")]
    Link { origin: String, reason: String },
    /// A call into the component trapped or hit a limit; its instance is unusable.
    #[error("plugin {plugin}: {call} trapped: {reason}")]
    Trap {
        plugin: String,
        call: &'static str,
        reason: String,
    },
    /// The component returned data that breaks the contract (e.g. a malformed batch).
    #[error("plugin {plugin}: {call} returned an invalid result: {reason}")]
    Contract {
        plugin: String,
        call: &'static str,
        reason: String,
    },
}

/// Renders a wasmtime error with its whole cause chain (trap code, backtrace summary).
pub(crate) fn describe(err: &wasmtime::Error) -> String {
    format!("{err:#}")
}
