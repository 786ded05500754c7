//! One segment of a partition: `<base offset>.log` plus its `.index` and `.timeindex`.
//!
//! Batches are appended verbatim with positional writes; reads use `pread`, so readers never
//! move a shared file cursor.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::LogError;
use crate::log::batch::{BatchHeader, HEADER_SIZE};
use crate::log::index::{OffsetIndex, TimeIndex};

/// File name stem of a segment: the base offset, zero-padded to 20 digits like Kafka.
pub(crate) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// A byte range of a segment file, sent to a socket without passing through user space
/// (`sendfile`) or read into memory.
#[derive(Debug, Clone)]
pub struct FileSlice {
    file: Arc<File>,
    path: PathBuf,
    pos: u64,
    len: usize,
}

impl FileSlice {
    /// The open segment file (kept open by the slice even if the segment is deleted).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where the range starts in the file.
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the range into memory.
    pub fn read(&self) -> Result<Vec<u8>, LogError> {
        let mut out = vec![0u8; self.len];
        self.file
            .read_exact_at(&mut out, self.pos)
            .map_err(LogError::io("read segment", &self.path))?;
        Ok(out)
    }
}

/// What recovering a segment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// Bytes cut from the end because they did not form valid batches.
    pub(crate) truncated_bytes: u64,
}

#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    /// Shared with [`FileSlice`]s being sent: bytes below `size` never change in place
    /// (compaction writes a new file and renames it over this one), so a slice stays valid
    /// after the segment is rewritten or deleted.
    log: Arc<File>,
    size: u64,
    /// Offset after the last batch (the base offset when empty).
    next_offset: i64,
    /// Largest batch `maxTimestamp`, or -1 when empty.
    max_timestamp: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index: u64,
    index_interval: u64,
}

impl Segment {
    fn paths(dir: &Path, base_offset: i64) -> (PathBuf, PathBuf, PathBuf) {
        let stem = file_stem(base_offset);
        (
            dir.join(format!("{stem}.log")),
            dir.join(format!("{stem}.index")),
            dir.join(format!("{stem}.timeindex")),
        )
    }

    /// Opens (creating if needed) the segment starting at `base_offset`. When `recover` is set
    /// every batch is validated and the indexes rebuilt; otherwise the indexes are trusted if
    /// consistent and only the tail after the last index entry is scanned.
    pub(crate) fn open(
        dir: &Path,
        base_offset: i64,
        index_interval: u64,
        recover: bool,
    ) -> Result<(Self, Recovery), LogError> {
        let (log_path, index_path, time_path) = Self::paths(dir, base_offset);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(LogError::io("open segment", &log_path))?;
        let size = log
            .metadata()
            .map_err(LogError::io("stat segment", &log_path))?
            .len();
        let mut seg = Self {
            base_offset,
            log_path,
            log: Arc::new(log),
            size,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_index: OffsetIndex::open(&index_path)?,
            time_index: TimeIndex::open(&time_path)?,
            bytes_since_index: 0,
            index_interval,
        };
        let recovery = seg.scan(recover)?;
        Ok((seg, recovery))
    }

    /// Walks the batches to find the end of the valid log, rebuilding the indexes as needed,
    /// and truncates anything after it.
    fn scan(&mut self, full: bool) -> Result<Recovery, LogError> {
        let indexes_ok =
            self.offset_index.is_consistent(self.size) && self.time_index.is_consistent();
        let (mut pos, rebuild) = match self.offset_index.last() {
            Some((_, p)) if !full && indexes_ok => (u64::from(p), false),
            _ => (0, true),
        };
        if rebuild {
            self.offset_index.clear()?;
            self.time_index.clear()?;
        }
        self.bytes_since_index = 0;
        let mut buf = Vec::new();
        while pos < self.size {
            let Some(header) = self.valid_batch_at(pos, &mut buf, rebuild || full)? else {
                break;
            };
            if rebuild {
                self.index_batch(&header, pos)?;
            } else {
                self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
            }
            self.next_offset = header.last_offset() + 1;
            pos += header.total_size() as u64;
        }
        if !rebuild {
            // The trusted prefix's timestamps are known only through the time index.
            self.max_timestamp = self.max_timestamp.max(self.time_index_max());
        }
        let truncated = self.size - pos;
        if truncated > 0 {
            self.truncate_at(pos)?;
        }
        Ok(Recovery {
            truncated_bytes: truncated,
        })
    }

    fn time_index_max(&self) -> i64 {
        self.time_index.last_timestamp().unwrap_or(-1)
    }

