//! The state the offset topic describes: every source connector's committed offset per
//! source partition. Partitions are compared by JSON value, not by bytes, so keys written
//! with other spacing or field order (e.g. by Kafka Connect before a migration) still match.

use std::collections::BTreeMap;

use serde_json::Value;

use super::FormatError;
use super::offset_records::OffsetKey;

/// Offsets by connector, then by source partition (its canonical JSON text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OffsetState {
    offsets: BTreeMap<String, BTreeMap<String, (Value, Value)>>,
}

fn malformed_value(key: &[u8], reason: String) -> FormatError {
    super::malformed("offset", &String::from_utf8_lossy(key), reason)
}

impl OffsetState {
    /// Applies one record (a tombstone removes the partition's offset).
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), FormatError> {
        let parsed = OffsetKey::parse(key)?;
        // serde_json's maps are sorted, so this text is the same for equal values.
        let canonical = parsed.partition.to_string();
        match value {
            Some(v) => {
                let offset: Value = serde_json::from_slice(v)
                    .map_err(|e| malformed_value(key, format!("the value is not JSON: {e}")))?;
                if !matches!(offset, Value::Object(_) | Value::Null) {
                    return Err(malformed_value(
                        key,
                        "the offset is not a JSON object".into(),
                    ));
                }
                self.offsets
                    .entry(parsed.connector)
                    .or_default()
                    .insert(canonical, (parsed.partition, offset));
            }
            None => {
                if let Some(partitions) = self.offsets.get_mut(&parsed.connector) {
                    partitions.remove(&canonical);
                    if partitions.is_empty() {
                        self.offsets.remove(&parsed.connector);
                    }
                }
            }
        }
        Ok(())
    }

    /// A connector's (partition, offset) pairs.
    pub fn offsets(&self, connector: &str) -> impl Iterator<Item = (&Value, &Value)> {
        self.offsets
            .get(connector)
            .into_iter()
            .flat_map(|p| p.values().map(|(k, v)| (k, v)))
    }

    /// The offset of one partition.
    pub fn offset(&self, connector: &str, partition: &Value) -> Option<&Value> {
        self.offsets
            .get(connector)?
            .get(&partition.to_string())
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn partitions_match_by_value_and_tombstones_remove() {
        let mut s = OffsetState::default();
        s.apply(br#"["c",{"b":1,"a":"x"}]"#, Some(br#"{"pos":1}"#))
            .expect("ok");
        s.apply(br#"[ "c", { "a": "x", "b": 1 } ]"#, Some(br#"{"pos":2}"#))
            .expect("ok");
        s.apply(br#"["d",{"a":"x"}]"#, Some(br#"{"pos":9}"#))
            .expect("ok");
        let partition = json!({"a": "x", "b": 1});
        assert_eq!(s.offset("c", &partition), Some(&json!({"pos": 2})));
        assert_eq!(s.offsets("c").count(), 1);
        s.apply(br#"["c",{"a":"x","b":1}]"#, None).expect("ok");
        assert_eq!(s.offsets("c").count(), 0);
        assert_eq!(s.offsets("d").count(), 1);
        assert!(s.apply(br#"["c",{}]"#, Some(b"[1]")).is_err());
        assert!(s.apply(b"garbage", Some(b"{}")).is_err());
    }
}
