//! `Cast$Key` / `Cast$Value`: casts fields (`spec` = `field:type,...`) or the whole key or
//! value (`spec` = `type`) to `int8`, `int16`, `int32`, `int64`, `float32`, `float64`,
//! `boolean` or `string`, with Java's conversions: numbers narrow as Java's
//! `Number.byteValue()` and friends do (wrapping), booleans become 1/0, text is parsed
//! (Java's `parseX`, no trimming), numbers are true when their `long` value is not 0, text is
//! true only when it is `true` in any case, bytes become base64 text, and numbers print as
//! Java prints them (`1.0`, `1.0E10`). Logical types (Date, Time, Timestamp, Decimal) cast as
//! `cast_logical` describes. With a schema the cast fields' schemas change type (a logical
//! name is dropped), keeping optionality.

use serde_json::{Map, Number, Value};

use super::Part;
use super::cast_logical::{Decimal, Logical, instant_ms, iso_text, logical_of};
use super::shape::{require_map, require_struct, schema_type, struct_value_mut};
use crate::config::Settings;
use crate::{Record, SmtError, Transform};

const PURPOSE: &str = "cast types";
const OUTPUTS: [&str; 8] = [
    "int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string",
];

#[derive(Debug)]
enum Spec {
    Whole(&'static str),
    Fields(Vec<(String, &'static str)>),
}

#[derive(Debug)]
pub(crate) struct Cast {
    spec: Spec,
    replace_null_with_default: bool,
    part: Part,
}

fn output_type(s: &Settings<'_>, spec: &str, text: &str) -> Result<&'static str, SmtError> {
    let lower = text.trim().to_ascii_lowercase();
    OUTPUTS
        .iter()
        .find(|t| **t == lower)
        .copied()
        .ok_or_else(|| {
            let supported = OUTPUTS.map(str::to_uppercase).join(", ");
            s.invalid(
                "spec",
                spec,
                format!(
                    "Cast transformation does not support casting to {}; supported types are [{supported}]",
                    text.trim().to_uppercase()
                ),
            )
        })
}

/// Java's `Double.toString`/`Float.toString` layout for shortest digits given in plain
/// (`plain`) and exponent (`exponent`, Rust's `{:e}`) form: plain between 10^-3 and 10^7,
/// `d.dddE±n` outside, always with a fractional digit.
fn java_text(plain: String, exponent: String, magnitude: f64) -> String {
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let (m, e) = exponent.split_once('e').unwrap_or((&exponent, "0"));
        let m = if m.contains('.') {
            m.to_string()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    }
}

/// Java's `Double.toString`.
fn java_double(f: f64) -> String {
    java_text(format!("{f}"), format!("{f:e}"), f.abs())
}

/// Java's `Float.toString`: the shortest digits of the `float`, not of its widening.
fn java_float(f: f32) -> String {
    java_text(format!("{f}"), format!("{f:e}"), f64::from(f.abs()))
}

/// Java's conversion of a number to a `long` (doubles saturate, NaN is 0).
fn to_long(n: &Number) -> i64 {
    if let Some(i) = n.as_i64() {
        i
    } else if let Some(u) = n.as_u64() {
        // Java longs cannot hold it either: the two's complement bits, as a cast would.
        u as i64
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        if f.is_nan() { 0 } else { f as i64 }
    }
}

/// Java's narrowing of a number to `width` bits: doubles go through `int` (saturating)
/// for widths below 64, then wrap.
fn narrow(n: &Number, width: u32) -> i64 {
    let long = if n.is_f64() && width < 64 {
        let f = n.as_f64().unwrap_or(0.0);
        i64::from(if f.is_nan() { 0 } else { f as i32 })
    } else {
        to_long(n)
    };
    match width {
        8 => i64::from(long as i8),
        16 => i64::from(long as i16),
        32 => i64::from(long as i32),
        _ => long,
    }
}

fn parse_failure(text: &str, target: &str) -> SmtError {
    SmtError::Data(format!(
        "Cast transformation could not parse \"{text}\" as {}",
        target.to_uppercase()
    ))
}

/// The input type of a value: its schema's type, or the JSON type's Connect equivalent.
fn input_type<'a>(value: &Value, schema: Option<&'a Value>) -> Result<&'a str, SmtError> {
    let Some(s) = schema else {
        return match value {
            Value::Bool(_) => Ok("boolean"),
            Value::Number(n) if n.is_f64() => Ok("float64"),
            Value::Number(_) => Ok("int64"),
            Value::String(_) | Value::Null => Ok("string"),
            Value::Array(_) => Err(unsupported_input("class java.util.ArrayList")),
            Value::Object(_) => Err(unsupported_input("class java.util.HashMap")),
        };
    };
    match schema_type(s) {
        t @ ("int8" | "int16" | "int32" | "int64" | "float32" | "float64" | "boolean"
        | "string" | "bytes") => Ok(t),
        other => Err(unsupported_input(&other.to_uppercase())),
    }
}

fn unsupported_input(what: &str) -> SmtError {
    SmtError::Data(format!(
        "Cast transformation does not support casting from {what}; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
    ))
}

/// Casts a value of a logical type (see `cast_logical`).
fn cast_logical(value: &Value, logical: Logical, target: &str) -> Result<Value, SmtError> {
    match logical {
        Logical::Decimal { scale } => {
            let d = Decimal::read(value, scale)?;
            Ok(match target {
                "string" => Value::String(d.java_string()),
                "boolean" => Value::Bool(d.long_value() != 0),
                "float32" | "float64" => {
                    return cast(&Value::from(d.double_value()), None, target);
                }
                _ => return cast(&Value::from(d.long_value()), None, target),
            })
        }
        kind => {
            if target == "string" {
                Ok(Value::String(iso_text(instant_ms(kind, value)?)))
            } else {
                // The internal value: days, milliseconds of the day, or epoch milliseconds.
                cast(value, None, target)
            }
        }
    }
}

/// Casts one value (never null) from its input type to `target`.
fn cast(value: &Value, schema: Option<&Value>, target: &str) -> Result<Value, SmtError> {
    if let Some(logical) = schema.and_then(logical_of) {
        return cast_logical(value, logical, target);
    }
    let from = input_type(value, schema)?;
    let int = |width: u32| -> Result<Value, SmtError> {
        Ok(Value::from(match value {
            Value::Number(n) => narrow(n, width),
            Value::Bool(b) => i64::from(*b),
            Value::String(s) => {
                let parsed: i64 = s.parse().map_err(|_| parse_failure(s, target))?;
                let fits = match width {
                    8 => i8::try_from(parsed).is_ok(),
                    16 => i16::try_from(parsed).is_ok(),
                    32 => i32::try_from(parsed).is_ok(),
                    _ => true,
                };
                if !fits {
                    return Err(parse_failure(s, target));
                }
                parsed
            }
            _ => return Err(unexpected(from)),
        }))
    };
    let float = |single: bool| -> Result<Value, SmtError> {
        let f = match value {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::String(s) => s.parse::<f64>().map_err(|_| parse_failure(s, target))?,
            _ => return Err(unexpected(from)),
        };
        // A float32 keeps the digits Java's Float.toString would print.
        let f = if single {
            format!("{}", f as f32).parse::<f64>().unwrap_or(f)
        } else {
            f
        };
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| SmtError::Data(format!("Cast transformation cannot represent {f}")))
    };
    if from == "bytes" && target != "string" {
        return Err(SmtError::Data(format!(
            "Cast transformation does not support casting from BYTES to {}",
            target.to_uppercase()
        )));
    }
    match (target, value) {
        ("int8", _) => int(8),
        ("int16", _) => int(16),
        ("int32", _) => int(32),
        ("int64", _) => int(64),
        ("float32", _) => float(true),
        ("float64", _) => float(false),
        ("boolean", Value::Number(n)) => Ok(Value::Bool(to_long(n) != 0)),
        ("boolean", Value::Bool(b)) => Ok(Value::Bool(*b)),
        ("boolean", Value::String(s)) => Ok(Value::Bool(s.eq_ignore_ascii_case("true"))),
        // Bytes travel as base64 text already (JsonConverter's encoding).
        ("string", Value::String(s)) => Ok(Value::String(s.clone())),
        ("string", Value::Bool(b)) => Ok(Value::String(b.to_string())),
        ("string", Value::Number(n)) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            Ok(Value::String(if from == "float32" {
                java_float(f as f32)
            } else {
                java_double(f)
            }))
        }
        ("string", Value::Number(n)) => Ok(Value::String(n.to_string())),
        _ => Err(unexpected(from)),
    }
}