    /// Reads and checks the batch at `pos`; `None` when it is torn, corrupt or out of order.
    fn valid_batch_at(
        &self,
        pos: u64,
        buf: &mut Vec<u8>,
        check_crc: bool,
    ) -> Result<Option<BatchHeader>, LogError> {
        if self.size - pos < HEADER_SIZE as u64 {
            return Ok(None);
        }
        let Ok(header) = self.header_at(pos) else {
            return Ok(None);
        };
        let total = header.total_size() as u64;
        if total < HEADER_SIZE as u64 || total > self.size - pos {
            return Ok(None);
        }
        if header.base_offset < self.next_offset || header.base_offset < self.base_offset {
            return Ok(None);
        }
        if check_crc {
            buf.resize(total as usize, 0);
            self.log
                .read_exact_at(buf, pos)
                .map_err(LogError::io("read segment", &self.log_path))?;
            if header.validate(buf).is_err() {
                return Ok(None);
            }
        }
        Ok(Some(header))
    }

    fn header_at(&self, pos: u64) -> Result<BatchHeader, LogError> {
        let mut raw = [0u8; HEADER_SIZE];
        self.log
            .read_exact_at(&mut raw, pos)
            .map_err(LogError::io("read segment", &self.log_path))?;
        BatchHeader::parse(&raw).map_err(|reason| LogError::Corrupt {
            path: self.log_path.clone(),
            reason,
        })
    }

