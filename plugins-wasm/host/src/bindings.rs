//! Host bindings generated from `plugins-wasm/wit` (package `culvert:connector@0.1.0`), one
//! per world. The `source-connector` world is generated at this module's root, with the
//! shared interfaces (`types`, `logging`); `sink` and `transform` reuse those.
//!
//! Imports are async host functions; exports are called with `call_*().await` so a guest
//! never blocks a tokio worker thread while the host awaits I/O for it.

#![allow(missing_docs, unreachable_pub, missing_debug_implementations)]

wasmtime::component::bindgen!({
    world: "source-connector",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "culvert:connector/sql.connection": crate::sql::SqlConnection,
        "culvert:connector/object-store.store": crate::object_store::StoreHandle,
        "culvert:connector/object-store.upload": crate::object_store::UploadHandle,
    },
});

pub mod sink {
    //! The `sink-connector` world.
    wasmtime::component::bindgen!({
        world: "sink-connector",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "culvert:connector/types": crate::bindings::culvert::connector::types,
            "culvert:connector/logging": crate::bindings::culvert::connector::logging,
            "culvert:connector/metrics": crate::bindings::culvert::connector::metrics,
            "culvert:connector/http-client": crate::bindings::culvert::connector::http_client,
            "culvert:connector/sql": crate::bindings::culvert::connector::sql,
            "culvert:connector/object-store": crate::bindings::culvert::connector::object_store,
        },
    });
}

pub mod transform {
    //! The `transform` world.
    wasmtime::component::bindgen!({
        world: "transform",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "culvert:connector/types": crate::bindings::culvert::connector::types,
            "culvert:connector/logging": crate::bindings::culvert::connector::logging,
            "culvert:connector/metrics": crate::bindings::culvert::connector::metrics,
        },
    });
}
