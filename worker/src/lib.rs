//! The Culvert worker: the `culvert` binary's library half.
//!
//! It holds the command line ([`cli`]), configuration loading and the typed worker
//! configuration ([`config`]), the internal topics' stores ([`stores`]), the connectors'
//! lifecycle ([`herder`]), the task runtime ([`runtime`]), the REST API ([`rest`]) and the
//! connector components built into the binary ([`builtin`]), and distributed mode
//! ([`cluster`]: group membership, assignment, fencing); see ARCHITECTURE.md for the map.

pub mod builtin;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod herder;
pub mod logging;
pub mod rest;
pub mod runtime;
pub mod stores;
