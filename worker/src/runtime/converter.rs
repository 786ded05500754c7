//! Converters: between the bytes a plugin exchanges (JSON by convention — a plain value or
//! Connect's `{"schema","payload"}` envelope) and the bytes stored in Kafka, per Connect's
//! `JsonConverter`, `StringConverter` and `ByteArrayConverter`.
//!
//! Conversions borrow whenever the bytes can pass untouched (the common case: schemaless
//! JSON out of a plugin into a JsonConverter with `schemas.enable=false`, or raw bytes with
//! ByteArrayConverter), so most records are checked, not copied.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

/// What a connector's `key.converter` / `value.converter` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// `org.apache.kafka.connect.json.JsonConverter`; `schemas` is `schemas.enable`.
    Json { schemas: bool },
    /// `org.apache.kafka.connect.storage.StringConverter`.
    String,
    /// `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes pass untouched.
    ByteArray,
}

const JSON_CLASSES: [&str; 3] = [
    "org.apache.kafka.connect.json.JsonConverter",
    "JsonConverter",
    "json",
];
const STRING_CLASSES: [&str; 3] = [
    "org.apache.kafka.connect.storage.StringConverter",
    "StringConverter",
    "string",
];
const BYTES_CLASSES: [&str; 3] = [
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "ByteArrayConverter",
    "bytes",
];
/// Header converters Culvert accepts; every one of them passes header bytes untouched.
const HEADER_CLASSES: [&str; 5] = [
    "org.apache.kafka.connect.storage.SimpleHeaderConverter",
    "SimpleHeaderConverter",
    "simple",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
];

/// The converters' full class names, for plugin listings.
pub const CONVERTER_CLASSES: [&str; 3] = [JSON_CLASSES[0], STRING_CLASSES[0], BYTES_CLASSES[0]];
/// The header converter's full class name, for plugin listings.
pub const HEADER_CONVERTER_CLASS: &str = HEADER_CLASSES[0];

/// The message Connect's JsonConverter gives for a non-envelope with schemas enabled.
const NOT_ENVELOPE: &str = "JsonConverter with schemas.enable requires \"schema\" and \
    \"payload\" fields and may not contain additional fields. If you are trying to deserialize \
    plain JSON data, set schemas.enable=false in your converter configuration.";

