//! Typed reads of flat `key = value` properties with Kafka Connect's error messages
//! (`Invalid value X for configuration K: reason`), collecting every problem instead of
//! stopping at the first, and noting which keys were read so the rest can be reported as
//! unknown (with the nearest known key as a hint).

use std::collections::{BTreeMap, BTreeSet};

/// Reads properties, collecting errors.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    props: &'a BTreeMap<String, String>,
    known: BTreeSet<String>,
    prefixes: Vec<String>,
    errors: Vec<String>,
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'a> Reader<'a> {
    pub(crate) fn new(props: &'a BTreeMap<String, String>) -> Self {
        Self {
            props,
            known: BTreeSet::new(),
            prefixes: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Records a problem with `key`.
    pub(crate) fn invalid(&mut self, key: &str, value: &str, reason: &str) {
        self.errors.push(format!(
            "Invalid value {value} for configuration {key}: {reason}"
        ));
    }

    /// Records a problem worded by the caller.
    pub(crate) fn problem(&mut self, problem: String) {
        self.errors.push(problem);
    }

    /// The raw value of `key`, trimmed; marks the key known.
    pub(crate) fn raw(&mut self, key: &str) -> Option<&'a str> {
        self.known.insert(key.to_string());
        self.props.get(key).map(|v| v.trim())
    }

    /// A string with a default.
    pub(crate) fn string(&mut self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or(default).to_string()
    }

    /// An optional string (empty counts as absent).
    pub(crate) fn optional(&mut self, key: &str) -> Option<String> {
        self.raw(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// A string that must be present and non-empty.
    pub(crate) fn required(&mut self, key: &str) -> String {
        match self.optional(key) {
            Some(v) => v,
            None => {
                self.errors.push(format!(
                    "Missing required configuration \"{key}\" which has no default value."
                ));
                String::new()
            }
        }
    }

    /// An integer within `min..=max`.
    pub(crate) fn int(&mut self, key: &str, default: i64, min: i64, max: i64) -> i64 {
        let Some(text) = self.raw(key) else {
            return default;
        };
        match text.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => v,
            Ok(_) => {
                self.invalid(key, text, &format!("Value must be between {min} and {max}"));
                default
            }
            Err(_) => {
                self.invalid(key, text, "Not a number of type LONG");
                default
            }
        }
    }

    /// `true` or `false`, in any case.
    pub(crate) fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.raw(key).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(_) => {
                let text = self.raw(key).unwrap_or_default();
                self.invalid(key, text, "Expected value to be either true or false");
                default
            }
        }
    }

    /// A comma-separated list (entries trimmed, empty entries dropped).
    pub(crate) fn list(&mut self, key: &str, default: &[&str]) -> Vec<String> {
        match self.raw(key) {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some(text) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// One of `options` (matched ignoring case); returns the option's own spelling.
    pub(crate) fn choice(
        &mut self,
        key: &str,
        default: &'static str,
        options: &[&'static str],
    ) -> &'static str {
        let Some(text) = self.raw(key) else {
            return default;
        };
        match options.iter().find(|o| o.eq_ignore_ascii_case(text)) {
            Some(o) => o,
            None => {
                self.invalid(
                    key,
                    text,
                    &format!("String must be one of: {}", options.join(", ")),
                );
                default
            }
        }
    }

    /// Every key under `prefix` (with the prefix removed); all of them count as known.
    pub(crate) fn prefixed(&mut self, prefix: &str) -> BTreeMap<String, String> {
        self.prefixes.push(prefix.to_string());
        self.props
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_string(), v.clone()))
            })
            .filter(|(k, _)| !k.is_empty())
            .collect()
    }

    /// The errors found, and a warning for every key nothing read.
    pub(crate) fn finish(self) -> (Vec<String>, Vec<String>) {
        let mut warnings = Vec::new();
        for key in self.props.keys() {
            if self.known.contains(key) || self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
            {
                continue;
            }
            let nearest = self
                .known
                .iter()
                .map(|k| (distance(key, k), k))
                .min()
                .filter(|(d, _)| *d <= 3);
            warnings.push(match nearest {
                Some((_, k)) => {
                    format!("unknown configuration key {key} is ignored (did you mean {k}?)")
                }
                None => format!("unknown configuration key {key} is ignored"),
            });
        }
        (self.errors, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn typed_reads_report_every_problem_in_connects_words() {
        let p = props(&[
            ("a", "x"),
            ("b", "TRUE"),
            ("c", "5"),
            ("d", "maybe"),
            ("e", "Eager"),
            ("f", "x, ,y"),
            ("producer.acks", "all"),
            ("lisenters", "http://:1"),
        ]);
        let mut r = Reader::new(&p);
        assert_eq!(r.int("a", 1, 0, 10), 1);
        assert!(r.boolean("b", false));
        assert_eq!(r.int("c", 1, 0, 3), 1);
        assert!(!r.boolean("d", false));
        assert_eq!(r.choice("e", "sessioned", &["eager", "sessioned"]), "eager");
        assert_eq!(r.list("f", &[]), ["x", "y"]);
        assert_eq!(r.required("g"), "");
        assert_eq!(
            r.prefixed("producer.").get("acks").map(String::as_str),
            Some("all")
        );
        r.string("listeners", "");
        let (errors, warnings) = r.finish();
        assert_eq!(
            errors,
            [
                "Invalid value x for configuration a: Not a number of type LONG",
                "Invalid value 5 for configuration c: Value must be between 0 and 3",
                "Invalid value maybe for configuration d: Expected value to be either true or false",
                "Missing required configuration \"g\" which has no default value.",
            ]
        );
        assert_eq!(
            warnings,
            ["unknown configuration key lisenters is ignored (did you mean listeners?)"]
        );
    }
}
