//! The predicates, one per file, and their class names.

mod topic_name_matches;

use crate::config::Settings;
use crate::{Predicate, SmtError};

const PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

/// The full class names of the predicates [`build`] knows.
pub const CLASSES: [&str; 1] = ["org.apache.kafka.connect.transforms.predicates.TopicNameMatches"];

/// Builds the predicate a `type` names (full class name or the simple one).
pub(crate) fn build(class: &str, s: &Settings<'_>) -> Result<Option<Box<dyn Predicate>>, SmtError> {
    let simple = class.strip_prefix(PACKAGE).unwrap_or(class);
    Ok(Some(match simple {
        "TopicNameMatches" => Box::new(topic_name_matches::TopicNameMatches::new(s)?),
        _ => return Ok(None),
    }))
}