impl Converter {
    /// Resolves `role` (`key.converter` or `value.converter`) for a connector: its own
    /// setting and `role.*` options first, then the worker's.
    pub(super) fn configure(
        role: &str,
        connector: &BTreeMap<String, String>,
        worker_class: &str,
        worker_props: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let (class, props) = match connector.get(role) {
            Some(class) => {
                let prefix = format!("{role}.");
                let props: BTreeMap<String, String> = connector
                    .iter()
                    .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.into(), v.clone())))
                    .collect();
                (class.trim().to_string(), props)
            }
            None => (worker_class.trim().to_string(), worker_props.clone()),
        };
        if JSON_CLASSES.contains(&class.as_str()) {
            let schemas = match props.get("schemas.enable").map(|v| v.trim()) {
                None => true,
                Some(v) if v.eq_ignore_ascii_case("true") => true,
                Some(v) if v.eq_ignore_ascii_case("false") => false,
                Some(v) => {
                    return Err(format!(
                        "Invalid value {v} for configuration {role}.schemas.enable: Expected \
                         value to be either true or false"
                    ));
                }
            };
            Ok(Converter::Json { schemas })
        } else if STRING_CLASSES.contains(&class.as_str()) {
            Ok(Converter::String)
        } else if BYTES_CLASSES.contains(&class.as_str()) {
            Ok(Converter::ByteArray)
        } else {
            Err(format!(
                "Invalid value {class} for configuration {role}: Class {class} could not be \
                 found. Culvert has JsonConverter, StringConverter and ByteArrayConverter \
                 (full Connect class names or short names)"
            ))
        }
    }

    /// Checks a `header.converter` class (headers always pass through as bytes).
    pub(super) fn check_header_converter(class: &str) -> Result<(), String> {
        let class = class.trim();
        if HEADER_CLASSES.contains(&class)
            || STRING_CLASSES.contains(&class)
            || BYTES_CLASSES.contains(&class)
            || JSON_CLASSES.contains(&class)
        {
            Ok(())
        } else {
            Err(format!(
                "Invalid value {class} for configuration header.converter: Class {class} could \
                 not be found"
            ))
        }
    }

    /// A plugin's bytes to the bytes written to Kafka (source side). `None` stays `None`.
    pub(super) fn to_kafka<'a>(
        self,
        data: Option<&'a [u8]>,
    ) -> Result<Option<Cow<'a, [u8]>>, String> {
        let Some(data) = data else {
            return Ok(None);
        };
        match self {
            Converter::ByteArray => Ok(Some(Cow::Borrowed(data))),
            Converter::Json { schemas } => {
                let envelope = envelope_payload(data)?;
                match (schemas, envelope) {
                    (true, Some(_)) => Ok(Some(Cow::Borrowed(data))),
                    (false, Some(payload)) => Ok(Some(Cow::Owned(payload.into_bytes()))),
                    (true, None) => {
                        let mut out = Vec::with_capacity(data.len() + 30);
                        out.extend_from_slice(b"{\"schema\":null,\"payload\":");
                        out.extend_from_slice(data);
                        out.push(b'}');
                        Ok(Some(Cow::Owned(out)))
                    }
                    (false, None) => Ok(Some(Cow::Borrowed(data))),
                }
            }
            Converter::String => {
                let payload = match envelope_payload(data)? {
                    Some(payload) => Cow::Owned(payload.into_bytes()),
                    None => Cow::Borrowed(data),
                };
                if payload.first() == Some(&b'"') {
                    let text: String = serde_json::from_slice(&payload)
                        .map_err(|e| format!("the plugin's data is not valid JSON: {e}"))?;
                    return Ok(Some(Cow::Owned(text.into_bytes())));
                }
                Ok(Some(payload))
            }
        }
    }

    /// Bytes read from Kafka to the bytes a plugin gets (sink side). `None` stays `None`.
    pub(super) fn to_plugin<'a>(
        self,
        data: Option<&'a [u8]>,
    ) -> Result<Option<Cow<'a, [u8]>>, String> {
        let Some(data) = data else {
            return Ok(None);
        };
        match self {
            Converter::ByteArray => Ok(Some(Cow::Borrowed(data))),
            Converter::Json { schemas: true } => match envelope_payload(data)? {
                Some(_) => Ok(Some(Cow::Borrowed(data))),
                None => Err(NOT_ENVELOPE.to_string()),
            },
            Converter::Json { schemas: false } => {
                check_json(data)?;
                Ok(Some(Cow::Borrowed(data)))
            }
            Converter::String => {
                let text = std::str::from_utf8(data)
                    .map_err(|e| format!("the data is not UTF-8 text: {e}"))?;
                serde_json::to_vec(text)
                    .map(|v| Some(Cow::Owned(v)))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

fn check_json(data: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<&RawValue>(data)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            )
        })
}

