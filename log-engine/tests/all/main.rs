//! Integration tests of the broker with real Kafka clients (librdkafka through `rdkafka`)
//! and raw protocol frames, gathered in one binary so the build links once.

mod admin;
mod compaction;
mod groups;
mod kcat;
mod produce_consume;
mod protocol;
mod python;
mod sasl;
mod support;
mod transactions;
mod txn_protocol;
