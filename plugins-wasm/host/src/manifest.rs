//! Plugin manifests: `<stem>.json` next to each `<stem>.wasm` under `plugin.path`, saying what
//! the component is (name, version, kind), what it needs (capabilities), its SHA-256, and
//! the Kafka Connect class names it answers to.
//!
//! ```json
//! {"name": "jdbc-source", "version": "1.2.0", "kind": "source",
//!  "capabilities": ["sql"], "sha256": "<64 hex digits>",
//!  "aliases": ["io.confluent.connect.jdbc.JdbcSourceConnector"]}
//! ```

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::plugin::PluginKind;

/// Capabilities a manifest may name: the granted ones in `sandbox::CAPABILITIES` plus
/// `logging` and `metrics`, which every plugin has. Others arrive as versioned WIT
/// interfaces, and a manifest requesting one is refused until then.
const KNOWN_CAPABILITIES: &[&str] = &["http-client", "sql", "object-store", "logging", "metrics"];

/// Capabilities every plugin has without asking.
const BASE_CAPABILITIES: &[&str] = &["logging", "metrics"];

fn offered(cap: &str) -> bool {
    BASE_CAPABILITIES.contains(&cap) || crate::sandbox::CAPABILITIES.iter().any(|(_, c)| *c == cap)
}

/// A parsed manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// `source`, `sink` or `transformation`.
    pub kind: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Lowercase hex SHA-256 of the `.wasm` file.
    pub sha256: String,
    /// Other names (e.g. Kafka Connect class names) `connector.class` may use.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Manifest {
    /// Parses manifest text.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("the manifest is not valid: {e}"))
    }

    /// Checks the manifest against the component's bytes, before compiling them.
    pub(crate) fn check_bytes(&self, bytes: &[u8]) -> Result<(), String> {
        if let Some(cap) = self.capabilities.iter().find(|c| !offered(c)) {
            return Err(if KNOWN_CAPABILITIES.contains(&cap.as_str()) {
                format!("requests the {cap} capability, which this host does not offer yet")
            } else {
                format!(
                    "requests an unknown capability {cap:?} (known: {})",
                    KNOWN_CAPABILITIES.join(", ")
                )
            });
        }
        let actual = sha256_hex(bytes);
        if !self.sha256.eq_ignore_ascii_case(&actual) {
            return Err(format!(
                "checksum mismatch: the manifest says sha256 {}, the file has {actual}",
                self.sha256
            ));
        }
        Ok(())
    }

    /// Checks the manifest against what the loaded component says about itself.
    pub(crate) fn check_plugin(
        &self,
        name: &str,
        version: &str,
        kind: PluginKind,
        imported: &[&str],
    ) -> Result<(), String> {
        if let Some(cap) = imported
            .iter()
            .find(|c| !self.capabilities.iter().any(|m| m == *c))
        {
            return Err(format!(
                "imports the {cap} capability, which its manifest does not request \
                 (add \"{cap}\" to \"capabilities\")"
            ));
        }
        if self.name != name || self.version != version || self.kind != kind.as_str() {
            return Err(format!(
                "the manifest says {} {} ({}) but the component is {name} {version} ({kind})",
                self.name, self.version, self.kind
            ));
        }
        Ok(())
    }
}
