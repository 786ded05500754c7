//! The sandbox around every plugin: which imports a component may have (checked at load),
//! and the per-call deadline enforced with wasmtime's epoch interruption.
//!
//! Plugins get WASI p2 without preopened directories, sockets or environment (see
//! `state.rs`), plus the `culvert:connector` host interfaces. Raw sockets are never granted:
//! the network is reached through host capabilities that enforce per-connector allowlists.

use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{Engine, StoreContextMut, UpdateDeadline};

use crate::state::StoreState;

/// How often the engine's epoch advances; the granularity of call deadlines and of yields
/// back to tokio from long-running guest code.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Import prefixes every plugin may have. `wasi:filesystem` is there because Rust's standard
/// library imports it; with no preopened directory it reaches nothing.
const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    "wasi:filesystem/",
    "culvert:connector/types@",
    "culvert:connector/logging@",
    "culvert:connector/metrics@",
];

/// Host capabilities: `(import prefix, capability name)`. A plugin from `plugin.path` may
/// import one only if its manifest requests it; what it may reach is granted per connector.
pub(crate) const CAPABILITIES: &[(&str, &str)] = &[
    ("culvert:connector/http-client@", "http-client"),
    ("culvert:connector/sql@", "sql"),
    ("culvert:connector/object-store@", "object-store"),
];

/// Imports no plugin is ever granted, with the reason given in the load error.
const DENIED_IMPORTS: &[(&str, &str)] = &[(
    "wasi:sockets/",
    "plugins never get raw sockets; reach the network through the http-client capability",
)];

/// Checks every import of `component` against what plugins may use; returns the names of
/// the capabilities it imports.
pub(crate) fn check_imports(
    engine: &Engine,
    component: &Component,
) -> Result<Vec<&'static str>, String> {
    let mut capabilities = Vec::new();
    for (name, _) in component.component_type().imports(engine) {
        if ALLOWED_IMPORTS.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        if let Some((_, cap)) = CAPABILITIES.iter().find(|(p, _)| name.starts_with(p)) {
            capabilities.push(*cap);
            continue;
        }
        if let Some((_, why)) = DENIED_IMPORTS.iter().find(|(p, _)| name.starts_with(p)) {
            return Err(format!("imports {name}, which is not granted: {why}"));
        }
        return Err(format!(
            "imports {name}, which this host does not provide (it offers WASI p2 clocks, \
             random, io and cli, and the culvert:connector@0.1 interfaces)"
        ));
    }
    Ok(capabilities)
}

/// The deadline of the guest call in progress, if any.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallDeadline {
    current: Option<(Instant, &'static str)>,
}

impl CallDeadline {
    pub(crate) fn begin(&mut self, call: &'static str, timeout: Duration) {
        self.current = Some((Instant::now() + timeout, call));
    }

    pub(crate) fn end(&mut self) {
        self.current = None;
    }
}

/// Runs at every epoch tick while guest code runs: traps a call past its deadline, otherwise
/// yields to tokio so one busy plugin cannot hold a worker thread.
pub(crate) fn on_epoch(store: StoreContextMut<'_, StoreState>) -> wasmtime::Result<UpdateDeadline> {
    let state = store.data();
    match state.deadline.current {
        Some((at, call)) if Instant::now() >= at => Err(wasmtime::Error::msg(format!(
            "{call} ran past its deadline of {} ms (plugin.call.timeout.ms) and was interrupted",
            state.call_timeout.as_millis()
        ))),
        _ => Ok(UpdateDeadline::Yield(1)),
    }
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is dropped.
pub(crate) fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        // Without the ticker no deadline fires; say so loudly rather than fail the worker.
        tracing::error!(error = %e, "cannot start the plugin epoch ticker; call deadlines are off");
    }
}
