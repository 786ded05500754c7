//! Distributed mode: workers form a cluster over the Kafka group protocol.
//!
//! - `transport` — TCP or TLS to a broker; `sasl` — PLAIN and SCRAM logins.
//! - `connection` — one broker connection with negotiated API versions and SASL.
//! - `member` — the group-membership client (FindCoordinator, JoinGroup, SyncGroup,
//!   Heartbeat, LeaveGroup), payload-agnostic.
//! - `protocol` — Kafka Connect's group payloads (worker metadata and assignments, V0–V2),
//!   byte-compatible with Java workers.
//! - `assignor` — the leader's incremental cooperative assignment, as pure logic.
//! - `lease` — fencing: tasks write only while the membership is confirmed.
//! - `worker_group` — the loop tying it together: joins, assigns as leader, applies the
//!   assignment to the runtime, heartbeats, and publishes the cluster view for REST.

pub mod assignor;
pub mod connection;
pub mod lease;
pub mod member;
pub mod protocol;
pub mod sasl;
pub mod transport;
pub mod worker_group;

use kafka_protocol::error::ResponseError;

pub use lease::Lease;
pub use worker_group::{ClusterView, WorkerGroup};

/// Why a membership request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connection to {addr} failed: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls { addr: String, reason: String },
    #[error("SASL authentication at {addr} failed: {reason}")]
    Authentication { addr: String, reason: String },
    #[error("timed out {what} ({addr})")]
    Timeout { addr: String, what: String },
    #[error("{addr} broke the protocol: {reason}")]
    Protocol { addr: String, reason: String },
    #[error(
        "{addr} does not serve {api} in a version this worker speaks (ours {ours:?}, the broker's {theirs:?})"
    )]
    Unsupported {
        addr: String,
        api: String,
        ours: (i16, i16),
        theirs: Option<(i16, i16)>,
    },
    #[error("{api} failed at {addr}: {error} (error code {code})")]
    Broker {
        addr: String,
        api: &'static str,
        code: i16,
        error: String,
    },
    #[error("no group coordinator could be found through bootstrap.servers")]
    NoCoordinator,
}

impl ClusterError {
    fn broker(addr: &str, api: &'static str, code: i16) -> Self {
        let error = ResponseError::try_from_code(code)
            .map_or_else(|| "no error".to_string(), |e| e.to_string());
        ClusterError::Broker {
            addr: addr.to_string(),
            api,
            code,
            error,
        }
    }

    /// The broker's error, when it answered with one.
    pub fn response_error(&self) -> Option<ResponseError> {
        match self {
            ClusterError::Broker { code, .. } => ResponseError::try_from_code(*code),
            _ => None,
        }
    }

    /// Whether the coordinator must be looked up again.
    fn coordinator_lost(&self) -> bool {
        match self.response_error() {
            Some(e) => matches!(
                e,
                ResponseError::NotCoordinator
                    | ResponseError::CoordinatorNotAvailable
                    | ResponseError::CoordinatorLoadInProgress
            ),
            None => !matches!(self, ClusterError::Unsupported { .. }),
        }
    }
}
