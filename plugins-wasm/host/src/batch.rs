//! Validated, zero-copy views of the columnar batches plugins return, and the builder for
//! the batches the host hands to plugins.
//!
//! A plugin is untrusted: every length, offset and index in a batch is checked once, when the
//! batch arrives, so that reading records afterwards cannot fail or panic.

use crate::bindings::culvert::connector::types::RecordBatch;
use crate::bindings::exports::culvert::connector::source::SourceBatch;
use crate::source::Position;

/// Records with their topics, validated: the common part of every batch.
#[derive(Debug)]
pub struct Records {
    batch: RecordBatch,
    topics: Vec<String>,
    topic_index: Vec<u16>,
}

impl Default for Records {
    fn default() -> Self {
        Self {
            batch: RecordBatch {
                keys: Vec::new(),
                key_ends: Vec::new(),
                values: Vec::new(),
                value_ends: Vec::new(),
                null_flags: Vec::new(),
                headers: Vec::new(),
                header_ends: Vec::new(),
                timestamps_ms: Vec::new(),
            },
            topics: Vec::new(),
            topic_index: Vec::new(),
        }
    }
}

/// A source batch that passed validation: records plus committable positions.
#[derive(Debug)]
pub struct SourceRecords {
    records: Records,
    checkpoints: Vec<(usize, Position)>,
}

/// One record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's topic (target topic for source records).
    pub topic: &'a str,
    /// `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// `None` is a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    /// Milliseconds since the epoch, or `None` to let the producer stamp it.
    pub timestamp_ms: Option<i64>,
    pub(crate) header_block: &'a [u8],
}

/// One record of a [`SourceRecords`] batch.
pub type SourceRecord<'a> = Record<'a>;

/// One record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: Option<&'a [u8]>,
}

fn slice_at<'a>(buf: &'a [u8], ends: &[u32], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &buf[start..ends[i] as usize]
}

/// Record `i` of a batch whose columns were validated (or built by the host), or `None`
/// past the end.
pub(crate) fn record_at<'a>(
    r: &'a RecordBatch,
    topics: &'a [String],
    topic_index: &[u16],
    i: usize,
) -> Option<Record<'a>> {
    let topic = topics.get(usize::from(*topic_index.get(i)?))?;
    let flags = r.null_flags[i];
    let ts = r.timestamps_ms[i];
    Some(Record {
        topic,
        key: (flags & 1 == 0).then(|| slice_at(&r.keys, &r.key_ends, i)),
        value: (flags & 2 == 0).then(|| slice_at(&r.values, &r.value_ends, i)),
        timestamp_ms: (ts >= 0).then_some(ts),
        header_block: slice_at(&r.headers, &r.header_ends, i),
    })
}

/// Checks that `ends` has `n` entries, never decreases, and ends exactly at `buf_len`.
fn check_ends(what: &str, ends: &[u32], n: usize, buf_len: usize) -> Result<(), String> {
    if ends.len() != n {
        return Err(format!(
            "{what}-ends has {} entries for {n} records",
            ends.len()
        ));
    }
    let mut prev = 0u32;
    for (i, &end) in ends.iter().enumerate() {
        if end < prev {
            return Err(format!(
                "{what}-ends decreases at record {i} ({prev} then {end})"
            ));
        }
        prev = end;
    }
    if prev as usize != buf_len {
        return Err(format!(
            "{what}-ends ends at {prev} but the {what} buffer holds {buf_len} bytes"
        ));
    }
    Ok(())
}

/// Parses one header block, calling `f` for each header; fails on truncation or bad UTF-8.
fn walk_headers<'a>(mut block: &'a [u8], mut f: impl FnMut(Header<'a>)) -> Result<(), String> {
    fn take<'b>(block: &mut &'b [u8], n: usize) -> Result<&'b [u8], String> {
        if block.len() < n {
            return Err(format!(
                "header block truncated: needs {n} more bytes, has {}",
                block.len()
            ));
        }
        let (head, rest) = block.split_at(n);
        *block = rest;
        Ok(head)
    }
    fn take4(block: &mut &[u8]) -> Result<[u8; 4], String> {
        let b = take(block, 4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }
    while !block.is_empty() {
        let name_len = u32::from_le_bytes(take4(&mut block)?) as usize;
        let name = std::str::from_utf8(take(&mut block, name_len)?)
            .map_err(|_| "header name is not UTF-8".to_string())?;
        let value_len = i32::from_le_bytes(take4(&mut block)?);
        let value = match usize::try_from(value_len) {
            Ok(len) => Some(take(&mut block, len)?),
            Err(_) if value_len == -1 => None,
            Err(_) => return Err(format!("header {name} has length {value_len}")),
        };
        f(Header { name, value });
    }
    Ok(())
}

