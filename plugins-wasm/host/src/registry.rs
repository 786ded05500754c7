//! The plugin registry: built-in components plus every `*.wasm` (with its manifest) under the
//! `plugin.path` directories, several versions of a plugin side by side, and name resolution
//! for `connector.class` (plugin name, manifest alias, or the alias's simple class name).
//!
//! A component that cannot be loaded is recorded as a [`LoadProblem`] and skipped; it never
//! stops the others from loading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::PluginEngine;
use crate::error::HostError;
use crate::manifest::Manifest;
use crate::plugin::Plugin;

/// A component that was skipped, and why.
#[derive(Debug)]
pub struct LoadProblem {
    /// Where it came from (a path or `builtin:<name>`).
    pub origin: String,
    pub error: HostError,
}

/// Every loaded plugin, by name and version.
#[derive(Debug, Default)]
pub struct PluginRegistry {
    /// Name → versions, oldest first.
    plugins: BTreeMap<String, Vec<Plugin>>,
    /// Alias (full class name, or its simple name) → plugin name.
    aliases: BTreeMap<String, String>,
    problems: Vec<LoadProblem>,
}

/// Orders dotted versions numerically where they are numbers (`1.10.0` after `1.9.0`).
fn version_key(version: &str) -> Vec<(u64, String)> {
    version
        .split(['.', '-', '+'])
        .map(|part| (part.parse::<u64>().unwrap_or(u64::MAX), part.to_string()))
        .collect()
}

/// The simple name of a dotted class name (`io.x.FooConnector` → `FooConnector`).
fn simple_name(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

impl PluginRegistry {
    /// Loads the built-in components (`(name, bytes)`) and every plugin under `plugin_path`.
    pub async fn load(
        engine: &PluginEngine,
        builtins: &[(&str, &[u8])],
        plugin_path: &[PathBuf],
    ) -> Self {
        let mut registry = Self::default();
        for (name, bytes) in builtins {
            let origin = format!("builtin:{name}");
            match Plugin::load(engine, &origin, bytes).await {
                Ok(plugin) => registry.add(plugin, &[]),
                Err(error) => registry.problems.push(LoadProblem { origin, error }),
            }
        }
        for dir in plugin_path {
            for wasm in registry.list_dir(dir) {
                let origin = wasm.display().to_string();
                match load_file(engine, &wasm).await {
                    Ok((plugin, manifest)) => registry.add(plugin, &manifest.aliases),
                    Err(error) => registry.problems.push(LoadProblem { origin, error }),
                }
            }
        }
        for p in &registry.problems {
            tracing::warn!(origin = %p.origin, error = %p.error, "plugin skipped");
        }
        registry
    }

    /// `*.wasm` files directly in `dir`, sorted; an unreadable directory is a problem.
    fn list_dir(&mut self, dir: &Path) -> Vec<PathBuf> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.problems.push(LoadProblem {
                    origin: dir.display().to_string(),
                    error: HostError::Manifest {
                        origin: dir.display().to_string(),
                        reason: format!("cannot read the plugin.path directory: {e}"),
                    },
                });
                return Vec::new();
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        files.sort();
        files
    }

    fn add(&mut self, plugin: Plugin, aliases: &[String]) {
        let name = plugin.spec().name.clone();
        let versions = self.plugins.entry(name.clone()).or_default();
        if let Some(existing) = versions
            .iter()
            .find(|p| p.spec().version == plugin.spec().version)
        {
            self.problems.push(LoadProblem {
                origin: plugin.origin().to_string(),
                error: HostError::Manifest {
                    origin: plugin.origin().to_string(),
                    reason: format!(
                        "{name} {} is already loaded from {}",
                        plugin.spec().version,
                        existing.origin()
                    ),
                },
            });
            return;
        }
        versions.push(plugin);
        versions.sort_by_key(|p| version_key(&p.spec().version));
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        self.add_aliases(&name, &aliases);
    }

    /// Lets `aliases` (class names, and their simple names) resolve to plugin `name`, as a
    /// manifest's aliases do; built-in components are named this way.
    pub fn add_aliases(&mut self, name: &str, aliases: &[&str]) {
        for alias in aliases {
            self.aliases.insert((*alias).to_string(), name.to_string());
            self.aliases
                .entry(simple_name(alias).to_string())
                .or_insert_with(|| name.to_string());
        }
    }

    /// Every loaded plugin, by name, oldest version first.
    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins.values().flatten()
    }

    /// Components that were skipped.
    pub fn problems(&self) -> &[LoadProblem] {
        &self.problems
    }

    /// Finds the plugin for `class` (a plugin name, an alias, or an alias's simple class
    /// name) at `version` (`connector.plugin.version`), or its newest version.
    pub fn resolve(&self, class: &str, version: Option<&str>) -> Result<&Plugin, HostError> {
        let name = if self.plugins.contains_key(class) {
            class
        } else if let Some(name) = self
            .aliases
            .get(class)
            .or_else(|| self.aliases.get(simple_name(class)))
        {
            name.as_str()
        } else {
            return Err(HostError::UnknownPlugin {
                class: class.to_string(),
                known: self.plugins.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        let versions = self
            .plugins
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let found = match version {
            None => versions.last(),
            Some(v) => versions.iter().find(|p| p.spec().version == v),
        };
        found.ok_or_else(|| HostError::UnknownVersion {
            name: name.to_string(),
            version: version.unwrap_or_default().to_string(),
            available: versions
                .iter()
                .map(|p| p.spec().version.clone())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Loads `<stem>.wasm` with its manifest `<stem>.json`.
async fn load_file(engine: &PluginEngine, wasm: &Path) -> Result<(Plugin, Manifest), HostError> {
    let origin = wasm.display().to_string();
    let manifest_err = |reason: String| HostError::Manifest {
        origin: origin.clone(),
        reason,
    };
    let manifest_path = wasm.with_extension("json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        manifest_err(format!(
            "cannot read its manifest {}: {e}",
            manifest_path.display()
        ))
    })?;
    let manifest = Manifest::parse(&text).map_err(&manifest_err)?;
    let bytes = std::fs::read(wasm).map_err(|e| manifest_err(format!("cannot read it: {e}")))?;
    manifest.check_bytes(&bytes).map_err(&manifest_err)?;
    let plugin = Plugin::load(engine, &origin, &bytes).await?;
    let spec = plugin.spec();
    manifest
        .check_plugin(
            &spec.name,
            &spec.version,
            plugin.kind(),
            plugin.capabilities(),
        )
        .map_err(&manifest_err)?;
    Ok((plugin, manifest))
}
