//! One transform's or predicate's configuration: the keys under its prefix
//! (`transforms.<alias>.` or `predicates.<alias>.`), read with Connect's messages naming the
//! full key.

use std::collections::BTreeMap;

use crate::SmtError;

/// The items of a comma-separated list value, trimmed, blanks skipped (Connect's `LIST`).
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_string)
        .collect()
}

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

    /// A required, non-empty comma-separated list (Connect's `NonEmptyListValidator`).
    pub(crate) fn list(&self, name: &str) -> Result<Vec<String>, SmtError> {
        let text = self.required(name)?;
        let items = split_list(text);
        if items.is_empty() {
            return Err(self.invalid(name, text, "Empty list"));
        }
        Ok(items)
    }

    /// A boolean with a default (`true`/`false`, any case).
    pub(crate) fn boolean(&self, name: &str, default: bool) -> Result<bool, SmtError> {
        match self.get(name).map(str::trim) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(self.invalid(name, v, "Expected value to be either true or false")),
        }
    }

    /// `field.syntax.version` (KIP-821) for transforms that read top-level names only: `V1`
    /// is accepted, `V2` (nested paths, see `field_path`) refused with a reason.
    pub(crate) fn field_syntax_v1(&self) -> Result<(), SmtError> {
        match self.get("field.syntax.version").map(str::trim) {
            None => Ok(()),
            Some(v) if v.eq_ignore_ascii_case("V1") => Ok(()),
            Some(v) if v.eq_ignore_ascii_case("V2") => Err(self.invalid(
                "field.syntax.version",
                v,
                "nested field paths (V2) are supported by ExtractField so far, not by this \
                 transform; use V1 (top-level fields)",
            )),
            Some(v) => Err(self.invalid(
                "field.syntax.version",
                v,
                "String must be one of (case insensitive): V1, V2",
            )),
        }
    }

    /// A regular expression that must match a whole text, as Java's `Matcher.matches`.
    pub(crate) fn full_regex(&self, name: &str) -> Result<regex::Regex, SmtError> {
        let pattern = self.required(name)?;
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| self.invalid(name, pattern, format!("Invalid regex: {e}")))
    }
}
