//! One transform's or predicate's configuration: the keys under its prefix
//! (`transforms.<alias>.` or `predicates.<alias>.`), read with Connect's messages naming the
//! full key.

use std::collections::BTreeMap;

use crate::SmtError;

/// The keys of one transform or predicate.
#[derive(Debug)]
pub(crate) struct Settings<'a> {
    prefix: String,
    config: &'a BTreeMap<String, String>,
}

impl<'a> Settings<'a> {
    pub(crate) fn new(prefix: String, config: &'a BTreeMap<String, String>) -> Self {
        Self { prefix, config }
    }

    /// The full key of `name`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// An optional value (blank counts as absent).
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.config
            .get(&self.key(name))
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// A required value.
    pub(crate) fn required(&self, name: &str) -> Result<&'a str, SmtError> {
        self.get(name).ok_or_else(|| {
            SmtError::Config(format!(
                "Missing required configuration \"{}\" which has no default value.",
                self.key(name)
            ))
        })
    }

    /// A bad value, in Connect's words.
    pub(crate) fn invalid(&self, name: &str, value: &str, why: impl std::fmt::Display) -> SmtError {
        SmtError::Config(format!(
            "Invalid value {value} for configuration {}: {why}",
            self.key(name)
        ))
    }

    /// A regular expression that must match a whole text, as Java's `Matcher.matches`.
    pub(crate) fn full_regex(&self, name: &str) -> Result<regex::Regex, SmtError> {
        let pattern = self.required(name)?;
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| self.invalid(name, pattern, format!("Invalid regex: {e}")))
    }
}
