//! Per-store state: what one plugin instance (one task, or one connector call) may touch.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::engine::PluginLimits;
use crate::grants::Grants;
use crate::http::HttpClient;
use crate::metrics::PluginMetrics;
use crate::object_store::{ObjectAccess, ObjectClients};
use crate::sandbox::CallDeadline;
use crate::sql::{SqlAccess, SqlPools};

/// Who is running in a store; attached to every log line the plugin writes.
#[derive(Debug, Clone)]
pub(crate) struct LogContext {
    pub(crate) plugin: String,
    pub(crate) connector: String,
    /// `None` for connector-half calls (spec, validate, task-configs).
    pub(crate) task: Option<u32>,
}

/// The data of one wasmtime store.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) log: LogContext,
    pub(crate) deadline: CallDeadline,
    pub(crate) call_timeout: Duration,
    /// The `http-client` capability; `None` when the connector grants no host.
    pub(crate) http: Option<Arc<HttpClient>>,
    /// The `sql` capability; `None` when the connector grants no database.
    pub(crate) sql: Option<Arc<SqlAccess>>,
    /// The `object-store` capability; `None` when the connector grants no bucket.
    pub(crate) objects: Option<Arc<ObjectAccess>>,
    /// Where the `metrics` capability records.
    pub(crate) metrics: Arc<PluginMetrics>,
}

impl std::fmt::Debug for StoreState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreState")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl StoreState {
    /// A store with nothing granted: WASI's defaults give no filesystem, no sockets, no
    /// environment, closed stdin and discarded stdout/stderr.
    pub(crate) fn new(
        limits: &PluginLimits,
        log: LogContext,
        grants: &Grants,
        metrics: Arc<PluginMetrics>,
        sql_pools: &Arc<SqlPools>,
        object_clients: &Arc<ObjectClients>,
    ) -> Result<Self, String> {
        let objects = (!grants.objects.is_empty()).then(|| {
            Arc::new(ObjectAccess {
                grant: grants.objects.clone(),
                hosts: grants.http.clone(),
                clients: Arc::clone(object_clients),
            })
        });
        let sql = (!grants.sql.is_empty()).then(|| {
            Arc::new(SqlAccess {
                grant: grants.sql.clone(),
                pools: Arc::clone(sql_pools),
            })
        });
        let http = if grants.http.hosts.is_empty() {
            None
        } else {
            Some(Arc::new(HttpClient::new(grants.http.clone())?))
        };
        Ok(Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .instances(limits.max_instances)
                .tables(limits.max_tables)
                .memories(limits.max_memories)
                .trap_on_grow_failure(true)
                .build(),
            log,
            deadline: CallDeadline::default(),
            call_timeout: limits.call_timeout,
            http,
            sql,
            objects,
            metrics,
        })
    }

    /// The store's resource table (WASI handles and capability handles).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Arms the deadline for guest call `call`.
    pub(crate) fn begin_call(&mut self, call: &'static str) {
        let timeout = self.call_timeout;
        self.deadline.begin(call, timeout);
    }

    /// Disarms the deadline once a call returned.
    pub(crate) fn end_call(&mut self) {
        self.deadline.end();
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