fn unexpected(from: &str) -> SmtError {
    SmtError::Data(format!(
        "Unexpected type in Cast transformation: {}",
        from.to_uppercase()
    ))
}

impl Cast {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        let text = s.required("spec")?;
        let entries = s.list("spec")?;
        let mut fields = Vec::new();
        let mut whole = None;
        for entry in &entries {
            match entry.split(':').collect::<Vec<_>>().as_slice() {
                [t] => whole = Some(output_type(s, text, t)?),
                [field, t] => fields.push((field.trim().to_string(), output_type(s, text, t)?)),
                _ => {
                    return Err(s.invalid("spec", text, format!("Invalid cast mapping: {entry}")));
                }
            }
        }
        let spec = match whole {
            Some(t) if entries.len() == 1 => Spec::Whole(t),
            Some(_) => {
                return Err(s.invalid(
                    "spec",
                    text,
                    "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
                ));
            }
            None => Spec::Fields(fields),
        };
        Ok(Self {
            spec,
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
            part,
        })
    }

    fn target(&self, field: &str) -> Option<&'static str> {
        match &self.spec {
            Spec::Whole(_) => None,
            Spec::Fields(f) => f.iter().find(|(n, _)| n == field).map(|(_, t)| *t),
        }
    }
}

/// Turns `schema` into the plain schema of `target`, keeping only its optionality and field
/// name (a logical name, parameters and the default go, as Kafka's Cast builds it anew).
fn cast_schema(schema: &mut Value, target: &str) {
    match schema {
        Value::Object(map) => {
            map.retain(|k, _| matches!(k.as_str(), "type" | "optional" | "field"));
            match map.get_mut("type") {
                Some(t) => *t = Value::String(target.into()),
                None => {
                    map.insert("type".into(), Value::String(target.into()));
                }
            }
        }
        other => {
            *other = Value::Object(Map::from_iter([(
                "type".to_string(),
                Value::String(target.into()),
            )]))
        }
    }
}

