//! `RegexRouter`: renames the topic when the whole topic matches `regex`, to `replacement`
//! (`$1`-style group references).

use crate::config::Settings;
use crate::{Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct RegexRouter {
    regex: regex::Regex,
    replacement: String,
}

impl RegexRouter {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        Ok(Self {
            regex: s.full_regex("regex")?,
            replacement: s.required("replacement")?.to_string(),
        })
    }
}

impl Transform for RegexRouter {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        if self.regex.is_match(&record.topic) {
            record.topic = self
                .regex
                .replace(&record.topic, self.replacement.as_str())
                .into_owned();
        }
        Ok(Some(record))
    }
}
