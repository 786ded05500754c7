//! A partition shared by request handlers: its log behind a lock, group-committed fsyncs,
//! and wake-ups for long-polling fetches.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

use crate::error::LogError;
use crate::log::{AppendInfo, FlushPolicy, Isolation, LocatedRead, PartitionLog, ReadResult};

/// One partition of a topic.
#[derive(Debug)]
pub struct Partition {
    topic: String,
    index: i32,
    log: Mutex<PartitionLog>,
    /// One fsync at a time; appends that arrive meanwhile are covered by the next one.
    flush_gate: tokio::sync::Mutex<()>,
    /// Everything below this offset is fsynced.
    durable_end: AtomicI64,
    /// When the oldest unsynced append happened (for `FlushPolicy::Interval`).
    dirty_since: Mutex<Option<Instant>>,
    /// Woken whenever records become visible to consumers (shared by the broker).
    data_ready: Arc<Notify>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the log half-written (appends validate
    // before writing), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Partition {
    pub(crate) fn new(topic: &str, index: i32, log: PartitionLog, data_ready: Arc<Notify>) -> Self {
        let durable = log.flushed_offset();
        Self {
            topic: topic.to_string(),
            index,
            log: Mutex::new(log),
            flush_gate: tokio::sync::Mutex::new(()),
            durable_end: AtomicI64::new(durable),
            dirty_since: Mutex::new(None),
            data_ready,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn index(&self) -> i32 {
        self.index
    }

    /// Appends one batch (its base offset is assigned here).
    pub fn append(&self, batch: &[u8]) -> Result<AppendInfo, LogError> {
        self.append_with(|log| log.append(batch))
    }

    /// Appends a transaction marker (see [`PartitionLog::append_marker`]).
    pub fn append_marker(
        &self,
        producer: (i64, i16),
        marker: crate::log::Marker,
        coordinator_epoch: i32,
        timestamp_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.append_with(|log| {
            log.append_marker(
                producer.0,
                producer.1,
                marker,
                coordinator_epoch,
                timestamp_ms,
            )
        })
    }

    /// Appends a coordinator's batch for a transactional producer (see
    /// [`PartitionLog::append_for_coordinator`]).
    pub fn append_for_coordinator(&self, batch: &[u8]) -> Result<AppendInfo, LogError> {
        self.append_with(|log| log.append_for_coordinator(batch))
    }

    fn append_with(
        &self,
        append: impl FnOnce(&mut PartitionLog) -> Result<AppendInfo, LogError>,
    ) -> Result<AppendInfo, LogError> {
        let mut log = lock(&self.log);
        let info = append(&mut log)?;
        let policy = log.config().flush;
        drop(log);
        if policy != FlushPolicy::Always {
            self.data_ready.notify_waiters();
        }
        lock(&self.dirty_since).get_or_insert_with(Instant::now);
        Ok(info)
    }

    /// Applies changed topic settings.
    pub fn set_config(&self, config: crate::log::PartitionConfig) {
        lock(&self.log).set_config(config);
    }

    /// The flush policy of the partition.
    pub fn flush_policy(&self) -> FlushPolicy {
        lock(&self.log).config().flush
    }

    /// Waits until every record up to `offset` is fsynced, fsyncing if nobody else is.
    /// Concurrent callers share one fsync (group commit).
    pub async fn wait_durable(self: &Arc<Self>, offset: i64) -> Result<(), LogError> {
        if self.durable_end.load(Ordering::Acquire) > offset {
            return Ok(());
        }
        let _gate = self.flush_gate.lock().await;
        if self.durable_end.load(Ordering::Acquire) > offset {
            return Ok(());
        }
        self.sync_gated().await
    }

    /// Fsyncs everything appended so far and publishes it to consumers.
    pub async fn sync(self: &Arc<Self>) -> Result<(), LogError> {
        let _gate = self.flush_gate.lock().await;
        self.sync_gated().await
    }

    /// [`Partition::sync`] with the flush gate held. The fsync runs without the log lock,
    /// so appends and fetches of the partition go on while the disk works.
    async fn sync_gated(self: &Arc<Self>) -> Result<(), LogError> {
        let this = Arc::clone(self);
        let durable = tokio::task::spawn_blocking(move || {
            let pending = {
                let log = lock(&this.log);
                // Under the log lock: an append after this point marks the log dirty again.
                *lock(&this.dirty_since) = None;
                match log.pending_sync() {
                    Some(pending) => pending,
                    None => return Ok(log.flushed_offset()),
                }
            };
            pending.run()?;
            let mut log = lock(&this.log);
            log.complete_sync(pending.end);
            Ok(log.flushed_offset())
        })
        .await
        .map_err(|e| LogError::Io {
            op: "fsync task",
            path: self.topic.clone().into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        self.durable_end.fetch_max(durable, Ordering::AcqRel);
        self.data_ready.notify_waiters();
        Ok(())
    }

    /// Whether unsynced data is older than `interval` (for the interval flusher).
    pub(crate) fn dirty_for(&self, now: Instant) -> Option<std::time::Duration> {
        lock(&self.dirty_since).map(|since| now.duration_since(since))
    }

    /// Reads whole batches from `offset`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        lock(&self.log).read(offset, max_bytes)
    }

    /// Finds whole batches from `offset` without reading them (see
    /// [`PartitionLog::locate`](crate::log::PartitionLog::locate)).
    pub fn locate(
        &self,
        offset: i64,
        max_bytes: usize,
        isolation: Isolation,
    ) -> Result<LocatedRead, LogError> {
        lock(&self.log).locate(offset, max_bytes, isolation)
    }

    /// `(log start, high watermark, last stable offset)`.
    pub fn offsets_with_stable(&self) -> (i64, i64, i64) {
        let log = lock(&self.log);
        (
            log.log_start_offset(),
            log.high_watermark(),
            log.last_stable_offset(),
        )
    }

    /// `(log start, high watermark)`.
    pub fn offsets(&self) -> (i64, i64) {
        let log = lock(&self.log);
        (log.log_start_offset(), log.high_watermark())
    }

    /// The first visible batch that may hold a record with timestamp `>= target`.
    pub fn batch_for_timestamp(&self, target: i64) -> Result<Option<Vec<u8>>, LogError> {
        lock(&self.log).batch_for_timestamp(target)
    }

    /// The largest timestamp in the partition, or -1.
    pub fn max_timestamp(&self) -> i64 {
        lock(&self.log).max_timestamp()
    }

    /// DeleteRecords: moves the log start offset.
    pub fn advance_log_start(&self, offset: i64) -> Result<i64, LogError> {
        lock(&self.log).advance_log_start(offset)
    }

    /// Applies the topic's cleanup policy: retention for `delete`, compaction for `compact`
    /// once enough of the log is dirty. Blocking (file I/O); holds the log lock.
    pub fn clean(
        &self,
        config: &crate::topic_config::TopicConfig,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let mut log = lock(&self.log);
        if config.delete {
            let deleted =
                log.apply_retention(now_ms, config.retention_ms, config.retention_bytes)?;
            if deleted > 0 {
                tracing::info!(topic = %self.topic, partition = self.index, segments = deleted,
                    log_start = log.log_start_offset(), "retention deleted segments");
            }
        }
        if config.compact
            && log.segment_count() > 1
            && log.dirty_ratio() >= config.min_cleanable_dirty_ratio
        {
            let report = log.compact(now_ms, config.delete_retention_ms)?;
            if report.segments_rewritten > 0 {
                tracing::info!(topic = %self.topic, partition = self.index,
                    segments = report.segments_rewritten, removed = report.records_removed,
                    bytes_before = report.bytes_before, bytes_after = report.bytes_after, "compacted");
            }
        }
        Ok(())
    }

    /// The producers this partition remembers and where their open transactions start
    /// (see [`PartitionLog::producers`]).
    pub fn producers(&self) -> Vec<(crate::log::ProducerSnapshot, Option<i64>)> {
        lock(&self.log).producers()
    }

    /// Forgets idempotent producers not heard from for `max_age` (see
    /// [`PartitionLog::expire_producers`]).
    pub fn expire_producers(&self, max_age: std::time::Duration) {
        let forgotten = lock(&self.log).expire_producers(max_age);
        if forgotten > 0 {
            tracing::debug!(topic = %self.topic, partition = self.index, forgotten,
                "expired idempotent producer state");
        }
    }

    /// Syncs and closes the log (at shutdown). Safe to call once.
    pub(crate) fn close_blocking(&self) -> Result<(), LogError> {
        let mut log = lock(&self.log);
        log.sync()?;
        log.sync_all()
    }
}
