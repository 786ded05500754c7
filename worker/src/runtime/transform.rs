//! The SMT hook: runs a connector's transform chain (`culvert-smt`) on one record between
//! poll and convert (sources) or between convert and put (sinks). Keys and values are
//! parsed as JSON (Connect envelopes keep their schema) only when the chain is not empty.

use culvert_plugin_host::Header;
use culvert_smt::{Chain, Data, Record};

/// A record as the chain left it.
#[derive(Debug)]
pub(super) struct Transformed {
    pub(super) topic: String,
    pub(super) key: Option<Vec<u8>>,
    pub(super) value: Option<Vec<u8>>,
    headers: Vec<culvert_smt::Header>,
    pub(super) timestamp_ms: Option<i64>,
}

impl From<super::batch_transform::Item> for Transformed {
    fn from(item: super::batch_transform::Item) -> Self {
        Self {
            topic: item.topic,
            key: item.key,
            value: item.value,
            headers: item.headers,
            timestamp_ms: item.timestamp_ms,
        }
    }
}

impl Transformed {
    /// The headers, borrowed in the host's form.
    pub(super) fn headers(&self) -> Vec<Header<'_>> {
        super::batch_transform::host_headers(&self.headers)
    }
}

fn parse(what: &str, bytes: Option<&[u8]>) -> Result<Option<Data>, String> {
    bytes
        .map(Data::parse)
        .transpose()
        .map_err(|e| format!("the {what} cannot be transformed: {e}"))
}

/// Runs `chain` on a record; `Ok(None)` when a transform dropped it.
pub(super) fn apply(
    chain: &Chain,
    (topic, partition, offset): (&str, Option<i32>, Option<i64>),
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header<'_>],
    timestamp_ms: Option<i64>,
) -> Result<Option<Transformed>, String> {
    let record = Record {
        topic: topic.to_string(),
        partition,
        offset,
        key: parse("key", key)?,
        value: parse("value", value)?,
        headers: super::batch_transform::smt_headers(headers),
        timestamp_ms,
    };
    let Some(out) = chain.apply(record).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    Ok(Some(Transformed {
        topic: out.topic,
        key: out.key.map(|d| d.to_bytes()),
        value: out.value.map(|d| d.to_bytes()),
        headers: out.headers,
        timestamp_ms: out.timestamp_ms,
    }))
}