impl Transform for Cast {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let Some(mut current) = slot.take().filter(|d| !d.payload.is_null()) else {
            return Ok(Some(record));
        };
        // The data is owned: fields are cast where they are, nothing else is copied.
        match (&self.spec, current.schema.as_mut()) {
            (Spec::Whole(t), schema) => {
                current.payload = cast(&current.payload, schema.as_deref(), t)?;
                if let Some(s) = schema {
                    cast_schema(s, t);
                }
            }
            (Spec::Fields(_), None) => {
                require_map(&current.payload, PURPOSE)?;
                if let Value::Object(map) = &mut current.payload {
                    for (k, v) in map.iter_mut() {
                        if let Some(t) = self.target(k)
                            && !v.is_null()
                        {
                            *v = cast(v, None, t)?;
                        }
                    }
                }
            }
            (Spec::Fields(_), Some(schema)) => {
                require_struct(&current.payload, schema, PURPOSE)?;
                let (Value::Object(values), Some(Value::Array(fields))) =
                    (&mut current.payload, schema.get_mut("fields"))
                else {
                    return Err(SmtError::Data(format!(
                        "Only Struct objects supported for [{PURPOSE}]"
                    )));
                };
                for field in fields.iter_mut() {
                    let target = {
                        let Some(name) = field.get("field").and_then(Value::as_str) else {
                            continue;
                        };
                        let Some(v) =
                            struct_value_mut(values, field, name, self.replace_null_with_default)
                        else {
                            continue;
                        };
                        let target = self.target(name);
                        if let Some(t) = target
                            && !v.is_null()
                        {
                            *v = cast(v, Some(field), t)?;
                        }
                        target
                    };
                    if let Some(t) = target {
                        cast_schema(field, t);
                    }
                }
                // A struct holds exactly its schema's fields.
                if values.len() != fields.len() {
                    values.retain(|k, _| {
                        fields
                            .iter()
                            .any(|f| f.get("field").and_then(Value::as_str) == Some(k.as_str()))
                    });
                }
            }
        }
        *slot = Some(current);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::SmtError;
    use crate::testing::{apply, plain, record, typed};

