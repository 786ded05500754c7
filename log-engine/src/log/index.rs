//! Sparse per-segment indexes, kept in memory and mirrored to files.
//!
//! - `.index`: 8-byte entries (offset relative to the segment base: u32, byte position: u32),
//!   one every `index.interval.bytes` of log.
//! - `.timeindex`: 12-byte entries (largest timestamp so far: i64, relative offset: u32),
//!   written when the segment's largest timestamp grows.
//!
//! Both can always be rebuilt from the log, so they are synced only at roll and close, and a
//! torn or stale index is simply rebuilt during recovery.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;

/// An index file: fixed-size entries appended in order.
#[derive(Debug)]
struct IndexFile<const N: usize> {
    path: PathBuf,
    file: File,
}

impl<const N: usize> IndexFile<N> {
    fn open(path: &Path) -> Result<(Self, Vec<[u8; N]>), LogError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(LogError::io("open index", path))?;
        let mut raw = Vec::new();
        file.read_to_end(&mut raw)
            .map_err(LogError::io("read index", path))?;
        let entries = raw
            .chunks_exact(N)
            .map(|c| {
                let mut e = [0u8; N];
                e.copy_from_slice(c);
                e
            })
            .collect();
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
            },
            entries,
        ))
    }

    fn append(&mut self, entry: &[u8; N]) -> Result<(), LogError> {
        self.file
            .write_all(entry)
            .map_err(LogError::io("write index", &self.path))
    }

    /// Replaces the file's content with `entries`.
    fn rewrite<'a>(&mut self, entries: impl Iterator<Item = [u8; N]> + 'a) -> Result<(), LogError> {
        self.file
            .set_len(0)
            .map_err(LogError::io("truncate index", &self.path))?;
        let buf: Vec<u8> = entries.flatten().collect();
        self.file
            .write_all(&buf)
            .map_err(LogError::io("write index", &self.path))
    }

    /// Keeps the first `keep` of `entries`, in memory and in the file.
    fn truncate<E: Copy>(
        &mut self,
        entries: &mut Vec<E>,
        keep: usize,
        encode: impl Fn(E) -> [u8; N],
    ) -> Result<(), LogError> {
        if keep >= entries.len() {
            return Ok(());
        }
        entries.truncate(keep);
        let raw: Vec<[u8; N]> = entries.iter().map(|&e| encode(e)).collect();
        self.rewrite(raw.into_iter())
    }

    fn sync(&self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(LogError::io("sync index", &self.path))
    }
}

fn encode_offset(rel_offset: u32, position: u32) -> [u8; 8] {
    let mut e = [0u8; 8];
    e[..4].copy_from_slice(&rel_offset.to_be_bytes());
    e[4..].copy_from_slice(&position.to_be_bytes());
    e
}

/// Offset → file position.
#[derive(Debug)]
pub(crate) struct OffsetIndex {
    file: IndexFile<8>,
    /// (relative offset, position), both increasing.
    entries: Vec<(u32, u32)>,
}

impl OffsetIndex {
    pub(crate) fn open(path: &Path) -> Result<Self, LogError> {
        let (file, raw) = IndexFile::<8>::open(path)?;
        let entries = raw
            .iter()
            .map(|e| {
                (
                    u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
                    u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
                )
            })
            .collect();
        Ok(Self { file, entries })
    }

    /// Whether the loaded entries are increasing and inside a log of `log_size` bytes.
    pub(crate) fn is_consistent(&self, log_size: u64) -> bool {
        self.entries
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
            && self
                .entries
                .last()
                .is_none_or(|e| u64::from(e.1) < log_size)
    }

    pub(crate) fn append(&mut self, rel_offset: u32, position: u32) -> Result<(), LogError> {
        if self
            .entries
            .last()
            .is_some_and(|e| e.0 >= rel_offset || e.1 >= position)
        {
            return Ok(());
        }
        self.file.append(&encode_offset(rel_offset, position))?;
        self.entries.push((rel_offset, position));
        Ok(())
    }

