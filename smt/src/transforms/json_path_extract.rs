//! `JsonPathExtract$Key` / `$Value` (Culvert's; full name
//! `io.culvert.transforms.JsonPathExtract$Value`): the key or value becomes what a JSONPath
//! (`path`) selects in it — the first match, or all of them as an array with
//! `multiple=true` — or, with `target=key` on `$Value` (or `target=value` on `$Key`), the
//! other part does, the source staying as it was. The result is schemaless. When nothing
//! matches, `missing` decides: `null` (default), `skip` (record unchanged) or `fail`.

use serde_json::Value;

use super::Part;
use super::json_path::Path;
use crate::config::Settings;
use crate::{Data, Record, SmtError, Transform};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Null,
    Skip,
    Fail,
}

#[derive(Debug)]
pub(crate) struct JsonPathExtract {
    path: Path,
    multiple: bool,
    missing: Missing,
    source: Part,
    target: Part,
}

impl JsonPathExtract {
    pub(crate) fn new(s: &Settings<'_>, source: Part) -> Result<Self, SmtError> {
        let target = match s
            .get("target")
            .map(|t| t.trim().to_ascii_lowercase())
            .as_deref()
        {
            None => source,
            Some("key") => Part::Key,
            Some("value") => Part::Value,
            Some(other) => return Err(s.invalid("target", other, "must be key or value")),
        };
        let missing = match s
            .get("missing")
            .map(|m| m.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("null") => Missing::Null,
            Some("skip") => Missing::Skip,
            Some("fail") => Missing::Fail,
            Some(other) => return Err(s.invalid("missing", other, "must be null, skip or fail")),
        };
        Ok(Self {
            path: Path::compile(s, "path", s.required("path")?)?,
            multiple: s.boolean("multiple", false)?,
            missing,
            source,
            target,
        })
    }
}

impl Transform for JsonPathExtract {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let payload = self
            .source
            .peek(&record)
            .map_or(&Value::Null, |d| &d.payload);
        let mut found: Vec<Value> = self
            .path
            .select(payload, |found| found.into_iter().cloned().collect())?;
        let result = if self.multiple {
            (!found.is_empty()).then_some(Value::Array(found))
        } else if found.is_empty() {
            None
        } else {
            Some(found.swap_remove(0))
        };
        let result = match (result, self.missing) {
            (Some(v), _) => v,
            (None, Missing::Null) => Value::Null,
            (None, Missing::Skip) => return Ok(Some(record)),
            (None, Missing::Fail) => {
                return Err(SmtError::Data(format!(
                    "JSONPath {} selects nothing in the record",
                    self.path.text()
                )));
            }
        };
        *self.target.of(&mut record) = Some(Data::plain(result));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::testing::{apply, plain, record};

    fn run(class: &str, settings: &[(&str, &str)], value: Value) -> Result<(Value, Value), String> {
        let mut pairs = vec![("transforms.x.type", class)];
        let keys: Vec<(String, &str)> = settings
            .iter()
            .map(|(k, v)| (format!("transforms.x.{k}"), *v))
            .collect();
        pairs.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
        let out =
            apply(&pairs, record(plain(json!("k")), plain(value))).map_err(|e| e.to_string())?;
        let part = |d: Option<crate::Data>| d.map_or(Value::Null, |d| d.payload);
        Ok((part(out.key), part(out.value)))
    }

    #[test]
    fn paths_extract_into_the_value_or_the_key() {
        let order = json!({"order": {"id": 7, "lines": [{"sku": "a"}, {"sku": "b"}]}});
        let class = "JsonPathExtract$Value";
        assert_eq!(
            run(class, &[("path", "$.order.id")], order.clone()),
            Ok((json!("k"), json!(7)))
        );
        assert_eq!(
            run(
                class,
                &[("path", "$..sku"), ("multiple", "true")],
                order.clone()
            ),
            Ok((json!("k"), json!(["a", "b"])))
        );
        assert_eq!(
            run(
                "io.culvert.transforms.JsonPathExtract$Value",
                &[("path", "$.order.id"), ("target", "key")],
                order.clone()
            ),
            Ok((json!(7), order.clone()))
        );
        assert_eq!(
            run(class, &[("path", "$.nope")], order.clone()),
            Ok((json!("k"), Value::Null))
        );
        assert_eq!(
            run(
                class,
                &[("path", "$.nope"), ("missing", "skip")],
                order.clone()
            ),
            Ok((json!("k"), order.clone()))
        );
        let e = run(class, &[("path", "$.nope"), ("missing", "fail")], order).expect_err("fails");
        assert!(e.contains("$.nope selects nothing"), "{e}");
        let e = run(class, &[("path", "order.id")], json!({})).expect_err("refused");
        assert!(e.contains("transforms.x.path"), "{e}");
    }
}
