//! `HeaderFrom$Key` / `HeaderFrom$Value`: copies (`operation=copy`) or moves (`move`) fields
//! of the key or value into headers: `fields[i]` goes to header `headers[i]`. Header values
//! are written as SimpleHeaderConverter writes them: text as its UTF-8 bytes, null as a null
//! header, other values as their JSON text. With `move` and a schema, the fields leave the
//! struct's schema too.

use serde_json::{Map, Value};

use super::Part;
use super::shape::{
    field_schema, header_bytes, require_map, require_struct, restructured, struct_value,
};
use crate::config::Settings;
use crate::{Data, Header, Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct HeaderFrom {
    pairs: Vec<(String, String)>,
    moving: bool,
    replace_null_with_default: bool,
    part: Part,
}

impl HeaderFrom {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        s.field_syntax_v1()?;
        let fields = s.list("fields")?;
        let headers = s.list("headers")?;
        if fields.len() != headers.len() {
            return Err(SmtError::Config(format!(
                "'{}' config must have the same number of elements as '{}' config.",
                s.key("fields"),
                s.key("headers")
            )));
        }
        let operation = s.required("operation")?.trim();
        let moving = match operation.to_ascii_lowercase().as_str() {
            "move" => true,
            "copy" => false,
            _ => {
                return Err(s.invalid("operation", operation, "String must be one of: move, copy"));
            }
        };
        Ok(Self {
            pairs: fields.into_iter().zip(headers).collect(),
            moving,
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
            part,
        })
    }

    fn purpose(&self) -> &'static str {
        if self.moving {
            "header move"
        } else {
            "header copy"
        }
    }
}

impl Transform for HeaderFrom {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let null = Data::plain(Value::Null);
        let current = slot.as_ref().unwrap_or(&null);
        let mut added = Vec::with_capacity(self.pairs.len());
        let updated = match &current.schema {
            None => {
                let mut out = require_map(&current.payload, self.purpose())?.clone();
                for (field, header) in &self.pairs {
                    let value = out.get(field).cloned().unwrap_or(Value::Null);
                    if self.moving {
                        out.remove(field);
                    }
                    added.push((header, value));
                }
                Data::plain(Value::Object(out))
            }
            Some(schema) => {
                let (values, fields) = require_struct(&current.payload, schema, self.purpose())?;
                let mut out = Map::new();
                let mut kept = Vec::new();
                for field in fields {
                    let Some(name) = field.get("field").and_then(Value::as_str) else {
                        continue;
                    };
                    let value = struct_value(values, field, name, self.replace_null_with_default);
                    let taken = self.pairs.iter().any(|(f, _)| f == name);
                    if !(self.moving && taken) {
                        out.insert(name.to_string(), value);
                        kept.push(field.clone());
                    }
                }
                for (field, header) in &self.pairs {
                    let schema = field_schema(fields, field).ok_or_else(|| {
                        SmtError::Data(format!("{field} is not a valid field name"))
                    })?;
                    let value = struct_value(values, schema, field, self.replace_null_with_default);
                    added.push((header, value));
                }
                restructured(schema, kept, Value::Object(out))
            }
        };
        for (name, value) in added {
            record.headers.push(Header {
                name: name.clone(),
                value: header_bytes(&value),
            });
        }
        let slot = self.part.of(&mut record);
        *slot = Some(updated);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, plain, record, typed};

    fn config(operation: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.HeaderFrom$Value",
            ),
            ("transforms.x.fields", "id,meta,gone"),
            ("transforms.x.headers", "h-id,h-meta,h-gone"),
            ("transforms.x.operation", operation),
        ]
    }

    fn headers(r: &crate::Record) -> Vec<(String, Option<String>)> {
        r.headers
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    h.value
                        .as_ref()
                        .map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn fields_are_copied_or_moved_into_headers() {
        let input = json!({"id": "a1", "meta": {"v": 2}, "keep": 1});
        let want_headers = vec![
            ("h-id".to_string(), Some("a1".to_string())),
            ("h-meta".to_string(), Some(r#"{"v":2}"#.to_string())),
            ("h-gone".to_string(), None),
        ];
        let out = apply(&config("copy"), record(None, plain(input.clone()))).expect("ok");
        assert_eq!(headers(&out), want_headers);
        assert_eq!(out.value.expect("value").payload, input);
        let out = apply(&config("move"), record(None, plain(input))).expect("ok");
        assert_eq!(headers(&out), want_headers);
        assert_eq!(out.value.expect("value").payload, json!({"keep": 1}));
    }

    #[test]
    fn moving_struct_fields_drops_them_from_the_schema() {
        let schema = json!({"type": "struct", "optional": false, "fields": [
            {"field": "id", "type": "int32", "optional": false},
            {"field": "keep", "type": "string", "optional": true}]});
        let c = vec![
            ("transforms.x.type", "HeaderFrom$Value"),
            ("transforms.x.fields", "id"),
            ("transforms.x.headers", "row-id"),
            ("transforms.x.operation", "move"),
        ];
        let out = apply(
            &c,
            record(None, typed(json!({"id": 7, "keep": "k"}), schema)),
        )
        .expect("ok");
        assert_eq!(
            headers(&out),
            vec![("row-id".to_string(), Some("7".to_string()))]
        );
        let v = out.value.expect("value");
        assert_eq!(v.payload, json!({"keep": "k"}));
        assert_eq!(
            v.schema,
            Some(json!({"type": "struct", "optional": false, "fields": [
                {"field": "keep", "type": "string", "optional": true}]}))
        );
    }

    #[test]
    fn bad_configs_and_shapes_are_refused() {
        let err = apply(
            &[
                ("transforms.x.type", "HeaderFrom$Key"),
                ("transforms.x.fields", "a,b"),
                ("transforms.x.headers", "h"),
                ("transforms.x.operation", "copy"),
            ],
            record(None, None),
        )
        .expect_err("lengths differ");
        assert_eq!(
            err.to_string(),
            "'transforms.x.fields' config must have the same number of elements as 'transforms.x.headers' config."
        );
        let err = apply(&config("swap"), record(None, None)).expect_err("bad operation");
        assert!(
            err.to_string()
                .starts_with("Invalid value swap for configuration transforms.x.operation"),
            "{err}"
        );
        let err = apply(&config("copy"), record(None, plain(json!(1)))).expect_err("not a map");
        assert_eq!(
            err,
            SmtError::Data("transform x: Only Map objects supported in absence of schema for [header copy], found: java.lang.Long".into())
        );
    }
}
