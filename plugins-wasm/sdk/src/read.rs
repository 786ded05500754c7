//! Reading the columnar batches the host hands to `put` and `apply`.
//!
//! A view checks the whole batch once when it is created (lengths, offsets, header blocks,
//! topic indexes), so iterating never fails and never panics.

use crate::bindings::source::culvert::connector::types::RecordBatch;
use crate::{SinkBatch, TransformBatch};

/// One record: its topic, key, value, headers and timestamp.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub topic: &'a str,
    /// `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// `None` is a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    pub headers: Headers<'a>,
    /// Milliseconds since the Unix epoch, if the record has a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// A sink record: a [`Record`] with where it was consumed — topic, partition, offset.
///
/// `consumed_topic` differs from `record.topic` when a transform renamed the record or it
/// is back from a retry topic (Kafka Connect's `originalTopic`). `partition`, `offset`,
/// `flush`'s offsets, `close` and held records are in the consumed topic's terms: keep
/// offset bookkeeping by `consumed_topic`, and use `record.topic` for what to write.
#[derive(Debug, Clone, Copy)]
pub struct SinkRecord<'a> {
    pub record: Record<'a>,
    pub consumed_topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// The headers of one record, in order; iterate for `(name, value)` pairs.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    block: &'a [u8],
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        // The block was validated when the view was created; a malformed one just ends.
        let (item, rest) = parse_header(self.block).ok()??;
        self.block = rest;
        Some(item)
    }
}

type HeaderItem<'a> = (&'a str, Option<&'a [u8]>);

/// Parses the first header of `block`: `Ok(None)` at the end, `Err` when malformed.
fn parse_header(block: &[u8]) -> Result<Option<(HeaderItem<'_>, &[u8])>, String> {
    if block.is_empty() {
        return Ok(None);
    }
    let need = |b: &[u8], n: usize| {
        if b.len() < n {
            Err("a header block is truncated".to_string())
        } else {
            Ok(())
        }
    };
    need(block, 4)?;
    let name_len = u32::from_le_bytes([block[0], block[1], block[2], block[3]]) as usize;
    let rest = &block[4..];
    need(rest, name_len)?;
    let name = std::str::from_utf8(&rest[..name_len])
        .map_err(|_| "a header name is not UTF-8".to_string())?;
    let rest = &rest[name_len..];
    need(rest, 4)?;
    let value_len = i32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let rest = &rest[4..];
    if value_len < 0 {
        return Ok(Some(((name, None), rest)));
    }
    let value_len = value_len as usize;
    need(rest, value_len)?;
    Ok(Some(((name, Some(&rest[..value_len])), &rest[value_len..])))
}

/// A checked view over record columns plus per-record topics.
#[derive(Debug, Clone, Copy)]
struct Columns<'a> {
    batch: &'a RecordBatch,
    topics: &'a [String],
    topic_index: &'a [u16],
}

fn span(ends: &[u32], i: usize) -> std::ops::Range<usize> {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    start..ends[i] as usize
}

fn check_ends(name: &str, ends: &[u32], buffer_len: usize) -> Result<(), String> {
    let mut prev = 0u32;
    for (i, end) in ends.iter().enumerate() {
        if *end < prev || *end as usize > buffer_len {
            return Err(format!(
                "{name}[{i}] = {end} is out of order or past the buffer ({buffer_len} bytes)"
            ));
        }
        prev = *end;
    }
    Ok(())
}

