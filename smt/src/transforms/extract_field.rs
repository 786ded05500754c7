//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value — a struct or a map —
//! with the value of one of its fields (`field`; with `field.syntax.version=V2` a dotted path
//! to a nested field, as in Kafka 3.8+). Schemaless: a missing field gives null.
//! With a schema: the new schema is the field's; an unknown field is an error. A null key or
//! value stays null (with the field's schema when there is one).

use serde_json::Value;

use super::Part;
use super::shape::{data, require_map_or_null, require_struct_or_null, standalone_schema};
use crate::config::Settings;
use crate::field_path::{FieldPath, FieldSyntax};
use crate::{Record, SmtError, Transform};

const PURPOSE: &str = "field extraction";

#[derive(Debug)]
pub(crate) struct ExtractField {
    field: FieldPath,
    replace_null_with_default: bool,
    part: Part,
}

impl ExtractField {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        let syntax = FieldSyntax::of(s)?;
        Ok(Self {
            field: FieldPath::parse(s, "field", s.required("field")?, syntax)?,
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
                    .and_then(|m| self.field.value_in(m))
                    .cloned()
                    .unwrap_or(Value::Null);
                data(value, None)
            }
            Some(schema) => {
                let shaped = require_struct_or_null(&current.payload, schema, PURPOSE)?;
                let field = self.field.field_in(schema).ok_or_else(|| {
                    SmtError::Data(format!("Unknown field: {}", self.field.text()))
                })?;
                let value = match shaped {
                    Some((payload, _)) => {
                        self.field
                            .struct_value_in(payload, schema, self.replace_null_with_default)
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
        let mut v3 = VALUE.to_vec();
        v3.push(("transforms.x.field.syntax.version", "V3"));
        let err = apply(&v3, record(None, None)).expect_err("no V3");
        assert!(
            err.to_string().starts_with(
                "Invalid value V3 for configuration transforms.x.field.syntax.version"
            ),
            "{err}"
        );
    }

    /// KIP-821's examples: `parent.child.k2` reaches into nested maps and structs; a
    /// backticked name keeps its dot.
    #[test]
    fn v2_paths_extract_nested_fields() {
        let v2 = |field: &'static str| {
            vec![
                ("transforms.x.type", "ExtractField$Value"),
                ("transforms.x.field.syntax.version", "v2"),
                ("transforms.x.field", field),
            ]
        };
        let doc = json!({"k1": 123, "parent": {"child": {"k2": "123"}}, "a.b": {"c": 1}});
        let out = apply(&v2("parent.child.k2"), record(None, plain(doc.clone()))).expect("ok");
        assert_eq!(out.value.map(|d| d.payload), Some(json!("123")));
        let out = apply(&v2("`a.b`.c"), record(None, plain(doc.clone()))).expect("ok");
        assert_eq!(out.value.map(|d| d.payload), Some(json!(1)));
        let out = apply(&v2("parent.nope.k2"), record(None, plain(doc))).expect("ok");
        assert_eq!(out.value, None, "a missing step gives null");

        let child = json!({"type": "struct", "optional": false, "field": "child",
            "fields": [{"field": "k2", "type": "string", "optional": true}]});
        let parent = json!({"type": "struct", "optional": false, "field": "parent",
            "fields": [child]});
        let schema = json!({"type": "struct", "optional": false,
            "fields": [{"field": "k1", "type": "int32", "optional": false}, parent]});
        let payload = json!({"k1": 123, "parent": {"child": {"k2": "123"}}});
        let out = apply(
            &v2("parent.child.k2"),
            record(None, typed(payload.clone(), schema.clone())),
        )
        .expect("ok")
        .value
        .expect("a value");
        assert_eq!(out.payload, json!("123"));
        assert_eq!(
            out.schema,
            Some(json!({"type": "string", "optional": true}))
        );
        let err = apply(&v2("parent.k2"), record(None, typed(payload, schema))).expect_err("no");
        assert!(
            err.to_string().contains("Unknown field: parent.k2"),
            "{err}"
        );
    }
}
