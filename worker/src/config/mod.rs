//! Configuration files for the worker and the broker: TOML, JSON or YAML (by extension),
//! with `CULVERT_*` environment overrides, flattened into Kafka-style dotted keys
//! (`log.dirs`, `bootstrap.servers`, ...).
//!
//! In a file, `node.id = 1`, `"node.id" = 1` and `[node] id = 1` all mean `node.id`. In the
//! environment, `CULVERT_NODE_ID=1` means `node.id` (underscores become dots).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, Value, ValueKind};

mod providers;
mod reader;
mod security;
mod worker;

pub use providers::ConfigProviders;
pub use security::{Mechanism, Pem, Sasl, Security, Tls, is_security_key};
pub use worker::{
    ConfigProvider, Listener, Mode, ProviderKind, TopicSettings, WorkerConfig, WorkerConfigError,
};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read configuration {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("configuration {path}: key {key} holds a table or list that cannot be a value")]
    Shape { path: PathBuf, key: String },
}

/// Loads `path` (if given) and the `CULVERT_*` environment into flat dotted keys.
pub fn load_properties(path: Option<&Path>) -> Result<BTreeMap<String, String>, ConfigFileError> {
    let shown = path.map_or_else(|| PathBuf::from("<environment>"), Path::to_path_buf);
    let mut builder = Config::builder();
    if let Some(path) = path {
        if !path.is_file() {
            return Err(ConfigFileError::Read {
                path: shown,
                reason: "no such file".into(),
            });
        }
        builder = builder.add_source(File::from(path));
    }
    builder = builder.add_source(Environment::with_prefix("CULVERT").separator("_"));
    let loaded = builder.build().map_err(|e| ConfigFileError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let root: BTreeMap<String, Value> =
        loaded
            .try_deserialize()
            .map_err(|e: config::ConfigError| ConfigFileError::Read {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
    let mut out = BTreeMap::new();
    for (key, value) in root {
        flatten(&shown, key, value, &mut out)?;
    }
    Ok(out)
}

fn flatten(
    path: &Path,
    key: String,
    value: Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), ConfigFileError> {
    match value.kind {
        ValueKind::Table(table) => {
            for (k, v) in table {
                flatten(path, format!("{key}.{k}"), v, out)?;
            }
        }
        ValueKind::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item.kind {
                    ValueKind::Table(_) | ValueKind::Array(_) => {
                        return Err(ConfigFileError::Shape {
                            path: path.to_path_buf(),
                            key,
                        });
                    }
                    other => parts.push(Value::new(None, other).to_string()),
                }
            }
            out.insert(key, parts.join(","));
        }
        ValueKind::Nil => {}
        other => {
            out.insert(key, Value::new(None, other).to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quoted_and_nested_keys_flatten_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("broker.toml");
        std::fs::write(
            &path,
            "node.id = 2\n\"num.partitions\" = 3\nlisteners = [\"127.0.0.1:9092\"]\n\
             [log]\ndirs = \"/var/lib/culvert\"\n",
        )
        .expect("write");
        let props = load_properties(Some(&path)).expect("load");
        assert_eq!(props.get("node.id").map(String::as_str), Some("2"));
        assert_eq!(props.get("num.partitions").map(String::as_str), Some("3"));
        assert_eq!(
            props.get("listeners").map(String::as_str),
            Some("127.0.0.1:9092")
        );
        assert_eq!(
            props.get("log.dirs").map(String::as_str),
            Some("/var/lib/culvert")
        );
    }

    #[test]
    fn a_missing_or_malformed_file_is_named() {
        let err =
            load_properties(Some(Path::new("/nonexistent/broker.toml"))).expect_err("missing");
        assert!(
            err.to_string().contains("/nonexistent/broker.toml"),
            "{err}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "node.id = = 2").expect("write");
        let err = load_properties(Some(&path)).expect_err("malformed");
        assert!(err.to_string().contains("bad.toml"), "{err}");
    }
}
