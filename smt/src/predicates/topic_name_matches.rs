//! `TopicNameMatches`: true when the whole topic name matches `pattern`.

use crate::config::Settings;
use crate::{Predicate, Record, SmtError};

#[derive(Debug)]
pub(crate) struct TopicNameMatches {
    pattern: regex::Regex,
}

impl TopicNameMatches {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        Ok(Self {
            pattern: s.full_regex("pattern")?,
        })
    }
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &Record) -> bool {
        self.pattern.is_match(&record.topic)
    }
}
