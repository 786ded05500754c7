//! The predicates, one per file, and their class names.

mod has_header_key;
mod record_is_tombstone;
mod topic_name_matches;

use crate::config::Settings;
use crate::{Predicate, SmtError};

const PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

/// The full class names of the predicates [`build`] knows.
pub const CLASSES: [&str; 3] = [
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
];

/// Builds the predicate a `type` names (full class name or the simple one).
pub(crate) fn build(class: &str, s: &Settings<'_>) -> Result<Option<Box<dyn Predicate>>, SmtError> {
    let simple = class.strip_prefix(PACKAGE).unwrap_or(class);
    Ok(Some(match simple {
        "TopicNameMatches" => Box::new(topic_name_matches::TopicNameMatches::new(s)?),
        "HasHeaderKey" => Box::new(has_header_key::HasHeaderKey::new(s)?),
        "RecordIsTombstone" => Box::new(record_is_tombstone::RecordIsTombstone),
        _ => return Ok(None),
    }))
}
