//! log-engine: Culvert's bundled single-node broker that speaks the Kafka wire protocol.
//!
//! - [`log`] is the storage engine: per-partition segmented logs of record batches stored
//!   verbatim, with sparse offset and time indexes, crash recovery and a durability policy.
//! - [`Broker`] holds topics and partitions; [`RunningBroker`] serves them over TCP.
//! - `api` has one module per Kafka API; `server` reads frames and writes responses in order.
//!
//! The crate knows nothing of Kafka Connect; the worker only starts it (see ARCHITECTURE.md).

mod api;
pub mod broker;
mod clock;
pub mod config;
pub mod error;
mod group;
pub mod log;
pub mod partition;
mod server;
pub mod topic;
pub mod topic_config;
mod txn;

pub use broker::{ApiError, Broker};
pub use config::BrokerConfig;
pub use error::{BrokerError, LogError};
pub use server::RunningBroker;
