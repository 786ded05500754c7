//! Building the columnar batches a plugin returns: [`SourceBatchBuilder`] for `poll`,
//! [`TransformBatchBuilder`] for `apply`.

use crate::bindings::source::culvert::connector::types::RecordBatch;
use crate::{Position, SourceBatch, TransformBatch};

/// A header value: bytes, or null.
pub type HeaderValue<'a> = Option<&'a [u8]>;

/// The record columns plus the per-record topic index, shared by both builders.
#[derive(Debug, Default)]
struct Columns {
    keys: Vec<u8>,
    key_ends: Vec<u32>,
    values: Vec<u8>,
    value_ends: Vec<u32>,
    null_flags: Vec<u8>,
    headers: Vec<u8>,
    header_ends: Vec<u32>,
    timestamps_ms: Vec<i64>,
    topics: Vec<String>,
    topic_index: Vec<u16>,
}

/// Buffers are addressed with u32 offsets; a batch larger than that is refused.
fn end_offset(len: usize) -> Result<u32, String> {
    u32::try_from(len)
        .map_err(|_| "a batch may hold at most 4 GiB of keys, values or headers".to_string())
}

impl Columns {
    fn len(&self) -> usize {
        self.topic_index.len()
    }

    fn byte_size(&self) -> usize {
        self.keys.len() + self.values.len() + self.headers.len()
    }

    /// Appends one record; checks every limit first so a refused record changes nothing.
    fn push(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, HeaderValue<'_>)],
        timestamp_ms: Option<i64>,
    ) -> Result<(), String> {
        let (known_topic, topic_idx) = self.topic_slot(topic)?;
        let mut header_bytes = 0usize;
        for (name, val) in headers {
            let val_len = val.map_or(0, <[u8]>::len);
            if i32::try_from(val_len).is_err() {
                return Err(format!("header {name} is larger than 2 GiB"));
            }
            header_bytes += 8 + name.len() + val_len;
        }
        let ends = (
            end_offset(self.keys.len() + key.map_or(0, <[u8]>::len))?,
            end_offset(self.values.len() + value.map_or(0, <[u8]>::len))?,
            end_offset(self.headers.len() + header_bytes)?,
        );
        for (name, val) in headers {
            // Both lengths fit: the whole block's size was checked against u32 and each
            // value's against i32 above.
            self.headers
                .extend_from_slice(&(name.len() as u32).to_le_bytes());
            self.headers.extend_from_slice(name.as_bytes());
            match val {
                Some(v) => {
                    self.headers
                        .extend_from_slice(&(v.len() as i32).to_le_bytes());
                    self.headers.extend_from_slice(v);
                }
                None => self.headers.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        self.keys.extend_from_slice(key.unwrap_or_default());
        self.values.extend_from_slice(value.unwrap_or_default());
        self.key_ends.push(ends.0);
        self.value_ends.push(ends.1);
        self.header_ends.push(ends.2);
        self.null_flags
            .push(u8::from(key.is_none()) | (u8::from(value.is_none()) << 1));
        self.timestamps_ms.push(timestamp_ms.unwrap_or(-1));
        if known_topic.is_none() {
            self.topics.push(topic.to_string());
        }
        self.topic_index.push(topic_idx);
        Ok(())
    }

    /// Where `topic` is in the topic list (`None`: new) and the index a record gets.
    fn topic_slot(&self, topic: &str) -> Result<(Option<usize>, u16), String> {
        // Runs of records for one topic are the common case: check the last one first.
        let known = match self.topic_index.last() {
            Some(&last) if self.topics[usize::from(last)] == topic => Some(usize::from(last)),
            _ => self.topics.iter().position(|t| t == topic),
        };
        let index = u16::try_from(known.unwrap_or(self.topics.len()))
            .map_err(|_| "a batch may target at most 65536 distinct topics".to_string())?;
        Ok((known, index))
    }

    /// Appends one record without headers whose value `write` appends to the value
    /// buffer in place (no copy); a value past the 4 GiB limit is taken back and refused.
    fn push_writing(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        write: impl FnOnce(&mut Vec<u8>),
        timestamp_ms: Option<i64>,
    ) -> Result<(), String> {
        let (known_topic, topic_idx) = self.topic_slot(topic)?;
        let key_end = end_offset(self.keys.len() + key.map_or(0, <[u8]>::len))?;
        let header_end = end_offset(self.headers.len())?;
        let start = self.values.len();
        write(&mut self.values);
        let value_end = match end_offset(self.values.len()) {
            Ok(end) => end,
            Err(e) => {
                self.values.truncate(start);
                return Err(e);
            }
        };
        self.keys.extend_from_slice(key.unwrap_or_default());
        self.key_ends.push(key_end);
        self.value_ends.push(value_end);
        self.header_ends.push(header_end);
        self.null_flags.push(u8::from(key.is_none()));
        self.timestamps_ms.push(timestamp_ms.unwrap_or(-1));
        if known_topic.is_none() {
            self.topics.push(topic.to_string());
        }
        self.topic_index.push(topic_idx);
        Ok(())
    }

    fn build(self) -> (RecordBatch, Vec<String>, Vec<u16>) {
        (
            RecordBatch {
                keys: self.keys,
                key_ends: self.key_ends,
                values: self.values,
                value_ends: self.value_ends,
                null_flags: self.null_flags,
                headers: self.headers,
                header_ends: self.header_ends,
                timestamps_ms: self.timestamps_ms,
            },
            self.topics,
            self.topic_index,
        )
    }
}

/// Accumulates records into one [`SourceBatch`].
///
/// Records are appended with [`push`](Self::push); positions become committable with
/// [`checkpoint`](Self::checkpoint), which covers every record pushed so far.
#[derive(Debug, Default)]
pub struct SourceBatchBuilder {
    columns: Columns,
    checkpoints: Vec<(u32, Position)>,
}

impl SourceBatchBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.columns.len() == 0
    }

