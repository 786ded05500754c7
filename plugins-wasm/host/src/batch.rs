//! Validated, zero-copy views of the columnar batches plugins return.
//!
//! A plugin is untrusted: every length, offset and index in a batch is checked once, when the
//! batch arrives, so that reading records afterwards cannot fail or panic.

use crate::bindings::exports::culvert::connector::source::SourceBatch;
use crate::source::Position;

/// A source batch that passed validation.
#[derive(Debug)]
pub struct SourceRecords {
    batch: SourceBatch,
    checkpoints: Vec<(usize, Position)>,
}

/// One record of a [`SourceRecords`] batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRecord<'a> {
    /// Target topic.
    pub topic: &'a str,
    /// `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// `None` is a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    /// Milliseconds since the epoch, or `None` to let the producer stamp it.
    pub timestamp_ms: Option<i64>,
    header_block: &'a [u8],
}

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

impl SourceRecords {
    /// Validates a batch as the plugin returned it.
    pub(crate) fn new(batch: SourceBatch) -> Result<Self, String> {
        let r = &batch.records;
        let n = batch.topic_index.len();
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
        if let Some(t) = batch.topics.iter().position(|t| t.is_empty()) {
            return Err(format!("topic {t} of the batch is an empty string"));
        }
        for i in 0..n {
            let topic = batch.topic_index[i] as usize;
            if topic >= batch.topics.len() {
                return Err(format!(
                    "record {i} targets topic index {topic} but the batch names {} topics",
                    batch.topics.len()
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
        let mut checkpoints = Vec::with_capacity(batch.checkpoints.len());
        let mut prev = 0usize;
        for (upto, pos) in &batch.checkpoints {
            let upto = *upto as usize;
            if upto > n || upto < prev {
                return Err(format!(
                    "checkpoint at record count {upto} is out of order or beyond the {n} records"
                ));
            }
            prev = upto;
            checkpoints.push((
                upto,
                Position {
                    partition: pos.partition.clone(),
                    offset: pos.offset.clone(),
                },
            ));
        }
        Ok(Self { batch, checkpoints })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.batch.topic_index.len()
    }

    /// Whether the batch holds no record (it may still carry checkpoints).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<SourceRecord<'_>> {
        if i >= self.len() {
            return None;
        }
        let r = &self.batch.records;
        let flags = r.null_flags[i];
        let ts = r.timestamps_ms[i];
        Some(SourceRecord {
            topic: &self.batch.topics[self.batch.topic_index[i] as usize],
            key: (flags & 1 == 0).then(|| slice_at(&r.keys, &r.key_ends, i)),
            value: (flags & 2 == 0).then(|| slice_at(&r.values, &r.value_ends, i)),
            timestamp_ms: (ts >= 0).then_some(ts),
            header_block: slice_at(&r.headers, &r.header_ends, i),
        })
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = SourceRecord<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// `(n, position)`: `position` is committable once the first `n` records are durable.
    pub fn checkpoints(&self) -> &[(usize, Position)] {
        &self.checkpoints
    }

    /// Bytes of keys, values and headers.
    pub fn byte_size(&self) -> usize {
        let r = &self.batch.records;
        r.keys.len() + r.values.len() + r.headers.len()
    }
}

impl<'a> SourceRecord<'a> {
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
    use crate::bindings::culvert::connector::types::RecordBatch;
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
