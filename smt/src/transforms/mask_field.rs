//! `MaskField$Key` / `MaskField$Value`: replaces the values of `fields` with the "empty"
//! value of their type — false, 0, "", an empty array or map, the epoch for dates and times
//! — or, for strings and numbers, with `replacement` converted to the field's type.
//! Schemaless data follows the JSON types (a field the map lacks is set to null); data with
//! a schema follows the field schemas. A null key or value passes unchanged.

use serde_json::{Map, Number, Value};

use super::Part;
use super::shape::{require_map, require_struct, schema_type, struct_value};
use crate::config::Settings;
use crate::{Data, Record, SmtError, Transform};

const PURPOSE: &str = "mask fields";
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";

#[derive(Debug)]
pub(crate) struct MaskField {
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
    part: Part,
}

/// The Java class Connect would see for a value of this JSON type or schema.
fn class_of(value: &Value, schema: Option<&Value>) -> &'static str {
    match (schema.map(schema_type), value) {
        (Some("int8"), _) => "class java.lang.Byte",
        (Some("int16"), _) => "class java.lang.Short",
        (Some("int32"), _) => "class java.lang.Integer",
        (Some("int64"), _) => "class java.lang.Long",
        (Some("float32"), _) => "class java.lang.Float",
        (Some("float64"), _) => "class java.lang.Double",
        (Some("bytes"), _) => "class [B",
        (Some("struct"), _) => "class org.apache.kafka.connect.data.Struct",
        (_, Value::Bool(_)) => "class java.lang.Boolean",
        (_, Value::Array(_)) => "class java.util.ArrayList",
        (_, Value::Object(_)) => "class java.util.HashMap",
        (_, Value::String(_)) => "class java.lang.String",
        (_, Value::Number(n)) if n.is_f64() => "class java.lang.Double",
        (_, Value::Number(_)) => "class java.lang.Long",
        (_, Value::Null) => "null",
    }
}

fn is_decimal(schema: Option<&Value>) -> bool {
    schema.and_then(|s| s.get("name")).and_then(Value::as_str) == Some(DECIMAL)
}

/// The empty value of a value's type.
fn empty(value: &Value, schema: Option<&Value>) -> Result<Value, SmtError> {
    if is_decimal(schema) {
        // BigDecimal zero: one zero byte of unscaled value, base64.
        return Ok(Value::String("AA==".into()));
    }
    let kind = schema.map(schema_type);
    Ok(match (kind, value) {
        (Some("bytes" | "struct"), _) => {
            return Err(SmtError::Data(format!(
                "Cannot mask value of type: {}",
                class_of(value, schema)
            )));
        }
        (Some("float32" | "float64"), _) => Value::from(0.0),
        (Some("int8" | "int16" | "int32" | "int64"), _) => Value::from(0),
        (_, Value::Bool(_)) => Value::Bool(false),
        (_, Value::Number(n)) if n.is_f64() => Value::from(0.0),
        (_, Value::Number(_)) => Value::from(0),
        (_, Value::String(_)) => Value::String(String::new()),
        (_, Value::Array(_)) => Value::Array(Vec::new()),
        (_, Value::Object(_)) => Value::Object(Map::new()),
        (_, Value::Null) => Value::Null,
    })
}

/// `replacement` converted to a value's type: strings and numbers only.
fn replaced(value: &Value, schema: Option<&Value>, replacement: &str) -> Result<Value, SmtError> {
    let class = class_of(value, schema);
    if is_decimal(schema) {
        return Err(SmtError::Data(
            "custom replacements of Decimal fields are not supported yet".into(),
        ));
    }
    let number = |parsed: Option<Number>| {
        parsed.map(Value::Number).ok_or_else(|| {
            SmtError::Data(format!(
                "Unable to convert {replacement} (class java.lang.String) to number"
            ))
        })
    };
    let int = |min: i64, max: i64| {
        number(
            replacement
                .parse::<i64>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .map(Number::from),
        )
    };
    let float = || number(replacement.parse::<f64>().ok().and_then(Number::from_f64));
    match class {
        "class java.lang.String" => Ok(Value::String(replacement.to_string())),
        "class java.lang.Byte" => int(i8::MIN.into(), i8::MAX.into()),
        "class java.lang.Short" => int(i16::MIN.into(), i16::MAX.into()),
        "class java.lang.Integer" => int(i32::MIN.into(), i32::MAX.into()),
        "class java.lang.Long" => int(i64::MIN, i64::MAX),
        "class java.lang.Float" | "class java.lang.Double" => float(),
        _ => Err(SmtError::Data(format!(
            "Cannot mask value of type {class} with custom replacement."
        ))),
    }
}

impl MaskField {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        s.field_syntax_v1()?;
        Ok(Self {
            fields: s.list("fields")?,
            replacement: s.get("replacement").map(str::to_string),
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
            part,
        })
    }

    fn masked(&self, value: &Value, schema: Option<&Value>) -> Result<Value, SmtError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        match &self.replacement {
            None => empty(value, schema),
            Some(r) => replaced(value, schema, r),
        }
    }
}