    /// Bytes of keys, values and headers pushed so far.
    pub fn byte_size(&self) -> usize {
        self.columns.byte_size()
    }

    /// Appends a record for `topic`. `None` key or value means null; `timestamp_ms` of `None`
    /// lets the host stamp the record. `headers` are name/value pairs.
    ///
    /// Fails when the batch would exceed 4 GiB of keys, values or headers, or 65 536 topics.
    pub fn push(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, HeaderValue<'_>)],
        timestamp_ms: Option<i64>,
    ) -> Result<(), String> {
        self.columns.push(topic, key, value, headers, timestamp_ms)
    }

    /// Makes room for `records` more records with `value_bytes` more value bytes in all, so
    /// a batch of known size grows once instead of doubling its buffers as it fills.
    pub fn reserve(&mut self, records: usize, value_bytes: usize) {
        let c = &mut self.columns;
        c.values.reserve(value_bytes);
        for ends in [&mut c.key_ends, &mut c.value_ends, &mut c.header_ends] {
            ends.reserve(records);
        }
        c.null_flags.reserve(records);
        c.timestamps_ms.reserve(records);
        c.topic_index.reserve(records);
    }

    /// Appends a record for `topic` without headers whose value `write` appends straight
    /// into the batch's value buffer — for values rendered from other data (a row as
    /// JSON), with no intermediate copy. Fails as [`push`](Self::push) does.
    pub fn push_writing(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        write: impl FnOnce(&mut Vec<u8>),
        timestamp_ms: Option<i64>,
    ) -> Result<(), String> {
        self.columns.push_writing(topic, key, write, timestamp_ms)
    }

    /// Marks `position` committable once every record pushed so far is durable.
    pub fn checkpoint(&mut self, position: Position) {
        let n = self.len() as u32;
        match self.checkpoints.last_mut() {
            // A later position for the same partition at the same record count supersedes.
            Some((last_n, last)) if *last_n == n && last.partition == position.partition => {
                *last = position;
            }
            _ => self.checkpoints.push((n, position)),
        }
    }

    /// The finished batch.
    pub fn build(self) -> SourceBatch {
        let (records, topics, topic_index) = self.columns.build();
        SourceBatch {
            records,
            topics,
            topic_index,
            checkpoints: self.checkpoints,
        }
    }
}

/// A part of an output record: the origin's, unchanged (not sent back to the host), or new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<T> {
    /// The input record's part, unchanged.
    Origin,
    /// A new value.
    New(T),
}

/// Reuse flags of the WIT `transform-output.reuse` list.
const REUSE_KEY: u8 = 1;
const REUSE_VALUE: u8 = 2;
const REUSE_HEADERS: u8 = 4;

