//! Integration tests of the `culvert` crate, gathered in one binary so CI links once.

mod broker;
mod cli;
mod cluster;
mod datagen;
mod http_sink;
mod jdbc;
mod kafka_connect_py;
mod membership;
mod openapi;
mod pipeline;
mod rest;
mod retry_topics;
mod secured;
mod standalone;
mod stores;
mod wasm_transform;
