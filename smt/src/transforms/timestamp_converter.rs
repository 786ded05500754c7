//! `TimestampConverter$Key` / `$Value`: converts a timestamp — the whole key or value, or
//! the field `field` — between text (`format`, a Java `SimpleDateFormat` pattern, in UTC),
//! unix time (`unix.precision`: seconds, milliseconds, microseconds, nanoseconds) and
//! Connect's logical `Date`, `Time` and `Timestamp`. The input kind comes from the schema
//! (logical name, `int64` = unix, `string` = text) or, schemaless, from the JSON type
//! (integer = unix, string = text). Logical values travel as JsonConverter writes them:
//! `Timestamp` as epoch milliseconds, `Date` as days since the epoch, `Time` as
//! milliseconds since midnight — also when schemaless (Connect would hold a `java.util.Date`
//! there, which JsonConverter cannot write; Culvert writes those numbers). Conversions
//! truncate as Java's `TimeUnit` does; `Date` drops the time of day, `Time` the date.

use serde_json::{Map, Value, json};

use super::Part;
use super::shape::{require_map, require_struct_or_null, restructured, schema_type, struct_value};
use crate::config::Settings;
use crate::date_format::JavaDateFormat;
use crate::{Data, Record, SmtError, Transform};

const PURPOSE: &str = "converting timestamp formats";
const DAY_MS: i64 = 86_400_000;
const LOGICAL: &str = "org.apache.kafka.connect.data.";

/// What a timestamp is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug)]
pub(crate) struct TimestampConverter {
    field: Option<String>,
    target: Kind,
    /// The pattern as given and parsed.
    format: Option<(String, JavaDateFormat)>,
    /// Milliseconds per unit of unix time, or units per millisecond when below 1.
    precision: Precision,
    replace_null_with_default: bool,
    part: Part,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl TimestampConverter {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        let target_text = s.required("target.type")?;
        let target = match target_text {
            "string" => Kind::Text,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            "Timestamp" => Kind::Timestamp,
            other => {
                return Err(s.invalid(
                    "target.type",
                    other,
                    "String must be one of: string, unix, Date, Time, Timestamp",
                ));
            }
        };
        let format = match s.get("format").filter(|f| !f.is_empty()) {
            Some(pattern) => Some((
                pattern.to_string(),
                JavaDateFormat::parse(pattern).map_err(|e| {
                    s.invalid(
                        "format",
                        pattern,
                        format!(
                            "TimestampConverter requires a SimpleDateFormat-compatible pattern \
                             for string timestamps: {e}"
                        ),
                    )
                })?,
            )),
            None if target == Kind::Text => {
                return Err(s.invalid(
                    "format",
                    "",
                    "TimestampConverter requires format option to be specified when using \
                     string timestamps",
                ));
            }
            None => None,
        };
        let precision = match s.get("unix.precision").unwrap_or("milliseconds") {
            "seconds" => Precision::Seconds,
            "milliseconds" => Precision::Milliseconds,
            "microseconds" => Precision::Microseconds,
            "nanoseconds" => Precision::Nanoseconds,
            other => {
                return Err(s.invalid(
                    "unix.precision",
                    other,
                    "String must be one of: nanoseconds, microseconds, milliseconds, seconds",
                ));
            }
        };
        Ok(Self {
            field: s.get("field").filter(|f| !f.is_empty()).map(str::to_string),
            target,
            format,
            precision,
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
            part,
        })
    }

    /// The kind of a value with `schema`.
    fn kind_of_schema(schema: &Value) -> Result<Kind, SmtError> {
        let name = schema
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match (name.strip_prefix(LOGICAL), schema_type(schema)) {
            (Some("Timestamp"), _) => Ok(Kind::Timestamp),
            (Some("Date"), _) => Ok(Kind::Date),
            (Some("Time"), _) => Ok(Kind::Time),
            (_, "int64") => Ok(Kind::Unix),
            (_, "string") => Ok(Kind::Text),
            _ => Err(SmtError::Data(format!(
                "Schema {schema} does not correspond to a known timestamp type format"
            ))),
        }
    }