/// Checks `data` is JSON; returns the payload's text when it is Connect's envelope (an
/// object with exactly `schema` and `payload`).
fn envelope_payload(data: &[u8]) -> Result<Option<String>, String> {
    // Only an object that mentions "payload" can be an envelope; anything else is checked
    // without building a tree.
    let start = data.iter().position(|b| !b.is_ascii_whitespace());
    let maybe = start.is_some_and(|i| data[i] == b'{') && contains(data, b"\"payload\"");
    if !maybe {
        check_json(data)?;
        return Ok(None);
    }
    let map: BTreeMap<String, &RawValue> = match serde_json::from_slice(data) {
        Ok(map) => map,
        Err(_) => {
            check_json(data)?;
            return Ok(None);
        }
    };
    if map.len() != 2 || !map.contains_key("schema") {
        return Ok(None);
    }
    let Some(payload) = map.get("payload") else {
        return Ok(None);
    };
    if let Value::Object(_) | Value::Null =
        serde_json::from_str::<Value>(map["schema"].get()).map_err(|e| e.to_string())?
    {
        Ok(Some(payload.get().to_string()))
    } else {
        Ok(None)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

    fn text(c: Option<Cow<'_, [u8]>>) -> String {
        String::from_utf8(c.map(|c| c.into_owned()).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn class_names_short_names_and_options_resolve() {
        let none = BTreeMap::new();
        let c = Converter::configure("value.converter", &none, JSON, &none);
        assert_eq!(c, Ok(Converter::Json { schemas: true }));
        let worker = props(&[("schemas.enable", "false")]);
        let c = Converter::configure("value.converter", &none, JSON, &worker);
        assert_eq!(c, Ok(Converter::Json { schemas: false }));
        // The connector's own converter ignores the worker's options.
        let own = props(&[("value.converter", "JsonConverter")]);
        let c = Converter::configure("value.converter", &own, "x", &worker);
        assert_eq!(c, Ok(Converter::Json { schemas: true }));
        for (class, want) in [
            (
                "org.apache.kafka.connect.storage.StringConverter",
                Converter::String,
            ),
            ("string", Converter::String),
            ("ByteArrayConverter", Converter::ByteArray),
        ] {
            let own = props(&[("key.converter", class)]);
            assert_eq!(
                Converter::configure("key.converter", &own, JSON, &none),
                Ok(want)
            );
        }
        let bad = props(&[("key.converter", "com.example.Avro")]);
        let err = Converter::configure("key.converter", &bad, JSON, &none);
        assert!(err.is_err_and(|e| {
            e.starts_with("Invalid value com.example.Avro for configuration key.converter: Class")
        }));
        let bad = props(&[
            ("key.converter", "json"),
            ("key.converter.schemas.enable", "yes"),
        ]);
        let err = Converter::configure("key.converter", &bad, JSON, &none);
        assert!(err.is_err_and(|e| e.contains("key.converter.schemas.enable")));
        assert!(Converter::check_header_converter("SimpleHeaderConverter").is_ok());
        assert!(Converter::check_header_converter("Nope").is_err());
    }

    #[test]
    fn json_with_schemas_wraps_plain_values_and_keeps_envelopes() {
        let c = Converter::Json { schemas: true };
        assert_eq!(
            text(c.to_kafka(Some(br#"{"a":1}"#)).unwrap_or_default()),
            r#"{"schema":null,"payload":{"a":1}}"#
        );
        let env = br#"{"schema":{"type":"int32","optional":false},"payload":5}"#;
        assert!(matches!(c.to_kafka(Some(env)), Ok(Some(Cow::Borrowed(_)))));
        assert_eq!(c.to_kafka(None), Ok(None));
        assert!(c.to_kafka(Some(b"{not json")).is_err());
        // Sink side: an envelope passes, plain JSON is refused with Connect's hint.
        assert!(matches!(c.to_plugin(Some(env)), Ok(Some(Cow::Borrowed(_)))));
        let err = c.to_plugin(Some(br#"{"a":1}"#));
        assert!(err.is_err_and(|e| e.contains("set schemas.enable=false")));
    }

    #[test]
    fn json_without_schemas_strips_envelopes_and_checks_json() {
        let c = Converter::Json { schemas: false };
        assert!(matches!(
            c.to_kafka(Some(br#"{"a":"payload"}"#)),
            Ok(Some(Cow::Borrowed(_)))
        ));
        let env = br#"{"schema":null,"payload":{"x":[1,2]}}"#;
        assert_eq!(
            text(c.to_kafka(Some(env)).unwrap_or_default()),
            r#"{"x":[1,2]}"#
        );
        assert!(c.to_plugin(Some(b"[1,")).is_err());
        assert!(matches!(
            c.to_plugin(Some(b" 42 ")),
            Ok(Some(Cow::Borrowed(_)))
        ));
    }

    #[test]
    fn string_converter_unquotes_and_quotes() {
        let c = Converter::String;
        assert_eq!(
            text(c.to_kafka(Some(br#""hi \"x\"""#)).unwrap_or_default()),
            r#"hi "x""#
        );
        assert_eq!(
            text(c.to_kafka(Some(br#"{"a":1}"#)).unwrap_or_default()),
            r#"{"a":1}"#
        );
        assert_eq!(
            text(c.to_plugin(Some(b"line 1\n")).unwrap_or_default()),
            r#""line 1\n""#
        );
        assert!(c.to_plugin(Some(&[0xff, 0xfe])).is_err());
    }

    #[test]
    fn byte_array_passes_anything() {
        let c = Converter::ByteArray;
        assert!(matches!(
            c.to_kafka(Some(&[0xff])),
            Ok(Some(Cow::Borrowed(_)))
        ));
        assert!(matches!(
            c.to_plugin(Some(&[0xff])),
            Ok(Some(Cow::Borrowed(_)))
        ));
    }
}
