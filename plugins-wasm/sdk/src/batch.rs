//! Building the columnar batches a source task returns from `poll`.

use crate::bindings::culvert::connector::types::RecordBatch;
use crate::{Position, SourceBatch};

/// A header value: bytes, or null.
pub type HeaderValue<'a> = Option<&'a [u8]>;

/// Accumulates records into one [`SourceBatch`].
///
/// Records are appended with [`push`](Self::push); positions become committable with
/// [`checkpoint`](Self::checkpoint), which covers every record pushed so far.
#[derive(Debug, Default)]
pub struct SourceBatchBuilder {
    batch: RecordBatchParts,
    topics: Vec<String>,
    topic_index: Vec<u16>,
    checkpoints: Vec<(u32, Position)>,
}

#[derive(Debug, Default)]
struct RecordBatchParts {
    keys: Vec<u8>,
    key_ends: Vec<u32>,
    values: Vec<u8>,
    value_ends: Vec<u32>,
    null_flags: Vec<u8>,
    headers: Vec<u8>,
    header_ends: Vec<u32>,
    timestamps_ms: Vec<i64>,
}

/// Buffers are addressed with u32 offsets; a batch larger than that is refused.
fn end_offset(len: usize) -> Result<u32, String> {
    u32::try_from(len)
        .map_err(|_| "a batch may hold at most 4 GiB of keys, values or headers".to_string())
}

impl SourceBatchBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.topic_index.len()
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.topic_index.is_empty()
    }

    /// Bytes of keys, values and headers pushed so far.
    pub fn byte_size(&self) -> usize {
        self.batch.keys.len() + self.batch.values.len() + self.batch.headers.len()
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
        // Check every limit before changing anything, so a refused record leaves the batch
        // as it was.
        let known_topic = self.topics.iter().position(|t| t == topic);
        let topic_idx = u16::try_from(known_topic.unwrap_or(self.topics.len()))
            .map_err(|_| "a batch may target at most 65536 distinct topics".to_string())?;
        let mut header_bytes = 0usize;
        for (name, val) in headers {
            let val_len = val.map_or(0, <[u8]>::len);
            if i32::try_from(val_len).is_err() {
                return Err(format!("header {name} is larger than 2 GiB"));
            }
            header_bytes += 8 + name.len() + val_len;
        }
        let b = &mut self.batch;
        let ends = (
            end_offset(b.keys.len() + key.map_or(0, <[u8]>::len))?,
            end_offset(b.values.len() + value.map_or(0, <[u8]>::len))?,
            end_offset(b.headers.len() + header_bytes)?,
        );
        for (name, val) in headers {
            // Both lengths fit: the whole block's size was checked against u32 and each
            // value's against i32 above.
            b.headers
                .extend_from_slice(&(name.len() as u32).to_le_bytes());
            b.headers.extend_from_slice(name.as_bytes());
            match val {
                Some(v) => {
                    b.headers.extend_from_slice(&(v.len() as i32).to_le_bytes());
                    b.headers.extend_from_slice(v);
                }
                None => b.headers.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        b.keys.extend_from_slice(key.unwrap_or_default());
        b.values.extend_from_slice(value.unwrap_or_default());
        b.key_ends.push(ends.0);
        b.value_ends.push(ends.1);
        b.header_ends.push(ends.2);
        b.null_flags
            .push(u8::from(key.is_none()) | (u8::from(value.is_none()) << 1));
        b.timestamps_ms.push(timestamp_ms.unwrap_or(-1));
        if known_topic.is_none() {
            self.topics.push(topic.to_string());
        }
        self.topic_index.push(topic_idx);
        Ok(())
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
        let b = self.batch;
        SourceBatch {
            records: RecordBatch {
                keys: b.keys,
                key_ends: b.key_ends,
                values: b.values,
                value_ends: b.value_ends,
                null_flags: b.null_flags,
                headers: b.headers,
                header_ends: b.header_ends,
                timestamps_ms: b.timestamps_ms,
            },
            topics: self.topics,
            topic_index: self.topic_index,
            checkpoints: self.checkpoints,
        }
    }
}