    /// The kind of a schemaless value.
    fn kind_of_value(value: &Value) -> Result<Kind, SmtError> {
        match value {
            Value::String(_) => Ok(Kind::Text),
            Value::Number(n) if n.is_i64() => Ok(Kind::Unix),
            other => Err(SmtError::Data(format!(
                "TimestampConverter does not support {} objects as timestamps",
                match other {
                    Value::Number(_) => "java.lang.Double",
                    Value::Bool(_) => "java.lang.Boolean",
                    Value::Array(_) => "java.util.ArrayList",
                    _ => "java.util.HashMap",
                }
            ))),
        }
    }

    /// Milliseconds since the epoch of `value`, which is of `kind`.
    fn to_millis(&self, value: &Value, kind: Kind) -> Result<i64, SmtError> {
        let number = || {
            value.as_i64().ok_or_else(|| {
                SmtError::Data(format!(
                    "Expected a timestamp number of type {kind:?}, found {value}"
                ))
            })
        };
        Ok(match kind {
            Kind::Text => {
                let text = value.as_str().unwrap_or_default();
                let Some((pattern, format)) = &self.format else {
                    return Err(SmtError::Data(
                        "TimestampConverter requires format option to be specified when using \
                         string timestamps"
                            .into(),
                    ));
                };
                format.parse_text(text).ok_or_else(|| {
                    SmtError::Data(format!(
                        "Could not parse timestamp: value ({text}) does not match pattern \
                         ({pattern})"
                    ))
                })?
            }
            Kind::Unix => {
                let n = number()?;
                match self.precision {
                    Precision::Seconds => n.saturating_mul(1000),
                    Precision::Milliseconds => n,
                    Precision::Microseconds => n / 1000,
                    Precision::Nanoseconds => n / 1_000_000,
                }
            }
            Kind::Date => number()?.saturating_mul(DAY_MS),
            Kind::Time | Kind::Timestamp => number()?,
        })
    }

    /// `millis` written as the target kind.
    fn written(&self, millis: i64) -> Value {
        match self.target {
            Kind::Text => {
                let format = self.format.as_ref().map(|(_, f)| f.format(millis));
                Value::String(format.unwrap_or_default())
            }
            Kind::Unix => Value::from(match self.precision {
                Precision::Seconds => millis / 1000,
                Precision::Milliseconds => millis,
                Precision::Microseconds => millis.saturating_mul(1000),
                Precision::Nanoseconds => millis.saturating_mul(1_000_000),
            }),
            Kind::Date => Value::from(millis.div_euclid(DAY_MS)),
            Kind::Time => Value::from(millis.rem_euclid(DAY_MS)),
            Kind::Timestamp => Value::from(millis),
        }
    }

    /// Converts one value (null stays null) whose kind `schema` gives, or its JSON type.
    fn convert(&self, value: &Value, schema: Option<&Value>) -> Result<Value, SmtError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let kind = match schema {
            Some(s) => Self::kind_of_schema(s)?,
            None => Self::kind_of_value(value)?,
        };
        Ok(self.written(self.to_millis(value, kind)?))
    }

    /// The schema of a converted value, keeping `like`'s optionality and field name.
    fn target_schema(&self, like: &Value) -> Value {
        let mut schema = match self.target {
            Kind::Text => json!({"type": "string"}),
            Kind::Unix => json!({"type": "int64"}),
            Kind::Date => json!({"type": "int32", "name": format!("{LOGICAL}Date"), "version": 1}),
            Kind::Time => json!({"type": "int32", "name": format!("{LOGICAL}Time"), "version": 1}),
            Kind::Timestamp => {
                json!({"type": "int64", "name": format!("{LOGICAL}Timestamp"), "version": 1})
            }
        };
        if let Some(map) = schema.as_object_mut() {
            let optional = like
                .get("optional")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            map.insert("optional".into(), Value::Bool(optional));
            if let Some(name) = like.get("field") {
                map.insert("field".into(), name.clone());
            }
        }
        schema
    }
}

