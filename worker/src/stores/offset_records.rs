//! Records of the offset topic (`offset.storage.topic`): key `["<connector>",{<source
//! partition>}]`, value `{<source offset>}`, tombstone = offset removed. Keys are written
//! compactly, as Connect's JsonConverter does; they are matched by value on read, so a key
//! written by another implementation with other spacing or field order still matches.

use serde_json::Value;

use super::{FormatError, malformed};

const TOPIC: &str = "offset";

/// A parsed offsets key.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetKey {
    pub connector: String,
    /// The source partition (a JSON object, or null for connectors without partitions).
    pub partition: Value,
}

impl OffsetKey {
    /// Parses a record key.
    pub fn parse(key: &[u8]) -> Result<Self, FormatError> {
        let shown = String::from_utf8_lossy(key).into_owned();
        let bad = |why: &str| malformed(TOPIC, &shown, why);
        let value: Value =
            serde_json::from_slice(key).map_err(|e| bad(&format!("the key is not JSON: {e}")))?;
        match value {
            Value::Array(items) if items.len() == 2 => {
                let mut items = items.into_iter();
                let connector = match items.next() {
                    Some(Value::String(name)) => name,
                    _ => return Err(bad("the first element is not the connector name")),
                };
                let partition = items.next().unwrap_or(Value::Null);
                if !matches!(partition, Value::Object(_) | Value::Null) {
                    return Err(bad("the source partition is not a JSON object"));
                }
                Ok(Self {
                    connector,
                    partition,
                })
            }
            _ => Err(bad("the key is not a [connector, partition] array")),
        }
    }
}

/// The record key for `connector`'s `partition`.
pub fn encode_offset_key(connector: &str, partition: &Value) -> Vec<u8> {
    Value::Array(vec![
        Value::String(connector.to_string()),
        partition.clone(),
    ])
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_compact_arrays_and_parse_back() {
        let partition = serde_json::json!({"table": "orders"});
        let key = encode_offset_key("jdbc", &partition);
        assert_eq!(key, br#"["jdbc",{"table":"orders"}]"#);
        let parsed = OffsetKey::parse(br#"[ "jdbc", { "table" : "orders" } ]"#).expect("parses");
        assert_eq!(
            parsed,
            OffsetKey {
                connector: "jdbc".into(),
                partition
            }
        );
        assert!(OffsetKey::parse(b"[\"jdbc\"]").is_err());
        assert!(OffsetKey::parse(b"[1,{}]").is_err());
        assert!(OffsetKey::parse(b"[\"c\",[1]]").is_err());
        assert!(OffsetKey::parse(b"nope").is_err());
    }
}
