//! The wasmtime engine and linker shared by every plugin of a worker.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine};

use crate::bindings::SourceConnector;
use crate::error::{HostError, describe};
use crate::metrics::PluginMetrics;
use crate::object_store::ObjectClients;
use crate::sql::SqlPools;
use crate::state::StoreState;

/// Resource limits applied to every plugin store.
#[derive(Debug, Clone)]
pub struct PluginLimits {
    /// Largest linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
    /// Most component and core instances per store.
    pub max_instances: usize,
    /// Most tables per store.
    pub max_tables: usize,
    /// Most linear memories per store.
    pub max_memories: usize,
    /// Longest wall-clock time one call into a plugin may take before it is interrupted
    /// (checked every 10 ms while guest code runs).
    pub call_timeout: Duration,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            max_instances: 64,
            max_tables: 64,
            max_memories: 16,
            call_timeout: Duration::from_secs(60),
        }
    }
}

/// One wasmtime [`Engine`] plus the [`Linker`] holding WASI and every host capability.
/// Cheap to clone; create one per worker.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<StoreState>,
    limits: PluginLimits,
    metrics: Arc<PluginMetrics>,
    sql_pools: Arc<SqlPools>,
    object_clients: Arc<ObjectClients>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// Builds the engine: Cranelift, component model, async host calls, epoch interruption
    /// (call deadlines and yields; a thread advances the epoch every 10 ms). WASIp3
    /// concurrency is off, which makes every boundary crossing several times cheaper.
    pub fn new(limits: PluginLimits) -> Result<Self, HostError> {
        Self::with_cache(limits, None)
    }

    /// Like [`PluginEngine::new`], with compiled components cached under `cache_dir`
    /// (wasmtime's cache: keyed by the component's bytes and the engine's settings, so a
    /// changed plugin or a different host build never reuses a stale artifact). A later start
    /// loads a cached component in milliseconds instead of recompiling it.
    pub fn with_cache(limits: PluginLimits, cache_dir: Option<&Path>) -> Result<Self, HostError> {
        let mut config = Config::new();
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                HostError::Engine(format!(
                    "cannot create the plugin cache {}: {e}",
                    dir.display()
                ))
            })?;
            let mut cache = CacheConfig::new();
            cache.with_directory(dir);
            let cache = Cache::new(cache).map_err(|e| {
                HostError::Engine(format!(
                    "cannot use {} as the plugin cache: {}",
                    dir.display(),
                    describe(&e)
                ))
            })?;
            config.cache(Some(cache));
        }
        // One thread per compilation: cranelift's parallel workers keep their allocator
        // heaps for the life of the process (~50 MB after compiling one connector).
        config.parallel_compilation(false);
        config.wasm_component_model(true);
        config.concurrency_support(false);
        config.epoch_interruption(true);
        config.max_wasm_stack(1 << 20);
        let engine = Engine::new(&config).map_err(|e| HostError::Engine(describe(&e)))?;
        crate::sandbox::start_ticker(&engine);
        let mut linker = Linker::<StoreState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| HostError::Engine(describe(&e)))?;
        // The three worlds import the same interfaces; adding the source world's adds all.
        SourceConnector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| HostError::Engine(describe(&e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                limits,
                metrics: Arc::new(PluginMetrics::default()),
                sql_pools: Arc::new(SqlPools::default()),
                object_clients: Arc::new(ObjectClients::default()),
            }),
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<StoreState> {
        &self.inner.linker
    }

    pub(crate) fn limits(&self) -> &PluginLimits {
        &self.inner.limits
    }

    /// The metrics every plugin of this engine recorded (`PluginMetrics::render_prometheus`
    /// gives the text the worker's `/metrics` endpoint serves).
    pub fn metrics(&self) -> Arc<PluginMetrics> {
        Arc::clone(&self.inner.metrics)
    }

    /// The database connection pools the `sql` capability lends from.
    pub(crate) fn sql_pools(&self) -> &Arc<SqlPools> {
        &self.inner.sql_pools
    }

    /// The S3 clients the `object-store` capability uses.
    pub(crate) fn object_clients(&self) -> &Arc<ObjectClients> {
        &self.inner.object_clients
    }
}
