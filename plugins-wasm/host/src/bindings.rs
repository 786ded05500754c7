//! Host bindings generated from `plugins-wasm/wit` (package `culvert:connector@0.1.0`).
//! Imports are async host functions; exports are called with `call_*().await` so a guest
//! never blocks a tokio worker thread while the host awaits I/O for it.

#![allow(missing_docs, unreachable_pub, missing_debug_implementations)]

wasmtime::component::bindgen!({
    world: "source-connector",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});
