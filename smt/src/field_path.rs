//! Field paths under `field.syntax.version` (KIP-821). `V1` (the default): the text is one
//! top-level field name. `V2`: a dotted path to a nested field (`a.b.c`); a name holding dots
//! is wrapped in backticks (`` a.`b.c` ``); a backtick inside a wrapped name that would end it
//! (one followed by a dot or the end) is written `` \` ``; other backticks are literal.

use serde_json::{Map, Value};

use crate::SmtError;
use crate::config::Settings;
use crate::transforms::shape::{field_schema, struct_value};

/// Which syntax a transform's field settings use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldSyntax {
    V1,
    V2,
}

impl FieldSyntax {
    /// `field.syntax.version`, case-insensitive, `V1` by default.
    pub(crate) fn of(s: &Settings<'_>) -> Result<Self, SmtError> {
        match s.get("field.syntax.version").map(str::trim) {
            None => Ok(Self::V1),
            Some(v) if v.eq_ignore_ascii_case("V1") => Ok(Self::V1),
            Some(v) if v.eq_ignore_ascii_case("V2") => Ok(Self::V2),
            Some(v) => Err(s.invalid(
                "field.syntax.version",
                v,
                "String must be one of (case insensitive): V1, V2",
            )),
        }
    }
}

/// A path to a (possibly nested) field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    text: String,
    steps: Vec<String>,
}

/// Whether position `i` of `chars` can end a wrapped name (a dot or the end follows).
fn ends_name(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_none_or(|c| *c == '.')
}

impl FieldPath {
    /// Parses `text` under `syntax`; `key` names the setting for errors.
    pub(crate) fn parse(
        s: &Settings<'_>,
        key: &str,
        text: &str,
        syntax: FieldSyntax,
    ) -> Result<Self, SmtError> {
        if syntax == FieldSyntax::V1 {
            return Ok(Self {
                text: text.to_string(),
                steps: vec![text.to_string()],
            });
        }
        let chars: Vec<char> = text.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        loop {
            let mut name = String::new();
            if chars.get(i) == Some(&'`') {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(s.invalid(
                                key,
                                text,
                                "incomplete backtick pair: a backtick opens a field name that \
                                 none closes (escape a backtick that belongs to the name with \
                                 a backslash)",
                            ));
                        }
                        Some('\\')
                            if chars.get(i + 1) == Some(&'`') && ends_name(&chars, i + 1) =>
                        {
                            name.push('`');
                            i += 2;
                        }
                        Some('`') if ends_name(&chars, i) => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            name.push(*c);
                            i += 1;
                        }
                    }
                }
            } else {
                while let Some(c) = chars.get(i).filter(|c| **c != '.') {
                    name.push(*c);
                    i += 1;
                }
            }
            steps.push(name);
            match chars.get(i) {
                None => break,
                // A dot: another step follows.
                Some(_) => i += 1,
            }
        }
        Ok(Self {
            text: text.to_string(),
            steps,
        })
    }

    /// The path as written.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The value at the path in a schemaless map; `None` when a step is missing or not a
    /// map.
    pub(crate) fn value_in<'a>(&self, map: &'a Map<String, Value>) -> Option<&'a Value> {
        let (last, parents) = self.steps.split_last()?;
        let mut at = map;
        for step in parents {
            at = at.get(step)?.as_object()?;
        }
        at.get(last)
    }

    /// The field schema at the path in a struct schema; `None` when a step is unknown.
    pub(crate) fn field_in<'a>(&self, schema: &'a Value) -> Option<&'a Value> {
        let mut at = schema;
        for step in &self.steps {
            let fields = at.get("fields")?.as_array()?;
            at = field_schema(fields, step)?;
        }
        Some(at)
    }

    /// The value at the path in a struct payload with `schema` (nulls take field defaults
    /// under `replace_null_with_default`); null when a parent is null.
    pub(crate) fn struct_value_in(
        &self,
        payload: &Map<String, Value>,
        schema: &Value,
        replace_null_with_default: bool,
    ) -> Value {
        let mut values = payload.clone();
        let mut at = schema;
        for (i, step) in self.steps.iter().enumerate() {
            let Some(field) = at
                .get("fields")
                .and_then(Value::as_array)
                .and_then(|f| field_schema(f, step))
            else {
                return Value::Null;
            };
            let v = struct_value(&values, field, step, replace_null_with_default);
            if i + 1 == self.steps.len() {
                return v;
            }
            match v {
                Value::Object(m) => values = m,
                _ => return Value::Null,
            }
            at = field;
        }
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn steps(text: &str) -> Result<Vec<String>, SmtError> {
        let config = BTreeMap::new();
        let s = Settings::new("transforms.x.".into(), &config);
        FieldPath::parse(&s, "field", text, FieldSyntax::V2).map(|p| p.steps)
    }

    #[test]
    fn kip_821_examples_parse() {
        assert_eq!(steps("a.b.c").expect("ok"), ["a", "b", "c"]);
        assert_eq!(steps("a.`b.c`").expect("ok"), ["a", "b.c"]);
        assert_eq!(steps("a.b`.c").expect("ok"), ["a", "b`", "c"]);
        assert_eq!(steps("a.``b``.c").expect("ok"), ["a", "`b`", "c"]);
        assert_eq!(steps("a.`b\\`.c`").expect("ok"), ["a", "b`.c"]);
        assert_eq!(
            steps("parent.child.k2").expect("ok"),
            ["parent", "child", "k2"]
        );
        let e = steps("a.`b.c").expect_err("unclosed");
        assert!(e.to_string().contains("transforms.x.field"), "{e}");
        let config = BTreeMap::new();
        let s = Settings::new("transforms.x.".into(), &config);
        let v1 = FieldPath::parse(&s, "field", "a.b", FieldSyntax::V1).expect("v1");
        assert_eq!(v1.steps, ["a.b"]);
    }
}
