//! Log cleaning for one partition: compaction (`cleanup.policy=compact`) and retention
//! (`cleanup.policy=delete`). Only sealed segments are ever rewritten or deleted; the
//! active segment is left alone, as in Kafka.
//!
//! Compaction keeps, for every key, only the record with the highest offset (tombstones until
//! `delete.retention.ms` after their batch's timestamp). Kept records are copied
//! byte-for-byte into batches that keep their base offset, timestamps and last offset
//! delta, re-compressed with the same codec; offsets never change.
//!
//! Transactions: records of aborted transactions never count as a key's latest value and
//! are removed; batches of transactions still open are neither counted nor touched (they
//! may yet abort). Markers are kept.

use std::collections::HashMap;

use super::{LOG_START_FILE, PartitionLog, write_offset_file};
use crate::error::LogError;
use crate::log::batch::{BatchHeader, HEADER_SIZE, LOG_OVERHEAD};
use crate::log::records::{RawRecord, compress, records_section, walk};

/// What a compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub segments_rewritten: usize,
    pub records_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

fn corrupt(log: &PartitionLog, reason: String) -> LogError {
    LogError::Corrupt {
        path: log.dir.clone(),
        reason,
    }
}

/// A batch holding only `keep` of `original`'s records, with the original base offset,
/// timestamps, producer fields and last offset delta.
fn rebuild(
    header: &BatchHeader,
    original: &[u8],
    keep: &[RawRecord<'_>],
) -> Result<Vec<u8>, String> {
    let raw: Vec<u8> = keep.iter().flat_map(|r| r.bytes.iter().copied()).collect();
    let payload = compress(header.compression(), &raw)?;
    let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
    out.extend_from_slice(&original[..HEADER_SIZE]);
    out.extend_from_slice(&payload);
    let batch_length = i32::try_from(out.len() - LOG_OVERHEAD).map_err(|_| "batch too large")?;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[57..61].copy_from_slice(&(keep.len() as i32).to_be_bytes());
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

impl PartitionLog {
    /// A batch of a transaction that is still open.
    fn undecided(&self, h: &BatchHeader) -> bool {
        h.is_transactional()
            && self
                .txns
                .open_since(h.producer_id)
                .is_some_and(|first| first <= h.base_offset)
    }

    /// A batch of an aborted transaction.
    fn aborted(&self, h: &BatchHeader) -> bool {
        h.is_transactional() && self.txns.is_aborted(h.producer_id, h.base_offset)
    }

    /// Bytes appended since the last compaction, over the partition's size.
    pub fn dirty_ratio(&self) -> f64 {
        let total = self.size_bytes();
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes.min(total) as f64 / total as f64
        }
    }

    /// Compacts the sealed segments (see the module docs). `now_ms` decides which
    /// tombstones have outlived `delete_retention_ms`.
    pub fn compact(
        &mut self,
        now_ms: i64,
        delete_retention_ms: i64,
    ) -> Result<CompactReport, LogError> {
        let mut report = CompactReport::default();
        if self.sealed.is_empty() {
            return Ok(report);
        }
        // Pass 1: the latest committed offset of every key, across the whole log.
        let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
        for seg in self.segments() {
            seg.for_each_batch(|h, bytes| {
                if h.is_control() || self.undecided(h) || self.aborted(h) {
                    return Ok(());
                }
                let section =
                    records_section(bytes, h.compression()).map_err(|e| corrupt(self, e))?;
                for r in walk(&section).map_err(|e| corrupt(self, e))? {
                    if let Some(k) = r.key {
                        latest.insert(k.to_vec(), h.base_offset + i64::from(r.offset_delta));
                    }
                }
                Ok(())
            })?;
        }
        // Pass 2: rewrite every sealed segment that holds superseded records.
        let bases: Vec<i64> = self.sealed.keys().copied().collect();
        let first_base = bases.first().copied();
        for base in bases {
            let Some(seg) = self.sealed.get(&base) else {
                continue;
            };
            let mut out = Vec::with_capacity(seg.size() as usize);
            let mut removed = 0u64;
            seg.for_each_batch(|h, bytes| {
                if h.is_control() || self.undecided(h) {
                    out.extend_from_slice(bytes);
                    return Ok(());
                }
                let section =
                    records_section(bytes, h.compression()).map_err(|e| corrupt(self, e))?;
                let records = walk(&section).map_err(|e| corrupt(self, e))?;
                let keep: Vec<RawRecord<'_>> = records
                    .iter()
                    .filter(|r| {
                        let offset = h.base_offset + i64::from(r.offset_delta);
                        let newest = r.key.is_some_and(|k| latest.get(k) == Some(&offset));
                        let live = !r.null_value
                            || h.max_timestamp.saturating_add(delete_retention_ms) > now_ms;
                        newest && live
                    })
                    .copied()
                    .collect();
                removed += (records.len() - keep.len()) as u64;
                if keep.len() == records.len() {
                    out.extend_from_slice(bytes);
                } else if !keep.is_empty() {
                    out.extend(rebuild(h, bytes, &keep).map_err(|e| corrupt(self, e))?);
                }
                Ok(())
            })?;
            if removed == 0 {
                continue;
            }
            let Some(seg) = self.sealed.remove(&base) else {
                continue;
            };
            report.bytes_before += seg.size();
            report.segments_rewritten += 1;
            report.records_removed += removed;
            if out.is_empty() && Some(base) != first_base {
                seg.delete()?;
                continue;
            }
            let seg = seg.rewrite(&out)?;
            report.bytes_after += seg.size();
            self.sealed.insert(base, seg);
        }
        self.dirty_bytes = 0;
        Ok(report)
    }

    /// Deletes sealed segments whose newest record is older than `retention_ms`, and the
    /// oldest sealed segments while the partition is larger than `retention_bytes`
    /// (-1 disables either). Moves the log start offset; returns the segments deleted.
    pub fn apply_retention(
        &mut self,
        now_ms: i64,
        retention_ms: i64,
        retention_bytes: i64,
    ) -> Result<usize, LogError> {
        let mut deleted = 0;
        let mut size = self.size_bytes();
        while let Some(first) = self.sealed.first_entry() {
            let seg = first.get();
            let too_old =
                retention_ms >= 0 && seg.max_timestamp().saturating_add(retention_ms) < now_ms;
            let too_big =
                retention_bytes >= 0 && size.saturating_sub(seg.size()) >= retention_bytes as u64;
            if !(too_old || too_big) {
                break;
            }
            let seg = first.remove();
            size -= seg.size();
            seg.delete()?;
            deleted += 1;
        }
        if deleted > 0 {
            let next = self
                .sealed
                .keys()
                .next()
                .copied()
                .unwrap_or(self.active.base_offset());
            if next > self.log_start {
                self.log_start = next;
                self.txns.forget_below(next);
                write_offset_file(&self.dir.join(LOG_START_FILE), next)?;
            }
        }
        Ok(deleted)
    }
}
