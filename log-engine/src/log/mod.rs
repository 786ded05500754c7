//! The storage engine: per-partition segmented logs.
//!
//! - `batch`: the v2 record batch header (parse, validate, assign offsets).
//! - `index`: sparse offset and time indexes.
//! - `records`: codecs and raw record walking inside a batch.
//! - `segment`: one `.log` file with its indexes; append, positional reads, recovery.
//! - `producer_state`: idempotent producers' epochs and sequences per partition.
//! - `transactions`: open and aborted transactions per partition (last stable offset).
//! - [`PartitionLog`]: segments of one partition; offsets, reads, durability, recovery.

pub mod batch;
mod index;
mod partition;
mod producer_state;
mod records;
mod segment;
mod transactions;

pub use partition::{
    AppendInfo, CompactReport, FlushPolicy, Isolation, LocatedRead, MAX_SEGMENT_BYTES, OpenReport,
    PartitionConfig, PartitionLog, PendingSync, ReadResult,
};
pub use producer_state::ProducerSnapshot;
pub use segment::FileSlice;
pub use transactions::{AbortedTxn, Marker};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod transaction_tests;
