//! `JsonPathRemove$Key` / `$Value` (Culvert's; full name
//! `io.culvert.transforms.JsonPathRemove$Value`): removes every field or array element a
//! JSONPath (`path`) selects. Works on schemaless data; data with a Connect schema is
//! refused, as with `JsonPathSet`.

use jsonpath_rust::query::queryable::Queryable;

use super::Part;
use super::json_path::Path;
use super::json_path_set::schemaless;
use crate::config::Settings;
use crate::{Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct JsonPathRemove {
    path: Path,
    part: Part,
}

impl JsonPathRemove {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        Ok(Self {
            path: Path::compile(s, "path", s.required("path")?)?,
            part,
        })
    }
}

impl Transform for JsonPathRemove {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        if let Some(payload) = schemaless(self.part.of(&mut record), "JsonPathRemove")? {
            payload.delete_by_path(self.path.text()).map_err(|e| {
                SmtError::Data(format!(
                    "JSONPath {} could not remove: {e}",
                    self.path.text()
                ))
            })?;
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::testing::{apply, plain, record};

    #[test]
    fn selected_fields_and_elements_go() {
        let remove = |path: &str, doc: Value| {
            let pairs = [
                (
                    "transforms.x.type",
                    "io.culvert.transforms.JsonPathRemove$Value",
                ),
                ("transforms.x.path", path),
            ];
            apply(&pairs, record(None, plain(doc)))
                .map(|r| r.value.map_or(Value::Null, |d| d.payload))
                .map_err(|e| e.to_string())
        };
        let doc = json!({"a": {"secret": 1, "b": 2}, "items": [{"p": 1}, {"p": 2}, {"p": 3}]});
        assert_eq!(
            remove("$.a.secret", doc.clone()),
            Ok(json!({"a": {"b": 2}, "items": [{"p": 1}, {"p": 2}, {"p": 3}]}))
        );
        assert_eq!(
            remove("$.items[?(@.p > 1)]", doc.clone()),
            Ok(json!({"a": {"secret": 1, "b": 2}, "items": [{"p": 1}]}))
        );
        assert_eq!(remove("$.nothing", doc.clone()), Ok(doc));
    }
}