/// Accumulates the output of one transform `apply`: each record is pushed with the index of
/// the input record it came from, in non-decreasing order. Parts taken unchanged from the
/// input ([`keep`](Self::keep), [`Part::Origin`]) are not copied back to the host; a record
/// kept whole costs one number.
#[derive(Debug, Default)]
pub struct TransformBatchBuilder {
    columns: Columns,
    origins: Vec<u32>,
    reuse: Vec<u8>,
    /// Input records passed through whole, by index (strictly increasing).
    kept: Vec<u32>,
}

impl TransformBatchBuilder {
    /// An empty output.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty output with room for `records` records' metadata.
    pub fn with_capacity(records: usize) -> Self {
        let mut b = Self::default();
        let c = &mut b.columns;
        c.key_ends.reserve(records);
        c.value_ends.reserve(records);
        c.header_ends.reserve(records);
        c.null_flags.reserve(records);
        c.timestamps_ms.reserve(records);
        c.topic_index.reserve(records);
        b.origins.reserve(records);
        b.reuse.reserve(records);
        b.kept.reserve(records);
        b
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.columns.len() + self.kept.len()
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Passes input record `origin` through unchanged (`record` is that input record).
    pub fn keep(&mut self, origin: u32, record: &crate::Record<'_>) -> Result<(), String> {
        // The host puts a kept record before the other outputs of its origin: one that
        // follows them, or a second copy, goes into the batch with its parts reused.
        let follows = self.origins.last() == Some(&origin) || self.kept.last() == Some(&origin);
        if follows {
            return self.push_parts(
                origin,
                record.topic,
                Part::Origin,
                Part::Origin,
                Part::Origin,
                record.timestamp_ms,
            );
        }
        self.check_origin(origin)?;
        self.kept.push(origin);
        Ok(())
    }

    /// Appends an output record derived from input record `origin`, each of key, value and
    /// headers either the origin's ([`Part::Origin`]) or new.
    pub fn push_parts(
        &mut self,
        origin: u32,
        topic: &str,
        key: Part<Option<&[u8]>>,
        value: Part<Option<&[u8]>>,
        headers: Part<&[(&str, HeaderValue<'_>)]>,
        timestamp_ms: Option<i64>,
    ) -> Result<(), String> {
        self.check_origin(origin)?;
        let mut reuse = 0;
        let key = match key {
            Part::Origin => {
                reuse |= REUSE_KEY;
                Some(&[][..])
            }
            Part::New(k) => k,
        };
        let value = match value {
            Part::Origin => {
                reuse |= REUSE_VALUE;
                Some(&[][..])
            }
            Part::New(v) => v,
        };
        let headers = match headers {
            Part::Origin => {
                reuse |= REUSE_HEADERS;
                &[][..]
            }
            Part::New(h) => h,
        };
        self.columns
            .push(topic, key, value, headers, timestamp_ms)?;
        self.origins.push(origin);
        self.reuse.push(reuse);
        Ok(())
    }

    fn check_origin(&self, origin: u32) -> Result<(), String> {
        let last = self.origins.last().max(self.kept.last());
        match last {
            Some(last) if origin < *last => Err(format!(
                "outputs must follow input order: origin {origin} after {last}"
            )),
            _ => Ok(()),
        }
    }

    /// Appends an output record derived from input record `origin`.
    ///
    /// Fails when `origin` is smaller than the previous one's, or on the limits of
    /// [`SourceBatchBuilder::push`].
    pub fn push(
        &mut self,
        origin: u32,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, HeaderValue<'_>)],
        timestamp_ms: Option<i64>,
    ) -> Result<(), String> {
        self.check_origin(origin)?;
        self.columns
            .push(topic, key, value, headers, timestamp_ms)?;
        self.origins.push(origin);
        self.reuse.push(0);
        Ok(())
    }

    /// The kept input records, the finished batch, the origin of each batch record and its
    /// reuse flags.
    pub(crate) fn build(self) -> (Vec<u32>, TransformBatch, Vec<u32>, Vec<u8>) {
        let (records, topics, topic_index) = self.columns.build();
        (
            self.kept,
            TransformBatch {
                records,
                topics,
                topic_index,
            },
            self.origins,
            self.reuse,
        )
    }
}
