//! `Flatten$Key` / `Flatten$Value`: flattens nested maps or structs into one level, joining
//! field names with `delimiter` (default `.`). Arrays and (with a schema) map fields are kept
//! as they are. With a schema, flattened fields are optional when they or any parent are,
//! and the new struct schema keeps the original's name, version and doc. A null key or
//! value passes unchanged.

use serde_json::{Map, Value};

use super::Part;
use super::shape::{require_map_or_null, require_struct_or_null, restructured, schema_type};
use crate::config::Settings;
use crate::{Data, Record, SmtError, Transform};

const PURPOSE: &str = "flattening";

#[derive(Debug)]
pub(crate) struct Flatten {
    delimiter: String,
    part: Part,
}

impl Flatten {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        Ok(Self {
            // Blank counts as absent for `get`; the delimiter may legitimately be any text.
            delimiter: s.get("delimiter").unwrap_or(".").to_string(),
            part,
        })
    }

    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn schemaless(&self, map: &Map<String, Value>, prefix: &str, out: &mut Map<String, Value>) {
        for (key, value) in map {
            let name = self.name(prefix, key);
            match value {
                Value::Object(inner) => self.schemaless(inner, &name, out),
                other => {
                    out.insert(name, other.clone());
                }
            }
        }
    }

    /// Flattens a struct's `fields` (payload `values`, `None` for a null struct) into
    /// `schema_out` and `out`, moving field schemas and values rather than copying them.
    fn with_schema(
        &self,
        fields: Vec<Value>,
        mut values: Option<Map<String, Value>>,
        prefix: &str,
        optional: bool,
        schema_out: &mut Vec<Value>,
        out: &mut Map<String, Value>,
    ) -> Result<(), SmtError> {
        for mut field in fields {
            let Value::Object(f) = &mut field else {
                continue;
            };
            let Some(Value::String(key)) = f.remove("field") else {
                continue;
            };
            let name = self.name(prefix, &key);
            let field_optional =
                optional || f.get("optional").and_then(Value::as_bool).unwrap_or(false);
            let value = values
                .as_mut()
                .and_then(|v| v.remove(&key))
                .unwrap_or(Value::Null);
            match schema_type(&field) {
                "struct" => {
                    let inner = match field.get_mut("fields").map(Value::take) {
                        Some(Value::Array(inner)) => inner,
                        _ => Vec::new(),
                    };
                    let inner_values = match value {
                        Value::Object(m) => Some(m),
                        _ => None,
                    };
                    self.with_schema(inner, inner_values, &name, field_optional, schema_out, out)?;
                }
                "int8" | "int16" | "int32" | "int64" | "float32" | "float64" | "boolean"
                | "string" | "bytes" | "array" | "map" => {
                    if let Value::Object(f) = &mut field {
                        f.insert("field".into(), Value::String(name.clone()));
                        f.insert("optional".into(), Value::Bool(field_optional));
                    }
                    schema_out.push(field);
                    out.insert(name, value);
                }
                other => {
                    return Err(SmtError::Data(format!(
                        "Flatten transformation does not support {other} for record with schemas (for field {name})."
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Transform for Flatten {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let Some(current) = slot.as_ref() else {
            return Ok(Some(record));
        };
        let flat = match &current.schema {
            None => {
                let Some(map) = require_map_or_null(&current.payload, PURPOSE)? else {
                    return Ok(Some(record));
                };
                let mut out = Map::new();
                self.schemaless(map, "", &mut out);
                Data::plain(Value::Object(out))
            }
            Some(schema) => {
                let present = require_struct_or_null(&current.payload, schema, PURPOSE)?.is_some();
                // The record is ours: move its fields and values into the flat struct.
                let Some(mut current) = slot.take() else {
                    return Ok(Some(record));
                };
                let mut schema = current.schema.take().unwrap_or(Value::Null);
                let fields = match schema.get_mut("fields").map(Value::take) {
                    Some(Value::Array(fields)) => fields,
                    _ => Vec::new(),
                };
                let values = match current.payload {
                    Value::Object(m) if present => Some(m),
                    _ => None,
                };
                let mut schema_fields = Vec::new();
                let mut out = Map::new();
                self.with_schema(fields, values, "", false, &mut schema_fields, &mut out)?;
                let payload = if present {
                    Value::Object(out)
                } else {
                    Value::Null
                };
                restructured(&schema, schema_fields, payload)
            }
        };
        *slot = Some(flat);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{apply, plain, record, typed};

    const VALUE: &[(&str, &str)] = &[(
        "transforms.x.type",
        "org.apache.kafka.connect.transforms.Flatten$Value",
    )];

    #[test]
    fn nested_maps_flatten_with_the_delimiter() {
        // Connect's documented example.
        let input = json!({"content": {"id": 42, "name": {"first": "David", "middle": null, "last": "Wong"}}});
        let out = apply(VALUE, record(None, plain(input.clone()))).expect("ok");
        assert_eq!(
            out.value.expect("value").payload,
            json!({"content.id": 42, "content.name.first": "David", "content.name.middle": null, "content.name.last": "Wong"})
        );
        let mut underscore = VALUE.to_vec();
        underscore.push(("transforms.x.delimiter", "_"));
        let out = apply(
            &underscore,
            record(None, plain(json!({"a": {"b": [1, {"c": 2}]}, "d": {}}))),
        )
        .expect("ok");
        assert_eq!(
            out.value.expect("value").payload,
            json!({"a_b": [1, {"c": 2}]}),
            "arrays stay, empty maps vanish"
        );
    }

    #[test]
    fn nested_structs_flatten_with_optional_propagated() {
        let schema = json!({"type": "struct", "name": "row", "optional": false, "fields": [
            {"field": "id", "type": "int32", "optional": false},
            {"field": "address", "type": "struct", "optional": true, "fields": [
                {"field": "city", "type": "string", "optional": false},
                {"field": "geo", "type": "struct", "optional": false, "fields": [
                    {"field": "lat", "type": "float64", "optional": false}]}]},
            {"field": "tags", "type": "array", "items": {"type": "string"}, "optional": false},
        ]});
        let payload =
            json!({"id": 1, "address": {"city": "Oslo", "geo": {"lat": 59.9}}, "tags": ["a"]});
        let out = apply(VALUE, record(None, typed(payload, schema))).expect("ok");
        let v = out.value.expect("value");
        assert_eq!(
            v.payload,
            json!({"id": 1, "address.city": "Oslo", "address.geo.lat": 59.9, "tags": ["a"]})
        );
        assert_eq!(
            v.schema,
            Some(
                json!({"type": "struct", "name": "row", "optional": false, "fields": [
                    {"field": "id", "type": "int32", "optional": false},
                    {"field": "address.city", "type": "string", "optional": true},
                    {"field": "address.geo.lat", "type": "float64", "optional": true},
                    {"field": "tags", "type": "array", "items": {"type": "string"}, "optional": false},
                ]})
            )
        );
        // A null nested struct gives null leaves.
        let schema = json!({"type": "struct", "optional": false, "fields": [
            {"field": "address", "type": "struct", "optional": true, "fields": [
                {"field": "city", "type": "string", "optional": false}]}]});
        let out = apply(VALUE, record(None, typed(json!({"address": null}), schema))).expect("ok");
        assert_eq!(
            out.value.expect("value").payload,
            json!({"address.city": null})
        );
    }

    #[test]
    fn tombstones_pass_and_keys_flatten_too() {
        let out = apply(VALUE, record(None, None)).expect("ok");
        assert!(out.value.is_none());
        let out = apply(
            &[("transforms.x.type", "Flatten$Key")],
            record(plain(json!({"a": {"b": 1}})), plain(json!({"a": {"b": 1}}))),
        )
        .expect("ok");
        assert_eq!(out.key.expect("key").payload, json!({"a.b": 1}));
        assert_eq!(out.value.expect("value").payload, json!({"a": {"b": 1}}));
    }
}