    fn whole(target: &'static str, value: Value) -> Result<Value, SmtError> {
        let c = [
            (
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.Cast$Value",
            ),
            ("transforms.x.spec", target),
        ];
        apply(&c, record(None, plain(value))).map(|r| r.value.map_or(Value::Null, |d| d.payload))
    }

    #[test]
    fn whole_values_cast_as_java_casts_them() {
        let cases = [
            ("int8", json!(42), json!(42)),
            ("int8", json!(300), json!(44)),
            ("int8", json!(3.9), json!(3)),
            ("int16", json!(1e20), json!(-1)),
            ("int32", json!(1e20), json!(2147483647)),
            ("int32", json!("42"), json!(42)),
            ("int64", json!(true), json!(1)),
            ("float32", json!(0.1), json!(0.1)),
            ("float64", json!("2.5"), json!(2.5)),
            ("float64", json!(false), json!(0.0)),
            ("boolean", json!(0), json!(false)),
            ("boolean", json!(2), json!(true)),
            ("boolean", json!(0.5), json!(false)),
            ("boolean", json!("TRUE"), json!(true)),
            ("boolean", json!("yes"), json!(false)),
            ("string", json!(1.0), json!("1.0")),
            ("string", json!(1e10), json!("1.0E10")),
            ("string", json!(0.001), json!("0.001")),
            ("string", json!(0.0001), json!("1.0E-4")),
            ("string", json!(42), json!("42")),
            ("string", json!(true), json!("true")),
        ];
        for (target, input, want) in cases {
            assert_eq!(
                whole(target, input.clone()).expect(target),
                want,
                "{input} to {target}"
            );
        }
        assert_eq!(
            whole("int8", json!(null)).expect("null passes"),
            json!(null)
        );
    }

    #[test]
    fn struct_fields_cast_with_their_schemas() {
        let schema = json!({"type": "struct", "name": "row", "optional": false, "fields": [
            {"field": "id", "type": "int64", "optional": false},
            {"field": "price", "type": "float32", "optional": true},
            {"field": "flag", "type": "boolean", "optional": false},
            {"field": "name", "type": "string", "optional": false},
        ]});
        let payload = json!({"id": 7, "price": 1.5, "flag": true, "name": "n"});
        let c = [
            ("transforms.x.type", "Cast$Value"),
            ("transforms.x.spec", "id:string, price:float64, flag:int8"),
        ];
        let out = apply(&c, record(None, typed(payload, schema))).expect("ok");
        let v = out.value.expect("value");
        assert_eq!(
            v.payload,
            json!({"id": "7", "price": 1.5, "flag": 1, "name": "n"})
        );
        assert_eq!(
            v.schema,
            Some(
                json!({"type": "struct", "name": "row", "optional": false, "fields": [
                    {"field": "id", "type": "string", "optional": false},
                    {"field": "price", "type": "float64", "optional": true},
                    {"field": "flag", "type": "int8", "optional": false},
                    {"field": "name", "type": "string", "optional": false},
                ]})
            )
        );
        // Schemaless maps: only the named fields change; missing ones stay missing.
        let c = [
            ("transforms.x.type", "Cast$Key"),
            ("transforms.x.spec", "a:int32,zz:string"),
        ];
        let out = apply(&c, record(plain(json!({"a": "5", "b": "6"})), None)).expect("ok");
        assert_eq!(out.key.expect("key").payload, json!({"a": 5, "b": "6"}));
    }

