//! Test helpers: a chain from `(key, value)` pairs and records with or without schemas.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{Chain, Data, Record, SmtError};

/// A chain built from a connector configuration's pairs.
pub(crate) fn chain(pairs: &[(&str, &str)]) -> Result<Chain, Vec<String>> {
    let config: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Chain::from_config(&config)
}

/// A record on topic `t` with the given key and value.
pub(crate) fn record(key: Option<Data>, value: Option<Data>) -> Record {
    Record {
        topic: "t".into(),
        partition: None,
        offset: None,
        key,
        value,
        headers: Vec::new(),
        timestamp_ms: None,
    }
}

/// Schemaless data.
pub(crate) fn plain(payload: Value) -> Option<Data> {
    Some(Data::plain(payload))
}

/// Data with a schema.
pub(crate) fn typed(payload: Value, schema: Value) -> Option<Data> {
    Some(Data {
        payload,
        schema: Some(schema),
    })
}

/// Applies a one-transform chain configured by `pairs` (alias `x`) to `record`.
pub(crate) fn apply(pairs: &[(&str, &str)], record: Record) -> Result<Record, SmtError> {
    let mut all = vec![("transforms", "x")];
    all.extend_from_slice(pairs);
    let chain = chain(&all).map_err(|p| SmtError::Config(p.join("; ")))?;
    chain
        .apply(record)
        .map(|r| r.expect("these transforms never drop records"))
}
