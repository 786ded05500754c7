//! Loading a component: compile it, check its imports against the sandbox, work out which
//! world it implements, link it, and ask it for its spec.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Component;

use crate::bindings::culvert::connector::types as wit;
use crate::bindings::sink::{SinkConnector, SinkConnectorPre};
use crate::bindings::transform::{Transform, TransformPre};
use crate::bindings::{SourceConnector, SourceConnectorPre};
use crate::engine::PluginEngine;
use crate::error::{HostError, describe};
use crate::grants::Grants;
use crate::state::{LogContext, StoreState};

/// Which world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// `source-connector`: produces records into topics.
    Source,
    /// `sink-connector`: writes records from topics somewhere.
    Sink,
    /// `transform`: a single-message transform.
    Transform,
}

impl PluginKind {
    /// The name Kafka Connect's REST API uses (`"source"`, `"sink"`, `"transformation"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Source => "source",
            PluginKind::Sink => "sink",
            PluginKind::Transform => "transformation",
        }
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a plugin's configuration definition, with Kafka Connect's type and
/// importance names (`"STRING"`, `"HIGH"`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKeySpec {
    pub name: String,
    pub type_name: &'static str,
    pub default_value: Option<String>,
    pub required: bool,
    pub importance: &'static str,
    pub documentation: String,
    pub group: Option<String>,
}

/// What a plugin says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config_def: Vec<ConfigKeySpec>,
}

/// A loaded plugin: compiled, linked and inspected. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

/// A linked component, ready to instantiate, per world.
enum Pre {
    Source(SourceConnectorPre<StoreState>),
    Sink(SinkConnectorPre<StoreState>),
    Transform(TransformPre<StoreState>),
}

/// One instance of a plugin, per world.
pub(crate) enum Instance {
    Source(SourceConnector),
    Sink(SinkConnector),
    Transform(Transform),
}

struct Inner {
    origin: String,
    kind: PluginKind,
    spec: PluginSpec,
    /// Host capabilities the component imports (e.g. `http-client`).
    capabilities: Vec<&'static str>,
    engine: PluginEngine,
    pre: Pre,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("origin", &self.inner.origin)
            .field("kind", &self.inner.kind)
            .field("spec", &self.inner.spec)
            .finish_non_exhaustive()
    }
}

const WASM_MAGIC: &[u8; 4] = b"\0asm";
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];
const SOURCE_EXPORT: &str = "culvert:connector/source@";
const SINK_EXPORT: &str = "culvert:connector/sink@";
const TRANSFORM_EXPORT: &str = "culvert:connector/transformation@";

impl Pre {
    fn new(
        kind: PluginKind,
        pre: wasmtime::component::InstancePre<StoreState>,
    ) -> wasmtime::Result<Self> {
        Ok(match kind {
            PluginKind::Source => Pre::Source(SourceConnectorPre::new(pre)?),
            PluginKind::Sink => Pre::Sink(SinkConnectorPre::new(pre)?),
            PluginKind::Transform => Pre::Transform(TransformPre::new(pre)?),
        })
    }

    async fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Pre::Source(p) => Instance::Source(p.instantiate_async(store).await?),
            Pre::Sink(p) => Instance::Sink(p.instantiate_async(store).await?),
            Pre::Transform(p) => Instance::Transform(p.instantiate_async(store).await?),
        })
    }
}

impl Instance {
    async fn spec(&self, store: &mut Store<StoreState>) -> wasmtime::Result<wit::PluginSpec> {
        match self {
            Instance::Source(i) => i.call_spec(store).await,
            Instance::Sink(i) => i.call_spec(store).await,
            Instance::Transform(i) => i.call_spec(store).await,
        }
    }

    async fn validate(
        &self,
        store: &mut Store<StoreState>,
        cfg: &[(String, String)],
    ) -> wasmtime::Result<Vec<wit::ConfigIssue>> {
        let cfg = cfg.to_vec();
        match self {
            Instance::Source(i) => i.call_validate(store, &cfg).await,
            Instance::Sink(i) => i.call_validate(store, &cfg).await,
            Instance::Transform(i) => i.call_validate(store, &cfg).await,
        }
    }
}

type Configs = Vec<Vec<(String, String)>>;