impl Transform for MaskField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let Some(current) = slot.as_ref().filter(|d| !d.payload.is_null()) else {
            return Ok(Some(record));
        };
        let masked = match &current.schema {
            None => {
                let mut out = require_map(&current.payload, PURPOSE)?.clone();
                for field in &self.fields {
                    let value = out.get(field).cloned().unwrap_or(Value::Null);
                    out.insert(field.clone(), self.masked(&value, None)?);
                }
                Data::plain(Value::Object(out))
            }
            Some(schema) => {
                let (values, fields) = require_struct(&current.payload, schema, PURPOSE)?;
                let mut out = Map::new();
                for field in fields {
                    let Some(name) = field.get("field").and_then(Value::as_str) else {
                        continue;
                    };
                    let value = struct_value(values, field, name, self.replace_null_with_default);
                    let value = if self.fields.iter().any(|f| f == name) {
                        self.masked(&value, Some(field))?
                    } else {
                        value
                    };
                    out.insert(name.to_string(), value);
                }
                Data {
                    payload: Value::Object(out),
                    schema: Some(schema.clone()),
                }
            }
        };
        *slot = Some(masked);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, plain, record, typed};

    fn config(
        fields: &'static str,
        replacement: Option<&'static str>,
    ) -> Vec<(&'static str, &'static str)> {
        let mut c = vec![
            (
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.MaskField$Value",
            ),
            ("transforms.x.fields", fields),
        ];
        if let Some(r) = replacement {
            c.push(("transforms.x.replacement", r));
        }
        c
    }

    #[test]
    fn schemaless_fields_become_empty_values_of_their_type() {
        let input = json!({"s": "secret", "i": 42, "f": 1.5, "b": true, "a": [1], "m": {"k": 1}, "keep": "x"});
        let out = apply(
            &config("s,i,f,b,a,m,missing", None),
            record(None, plain(input)),
        )
        .expect("ok");
        assert_eq!(
            out.value.expect("value").payload,
            json!({"s": "", "i": 0, "f": 0.0, "b": false, "a": [], "m": {}, "keep": "x", "missing": null})
        );
    }

    #[test]
    fn struct_fields_follow_their_schemas() {
        let schema = json!({"type": "struct", "optional": false, "fields": [
            {"field": "ssn", "type": "string", "optional": false},
            {"field": "age", "type": "int8", "optional": false},
            {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "optional": false},
            {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}, "optional": false},
            {"field": "name", "type": "string", "optional": false},
        ]});
        let payload = json!({"ssn": "123-45-6789", "age": 40, "ts": 1700000000000_i64, "price": "MDk=", "name": "n"});
        let out = apply(
            &config("ssn,age,ts,price", None),
            record(None, typed(payload, schema.clone())),
        )
        .expect("ok");
        let v = out.value.expect("value");
        assert_eq!(
            v.payload,
            json!({"ssn": "", "age": 0, "ts": 0, "price": "AA==", "name": "n"})
        );
        assert_eq!(v.schema, Some(schema));
    }

    #[test]
    fn custom_replacements_take_the_fields_type() {
        let input = json!({"card": "4111-1111", "pin": 1234, "rate": 0.5});
        let out = apply(
            &config("card,pin,rate", Some("9")),
            record(None, plain(input)),
        )
        .expect("ok");
        assert_eq!(
            out.value.expect("value").payload,
            json!({"card": "9", "pin": 9, "rate": 9.0})
        );
        let cases = [
            (
                json!({"pin": 1}),
                "abc",
                "transform x: Unable to convert abc (class java.lang.String) to number",
            ),
            (
                json!({"pin": true}),
                "x",
                "transform x: Cannot mask value of type class java.lang.Boolean with custom replacement.",
            ),
        ];
        for (input, replacement, want) in cases {
            let c = vec![
                ("transforms.x.type", "MaskField$Value"),
                ("transforms.x.fields", "pin"),
                ("transforms.x.replacement", replacement),
            ];
            let err = apply(&c, record(None, plain(input))).expect_err("refused");
            assert_eq!(err, SmtError::Data(want.into()));
        }
        // An int8 field cannot hold 300.
        let schema = json!({"type": "struct", "fields": [{"field": "pin", "type": "int8"}]});
        let err = apply(
            &config("pin", Some("300")),
            record(None, typed(json!({"pin": 1}), schema)),
        )
        .expect_err("out of range");
        assert_eq!(
            err,
            SmtError::Data(
                "transform x: Unable to convert 300 (class java.lang.String) to number".into()
            )
        );
    }

    #[test]
    fn tombstones_and_null_fields_pass() {
        let out = apply(&config("a", None), record(None, None)).expect("ok");
        assert!(out.value.is_none());
        let out = apply(&config("a", None), record(None, plain(json!({"a": null})))).expect("ok");
        assert_eq!(out.value.expect("value").payload, json!({"a": null}));
    }
}
