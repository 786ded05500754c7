//! The record transforms work on, and its conversion from and to the JSON bytes plugins
//! exchange (a plain value, or Connect's `{"schema": ..., "payload": ...}` envelope whose
//! schema is kept beside the payload).

use serde_json::{Map, Value};

/// A key or value: its payload and, when the data carried one, its Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub payload: Value,
    pub schema: Option<Value>,
}

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Option<Vec<u8>>,
}

/// A record as transforms see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    /// The Kafka partition, when known (sink side).
    pub partition: Option<i32>,
    /// The Kafka offset, when known (sink side).
    pub offset: Option<i64>,
    /// `None` is a null key.
    pub key: Option<Data>,
    /// `None` is a null value (a tombstone).
    pub value: Option<Data>,
    pub headers: Vec<Header>,
    /// Milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl Data {
    /// Parses JSON bytes; an envelope (an object with exactly `schema` and `payload`)
    /// splits into payload and schema.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("the data is not JSON: {e}"))?;
        Ok(Self::from_json(value))
    }

    /// Splits an envelope into payload and schema; other values are schemaless payloads.
    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Object(mut map)
                if map.len() == 2 && map.contains_key("schema") && map.contains_key("payload") =>
            {
                let payload = map.remove("payload").unwrap_or(Value::Null);
                let schema = map.remove("schema").filter(|s| !s.is_null());
                Self { payload, schema }
            }
            other => Self {
                payload: other,
                schema: None,
            },
        }
    }

    /// A schemaless payload.
    pub fn plain(payload: Value) -> Self {
        Self {
            payload,
            schema: None,
        }
    }

    /// The JSON bytes: the envelope when there is a schema, the payload otherwise.
    pub fn to_bytes(&self) -> Vec<u8> {
        let value = match &self.schema {
            Some(schema) => {
                let mut map = Map::new();
                map.insert("schema".into(), schema.clone());
                map.insert("payload".into(), self.payload.clone());
                Value::Object(map)
            }
            None => self.payload.clone(),
        };
        value.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelopes_split_and_join_again() {
        let d = Data::parse(br#"{"schema":{"type":"int32","optional":false},"payload":5}"#)
            .expect("JSON");
        assert_eq!(d.payload, json!(5));
        assert_eq!(d.schema, Some(json!({"type":"int32","optional":false})));
        assert_eq!(
            String::from_utf8(d.to_bytes()).expect("utf8"),
            r#"{"payload":5,"schema":{"optional":false,"type":"int32"}}"#
        );
        let plain = Data::parse(br#"{"schema":1,"payload":2,"x":3}"#).expect("JSON");
        assert_eq!(plain.schema, None);
        assert_eq!(plain.payload["x"], 3);
        let null_schema = Data::parse(br#"{"schema":null,"payload":"s"}"#).expect("JSON");
        assert_eq!(
            (null_schema.payload, null_schema.schema),
            (json!("s"), None)
        );
        assert!(Data::parse(b"{").is_err());
    }
}
