//! Errors of the storage engine.

use std::path::PathBuf;

/// What went wrong in the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A record batch handed to `append` is malformed; nothing was written.
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
    /// A batch is larger than the topic's `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    BatchTooLarge { size: usize, max: usize },
    /// A read asked for an offset outside `[log start, log end]`.
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// An idempotent batch does not follow its producer's last sequence.
    #[error("out of order sequence number: expected {expected}, got {got}")]
    OutOfOrderSequence { expected: i32, got: i32 },
    /// An idempotent batch carries an epoch older than its producer's current one.
    #[error("producer epoch {got} is older than the current epoch {current}")]
    InvalidProducerEpoch { got: i16, current: i16 },
    /// The partition directory holds something the engine cannot interpret.
    #[error("corrupt partition {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl LogError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| LogError::Io { op, path, source }
    }
}

/// What went wrong starting or running the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Storage failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Another broker process uses the data directory.
    #[error("data directory {0} is in use by another broker (lock file .lock is held)")]
    DataDirLocked(PathBuf),
    /// The metadata files could not be read or written.
    #[error("broker metadata {path}: {reason}")]
    Metadata { path: PathBuf, reason: String },
}