    #[test]
    fn bad_specs_and_values_are_refused() {
        let config_errors = [
            (
                "int99",
                "Invalid value int99 for configuration transforms.x.spec: Cast transformation does not support casting to INT99; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]",
            ),
            (
                "a:b:c",
                "Invalid value a:b:c for configuration transforms.x.spec: Invalid cast mapping: a:b:c",
            ),
            (
                "int8,a:string",
                "Invalid value int8,a:string for configuration transforms.x.spec: Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
            ),
        ];
        for (spec, want) in config_errors {
            let err = whole(spec, json!(1)).expect_err(spec);
            assert_eq!(err.to_string(), want);
        }
        let data_errors = [
            (
                "int8",
                json!("abc"),
                "transform x: Cast transformation could not parse \"abc\" as INT8",
            ),
            (
                "int8",
                json!("300"),
                "transform x: Cast transformation could not parse \"300\" as INT8",
            ),
            (
                "int32",
                json!([1]),
                "transform x: Cast transformation does not support casting from class java.util.ArrayList; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]",
            ),
        ];
        for (spec, value, want) in data_errors {
            let err = whole(spec, value).expect_err(spec);
            assert_eq!(err, SmtError::Data(want.into()));
        }
    }

    /// Kafka's Cast on logical fields: instants to their numbers or ISO text, decimals by
    /// value; the new field schemas drop the logical name.
    #[test]
    fn logical_fields_cast_as_kafka_casts_them() {
        let ts = "org.apache.kafka.connect.data.Timestamp";
        let schema = json!({"type": "struct", "optional": false, "fields": [
            {"field": "at", "type": "int64", "name": ts, "version": 1, "optional": false},
            {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date",
             "version": 1, "optional": true},
            {"field": "amount", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
             "parameters": {"scale": "2"}, "optional": false},
            {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
             "parameters": {"scale": "2"}, "optional": false},
        ]});
        // amount 12.50 (unscaled 1250 = 0x04E2), price -12.99 (unscaled -1299 = 0xFAED).
        let payload = json!({"at": 1_505_747_117_123_i64, "day": 17_427, "amount": "BOI=",
            "price": "+u0="});
        let c = [
            (
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.Cast$Value",
            ),
            (
                "transforms.x.spec",
                "at:string,day:int64,amount:string,price:int32",
            ),
        ];
        let out = apply(&c, record(None, typed(payload, schema)))
            .expect("casts")
            .value
            .expect("a value");
        assert_eq!(
            out.payload,
            json!({"at": "2017-09-18T15:05:17.123Z", "day": 17_427, "amount": "12.50",
                "price": -12})
        );
        let fields = out.schema.map(|s| s["fields"].clone());
        assert_eq!(
            fields,
            Some(json!([
                {"field": "at", "type": "string", "optional": false},
                {"field": "day", "type": "int64", "optional": true},
                {"field": "amount", "type": "string", "optional": false},
                {"field": "price", "type": "int32", "optional": false},
            ]))
        );
        let whole = [
            (
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.Cast$Value",
            ),
            ("transforms.x.spec", "float64"),
        ];
        let decimal = json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
            "parameters": {"scale": "2"}});
        let out = apply(&whole, record(None, typed(json!("BOI="), decimal))).expect("casts");
        assert_eq!(out.value.map(|d| d.payload), Some(json!(12.5)));
    }
}