    /// Adds index entries for a batch written at `pos`. A time index entry records the
    /// largest timestamp of every batch up to and including this one.
    fn index_batch(&mut self, header: &BatchHeader, pos: u64) -> Result<(), LogError> {
        let rel = (header.base_offset - self.base_offset) as u32;
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        if self.bytes_since_index >= self.index_interval {
            self.offset_index.append(rel, pos as u32)?;
            if self.max_timestamp > self.time_index_max() {
                self.time_index.maybe_append(self.max_timestamp, rel)?;
            }
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += header.total_size() as u64;
        Ok(())
    }

    fn truncate_at(&mut self, pos: u64) -> Result<(), LogError> {
        self.log
            .set_len(pos)
            .map_err(LogError::io("truncate segment", &self.log_path))?;
        self.log
            .sync_all()
            .map_err(LogError::io("sync segment", &self.log_path))?;
        self.size = pos;
        self.offset_index.truncate_to_position(pos)?;
        let next_rel = (self.next_offset - self.base_offset) as u64;
        self.time_index.truncate_to_offset(next_rel)?;
        Ok(())
    }

    /// Appends one validated batch at its assigned base offset, `header.base_offset`, which
    /// is written in place of the batch's own first eight bytes (outside the CRC): a batch
    /// received from a client is stored without being copied to patch it.
    pub(crate) fn append(&mut self, batch: &[u8], header: &BatchHeader) -> Result<(), LogError> {
        let pos = self.size;
        let rest = batch.get(8..).ok_or_else(|| {
            LogError::InvalidBatch(format!("a batch of {} bytes has no header", batch.len()))
        })?;
        write_all_vectored_at(&self.log, &header.base_offset.to_be_bytes(), rest, pos)
            .map_err(LogError::io("write segment", &self.log_path))?;
        self.size += batch.len() as u64;
        self.index_batch(header, pos)?;
        self.next_offset = header.last_offset() + 1;
        Ok(())
    }

    /// Position of the first batch whose last offset is `>= offset`, if the segment has one.
    pub(crate) fn position_of(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let rel = (offset - self.base_offset).max(0) as u32;
        let mut pos = u64::from(self.offset_index.floor_position(rel));
        while pos < self.size {
            let header = self.header_at(pos)?;
            if header.last_offset() >= offset {
                return Ok(Some((pos, header)));
            }
            pos += header.total_size() as u64;
        }
        Ok(None)
    }

    /// Whole batches from `pos`: at least the first one (even if larger than `max_bytes`, so
    /// a big batch never blocks a consumer), then more while they fit and start before
    /// `upto_offset`.
    pub(crate) fn slice_from(
        &self,
        pos: u64,
        max_bytes: usize,
        upto_offset: i64,
    ) -> Result<FileSlice, LogError> {
        let mut end = pos;
        while end < self.size {
            let header = self.header_at(end)?;
            if header.base_offset >= upto_offset {
                break;
            }
            let next = end + header.total_size() as u64;
            if end > pos && (next - pos) as usize > max_bytes {
                break;
            }
            end = next;
        }
        Ok(FileSlice {
            file: Arc::clone(&self.log),
            path: self.log_path.clone(),
            pos,
            len: (end - pos) as usize,
        })
    }

    /// The first batch that may hold a record with timestamp `>= target`, as
    /// `(position, header)`.
    pub(crate) fn batch_for_timestamp(
        &self,
        target: i64,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        if self.max_timestamp < target {
            return Ok(None);
        }
        let rel = self.time_index.scan_start(target);
        let mut pos = u64::from(self.offset_index.floor_position(rel));
        while pos < self.size {
            let header = self.header_at(pos)?;
            if header.max_timestamp >= target {
                return Ok(Some((pos, header)));
            }
            pos += header.total_size() as u64;
        }
        Ok(None)
    }

    /// Calls `f` with the position and header of every batch, in order.
    pub(crate) fn for_each_header(
        &self,
        mut f: impl FnMut(u64, &BatchHeader) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let mut pos = 0u64;
        while pos < self.size {
            let header = self.header_at(pos)?;
            f(pos, &header)?;
            pos += header.total_size() as u64;
        }
        Ok(())
    }

    /// Calls `f` with the header and bytes of every batch, in order.
    pub(crate) fn for_each_batch(
        &self,
        mut f: impl FnMut(&BatchHeader, &[u8]) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let mut pos = 0u64;
        let mut buf = Vec::new();
        while pos < self.size {
            let header = self.header_at(pos)?;
            buf.resize(header.total_size(), 0);
            self.log
                .read_exact_at(&mut buf, pos)
                .map_err(LogError::io("read segment", &self.log_path))?;
            f(&header, &buf)?;
            pos += header.total_size() as u64;
        }
        Ok(())
    }

    /// Replaces the segment's content with `content` (whole batches, same base offset),
    /// crash-safely: the new file is written and fsynced beside the old one, the indexes are
    /// emptied (so a crash before the swap rebuilds them from whichever log survives), then
    /// the new file is renamed over the old and the segment reopened with fresh indexes.
    pub(crate) fn rewrite(mut self, content: &[u8]) -> Result<Segment, LogError> {
        let dir = self
            .log_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let cleaned = self.log_path.with_extension("log.cleaned");
        fs::write(&cleaned, content).map_err(LogError::io("write cleaned segment", &cleaned))?;
        File::open(&cleaned)
            .and_then(|f| f.sync_all())
            .map_err(LogError::io("sync cleaned segment", &cleaned))?;
        self.offset_index.clear()?;
        self.time_index.clear()?;
        self.offset_index.sync()?;
        self.time_index.sync()?;
        let (base, interval, log_path) =
            (self.base_offset, self.index_interval, self.log_path.clone());
        drop(self);
        fs::rename(&cleaned, &log_path).map_err(LogError::io("swap cleaned segment", &log_path))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(LogError::io("sync dir", &dir))?;
        Ok(Segment::open(&dir, base, interval, true)?.0)
    }

    /// Reads the single batch at `pos`.
    pub(crate) fn read_batch(&self, pos: u64, header: &BatchHeader) -> Result<Vec<u8>, LogError> {
        let mut out = vec![0u8; header.total_size()];
        self.log
            .read_exact_at(&mut out, pos)
            .map_err(LogError::io("read segment", &self.log_path))?;
        Ok(out)
    }

    /// Makes written data durable (data only; the size is covered by `fdatasync`).
    /// The log file, shared (for an fsync outside the partition's lock).
    pub(crate) fn file(&self) -> Arc<File> {
        Arc::clone(&self.log)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn sync(&self) -> Result<(), LogError> {
        sync_data(&self.log, &self.log_path)
    }

    /// Syncs the log and both indexes (at roll and close).
    pub(crate) fn sync_all(&self) -> Result<(), LogError> {
        self.sync()?;
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// Removes the segment's files.
    pub(crate) fn delete(self) -> Result<(), LogError> {
        let (log, index, time) = Self::paths(
            self.log_path.parent().unwrap_or(Path::new(".")),
            self.base_offset,
        );
        drop(self.log);
        for path in [log, index, time] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io("delete segment", &path)(e)),
            }
        }
        Ok(())
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }
}

/// `fdatasync` of a segment file (through the segment or a shared handle of it).
pub(crate) fn sync_data(file: &File, path: &Path) -> Result<(), LogError> {
    file.sync_data().map_err(LogError::io("sync segment", path))
}

/// Writes `head` then `tail` at `pos` with `pwritev`, resuming after short writes.
fn write_all_vectored_at(file: &File, head: &[u8], tail: &[u8], pos: u64) -> std::io::Result<()> {
    let mut done = 0usize;
    let total = head.len() + tail.len();
    while done < total {
        let written = if done < head.len() {
            rustix::io::pwritev(
                file,
                &[
                    std::io::IoSlice::new(&head[done..]),
                    std::io::IoSlice::new(tail),
                ],
                pos + done as u64,
            )
        } else {
            rustix::io::pwritev(
                file,
                &[std::io::IoSlice::new(&tail[done - head.len()..])],
                pos + done as u64,
            )
        };
        match written {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