    /// Position of the last indexed batch whose relative offset is `<= rel_offset`, or 0.
    pub(crate) fn floor_position(&self, rel_offset: u32) -> u32 {
        let i = self.entries.partition_point(|e| e.0 <= rel_offset);
        if i == 0 { 0 } else { self.entries[i - 1].1 }
    }

    /// The last entry, if any: `(relative offset, position)`.
    pub(crate) fn last(&self) -> Option<(u32, u32)> {
        self.entries.last().copied()
    }

    /// Drops every entry at or past `position` (the log was truncated there).
    pub(crate) fn truncate_to_position(&mut self, position: u64) -> Result<(), LogError> {
        let keep = self.entries.partition_point(|e| u64::from(e.1) < position);
        self.file
            .truncate(&mut self.entries, keep, |(o, p)| encode_offset(o, p))
    }

    pub(crate) fn clear(&mut self) -> Result<(), LogError> {
        self.entries.clear();
        self.file.rewrite(std::iter::empty())
    }

    pub(crate) fn sync(&self) -> Result<(), LogError> {
        self.file.sync()
    }
}

/// Timestamp → offset.
#[derive(Debug)]
pub(crate) struct TimeIndex {
    file: IndexFile<12>,
    /// (largest timestamp so far, relative offset of the batch that raised it), increasing.
    entries: Vec<(i64, u32)>,
}

fn encode_time(ts: i64, rel: u32) -> [u8; 12] {
    let mut e = [0u8; 12];
    e[..8].copy_from_slice(&ts.to_be_bytes());
    e[8..].copy_from_slice(&rel.to_be_bytes());
    e
}

impl TimeIndex {
    pub(crate) fn open(path: &Path) -> Result<Self, LogError> {
        let (file, raw) = IndexFile::<12>::open(path)?;
        let entries = raw
            .iter()
            .map(|e| {
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&e[..8]);
                (
                    i64::from_be_bytes(ts),
                    u32::from_be_bytes([e[8], e[9], e[10], e[11]]),
                )
            })
            .collect();
        Ok(Self { file, entries })
    }

    /// Whether the loaded entries increase in both timestamp and offset.
    pub(crate) fn is_consistent(&self) -> bool {
        self.entries
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
    }

    /// Records that the batch at `rel_offset` raised the largest timestamp to `timestamp`.
    pub(crate) fn maybe_append(&mut self, timestamp: i64, rel_offset: u32) -> Result<(), LogError> {
        if self
            .entries
            .last()
            .is_some_and(|e| e.0 >= timestamp || e.1 >= rel_offset)
        {
            return Ok(());
        }
        self.file.append(&encode_time(timestamp, rel_offset))?;
        self.entries.push((timestamp, rel_offset));
        Ok(())
    }

    /// Relative offset from which to scan for the first record with timestamp `>= target`:
    /// the last entry whose timestamp is below `target` (every batch up to it is older than
    /// `target`), or 0.
    pub(crate) fn scan_start(&self, target: i64) -> u32 {
        let i = self.entries.partition_point(|e| e.0 < target);
        if i == 0 { 0 } else { self.entries[i - 1].1 }
    }

    /// The largest timestamp recorded, if any.
    pub(crate) fn last_timestamp(&self) -> Option<i64> {
        self.entries.last().map(|e| e.0)
    }

    /// Drops every entry at or past `rel_offset`.
    pub(crate) fn truncate_to_offset(&mut self, rel_offset: u64) -> Result<(), LogError> {
        let keep = self
            .entries
            .partition_point(|e| u64::from(e.1) < rel_offset);
        self.file
            .truncate(&mut self.entries, keep, |(t, o)| encode_time(t, o))
    }

    pub(crate) fn clear(&mut self) -> Result<(), LogError> {
        self.entries.clear();
        self.file.rewrite(std::iter::empty())
    }

    pub(crate) fn sync(&self) -> Result<(), LogError> {
        self.file.sync()
    }
}