impl<'a> Columns<'a> {
    fn new(
        batch: &'a RecordBatch,
        topics: &'a [String],
        topic_index: &'a [u16],
    ) -> Result<Self, String> {
        let n = topic_index.len();
        for (name, len) in [
            ("key-ends", batch.key_ends.len()),
            ("value-ends", batch.value_ends.len()),
            ("null-flags", batch.null_flags.len()),
            ("header-ends", batch.header_ends.len()),
            ("timestamps-ms", batch.timestamps_ms.len()),
        ] {
            if len != n {
                return Err(format!("{name} has {len} entries for {n} records"));
            }
        }
        check_ends("key-ends", &batch.key_ends, batch.keys.len())?;
        check_ends("value-ends", &batch.value_ends, batch.values.len())?;
        check_ends("header-ends", &batch.header_ends, batch.headers.len())?;
        if let Some(bad) = topic_index
            .iter()
            .find(|t| usize::from(**t) >= topics.len())
        {
            return Err(format!(
                "topic index {bad} is past the {} topics",
                topics.len()
            ));
        }
        for i in 0..n {
            let mut block = &batch.headers[span(&batch.header_ends, i)];
            while let Some((_, rest)) = parse_header(block)? {
                block = rest;
            }
        }
        Ok(Self {
            batch,
            topics,
            topic_index,
        })
    }

    fn get(&self, i: usize) -> Record<'a> {
        let b = self.batch;
        let flags = b.null_flags[i];
        let ts = b.timestamps_ms[i];
        Record {
            topic: &self.topics[usize::from(self.topic_index[i])],
            key: (flags & 1 == 0).then(|| &b.keys[span(&b.key_ends, i)]),
            value: (flags & 2 == 0).then(|| &b.values[span(&b.value_ends, i)]),
            headers: Headers {
                block: &b.headers[span(&b.header_ends, i)],
            },
            timestamp_ms: (ts >= 0).then_some(ts),
        }
    }
}

/// The records of one `put`.
#[derive(Debug, Clone, Copy)]
pub struct SinkRecords<'a> {
    columns: Columns<'a>,
    consumed_topic_index: &'a [u16],
    partitions: &'a [i32],
    offsets: &'a [i64],
}

impl<'a> SinkRecords<'a> {
    /// Checks `batch` and wraps it.
    pub fn new(batch: &'a SinkBatch) -> Result<Self, String> {
        let columns = Columns::new(&batch.records, &batch.topics, &batch.topic_index)?;
        let n = batch.topic_index.len();
        if batch.partitions.len() != n
            || batch.offsets.len() != n
            || batch.consumed_topic_index.len() != n
        {
            return Err(format!(
                "{} partitions, {} offsets and {} consumed topics for {n} records",
                batch.partitions.len(),
                batch.offsets.len(),
                batch.consumed_topic_index.len()
            ));
        }
        if let Some(bad) = batch
            .consumed_topic_index
            .iter()
            .find(|t| usize::from(**t) >= batch.topics.len())
        {
            return Err(format!(
                "consumed topic index {bad} is past the {} topics",
                batch.topics.len()
            ));
        }
        Ok(Self {
            columns,
            consumed_topic_index: &batch.consumed_topic_index,
            partitions: &batch.partitions,
            offsets: &batch.offsets,
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Record `i`, if it exists.
    pub fn get(&self, i: usize) -> Option<SinkRecord<'a>> {
        (i < self.len()).then(|| SinkRecord {
            record: self.columns.get(i),
            consumed_topic: &self.columns.topics[usize::from(self.consumed_topic_index[i])],
            partition: self.partitions[i],
            offset: self.offsets[i],
        })
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = SinkRecord<'a>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// The records of one transform `apply`.
#[derive(Debug, Clone, Copy)]
pub struct TransformRecords<'a> {
    columns: Columns<'a>,
}

impl<'a> TransformRecords<'a> {
    /// Checks `batch` and wraps it.
    pub fn new(batch: &'a TransformBatch) -> Result<Self, String> {
        Ok(Self {
            columns: Columns::new(&batch.records, &batch.topics, &batch.topic_index)?,
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.columns.topic_index.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.columns.topic_index.is_empty()
    }

    /// Record `i`, if it exists.
    pub fn get(&self, i: usize) -> Option<Record<'a>> {
        (i < self.len()).then(|| self.columns.get(i))
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = Record<'a>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}
