//! One partition's log: an ordered set of segments, offset assignment, reads, durability and
//! crash recovery.
//!
//! Transactions: batches flagged transactional stay invisible to `read_committed` readers
//! until their producer's COMMIT or ABORT marker is appended ([`PartitionLog::append_marker`]);
//! the last stable offset is the first offset of the oldest open transaction (or the high
//! watermark), and reads up to it list the aborted transactions they cover.
//!
//! Offsets: `log_start` is the first readable offset, `log_end` the next offset to assign,
//! and `high_watermark` the end of what consumers may read. With [`FlushPolicy::Always`] the
//! high watermark moves only when data is fsynced, so a consumer never sees a record that a
//! crash could take back; otherwise it follows `log_end`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::LogError;
use crate::log::batch::BatchHeader;
use crate::log::producer_state::{ProducerStates, SequenceCheck};
use crate::log::transactions::{AbortedTxn, Marker, TxnStates};

mod cleaner;
use crate::log::segment::{FileSlice, Segment, file_stem};
pub use cleaner::CompactReport;

/// When appended data is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Before acknowledging acks=all writes (group commit: one fsync covers every append
    /// waiting for it).
    Always,
    /// At least every interval; acknowledged writes younger than that can be lost on a
    /// machine crash (not on a process crash).
    Interval(Duration),
    /// Left to the operating system.
    Os,
}

/// Per-partition settings (Kafka topic config names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionConfig {
    /// `segment.bytes`: roll to a new segment past this size (at most 1 GiB).
    pub segment_bytes: u64,
    /// `index.interval.bytes`: log bytes between offset index entries.
    pub index_interval_bytes: u64,
    /// `max.message.bytes`: largest batch accepted.
    pub max_message_bytes: usize,
    /// `flush` policy.
    pub flush: FlushPolicy,
    /// `segment.ms`: roll a non-empty active segment older than this.
    pub segment_ms: Duration,
    /// Refuse records without a key (compacted topics).
    pub require_keys: bool,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 128 << 20,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            flush: FlushPolicy::Always,
            segment_ms: Duration::from_millis(604_800_000),
            require_keys: false,
        }
    }
}

/// Largest segment: index entries address positions with 32 bits.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// The outcome of one append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The batch's `maxTimestamp`.
    pub max_timestamp: i64,
    /// The batch was a retry of one already written (idempotent producer): nothing was
    /// appended and the offsets are those of the original.
    pub duplicate: bool,
}

/// Whole batches read from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// Concatenated batches; the first may start before the requested offset.
    pub records: Vec<u8>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// Which records a read may return (a Fetch's `isolation_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Everything below the high watermark.
    ReadUncommitted,
    /// Everything below the last stable offset, with the aborted transactions listed.
    ReadCommitted,
}

/// Where the batches for a read lie, found without reading them.
#[derive(Debug, Clone)]
pub struct LocatedRead {
    /// Whole batches (the first may start before the requested offset); `None` when there
    /// is nothing at or after the offset below the isolation's bound.
    pub slice: Option<FileSlice>,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// For [`Isolation::ReadCommitted`]: aborted transactions with records in the range
    /// read (their records are skipped by the client); empty otherwise.
    pub aborted: Vec<AbortedTxn>,
}

/// What opening a partition found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Segments validated batch by batch because they lie past the recovery point.
    pub segments_recovered: usize,
    /// Bytes cut from torn or corrupt tails.
    pub truncated_bytes: u64,
}

const RECOVERY_POINT_FILE: &str = "recovery-point";
const LOG_START_FILE: &str = "log-start-offset";

/// An fsync taken out of the log (see [`PartitionLog::pending_sync`]).
#[derive(Debug)]
pub struct PendingSync {
    file: std::sync::Arc<fs::File>,
    path: PathBuf,
    /// Everything below this offset is on disk once the fsync returns.
    pub end: i64,
}

impl PendingSync {
    /// Runs the fsync (`fdatasync`): blocking, and meant to run without the log's lock.
    pub fn run(&self) -> Result<(), LogError> {
        crate::log::segment::sync_data(&self.file, &self.path)
    }
}

/// A partition's log on disk.
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    config: PartitionConfig,
    /// Rolled segments by base offset; never written again.
    sealed: BTreeMap<i64, Segment>,
    /// The segment appends go to.
    active: Segment,
    log_start: i64,
    log_end: i64,
    high_watermark: i64,
    /// Everything below this offset is fsynced.
    flushed: i64,
    /// Idempotent producers seen in this partition.
    producers: ProducerStates,
    /// Open and aborted transactions.
    txns: TxnStates,
    /// When the active segment started taking appends (for `segment.ms`).
    active_since: std::time::Instant,
    /// Bytes appended since the last compaction (everything is dirty after a restart).
    dirty_bytes: u64,
}