impl Transform for TimestampConverter {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let Some(current) = slot.as_ref() else {
            return Ok(Some(record));
        };
        let converted = match (&self.field, &current.schema) {
            (None, schema) => Data {
                payload: self.convert(&current.payload, schema.as_ref())?,
                schema: schema.as_ref().map(|s| self.target_schema(s)),
            },
            (Some(field), None) => {
                let mut map = require_map(&current.payload, PURPOSE)?.clone();
                let value = map.get(field).cloned().unwrap_or(Value::Null);
                map.insert(field.clone(), self.convert(&value, None)?);
                Data::plain(Value::Object(map))
            }
            (Some(field), Some(schema)) => {
                let found = require_struct_or_null(&current.payload, schema, PURPOSE)?;
                let fields = schema
                    .get("fields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let new_fields: Vec<Value> = fields
                    .iter()
                    .map(|f| {
                        if f.get("field").and_then(Value::as_str) == Some(field) {
                            self.target_schema(f)
                        } else {
                            f.clone()
                        }
                    })
                    .collect();
                let payload = match found {
                    None => Value::Null,
                    Some((values, _)) => {
                        let mut out = Map::new();
                        for f in &fields {
                            let Some(name) = f.get("field").and_then(Value::as_str) else {
                                continue;
                            };
                            let v = struct_value(values, f, name, self.replace_null_with_default);
                            let v = if name == field {
                                self.convert(&v, Some(f))?
                            } else {
                                v
                            };
                            out.insert(name.to_string(), v);
                        }
                        Value::Object(out)
                    }
                };
                restructured(schema, new_fields, payload)
            }
        };
        *slot = Some(converted);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::testing::{apply, chain, plain, record, typed};

    const CLASS: &str = "org.apache.kafka.connect.transforms.TimestampConverter$Value";
    /// 2017-09-18T15:05:17.123Z
    const MS: i64 = 1_505_747_117_123;

    fn convert(settings: &[(&str, &str)], value: Option<crate::Data>) -> crate::Data {
        let mut pairs = vec![("transforms.x.type", CLASS)];
        pairs.extend(settings.iter().map(|(k, v)| (*k, *v)));
        let keyed: Vec<(String, &str)> = pairs
            .iter()
            .map(|(k, v)| {
                let key = if k.starts_with("transforms.") {
                    (*k).to_string()
                } else {
                    format!("transforms.x.{k}")
                };
                (key, *v)
            })
            .collect();
        let pairs: Vec<(&str, &str)> = keyed.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        apply(&pairs, record(None, value))
            .expect("converts")
            .value
            .expect("a value")
    }

    #[test]
    fn schemaless_fields_convert_between_text_and_unix_time() {
        let out = convert(
            &[
                ("field", "ts"),
                ("target.type", "unix"),
                ("format", "yyyy-MM-dd HH:mm:ss.SSS"),
            ],
            plain(json!({"ts": "2017-09-18 15:05:17.123", "other": 1})),
        );
        assert_eq!(out.payload, json!({"ts": MS, "other": 1}));
        for (precision, unix) in [
            ("seconds", MS / 1000),
            ("milliseconds", MS),
            ("microseconds", MS * 1000),
            ("nanoseconds", MS * 1_000_000),
        ] {
            let back = convert(
                &[
                    ("field", "ts"),
                    ("target.type", "string"),
                    ("unix.precision", precision),
                    ("format", "yyyy-MM-dd'T'HH:mm:ssXXX"),
                ],
                plain(json!({"ts": unix})),
            );
            assert_eq!(
                back.payload,
                json!({"ts": "2017-09-18T15:05:17Z"}),
                "{precision}"
            );
        }
    }

    #[test]
    fn whole_values_become_logical_types_with_their_schemas() {
        let string = json!({"type": "string", "optional": true});
        let ts = convert(
            &[
                ("target.type", "Timestamp"),
                ("format", "yyyy-MM-dd HH:mm:ss.SSS"),
            ],
            typed(json!("2017-09-18 15:05:17.123"), string.clone()),
        );
        assert_eq!(ts.payload, json!(MS));
        assert_eq!(
            ts.schema,
            Some(
                json!({"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp",
                "version": 1, "optional": true})
            )
        );
        let date = convert(
            &[("target.type", "Date")],
            typed(json!(MS), json!({"type": "int64"})),
        );
        assert_eq!(date.payload, json!(17_427), "days since the epoch");
        assert_eq!(
            date.schema.as_ref().and_then(|s| s.get("name")),
            Some(&json!("org.apache.kafka.connect.data.Date"))
        );
        let time = convert(
            &[("target.type", "Time")],
            typed(json!(MS), json!({"type": "int64"})),
        );
        assert_eq!(
            time.payload,
            json!(54_317_123),
            "milliseconds since midnight"
        );
        // Logical input: a Date (days) back to unix seconds.
        let date_schema =
            json!({"type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1});
        let unix = convert(
            &[("target.type", "unix"), ("unix.precision", "seconds")],
            typed(json!(17_427), date_schema),
        );
        assert_eq!(unix.payload, json!(1_505_692_800));
        assert_eq!(
            unix.schema,
            Some(json!({"type": "int64", "optional": false}))
        );
        // Before 1970, Date and Time still floor to the day.
        let old = convert(&[("target.type", "Date")], plain(json!(-1)));
        assert_eq!(old.payload, json!(-1));
        let old = convert(&[("target.type", "Time")], plain(json!(-1)));
        assert_eq!(old.payload, json!(DAY - 1));
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn struct_fields_convert_and_nulls_stay_null() {
        let schema = json!({"type": "struct", "name": "row", "optional": false, "fields": [
            {"field": "id", "type": "int32", "optional": false},
            {"field": "at", "type": "string", "optional": true},
        ]});
        let settings = [
            ("field", "at"),
            ("target.type", "Timestamp"),
            ("format", "yyyy-MM-dd"),
        ];
        let out = convert(
            &settings,
            typed(json!({"id": 1, "at": "2017-09-18"}), schema.clone()),
        );
        assert_eq!(out.payload, json!({"id": 1, "at": 1_505_692_800_000_i64}));
        let fields = out
            .schema
            .as_ref()
            .and_then(|s| s["fields"].as_array().cloned());
        assert_eq!(
            fields.as_deref().and_then(|f| f.get(1)),
            Some(
                &json!({"field": "at", "type": "int64", "optional": true, "version": 1,
                "name": "org.apache.kafka.connect.data.Timestamp"})
            )
        );
        assert_eq!(out.schema.as_ref().map(|s| &s["name"]), Some(&json!("row")));
        let null = convert(
            &settings,
            typed(json!({"id": 2, "at": null}), schema.clone()),
        );
        assert_eq!(null.payload, json!({"id": 2, "at": null}));
        let tombstone = apply(
            &[
                ("transforms", "x"),
                ("transforms.x.type", CLASS),
                ("transforms.x.target.type", "unix"),
            ],
            record(None, None),
        )
        .expect("tombstones pass");
        assert_eq!(tombstone.value, None);
    }

    #[test]
    fn bad_configs_and_values_are_refused_by_name() {
        let problems = |pairs: &[(&str, &str)]| {
            let mut all = vec![("transforms", "x"), ("transforms.x.type", CLASS)];
            all.extend_from_slice(pairs);
            chain(&all).expect_err("refused").join("\n")
        };
        assert!(problems(&[]).contains("target.type"));
        assert!(
            problems(&[("transforms.x.target.type", "date")]).contains("String must be one of")
        );
        assert!(
            problems(&[("transforms.x.target.type", "string")]).contains("requires format option")
        );
        assert!(
            problems(&[
                ("transforms.x.target.type", "string"),
                ("transforms.x.format", "yyyy-bb")
            ])
            .contains("Illegal pattern character 'b'")
        );
        assert!(
            problems(&[
                ("transforms.x.target.type", "unix"),
                ("transforms.x.unix.precision", "days")
            ])
            .contains("transforms.x.unix.precision")
        );
        let run = |settings: &[(&str, &str)], value: Value| {
            let mut pairs = vec![("transforms", "x"), ("transforms.x.type", CLASS)];
            pairs.extend_from_slice(settings);
            apply(&pairs, record(None, plain(value)))
                .expect_err("refused")
                .to_string()
        };
        let e = run(
            &[
                ("transforms.x.target.type", "unix"),
                ("transforms.x.format", "yyyy-MM-dd"),
            ],
            json!("18.09.2017"),
        );
        assert!(
            e.contains(
                "Could not parse timestamp: value (18.09.2017) does not match pattern (yyyy-MM-dd)"
            ),
            "{e}"
        );
        let e = run(&[("transforms.x.target.type", "unix")], json!(1.5));
        assert!(
            e.contains("does not support java.lang.Double objects"),
            "{e}"
        );
        let e = run(&[("transforms.x.target.type", "unix")], json!("2017"));
        assert!(e.contains("requires format option"), "{e}");
    }
}
