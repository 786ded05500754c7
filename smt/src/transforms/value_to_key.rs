//! `ValueToKey`: replaces the key with a struct or map made of some of the value's fields
//! (`fields`). Schemaless: the value must be a map, missing fields give null. With a schema:
//! the value must be a struct, the key's schema is a struct of those fields' schemas, and a
//! field the value's schema lacks is an error (`Field does not exist: x`). The value is left
//! as it is.

use serde_json::{Map, Value, json};

use super::shape::{field_schema, require_map, require_struct, struct_value};
use crate::config::Settings;
use crate::{Data, Record, SmtError, Transform};

const PURPOSE: &str = "copying fields from value to key";

#[derive(Debug)]
pub(crate) struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
}

impl ValueToKey {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        Ok(Self {
            fields: s.list("fields")?,
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
        })
    }
}

impl Transform for ValueToKey {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let null = Data::plain(Value::Null);
        let value = record.value.as_ref().unwrap_or(&null);
        let key = match &value.schema {
            None => {
                let map = require_map(&value.payload, PURPOSE)?;
                let key: Map<String, Value> = self
                    .fields
                    .iter()
                    .map(|f| (f.clone(), map.get(f).cloned().unwrap_or(Value::Null)))
                    .collect();
                Data::plain(Value::Object(key))
            }
            Some(schema) => {
                let (payload, fields) = require_struct(&value.payload, schema, PURPOSE)?;
                let mut key = Map::new();
                let mut key_fields = Vec::with_capacity(self.fields.len());
                for name in &self.fields {
                    let field = field_schema(fields, name)
                        .ok_or_else(|| SmtError::Data(format!("Field does not exist: {name}")))?;
                    let v = struct_value(payload, field, name, self.replace_null_with_default);
                    key.insert(name.clone(), v);
                    key_fields.push(field.clone());
                }
                Data {
                    payload: Value::Object(key),
                    schema: Some(
                        json!({"type": "struct", "optional": false, "fields": key_fields}),
                    ),
                }
            }
        };
        record.key = Some(key);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, chain, plain, record, typed};

    const FIELDS: &[(&str, &str)] = &[
        (
            "transforms.x.type",
            "org.apache.kafka.connect.transforms.ValueToKey",
        ),
        ("transforms.x.fields", "id, region"),
    ];

    #[test]
    fn schemaless_values_make_a_map_key() {
        let cases = [
            (
                json!({"id": 1, "region": "eu", "x": true}),
                json!({"id": 1, "region": "eu"}),
            ),
            (json!({"id": 2}), json!({"id": 2, "region": null})),
        ];
        for (value, want) in cases {
            let out = apply(FIELDS, record(plain(json!("old")), plain(value.clone()))).expect("ok");
            assert_eq!(out.key.expect("key").payload, want, "{value}");
            assert_eq!(
                out.value.expect("value").payload,
                value,
                "the value is untouched"
            );
        }
    }

    #[test]
    fn struct_values_make_a_struct_key_with_the_fields_schemas() {
        let schema = json!({"type": "struct", "optional": false, "fields": [
            {"field": "id", "type": "int64", "optional": false},
            {"field": "region", "type": "string", "optional": true},
            {"field": "amount", "type": "float64", "optional": false},
        ]});
        let value = json!({"id": 9, "region": "us", "amount": 1.5});
        let out = apply(FIELDS, record(None, typed(value, schema))).expect("ok");
        let key = out.key.expect("key");
        assert_eq!(key.payload, json!({"id": 9, "region": "us"}));
        assert_eq!(
            key.schema,
            Some(json!({"type": "struct", "optional": false, "fields": [
                {"field": "id", "type": "int64", "optional": false},
                {"field": "region", "type": "string", "optional": true},
            ]}))
        );
    }

    #[test]
    fn wrong_shapes_missing_fields_and_tombstones_are_connects_errors() {
        let cases = [
            (
                plain(json!(3)),
                "transform x: Only Map objects supported in absence of schema for [copying fields from value to key], found: java.lang.Long",
            ),
            (
                None,
                "transform x: Only Map objects supported in absence of schema for [copying fields from value to key], found: null",
            ),
            (
                typed(
                    json!({"id": 1}),
                    json!({"type": "struct", "fields": [{"field": "id", "type": "int32"}]}),
                ),
                "transform x: Field does not exist: region",
            ),
        ];
        for (value, want) in cases {
            let err = apply(FIELDS, record(None, value)).expect_err("refused");
            assert_eq!(err, SmtError::Data(want.into()));
        }
    }

    #[test]
    fn confluents_jdbc_key_example_runs_unchanged() {
        // From Confluent's JDBC source documentation: the key becomes the value's c1.
        let chain = chain(&[
            ("transforms", "createKey,extractInt"),
            (
                "transforms.createKey.type",
                "org.apache.kafka.connect.transforms.ValueToKey",
            ),
            ("transforms.createKey.fields", "c1"),
            (
                "transforms.extractInt.type",
                "org.apache.kafka.connect.transforms.ExtractField$Key",
            ),
            ("transforms.extractInt.field", "c1"),
        ])
        .expect("valid");
        let schema = json!({"type": "struct", "name": "test", "optional": false, "fields": [
            {"field": "c1", "type": "int32", "optional": false},
            {"field": "c2", "type": "string", "optional": true},
        ]});
        let out = chain
            .apply(record(None, typed(json!({"c1": 5, "c2": "x"}), schema)))
            .expect("ok")
            .expect("kept");
        let key = out.key.expect("key");
        assert_eq!(key.payload, json!(5));
        assert_eq!(
            key.schema,
            Some(json!({"type": "int32", "optional": false}))
        );
    }

    #[test]
    fn an_empty_field_list_is_refused() {
        let err = apply(
            &[
                ("transforms.x.type", "ValueToKey"),
                ("transforms.x.fields", " , "),
            ],
            record(None, None),
        )
        .expect_err("empty");
        assert_eq!(
            err.to_string(),
            "Invalid value  ,  for configuration transforms.x.fields: Empty list"
        );
    }
}
