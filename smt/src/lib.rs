//! Single-message transforms (SMTs) and predicates, configured as Kafka Connect configures
//! them: `transforms=a,b`, `transforms.a.type=<class>`, `transforms.a.predicate=p`,
//! `transforms.a.negate=true`, `predicates=p`, `predicates.p.type=<class>`.
//!
//! - [`Record`] is what transforms see: topic, partition, parsed key and value (JSON, with
//!   the Connect schema kept beside the payload when the data carried an envelope), headers
//!   and timestamp.
//! - [`Transform`] and [`Predicate`] are the traits; [`Chain`] is a connector's configured
//!   sequence, built by [`Chain::from_config`] with errors that name the alias and the key.
//! - `transforms/` and `predicates/` hold one file per transform or predicate. So far:
//!   `RegexRouter`, `TimestampRouter`, `ValueToKey`, `Filter`, `DropHeaders`,
//!   `InsertHeader`, the `$Key`/`$Value`
//!   pairs `Cast`, `HoistField`, `ExtractField`, `ReplaceField`, `SetSchemaMetadata`, `MaskField`,
//!   `Flatten`, `InsertField`, `HeaderFrom`, `TimestampConverter`, Debezium's `ExtractNewRecordState` (alias `Unwrap`), Confluent's JSONPath `Filter$Key|$Value`
//!   and `ExtractTopic`, Culvert's `JsonPathExtract`/`JsonPathSet`/`JsonPathRemove`, and the predicates `TopicNameMatches`, `HasHeaderKey`, `RecordIsTombstone`;
//!   `transforms/shape.rs` holds Connect's requirements on the data (map or struct) with its
//!   messages; `date_format.rs` formats Java `SimpleDateFormat` patterns in UTC and
//!   `date_parse.rs` parses text with them. The rest arrives with the SMT issue.

mod chain;
mod config;
mod date_format;
mod date_parse;
mod error;
mod field_path;
mod predicates;
mod record;
#[cfg(test)]
mod testing;
mod transforms;

pub use chain::{Chain, EXTERNAL_PREFIX, ExternalStep, Segment};
pub use error::SmtError;
pub use predicates::CLASSES as PREDICATE_CLASSES;
pub use record::{Data, Header, Record};
pub use transforms::CLASSES as TRANSFORM_CLASSES;

/// A single-message transform: one record in, zero (dropped) or one record out.
pub trait Transform: Send + Sync + std::fmt::Debug {
    /// Transforms `record`; `Ok(None)` drops it.
    fn apply(&self, record: Record) -> Result<Option<Record>, SmtError>;
}

/// A condition a transform can be made conditional on.
pub trait Predicate: Send + Sync + std::fmt::Debug {
    /// Whether `record` matches.
    fn test(&self, record: &Record) -> bool;
}
