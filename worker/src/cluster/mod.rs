//! Distributed mode (issue 7), landing piece by piece. So far: `protocol` — Kafka Connect's
//! group-protocol payloads (worker metadata and assignments, V0–V2), byte-compatible with
//! Java workers; `assignor` — the leader's incremental cooperative assignment as pure
//! logic. The membership client and the leader's other duties follow.

pub mod assignor;
pub mod protocol;