fn read_offset_file(path: &Path) -> Result<Option<i64>, LogError> {
    match fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| LogError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("{text:?} is not an offset"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogError::io("read", path)(e)),
    }
}

/// Writes `value` to `path` atomically: a temporary file, fsynced, renamed over it.
fn write_offset_file(path: &Path, value: i64) -> Result<(), LogError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, value.to_string()).map_err(LogError::io("write", &tmp))?;
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(LogError::io("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(LogError::io("rename", path))
}

impl PartitionLog {
    /// Opens the partition in `dir` (creating it if needed). Segments at or past the
    /// recovery point are validated batch by batch and cut at the first torn or corrupt
    /// batch; later segments after a cut are deleted.
    pub fn open(dir: &Path, config: PartitionConfig) -> Result<(Self, OpenReport), LogError> {
        if config.segment_bytes == 0 || config.segment_bytes > MAX_SEGMENT_BYTES {
            return Err(LogError::Corrupt {
                path: dir.to_path_buf(),
                reason: format!(
                    "segment.bytes {} must be between 1 and {MAX_SEGMENT_BYTES}",
                    config.segment_bytes
                ),
            });
        }
        fs::create_dir_all(dir).map_err(LogError::io("create partition dir", dir))?;
        let recovery_point = read_offset_file(&dir.join(RECOVERY_POINT_FILE))?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir).map_err(LogError::io("list partition dir", dir))? {
            let entry = entry.map_err(LogError::io("list partition dir", dir))?;
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.ends_with(".cleaned")) {
                // A compaction that crashed before its swap: the original is intact.
                let path = entry.path();
                fs::remove_file(&path).map_err(LogError::io("remove", &path))?;
                continue;
            }
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".log")) else {
                continue;
            };
            let base = stem.parse::<i64>().map_err(|_| LogError::Corrupt {
                path: entry.path(),
                reason: "segment file name is not an offset".into(),
            })?;
            bases.push(base);
        }
        bases.sort_unstable();

        let mut report = OpenReport::default();
        let mut segments = BTreeMap::new();
        let mut cut = false;
        for (i, &base) in bases.iter().enumerate() {
            if cut {
                // Everything after a torn segment is unreachable: drop it.
                let (seg, _) = Segment::open(dir, base, config.index_interval_bytes, false)?;
                seg.delete()?;
                continue;
            }
            let next_base = bases.get(i + 1).copied();
            let recover = match recovery_point {
                None => true,
                Some(rp) => next_base.is_none_or(|nb| nb > rp),
            };
            let (seg, rec) = Segment::open(dir, base, config.index_interval_bytes, recover)?;
            if recover {
                report.segments_recovered += 1;
            }
            if rec.truncated_bytes > 0 {
                report.truncated_bytes += rec.truncated_bytes;
                tracing::warn!(dir = %dir.display(), segment = %file_stem(base),
                    bytes = rec.truncated_bytes, "truncated a torn or corrupt log tail");
                // A later segment means this one was complete once; what follows a cut
                // cannot be trusted to continue its offsets.
                cut = next_base.is_some();
            }
            segments.insert(base, seg);
        }
        // Drop empty segments left behind by a crash right after a roll, except the first.
        while segments.len() > 1 {
            match segments.last_entry() {
                Some(last) if last.get().is_empty() => last.remove().delete()?,
                _ => break,
            }
        }
        let stored_start = read_offset_file(&dir.join(LOG_START_FILE))?;
        let active = match segments.pop_last() {
            Some((_, seg)) => seg,
            None => {
                let start = stored_start.unwrap_or(0).max(0);
                Segment::open(dir, start, config.index_interval_bytes, true)?.0
            }
        };
        let first_base = segments
            .keys()
            .next()
            .copied()
            .unwrap_or(active.base_offset());
        let log_end = active.next_offset();
        let log_start = stored_start.unwrap_or(0).max(first_base).min(log_end);
        // What recovery read may still sit only in the page cache of a crashed process.
        active.sync_all()?;
        let mut producers = ProducerStates::default();
        let mut txns = TxnStates::default();
        let opened = std::time::Instant::now();
        for seg in segments.values().chain(std::iter::once(&active)) {
            seg.for_each_header(|pos, h| {
                producers.record(h, opened);
                if h.is_control() {
                    if let Some(marker) = marker_of(seg, pos, h)? {
                        txns.on_marker(h.producer_id, marker, h.base_offset);
                    }
                } else {
                    txns.on_data(h);
                }
                Ok(())
            })?;
        }
        txns.forget_below(log_start);
        let log = Self {
            dir: dir.to_path_buf(),
            config,
            sealed: segments,
            active,
            log_start,
            log_end,
            high_watermark: log_end,
            flushed: log_end,
            producers,
            txns,
            active_since: std::time::Instant::now(),
            dirty_bytes: 0,
        };
        write_offset_file(&log.dir.join(RECOVERY_POINT_FILE), log_end)?;
        Ok((log, report))
    }

    /// Validates `batch`, assigns it the next offsets and appends it. Nothing is written when
    /// the batch is invalid.
    pub fn append(&mut self, batch: &[u8]) -> Result<AppendInfo, LogError> {
        let header = BatchHeader::parse(batch).map_err(LogError::InvalidBatch)?;
        header.validate(batch).map_err(LogError::InvalidBatch)?;
        if header.record_count == 0 {
            return Err(LogError::InvalidBatch("the batch holds no records".into()));
        }
        if batch.len() > self.config.max_message_bytes {
            return Err(LogError::BatchTooLarge {
                size: batch.len(),
                max: self.config.max_message_bytes,
            });
        }
        if header.is_control() {
            return Err(LogError::InvalidBatch(
                "control batches are written only by the transaction coordinator".into(),
            ));
        }
        if header.is_transactional() && header.producer_id < 0 {
            return Err(LogError::InvalidBatch(
                "a transactional batch must carry a producer id".into(),
            ));
        }
        if self.config.require_keys {
            let section = crate::log::records::records_section(batch, header.compression())
                .map_err(LogError::InvalidBatch)?;
            let records = crate::log::records::walk(&section).map_err(LogError::InvalidBatch)?;
            if records.iter().any(|r| r.key.is_none()) {
                return Err(LogError::InvalidBatch(
                    "Compacted topic cannot accept message without key".into(),
                ));
            }
        }
        if header.producer_id >= 0 && header.base_sequence < 0 {
            return Err(LogError::InvalidBatch(format!(
                "producer id {} sent a batch without a sequence number",
                header.producer_id
            )));
        }
        if header.producer_id >= 0 {
            match self.producers.check(&header) {
                SequenceCheck::Append => {}
                SequenceCheck::Duplicate {
                    base_offset,
                    last_offset,
                } => {
                    return Ok(AppendInfo {
                        base_offset,
                        last_offset,
                        max_timestamp: header.max_timestamp,
                        duplicate: true,
                    });
                }
                SequenceCheck::StaleEpoch { current } => {
                    return Err(LogError::InvalidProducerEpoch {
                        got: header.producer_epoch,
                        current,
                    });
                }
                SequenceCheck::OutOfOrder { expected } => {
                    return Err(LogError::OutOfOrderSequence {
                        expected,
                        got: header.base_sequence,
                    });
                }
            }
        }
        let info = self.write(batch, header)?;
        self.txns.on_data(&BatchHeader {
            base_offset: info.base_offset,
            ..header
        });
        Ok(info)
    }

    /// Appends a batch a coordinator wrote for a transactional producer (the group
    /// coordinator's transactional offset commits): it carries the producer's id and epoch
    /// but no sequence, so only the epoch is checked.
    pub fn append_for_coordinator(&mut self, batch: &[u8]) -> Result<AppendInfo, LogError> {
        let header = BatchHeader::parse(batch).map_err(LogError::InvalidBatch)?;
        header.validate(batch).map_err(LogError::InvalidBatch)?;
        if header.is_control() || header.base_sequence != -1 || header.producer_id < 0 {
            return Err(LogError::InvalidBatch(
                "a coordinator batch carries a producer id and no sequence".into(),
            ));
        }
        self.check_epoch(header.producer_id, header.producer_epoch)?;
        let info = self.write(batch, header)?;
        self.txns.on_data(&BatchHeader {
            base_offset: info.base_offset,
            ..header
        });
        Ok(info)
    }

    /// The producers this partition remembers, each with the first offset of its open
    /// transaction here, if any.
    pub fn producers(&self) -> Vec<(crate::log::ProducerSnapshot, Option<i64>)> {
        self.producers
            .snapshot()
            .into_iter()
            .map(|p| (p, self.txns.open_since(p.producer_id)))
            .collect()
    }

    /// Forgets idempotent producers this partition has not heard from for `max_age`
    /// (`producer.id.expiration.ms`); producers with an open transaction here stay.
    /// Returns how many were forgotten.
    pub fn expire_producers(&mut self, max_age: std::time::Duration) -> usize {
        let txns = &self.txns;
        self.producers
            .expire(std::time::Instant::now(), max_age, |pid| {
                txns.open_since(pid).is_some()
            })
    }

    fn check_epoch(&self, producer_id: i64, epoch: i16) -> Result<(), LogError> {
        match self.producers.epoch(producer_id) {
            Some(current) if current > epoch => Err(LogError::InvalidProducerEpoch {
                got: epoch,
                current,
            }),
            _ => Ok(()),
        }
    }

    /// Appends a transaction marker for `producer_id` at `epoch` (from the transaction
    /// coordinator). Refused when the partition has seen a newer epoch of the producer.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        marker: Marker,
        coordinator_epoch: i32,
        timestamp_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_epoch(producer_id, epoch)?;
        let batch = crate::log::batch::encode_marker(
            (producer_id, epoch),
            marker,
            coordinator_epoch,
            timestamp_ms,
        );
        let header = BatchHeader::parse(&batch).map_err(LogError::InvalidBatch)?;
        let info = self.write(&batch, header)?;
        self.txns.on_marker(producer_id, marker, info.base_offset);
        Ok(info)
    }

    /// Writes a validated batch at the next offsets, rolling the segment first if due.
    fn write(&mut self, batch: &[u8], header: BatchHeader) -> Result<AppendInfo, LogError> {
        if !self.active.is_empty()
            && (self.active.size() + batch.len() as u64 > self.config.segment_bytes
                || self.active_since.elapsed() >= self.config.segment_ms)
        {
            self.roll()?;
        }
        let base_offset = self.log_end;
        let header = BatchHeader {
            base_offset,
            ..header
        };
        self.active.append(batch, &header)?;
        self.producers.record(&header, std::time::Instant::now());
        self.dirty_bytes += batch.len() as u64;
        self.log_end = header.last_offset() + 1;
        if self.config.flush != FlushPolicy::Always {
            self.high_watermark = self.log_end;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
            duplicate: false,
        })
    }

    /// Starts a new segment at `log_end`, after making the current one durable. The
    /// recovery point moves to the new segment: everything before it is on disk, and only
    /// the segment holding the recovery point and later ones are validated at open.
    fn roll(&mut self) -> Result<(), LogError> {
        self.active.sync_all()?;
        write_offset_file(&self.dir.join(RECOVERY_POINT_FILE), self.log_end)?;
        let (next, _) = Segment::open(
            &self.dir,
            self.log_end,
            self.config.index_interval_bytes,
            true,
        )?;
        let old = std::mem::replace(&mut self.active, next);
        self.sealed.insert(old.base_offset(), old);
        self.active_since = std::time::Instant::now();
        Ok(())
    }

    /// Every segment in offset order.
    fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.sealed.values().chain(std::iter::once(&self.active))
    }

    /// Fsyncs everything appended so far; afterwards the high watermark is `log_end`.
    pub fn sync(&mut self) -> Result<(), LogError> {
        if let Some(pending) = self.pending_sync() {
            pending.run()?;
            self.complete_sync(pending.end);
        }
        self.high_watermark = self.log_end;
        Ok(())
    }

    /// What an fsync of everything appended so far needs, to run without the log borrowed
    /// (so appends and reads go on meanwhile); `None` when all of it is on disk already.
    /// Only the active segment can hold unsynced data: a roll syncs the segment it seals.
    pub fn pending_sync(&self) -> Option<PendingSync> {
        (self.flushed < self.log_end).then(|| PendingSync {
            file: self.active.file(),
            path: self.active.path().to_path_buf(),
            end: self.log_end,
        })
    }

    /// Records a [`PendingSync`] that ran: everything below its end is on disk and, with
    /// any flush policy, visible to consumers.
    pub fn complete_sync(&mut self, end: i64) {
        let end = end.min(self.log_end);
        self.flushed = self.flushed.max(end);
        self.high_watermark = self.high_watermark.max(end);
    }

    /// Syncs data and indexes; call before dropping the log at shutdown.
    pub fn close(mut self) -> Result<(), LogError> {
        self.sync()?;
        self.sync_all()
    }

    /// Syncs the active segment's data and indexes.
    pub fn sync_all(&self) -> Result<(), LogError> {
        self.active.sync_all()
    }

    /// The largest batch timestamp of the partition, or -1 when empty.
    pub fn max_timestamp(&self) -> i64 {
        self.segments()
            .map(Segment::max_timestamp)
            .max()
            .unwrap_or(-1)
    }

    /// Reads whole batches starting with the one that contains `offset`, up to `max_bytes`
    /// (at least one batch), never past the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        let located = self.locate(offset, max_bytes, Isolation::ReadUncommitted)?;
        Ok(ReadResult {
            records: match located.slice {
                Some(slice) => slice.read()?,
                None => Vec::new(),
            },
            high_watermark: located.high_watermark,
            log_start_offset: located.log_start_offset,
        })
    }

    /// Like [`PartitionLog::read`], but only finds the bytes: the caller reads or sends
    /// them later, without holding the partition. `isolation` bounds the read at the high
    /// watermark or the last stable offset; an offset up to the high watermark is in range
    /// either way.
    pub fn locate(
        &self,
        offset: i64,
        max_bytes: usize,
        isolation: Isolation,
    ) -> Result<LocatedRead, LogError> {
        if offset < self.log_start || offset > self.high_watermark {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start,
                log_end: self.high_watermark,
            });
        }
        let stable = self.last_stable_offset();
        let end = match isolation {
            Isolation::ReadUncommitted => self.high_watermark,
            Isolation::ReadCommitted => stable,
        };
        let mut slice = None;
        if offset < end {
            // The first segment that reaches past `offset` holds it (or, after compaction,
            // the next batch after it).
            for seg in self.segments().filter(|s| s.next_offset() > offset) {
                if let Some((pos, _)) = seg.position_of(offset)? {
                    slice = Some(seg.slice_from(pos, max_bytes, end)?).filter(|s| !s.is_empty());
                    break;
                }
            }
        }
        let aborted = match (&slice, isolation) {
            (Some(_), Isolation::ReadCommitted) => self.txns.aborted_between(offset, end),
            _ => Vec::new(),
        };
        Ok(LocatedRead {
            slice,
            high_watermark: self.high_watermark,
            last_stable_offset: stable,
            log_start_offset: self.log_start,
            aborted,
        })
    }

    /// The end of what `read_committed` consumers may read: the first offset of the oldest
    /// open transaction, or the high watermark when none is open below it.
    pub fn last_stable_offset(&self) -> i64 {
        self.txns
            .first_open_offset()
            .map_or(self.high_watermark, |first| first.min(self.high_watermark))
    }

    /// The first visible batch that may hold a record with timestamp `>= target` (the
    /// caller finds the exact record inside it), or `None` when every record is older.
    pub fn batch_for_timestamp(&self, target: i64) -> Result<Option<Vec<u8>>, LogError> {
        for seg in self.segments() {
            if seg.max_timestamp() < target {
                continue;
            }
            if let Some((pos, header)) = seg.batch_for_timestamp(target)? {
                if header.base_offset >= self.high_watermark {
                    return Ok(None);
                }
                return seg.read_batch(pos, &header).map(Some);
            }
        }
        Ok(None)
    }

    /// Moves the log start offset forward (DeleteRecords), deleting whole segments that fall
    /// below it. Returns the new log start offset.
    pub fn advance_log_start(&mut self, offset: i64) -> Result<i64, LogError> {
        if offset > self.high_watermark {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start,
                log_end: self.high_watermark,
            });
        }
        if offset <= self.log_start {
            return Ok(self.log_start);
        }
        self.log_start = offset;
        self.txns.forget_below(offset);
        write_offset_file(&self.dir.join(LOG_START_FILE), offset)?;
        while let Some(first) = self.sealed.first_entry() {
            if first.get().next_offset() > offset {
                break;
            }
            first.remove().delete()?;
        }
        Ok(self.log_start)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// Everything below this offset is known to be on disk.
    pub fn flushed_offset(&self) -> i64 {
        self.flushed
    }

    pub fn config(&self) -> &PartitionConfig {
        &self.config
    }

    /// Applies changed topic settings; they take effect from the next append or roll.
    pub fn set_config(&mut self, config: PartitionConfig) {
        self.config = config;
    }

    /// Number of segments (for tests and metrics).
    pub fn segment_count(&self) -> usize {
        self.sealed.len() + 1
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments().map(Segment::size).sum()
    }
}

/// The transaction marker a control batch holds, if any.
fn marker_of(seg: &Segment, pos: u64, header: &BatchHeader) -> Result<Option<Marker>, LogError> {
    let bytes = seg.read_batch(pos, header)?;
    let corrupt = |reason: String| LogError::Corrupt {
        path: seg.log_path().to_path_buf(),
        reason: format!("control batch at offset {}: {reason}", header.base_offset),
    };
    let section =
        crate::log::records::records_section(&bytes, header.compression()).map_err(corrupt)?;
    let records = crate::log::records::walk(&section).map_err(corrupt)?;
    Ok(records
        .first()
        .and_then(|r| r.key)
        .and_then(Marker::from_control_key))
}
