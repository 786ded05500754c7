//! JSONPath for the path-based transforms, on `jsonpath-rust` (RFC 9535 syntax, which
//! also reads Jayway's common forms such as `$.a.b`, `$['a']['b']` and `$[?(@.a == 1)]`).
//! Paths are compiled once, when the transform is configured. One Jayway habit is kept: a
//! filter at the root (`$[?(...)]`) tests the record itself — RFC 9535 would test each of
//! its members — because Confluent's Filter conditions are written that way.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

use crate::SmtError;
use crate::config::Settings;

/// A compiled path.
#[derive(Debug)]
pub(crate) struct Path {
    text: String,
    query: JpQuery,
    /// `$[?...]`: applied to `[record]` so the filter tests the record itself.
    root_filter: bool,
}

impl Path {
    /// Compiles the path under key `name`, naming the key when it is not valid.
    pub(crate) fn compile(s: &Settings<'_>, name: &str, text: &str) -> Result<Self, SmtError> {
        let text = text.trim();
        let query = parse_json_path(text)
            .map_err(|e| s.invalid(name, text, format!("not a valid JSONPath: {e}")))?;
        Ok(Self {
            text: text.to_string(),
            query,
            root_filter: text.replace(' ', "").starts_with("$[?"),
        })
    }

    /// The path as configured.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Runs `with` on the values the path selects in `value`, in document order (borrowed:
    /// nothing is copied unless the caller copies it).
    pub(crate) fn select<T>(
        &self,
        value: &Value,
        with: impl FnOnce(Vec<&Value>) -> T,
    ) -> Result<T, SmtError> {
        let wrapped;
        let target = if self.root_filter {
            // The one copy: a root filter needs the record inside an array.
            wrapped = Value::Array(vec![value.clone()]);
            &wrapped
        } else {
            value
        };
        js_path_process(&self.query, target)
            .map(|found| with(found.into_iter().map(|r| r.val).collect()))
            .map_err(|e| SmtError::Data(format!("JSONPath {} failed: {e}", self.text)))
    }

    /// The normalized locations (`$['a'][0]`) the path selects in `value`.
    pub(crate) fn locations(&self, value: &Value) -> Result<Vec<String>, SmtError> {
        js_path_process(&self.query, value)
            .map(|found| found.into_iter().map(|r| r.path).collect())
            .map_err(|e| SmtError::Data(format!("JSONPath {} failed: {e}", self.text)))
    }

    /// The `@.a.b` field references inside the path's filters, as paths from the root
    /// (`$.a.b`): the fields a filter condition needs.
    pub(crate) fn referenced_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        let bytes: Vec<char> = self.text.chars().collect();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == '@' {
                let mut j = i + 1;
                let mut reference = String::from("$");
                loop {
                    match bytes.get(j) {
                        Some('.') => {
                            let start = j + 1;
                            let mut end = start;
                            while bytes
                                .get(end)
                                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                            {
                                end += 1;
                            }
                            if end == start {
                                break;
                            }
                            reference.push('.');
                            reference.extend(&bytes[start..end]);
                            j = end;
                        }
                        Some('[') if matches!(bytes.get(j + 1), Some('\'' | '"')) => {
                            let quote = bytes[j + 1];
                            let start = j + 2;
                            let Some(len) = bytes[start..].iter().position(|c| *c == quote) else {
                                break;
                            };
                            let name: String = bytes[start..start + len].iter().collect();
                            reference.push_str(&format!("['{}']", name.replace('\'', "\\'")));
                            j = start + len + 1;
                            if bytes.get(j) == Some(&']') {
                                j += 1;
                            }
                        }
                        _ => break,
                    }
                }
                if reference.len() > 1 && !out.contains(&reference) {
                    out.push(reference);
                }
                i = j.max(i + 1);
            } else {
                i += 1;
            }
        }
        out
    }
}

/// A field a condition reads (`$.a.b`), compiled once, to check records for it.
#[derive(Debug)]
pub(crate) struct FieldCheck {
    text: String,
    query: JpQuery,
}

impl FieldCheck {
    /// The fields [`Path::referenced_fields`] names, compiled (a reference that does not
    /// compile on its own is left out).
    pub(crate) fn of(path: &Path) -> Vec<Self> {
        path.referenced_fields()
            .into_iter()
            .filter_map(|text| {
                parse_json_path(&text)
                    .ok()
                    .map(|query| Self { text, query })
            })
            .collect()
    }

    /// The field as a path from the root.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the field is present and not null in `value`.
    pub(crate) fn present(&self, value: &Value) -> bool {
        js_path_process(&self.query, value)
            .is_ok_and(|found| found.iter().any(|r| !r.val.is_null()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn path(text: &str) -> Path {
        let config = BTreeMap::new();
        let s = Settings::new("transforms.x.".into(), &config);
        Path::compile(&s, "path", text).expect("compiles")
    }

    #[test]
    fn root_filters_test_the_record_itself() {
        let record = json!({"key": {"nestedKey": "value1"}, "n": 3});
        let p = path("$[?(@.key.nestedKey == 'value1' || @.key.nestedKey == 'value2')]");
        assert_eq!(p.select(&record, |f| f.len()).expect("runs"), 1);
        let other = json!({"key": {"nestedKey": "value3"}});
        assert_eq!(p.select(&other, |f| f.len()).expect("runs"), 0);
        assert_eq!(p.referenced_fields(), ["$.key.nestedKey"]);
        assert_eq!(
            path("$.key.nestedKey")
                .select(&record, |f| f.into_iter().cloned().collect::<Vec<_>>())
                .expect("runs"),
            [json!("value1")]
        );
        assert_eq!(
            path("$[?(@['a b'] > 1 && @.n)]").referenced_fields(),
            ["$['a b']", "$.n"]
        );
        let checks = FieldCheck::of(&path("$[?(@.key.nestedKey && @.key.other)]"));
        assert_eq!(checks.len(), 2);
        assert!(checks[0].present(&record));
        assert!(!checks[1].present(&record));
    }

    #[test]
    fn bad_paths_name_the_key() {
        let config = BTreeMap::new();
        let s = Settings::new("transforms.x.".into(), &config);
        let e = Path::compile(&s, "path", "$.[").expect_err("refused");
        assert!(e.to_string().contains("transforms.x.path"), "{e}");
    }
}
