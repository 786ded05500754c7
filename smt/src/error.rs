//! Errors of transform configuration and application.

/// Why a chain could not be built or a record could not be transformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtError {
    /// A configuration problem, in Connect's wording, naming the key.
    #[error("{0}")]
    Config(String),
    /// A record the transform cannot handle (wrong shape, missing field).
    #[error("{0}")]
    Data(String),
}
