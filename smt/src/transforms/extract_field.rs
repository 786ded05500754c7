//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value — a struct or a map —
//! with the value of one of its fields (`field`). Schemaless: a missing field gives null.
//! With a schema: the new schema is the field's; an unknown field is an error. A null key or
//! value stays null (with the field's schema when there is one).

use serde_json::Value;

use super::Part;
use super::shape::{
    data, field_schema, require_map_or_null, require_struct_or_null, standalone_schema,
    struct_value,
};
use crate::config::Settings;
use crate::{Record, SmtError, Transform};

const PURPOSE: &str = "field extraction";

#[derive(Debug)]
pub(crate) struct ExtractField {
    field: String,
    replace_null_with_default: bool,
    part: Part,
}

impl ExtractField {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        s.field_syntax_v1()?;
        Ok(Self {
            field: s.required("field")?.to_string(),
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
            part,
        })
    }
}

impl Transform for ExtractField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let Some(current) = slot.take() else {
            return Ok(Some(record));
        };
        *slot = match &current.schema {
            None => {
                let map = require_map_or_null(&current.payload, PURPOSE)?;
                let value = map
                    .and_then(|m| m.get(&self.field))
                    .cloned()
                    .unwrap_or(Value::Null);
                data(value, None)
            }
            Some(schema) => {
                let shaped = require_struct_or_null(&current.payload, schema, PURPOSE)?;
                let field = schema
                    .get("fields")
                    .and_then(Value::as_array)
                    .and_then(|f| field_schema(f, &self.field))
                    .ok_or_else(|| SmtError::Data(format!("Unknown field: {}", self.field)))?;
                let value = match shaped {
                    Some((payload, _)) => {
                        struct_value(payload, field, &self.field, self.replace_null_with_default)
                    }
                    None => Value::Null,
                };
                data(value, Some(standalone_schema(field)))
            }
        };
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, plain, record, typed};

    const VALUE: &[(&str, &str)] = &[
        (
            "transforms.x.type",
            "org.apache.kafka.connect.transforms.ExtractField$Value",
        ),
        ("transforms.x.field", "id"),
    ];

    fn struct_schema() -> serde_json::Value {
        json!({"type": "struct", "optional": false, "fields": [
            {"field": "id", "type": "int32", "optional": false},
            {"field": "name", "type": "string", "optional": true, "default": "n/a"},
        ]})
    }

    #[test]
    fn schemaless_maps_give_up_one_field() {
        // (value in, value out): a present field, a missing one, a tombstone.
        let cases = [
            (json!({"id": 42, "name": "x"}), Some(json!(42))),
            (json!({"name": "x"}), None),
            (json!(null), None),
        ];
        for (input, want) in cases {
            let out = apply(VALUE, record(None, plain(input.clone()))).expect("applies");
            assert_eq!(out.value.map(|d| d.payload), want, "{input}");
        }
    }

    #[test]
    fn structs_give_up_one_field_with_its_schema() {
        let out = apply(
            VALUE,
            record(None, typed(json!({"id": 7, "name": "a"}), struct_schema())),
        )
        .expect("applies");
        let value = out.value.expect("a value");
        assert_eq!(value.payload, json!(7));
        assert_eq!(
            value.schema,
            Some(json!({"type": "int32", "optional": false}))
        );
        // A null struct stays null, typed as the field.
        let out = apply(VALUE, record(None, typed(json!(null), struct_schema()))).expect("ok");
        let value = out.value.expect("a typed null");
        assert_eq!(
            (value.payload, value.schema),
            (
                json!(null),
                Some(json!({"type": "int32", "optional": false}))
            )
        );
    }

    #[test]
    fn a_null_field_takes_its_default_unless_told_not_to() {
        let name = [
            ("transforms.x.type", "ExtractField$Value"),
            ("transforms.x.field", "name"),
        ];
        let input = || record(None, typed(json!({"id": 1, "name": null}), struct_schema()));
        let out = apply(&name, input()).expect("ok");
        assert_eq!(out.value.expect("value").payload, json!("n/a"));
        let mut raw = name.to_vec();
        raw.push(("transforms.x.replace.null.with.default", "false"));
        let out = apply(&raw, input()).expect("ok");
        assert_eq!(out.value.expect("value").payload, json!(null));
    }

    #[test]
    fn the_key_variant_works_on_keys() {
        let key = [
            ("transforms.x.type", "ExtractField$Key"),
            ("transforms.x.field", "id"),
        ];
        let out = apply(&key, record(plain(json!({"id": "k"})), plain(json!(1)))).expect("ok");
        assert_eq!(out.key.expect("key").payload, json!("k"));
        assert_eq!(
            out.value.expect("value").payload,
            json!(1),
            "the value is untouched"
        );
    }

    #[test]
    fn wrong_shapes_and_unknown_fields_are_connects_errors() {
        let cases = [
            (
                plain(json!("text")),
                "transform x: Only Map objects supported in absence of schema for [field extraction], found: java.lang.String",
            ),
            (
                plain(json!([1])),
                "transform x: Only Map objects supported in absence of schema for [field extraction], found: java.util.ArrayList",
            ),
            (
                typed(json!(5), json!({"type": "int64", "optional": false})),
                "transform x: Only Struct objects supported for [field extraction], found: java.lang.Long",
            ),
            (
                typed(
                    json!({"other": 1}),
                    json!({"type": "struct", "fields": [{"field": "other", "type": "int32"}]}),
                ),
                "transform x: Unknown field: id",
            ),
        ];
        for (value, want) in cases {
            let err = apply(VALUE, record(None, value)).expect_err("refused");
            assert_eq!(err, SmtError::Data(want.into()));
        }
    }

    #[test]
    fn configuration_problems_name_the_key() {
        let err = apply(
            &[("transforms.x.type", "ExtractField$Value")],
            record(None, None),
        )
        .expect_err("field is required");
        assert!(err.to_string().contains("\"transforms.x.field\""), "{err}");
        let mut v2 = VALUE.to_vec();
        v2.push(("transforms.x.field.syntax.version", "V2"));
        let err = apply(&v2, record(None, None)).expect_err("V2 is not supported yet");
        assert!(
            err.to_string().starts_with(
                "Invalid value V2 for configuration transforms.x.field.syntax.version"
            ),
            "{err}"
        );
    }
}