impl Plugin {
    /// Compiles `bytes` and loads the component. `origin` names where the bytes came from
    /// (a file path, or `builtin:<name>`) in every error.
    pub async fn load(
        engine: &PluginEngine,
        origin: &str,
        bytes: &[u8],
    ) -> Result<Self, HostError> {
        let invalid = |reason: String| HostError::InvalidComponent {
            origin: origin.to_string(),
            reason,
        };
        if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
            return Err(invalid(
                "the file does not start with the WebAssembly magic bytes".into(),
            ));
        }
        if bytes[4..8] == CORE_MODULE_VERSION {
            return Err(invalid(
                "this is a core WebAssembly module, not a component; build the plugin with \
                 `cargo build --target wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
                    .into(),
            ));
        }
        // Compiling is seconds of CPU at worst: off the async threads, which may be serving
        // an embedded broker. The blocking thread's memory goes back to the allocator when
        // the thread retires.
        let compile_engine = engine.engine().clone();
        let owned = bytes.to_vec();
        let component = tokio::task::spawn_blocking(move || {
            Component::new(&compile_engine, &owned).map_err(|e| describe(&e))
        })
        .await
        .map_err(|e| invalid(format!("the compilation was lost: {e}")))?
        .map_err(invalid)?;
        let kind =
            detect_kind(engine, &component).map_err(|reason| HostError::UnsupportedComponent {
                origin: origin.to_string(),
                reason,
            })?;
        let capabilities =
            crate::sandbox::check_imports(engine.engine(), &component).map_err(|reason| {
                HostError::Denied {
                    origin: origin.to_string(),
                    reason,
                }
            })?;
        let link_err = |e: wasmtime::Error| HostError::Link {
            origin: origin.to_string(),
            reason: describe(&e),
        };
        let pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(link_err)?;
        let pre = Pre::new(kind, pre).map_err(|e| HostError::UnsupportedComponent {
            origin: origin.to_string(),
            reason: format!(
                "exports do not match the {} world: {}",
                kind.as_str(),
                describe(&e)
            ),
        })?;
        let spec = query_spec(engine, &pre, origin).await?;
        if spec.name.trim().is_empty() {
            return Err(HostError::Contract {
                plugin: origin.to_string(),
                call: "spec",
                reason: "the plugin name is empty".into(),
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                origin: origin.to_string(),
                kind,
                spec,
                capabilities,
                engine: engine.clone(),
                pre,
            }),
        })
    }

    /// Where the plugin was loaded from.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The world the plugin implements.
    pub fn kind(&self) -> PluginKind {
        self.inner.kind
    }

    /// Name, version, description and configuration definition.
    pub fn spec(&self) -> &PluginSpec {
        &self.inner.spec
    }

    /// Host capabilities the component imports (e.g. `http-client`).
    pub fn capabilities(&self) -> &[&'static str] {
        &self.inner.capabilities
    }

    /// Checks a connector (or transform) configuration; returns `(key, message)` for every
    /// problem.
    pub async fn validate(
        &self,
        connector: &str,
        config: &[(String, String)],
    ) -> Result<Vec<(String, String)>, HostError> {
        let (mut store, instance) = self
            .instantiate(connector, None, &Grants::none(), "validate")
            .await?;
        store.data_mut().begin_call("validate");
        let issues = instance
            .validate(&mut store, config)
            .await
            .map_err(|e| self.trap("validate", &e))?;
        Ok(issues.into_iter().map(|i| (i.key, i.message)).collect())
    }

    /// Splits a connector configuration into at most `max_tasks` task configurations.
    /// `Ok(Err(message))` is the plugin refusing the configuration.
    pub async fn task_configs(
        &self,
        connector: &str,
        config: &[(String, String)],
        max_tasks: u32,
    ) -> Result<Result<Configs, String>, HostError> {
        let (mut store, instance) = self
            .instantiate(connector, None, &Grants::none(), "task-configs")
            .await?;
        store.data_mut().begin_call("task-configs");
        let config = config.to_vec();
        let configs = match &instance {
            Instance::Source(i) => i.call_task_configs(&mut store, &config, max_tasks).await,
            Instance::Sink(i) => i.call_task_configs(&mut store, &config, max_tasks).await,
            Instance::Transform(_) => return Err(self.wrong_kind("connector")),
        }
        .map_err(|e| self.trap("task-configs", &e))?;
        if let Ok(list) = &configs
            && list.len() > max_tasks.max(1) as usize
        {
            return Err(HostError::Contract {
                plugin: self.inner.spec.name.clone(),
                call: "task-configs",
                reason: format!(
                    "returned {} task configs for max-tasks {max_tasks}",
                    list.len()
                ),
            });
        }
        Ok(configs)
    }

    /// A fresh store and instance for one connector or task.
    pub(crate) async fn instantiate(
        &self,
        connector: &str,
        task: Option<u32>,
        grants: &Grants,
        call: &'static str,
    ) -> Result<(Store<StoreState>, Instance), HostError> {
        let log = LogContext {
            plugin: self.inner.spec.name.clone(),
            connector: connector.to_string(),
            task,
        };
        let mut store =
            new_store(&self.inner.engine, log, grants).map_err(|reason| HostError::Trap {
                plugin: self.inner.spec.name.clone(),
                call,
                reason,
            })?;
        store.data_mut().begin_call(call);
        let instance = self
            .inner
            .pre
            .instantiate(&mut store)
            .await
            .map_err(|e| self.trap(call, &e))?;
        store.data_mut().end_call();
        Ok((store, instance))
    }

    pub(crate) fn trap(&self, call: &'static str, err: &wasmtime::Error) -> HostError {
        HostError::Trap {
            plugin: self.inner.spec.name.clone(),
            call,
            reason: describe(err),
        }
    }

    /// The error for using this plugin as a kind it is not.
    pub(crate) fn wrong_kind(&self, wanted: &'static str) -> HostError {
        HostError::WrongKind {
            plugin: self.inner.spec.name.clone(),
            wanted,
            actual: self.inner.kind.as_str(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.inner.spec.name
    }
}

fn new_store(
    engine: &PluginEngine,
    log: LogContext,
    grants: &Grants,
) -> Result<Store<StoreState>, String> {
    let state = StoreState::new(
        engine.limits(),
        log,
        grants,
        engine.metrics(),
        engine.sql_pools(),
        engine.object_clients(),
    )?;
    let mut store = Store::new(engine.engine(), state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(crate::sandbox::on_epoch);
    Ok(store)
}

fn detect_kind(engine: &PluginEngine, component: &Component) -> Result<PluginKind, String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    let has = |prefix: &str| exports.iter().any(|n| n.starts_with(prefix));
    let kinds = [
        (has(SOURCE_EXPORT), PluginKind::Source),
        (has(SINK_EXPORT), PluginKind::Sink),
        (has(TRANSFORM_EXPORT), PluginKind::Transform),
    ];
    let mut found = kinds
        .iter()
        .filter(|(present, _)| *present)
        .map(|(_, k)| *k);
    match (found.next(), found.next()) {
        (Some(kind), None) => Ok(kind),
        (Some(a), Some(b)) => Err(format!(
            "exports both the {a} and the {b} interfaces; a plugin implements one world"
        )),
        (None, _) => Err(format!(
            "exports none of the culvert:connector@0.1 worlds this host runs (source-connector, \
             sink-connector, transform); it exports [{}]",
            exports.join(", ")
        )),
    }
}

async fn query_spec(
    engine: &PluginEngine,
    pre: &Pre,
    origin: &str,
) -> Result<PluginSpec, HostError> {
    let log = LogContext {
        plugin: origin.to_string(),
        connector: String::new(),
        task: None,
    };
    let mut store = new_store(engine, log, &Grants::none()).map_err(|reason| HostError::Trap {
        plugin: origin.to_string(),
        call: "spec",
        reason,
    })?;
    store.data_mut().begin_call("spec");
    let trap = |e: wasmtime::Error| HostError::Trap {
        plugin: origin.to_string(),
        call: "spec",
        reason: describe(&e),
    };
    let instance = pre.instantiate(&mut store).await.map_err(trap)?;
    let spec = instance.spec(&mut store).await.map_err(trap)?;
    Ok(PluginSpec {
        name: spec.name,
        version: spec.version,
        description: spec.description,
        config_def: spec.config_def.into_iter().map(convert_key).collect(),
    })
}

fn convert_key(key: wit::ConfigKey) -> ConfigKeySpec {
    ConfigKeySpec {
        name: key.name,
        type_name: match key.type_ {
            wit::ConfigType::Boolean => "BOOLEAN",
            wit::ConfigType::Int => "INT",
            wit::ConfigType::Long => "LONG",
            wit::ConfigType::Double => "DOUBLE",
            wit::ConfigType::String => "STRING",
            wit::ConfigType::Password => "PASSWORD",
            wit::ConfigType::List => "LIST",
        },
        default_value: key.default_value,
        required: key.required,
        importance: match key.importance {
            wit::Importance::High => "HIGH",
            wit::Importance::Medium => "MEDIUM",
            wit::Importance::Low => "LOW",
        },
        documentation: key.documentation,
        group: key.group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PluginLimits;

    async fn load(bytes: &[u8]) -> HostError {
        let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
        Plugin::load(&engine, "test.wasm", bytes)
            .await
            .expect_err("must not load")
    }

    #[tokio::test]
    async fn non_wasm_bytes_are_rejected_with_the_origin() {
        let err = load(b"#!/bin/sh\necho hi\n").await.to_string();
        assert_eq!(
            err,
            "plugin test.wasm: not a valid WebAssembly component: the file does not start with \
             the WebAssembly magic bytes"
        );
    }

    #[tokio::test]
    async fn a_core_module_is_told_to_build_a_component() {
        let err = load(b"\0asm\x01\0\0\0").await.to_string();
        assert!(
            err.contains("core WebAssembly module, not a component"),
            "{err}"
        );
        assert!(err.contains("wasm32-wasip2"), "{err}");
    }

    #[tokio::test]
    async fn a_component_exporting_no_world_is_unsupported() {
        // The smallest valid component: just the header, no imports, no exports.
        let err = load(b"\0asm\x0d\0\x01\0").await;
        assert!(
            matches!(err, HostError::UnsupportedComponent { .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("exports none of the culvert:connector"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_truncated_component_is_invalid() {
        // A component header followed by a section id whose length runs past the end.
        let err = load(b"\0asm\x0d\0\x01\0\x01\xff\xff").await;
        assert!(matches!(err, HostError::InvalidComponent { .. }), "{err}");
    }
}