impl Records {
    /// Validates the record columns and topics of a batch a plugin returned.
    pub(crate) fn validate(
        batch: RecordBatch,
        topics: Vec<String>,
        topic_index: Vec<u16>,
    ) -> Result<Self, String> {
        let r = &batch;
        let n = topic_index.len();
        check_ends("key", &r.key_ends, n, r.keys.len())?;
        check_ends("value", &r.value_ends, n, r.values.len())?;
        check_ends("header", &r.header_ends, n, r.headers.len())?;
        if r.null_flags.len() != n {
            return Err(format!(
                "null-flags has {} entries for {n} records",
                r.null_flags.len()
            ));
        }
        if r.timestamps_ms.len() != n {
            return Err(format!(
                "timestamps-ms has {} entries for {n} records",
                r.timestamps_ms.len()
            ));
        }
        if let Some(t) = topics.iter().position(|t| t.is_empty()) {
            return Err(format!("topic {t} of the batch is an empty string"));
        }
        for (i, topic) in topic_index.iter().enumerate() {
            let topic = *topic as usize;
            if topic >= topics.len() {
                return Err(format!(
                    "record {i} targets topic index {topic} but the batch names {} topics",
                    topics.len()
                ));
            }
            let flags = r.null_flags[i];
            if flags & 1 != 0 && !slice_at(&r.keys, &r.key_ends, i).is_empty() {
                return Err(format!("record {i} has a null key with key bytes"));
            }
            if flags & 2 != 0 && !slice_at(&r.values, &r.value_ends, i).is_empty() {
                return Err(format!("record {i} has a null value with value bytes"));
            }
            walk_headers(slice_at(&r.headers, &r.header_ends, i), |_| {})
                .map_err(|e| format!("record {i}: {e}"))?;
        }
        Ok(Self {
            batch,
            topics,
            topic_index,
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.topic_index.len()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<Record<'_>> {
        record_at(&self.batch, &self.topics, &self.topic_index, i)
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Bytes of keys, values and headers.
    pub fn byte_size(&self) -> usize {
        let r = &self.batch;
        r.keys.len() + r.values.len() + r.headers.len()
    }

    pub(crate) fn into_parts(self) -> (RecordBatch, Vec<String>, Vec<u16>) {
        (self.batch, self.topics, self.topic_index)
    }

    /// Reassembles parts taken with [`Records::into_parts`] (so already valid).
    pub(crate) fn from_parts(
        batch: RecordBatch,
        topics: Vec<String>,
        topic_index: Vec<u16>,
    ) -> Self {
        Self {
            batch,
            topics,
            topic_index,
        }
    }
}

impl SourceRecords {
    /// Validates a batch as the plugin returned it.
    pub(crate) fn new(batch: SourceBatch) -> Result<Self, String> {
        let records = Records::validate(batch.records, batch.topics, batch.topic_index)?;
        let n = records.len();
        let mut checkpoints = Vec::with_capacity(batch.checkpoints.len());
        let mut prev = 0usize;
        for (upto, pos) in batch.checkpoints {
            let upto = upto as usize;
            if upto > n || upto < prev {
                return Err(format!(
                    "checkpoint at record count {upto} is out of order or beyond the {n} records"
                ));
            }
            prev = upto;
            checkpoints.push((
                upto,
                Position {
                    partition: pos.partition,
                    offset: pos.offset,
                },
            ));
        }
        Ok(Self {
            records,
            checkpoints,
        })
    }

    /// The records.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Takes the records (e.g. to hand them to a transform).
    pub fn into_records(self) -> Records {
        self.records
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch holds no record (it may still carry checkpoints).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Record `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<Record<'_>> {
        self.records.get(i)
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        self.records.iter()
    }

    /// `(n, position)`: `position` is committable once the first `n` records are durable.
    pub fn checkpoints(&self) -> &[(usize, Position)] {
        &self.checkpoints
    }

    /// Bytes of keys, values and headers.
    pub fn byte_size(&self) -> usize {
        self.records.byte_size()
    }
}

/// Builds a batch for a plugin (sink `put`, transform `apply`) record by record.
#[derive(Debug, Default)]
pub struct RecordsBuilder {
    records: Records,
}

/// Limits of the columnar encoding, checked before anything is appended.
fn end_offset(len: usize, what: &str) -> Result<u32, String> {
    u32::try_from(len).map_err(|_| format!("a batch may hold at most 4 GiB of {what}"))
}

impl RecordsBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Appends a record with `headers`. Fails (changing nothing) past 4 GiB of keys, values
    /// or headers, 65 536 topics, or a header value over 2 GiB.
    pub fn push(&mut self, record: &Record<'_>, headers: &[Header<'_>]) -> Result<(), String> {
        let mut header_bytes = 0usize;
        for h in headers {
            if h.value.is_some_and(|v| i32::try_from(v.len()).is_err()) {
                return Err(format!("header {} is larger than 2 GiB", h.name));
            }
            header_bytes += 8 + h.name.len() + h.value.map_or(0, <[u8]>::len);
        }
        self.append(record, header_bytes, |out| {
            for h in headers {
                out.extend_from_slice(&(h.name.len() as u32).to_le_bytes());
                out.extend_from_slice(h.name.as_bytes());
                match h.value {
                    Some(v) => {
                        out.extend_from_slice(&(v.len() as i32).to_le_bytes());
                        out.extend_from_slice(v);
                    }
                    None => out.extend_from_slice(&(-1i32).to_le_bytes()),
                }
            }
        })
    }

    /// Appends a record read from another batch, its headers included, copying the already
    /// encoded header block instead of decoding and re-encoding it.
    pub fn push_record(&mut self, record: &Record<'_>) -> Result<(), String> {
        let block = record.header_block;
        self.append(record, block.len(), |out| out.extend_from_slice(block))
    }

    /// Checks every limit, then appends `record` with a header block of `header_bytes`
    /// bytes that `write_headers` writes.
    fn append(
        &mut self,
        record: &Record<'_>,
        header_bytes: usize,
        write_headers: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), String> {
        let r = &mut self.records;
        // Runs of records for one topic are the common case: check the last one first.
        let known = match r.topic_index.last() {
            Some(&last) if r.topics[usize::from(last)] == record.topic => Some(usize::from(last)),
            _ => r.topics.iter().position(|t| t == record.topic),
        };
        let topic_idx = u16::try_from(known.unwrap_or(r.topics.len()))
            .map_err(|_| "a batch may hold at most 65536 distinct topics".to_string())?;
        let b = &mut r.batch;
        let key_end = end_offset(b.keys.len() + record.key.map_or(0, <[u8]>::len), "keys")?;
        let value_end = end_offset(
            b.values.len() + record.value.map_or(0, <[u8]>::len),
            "values",
        )?;
        let header_end = end_offset(b.headers.len() + header_bytes, "headers")?;
        write_headers(&mut b.headers);
        b.keys.extend_from_slice(record.key.unwrap_or_default());
        b.values.extend_from_slice(record.value.unwrap_or_default());
        b.key_ends.push(key_end);
        b.value_ends.push(value_end);
        b.header_ends.push(header_end);
        b.null_flags
            .push(u8::from(record.key.is_none()) | (u8::from(record.value.is_none()) << 1));
        b.timestamps_ms.push(record.timestamp_ms.unwrap_or(-1));
        if known.is_none() {
            r.topics.push(record.topic.to_string());
        }
        r.topic_index.push(topic_idx);
        Ok(())
    }

    /// The index of `topic` in the batch's topic list, adding it when new (for columns
    /// beside the records' own topics, such as a sink batch's consumed topics).
    pub(crate) fn intern(&mut self, topic: &str) -> Result<u16, String> {
        let topics = &mut self.records.topics;
        let at = match topics.iter().rposition(|t| t == topic) {
            Some(at) => at,
            None => {
                topics.push(topic.to_string());
                topics.len() - 1
            }
        };
        u16::try_from(at).map_err(|_| "a batch may hold at most 65536 distinct topics".into())
    }

    /// The finished batch.
    pub fn build(self) -> Records {
        self.records
    }
}

impl<'a> Record<'a> {
    /// A record without headers (add them through [`RecordsBuilder::push`]).
    pub fn new(
        topic: &'a str,
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        timestamp_ms: Option<i64>,
    ) -> Self {
        Self {
            topic,
            key,
            value,
            timestamp_ms,
            header_block: &[],
        }
    }

    /// Whether the record has any header (without decoding them).
    pub fn has_headers(&self) -> bool {
        !self.header_block.is_empty()
    }

    /// The record's headers, in order.
    pub fn headers(&self) -> Vec<Header<'a>> {
        let mut out = Vec::new();
        // The block was validated when the batch arrived, so this cannot fail.
        let _ = walk_headers(self.header_block, |h| out.push(h));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::culvert::connector::source::Position as WitPosition;

    fn header_block(headers: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in headers {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            match value {
                Some(v) => {
                    out.extend_from_slice(&(v.len() as i32).to_le_bytes());
                    out.extend_from_slice(v);
                }
                None => out.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        out
    }

    /// Two records: ("k1","v1", header a=x) and (null key, tombstone, header b=null).
    fn good() -> SourceBatch {
        let h1 = header_block(&[("a", Some(b"x"))]);
        let h2 = header_block(&[("b", None)]);
        let headers = [h1.clone(), h2].concat();
        SourceBatch {
            records: RecordBatch {
                keys: b"k1".to_vec(),
                key_ends: vec![2, 2],
                values: b"v1".to_vec(),
                value_ends: vec![2, 2],
                null_flags: vec![0, 3],
                header_ends: vec![h1.len() as u32, headers.len() as u32],
                headers,
                timestamps_ms: vec![7, -1],
            },
            topics: vec!["t".into()],
            topic_index: vec![0, 0],
            checkpoints: vec![(
                2,
                WitPosition {
                    partition: "{}".into(),
                    offset: "{}".into(),
                },
            )],
        }
    }

    #[test]
    fn a_valid_batch_reads_back_record_by_record() {
        let batch = SourceRecords::new(good()).expect("valid");
        assert_eq!(batch.len(), 2);
        let r0 = batch.get(0).expect("record 0");
        assert_eq!(
            (r0.topic, r0.key, r0.value, r0.timestamp_ms),
            ("t", Some(&b"k1"[..]), Some(&b"v1"[..]), Some(7))
        );
        assert_eq!(
            r0.headers(),
            [Header {
                name: "a",
                value: Some(b"x")
            }]
        );
        let r1 = batch.get(1).expect("record 1");
        assert_eq!((r1.key, r1.value, r1.timestamp_ms), (None, None, None));
        assert_eq!(
            r1.headers(),
            [Header {
                name: "b",
                value: None
            }]
        );
        assert!(batch.get(2).is_none());
        assert_eq!(batch.checkpoints()[0].0, 2);
    }

    #[test]
    fn the_builder_round_trips_records_and_headers() {
        let source = SourceRecords::new(good()).expect("valid");
        let mut builder = RecordsBuilder::new();
        let mut verbatim = RecordsBuilder::new();
        for r in source.iter() {
            builder.push(&r, &r.headers()).expect("push");
            verbatim.push_record(&r).expect("push_record");
        }
        let verbatim = verbatim.build();
        let built = builder.build();
        assert_eq!(built.len(), 2);
        for (a, b) in source.iter().zip(built.iter()) {
            assert_eq!(a, b);
            assert_eq!(a.headers(), b.headers());
        }
        for (a, b) in built.iter().zip(verbatim.iter()) {
            assert_eq!(a, b);
        }
        let (batch, topics, index) = built.into_parts();
        let again = Records::validate(batch, topics, index).expect("a built batch is valid");
        assert_eq!(again.len(), 2);
    }

    fn rejected(mutate: impl FnOnce(&mut SourceBatch)) -> String {
        let mut b = good();
        mutate(&mut b);
        SourceRecords::new(b).expect_err("must be rejected")
    }

    #[test]
    fn every_malformed_part_is_named() {
        type Mutation = Box<dyn FnOnce(&mut SourceBatch)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|b| b.records.key_ends = vec![2]),
                "key-ends has 1 entries for 2 records",
            ),
            (
                Box::new(|b| b.records.value_ends = vec![2, 1]),
                "value-ends decreases at record 1",
            ),
            (
                Box::new(|b| b.records.key_ends = vec![1, 1]),
                "key-ends ends at 1 but the key buffer holds 2 bytes",
            ),
            (
                Box::new(|b| b.records.null_flags = vec![1, 3]),
                "record 0 has a null key with key bytes",
            ),
            (
                Box::new(|b| {
                    b.records.timestamps_ms.pop();
                }),
                "timestamps-ms has 1 entries",
            ),
            (
                Box::new(|b| b.topic_index[1] = 5),
                "record 1 targets topic index 5",
            ),
            (Box::new(|b| b.topics[0] = String::new()), "empty string"),
            (Box::new(|b| b.checkpoints[0].0 = 3), "beyond the 2 records"),
            (
                Box::new(|b| {
                    b.records.headers.truncate(3);
                    b.records.header_ends = vec![3, 3];
                }),
                "record 0: header block truncated",
            ),
        ];
        for (mutate, expected) in cases {
            let err = rejected(mutate);
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
    }
}
