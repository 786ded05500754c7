//! The Culvert worker: the `culvert` binary's library half.
//!
//! Today it holds the command line ([`cli`]), configuration loading and the typed worker
//! configuration ([`config`]), the internal topics' record formats ([`stores`]) and the
//! connector components built into the binary ([`builtin`]). The REST API, herder, stores, cluster membership and task runtime
//! land here as their issues do; see ARCHITECTURE.md for the map.

pub mod builtin;
pub mod cli;
pub mod config;
pub mod herder;
pub mod logging;
pub mod rest;
pub mod stores;
