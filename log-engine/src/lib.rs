//! log-engine: Culvert's bundled single-node broker that speaks the Kafka wire protocol.
//!
//! - [`log`] is the storage engine: per-partition segmented logs of record batches stored
//!   verbatim, with sparse offset and time indexes, crash recovery and a durability policy.
//!
//! The crate knows nothing of Kafka Connect; the worker only starts it (see ARCHITECTURE.md).

pub mod error;
pub mod log;

pub use error::LogError;
