//! `JsonPathSet$Key` / `$Value` (Culvert's; full name `io.culvert.transforms.JsonPathSet$Value`):
//! writes `value` (JSON text; anything else is taken as a string) at every place a JSONPath
//! (`path`) selects. When it selects nothing and the path is a plain chain of names
//! (`$.a.b`), the fields are created, objects on the way included. Works on schemaless
//! data; a key or value with a Connect schema is refused (its schema would no longer fit).

use jsonpath_rust::query::queryable::Queryable;
use serde_json::{Map, Value};

use super::Part;
use super::json_path::Path;
use crate::config::Settings;
use crate::{Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct JsonPathSet {
    path: Path,
    /// The names of a plain `$.a.b` path, for creating it.
    names: Option<Vec<String>>,
    value: Value,
    part: Part,
}

/// The names of `$.a.b.c`, when the path is just that.
fn plain_names(text: &str) -> Option<Vec<String>> {
    let names: Vec<String> = text
        .strip_prefix("$.")?
        .split('.')
        .map(str::to_string)
        .collect();
    names
        .iter()
        .all(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then_some(names)
}

impl JsonPathSet {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        let path = Path::compile(s, "path", s.required("path")?)?;
        let text = s.required("value")?;
        Ok(Self {
            names: plain_names(path.text()),
            path,
            value: serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
            part,
        })
    }
}

/// Refuses data that carries a schema (the JSONPath transforms keep no schema in step).
pub(crate) fn schemaless<'a>(
    slot: &'a mut Option<crate::Data>,
    name: &str,
) -> Result<Option<&'a mut Value>, SmtError> {
    match slot {
        Some(d) if d.schema.is_some() => Err(SmtError::Data(format!(
            "{name} works on schemaless data; this record carries a Connect schema \
             (use schemas.enable=false on the converter, or a transform that keeps schemas)"
        ))),
        Some(d) => Ok(Some(&mut d.payload)),
        None => Ok(None),
    }
}

impl Transform for JsonPathSet {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let Some(payload) = schemaless(self.part.of(&mut record), "JsonPathSet")? else {
            return Ok(Some(record));
        };
        let locations = self.path.locations(payload)?;
        if locations.is_empty() {
            if let (Some(names), Value::Object(_)) = (&self.names, &*payload) {
                let mut at = payload;
                for (i, name) in names.iter().enumerate() {
                    let Value::Object(map) = at else {
                        break;
                    };
                    let next = if i + 1 == names.len() {
                        self.value.clone()
                    } else {
                        Value::Object(Map::new())
                    };
                    at = map.entry(name.clone()).or_insert(next);
                }
            }
            return Ok(Some(record));
        }
        for location in locations {
            if let Some(slot) = payload.reference_mut(location) {
                *slot = self.value.clone();
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::testing::{apply, plain, record, typed};

    fn set(path: &str, value: &str, data: Option<crate::Data>) -> Result<Value, String> {
        let pairs = [
            ("transforms.x.type", "JsonPathSet$Value"),
            ("transforms.x.path", path),
            ("transforms.x.value", value),
        ];
        apply(&pairs, record(None, data))
            .map(|r| r.value.map_or(Value::Null, |d| d.payload))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn values_are_set_where_the_path_points_or_created() {
        let doc = json!({"a": {"b": 1}, "items": [{"p": 1}, {"p": 2}]});
        assert_eq!(
            set("$.a.b", "\"x\"", plain(doc.clone())),
            Ok(json!({"a": {"b": "x"}, "items": [{"p": 1}, {"p": 2}]}))
        );
        assert_eq!(
            set("$.items[*].p", "0", plain(doc.clone())),
            Ok(json!({"a": {"b": 1}, "items": [{"p": 0}, {"p": 0}]}))
        );
        assert_eq!(
            set("$.meta.source", "culvert", plain(doc.clone())),
            Ok(
                json!({"a": {"b": 1}, "items": [{"p": 1}, {"p": 2}], "meta": {"source": "culvert"}})
            )
        );
        let e = set(
            "$.a",
            "1",
            typed(json!({"a": 1}), json!({"type": "struct", "fields": []})),
        )
        .expect_err("refused");
        assert!(e.contains("carries a Connect schema"), "{e}");
    }
}
