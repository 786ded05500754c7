//! The transaction coordinator: every transactional id's producer id, epoch and open
//! transaction. Each state change is appended to the compacted internal topic
//! `__transaction_state` and fsynced before it is answered (all but `Complete*`, whose loss
//! in a crash only means completing the prepared transaction again); at start the topic
//! is replayed.
//!
//! Each transactional id has its own lock, held across that id's writes: operations on one
//! id apply one at a time, different ids proceed side by side (their fsyncs of
//! `__transaction_state` and of shared partitions are group-committed).
//!
//! Ending a transaction writes `PrepareCommit`/`PrepareAbort`, then a COMMIT/ABORT marker
//! to every partition of the transaction (fsynced together), then
//! `CompleteCommit`/`CompleteAbort`;
//! a prepared transaction found at start or left by a failed write is completed by the
//! ticker. A new InitProducerId for the id, or the transaction outliving its timeout,
//! bumps the epoch first (fencing the old producer everywhere) and aborts with it. An id
//! idle for `transactional.id.expiration.ms` is deleted with a tombstone.
//!
//! - `store`: the `__transaction_state` record layouts.

pub(crate) mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::records::RecordBatchDecoder;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::error::BrokerError;
use crate::group::OFFSETS_TOPIC;
use crate::log::Marker;
use crate::log::batch::{BatchHeader, encode_batch};
use crate::partition::Partition;
use store::{TxnRecord, TxnStatus};

/// The internal topic holding transaction state.
pub(crate) const TXN_TOPIC: &str = "__transaction_state";
/// How often timed-out transactions are looked for.
pub(crate) const TICK: std::time::Duration = std::time::Duration::from_millis(500);
/// Longest transaction timeout a producer may ask for (`transaction.max.timeout.ms`).
pub(crate) const MAX_TIMEOUT_MS: i32 = 900_000;

/// What a request names: its transactional id and the producer id and epoch it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxnProducer<'a> {
    pub(crate) transactional_id: &'a str,
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    /// The code for a stale epoch at this request's version (PRODUCER_FENCED from the
    /// versions that know it, INVALID_PRODUCER_EPOCH before).
    pub(crate) fenced: ResponseError,
}

/// One transactional id's state behind its own lock; `None`: the id is not known (not yet
/// initialised, or deleted).
type Slot = Arc<tokio::sync::Mutex<Option<TxnRecord>>>;

/// An ongoing transaction's epoch and partitions by topic, for lookups by `&str`.
type OngoingEntry = (i16, BTreeMap<String, BTreeSet<i32>>);

fn ongoing_entry(rec: &TxnRecord) -> OngoingEntry {
    let mut by_topic: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for (topic, p) in &rec.partitions {
        by_topic.entry(topic.clone()).or_default().insert(*p);
    }
    (rec.producer_epoch, by_topic)
}

fn new_slot(rec: Option<TxnRecord>) -> Slot {
    Arc::new(tokio::sync::Mutex::new(rec))
}

#[derive(Debug)]
pub(crate) struct TxnCoordinator {
    /// Every transactional id's slot. The map's lock is held only to find or add a slot;
    /// a slot's lock is held across the writes of one operation on its id.
    slots: Mutex<HashMap<String, Slot>>,
    /// Producer id → epoch and partitions of its ongoing transaction, for Produce and
    /// TxnOffsetCommit checks (which must not wait for the lock above).
    ongoing: Mutex<HashMap<i64, OngoingEntry>>,
    log: Arc<Partition>,
}

impl TxnCoordinator {
    /// Creates `__transaction_state` if needed and replays it.
    pub(crate) fn open(broker: &Broker) -> Result<Self, BrokerError> {
        let log = broker.internal_partition(TXN_TOPIC)?;
        let mut txns: HashMap<String, TxnRecord> = HashMap::new();
        let (mut offset, end) = log.offsets();
        let corrupt = |reason: String| BrokerError::Metadata {
            path: TXN_TOPIC.into(),
            reason,
        };
        while offset < end {
            let read = log.read(offset, 1 << 20)?;
            if read.records.is_empty() {
                break;
            }
            let mut rest = Bytes::from(read.records);
            while !rest.is_empty() {
                let header = BatchHeader::parse(&rest).map_err(corrupt)?;
                offset = header.last_offset() + 1;
                let set = RecordBatchDecoder::decode(&mut rest)
                    .map_err(|e| corrupt(format!("undecodable batch: {e}")))?;
                for r in set.records {
                    let Some(key) = r.key else { continue };
                    match store::decode(&key, r.value.as_deref()) {
                        Ok((id, Some(rec))) => {
                            txns.insert(id, rec);
                        }
                        Ok((id, None)) => {
                            txns.remove(&id);
                        }
                        Err(e) => tracing::warn!(offset = r.offset, error = %e,
                            "skipping an unreadable __transaction_state record"),
                    }
                }
            }
        }
        let ongoing = txns
            .values()
            .filter(|t| t.status == TxnStatus::Ongoing)
            .map(|t| (t.producer_id, ongoing_entry(t)))
            .collect();
        tracing::info!(
            transactional_ids = txns.len(),
            "transaction coordinator loaded"
        );
        Ok(Self {
            slots: Mutex::new(
                txns.into_iter()
                    .map(|(id, rec)| (id, new_slot(Some(rec))))
                    .collect(),
            ),
            ongoing: Mutex::new(ongoing),
            log,
        })
    }

    /// `id`'s slot, added (empty) if the id has none.
    fn slot(&self, id: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            slots
                .entry(id.to_string())
                .or_insert_with(|| new_slot(None)),
        )
    }

    /// `id`'s slot if it has one (requests for unknown ids add nothing).
    fn existing(&self, id: &str) -> Option<Slot> {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get(id).cloned()
    }

    /// Every id and its slot, sorted by id.
    fn all_slots(&self) -> Vec<(String, Slot)> {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<(String, Slot)> = slots
            .iter()
            .map(|(id, s)| (id.clone(), Arc::clone(s)))
            .collect();
        drop(slots);
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Appends `id`'s record (`None`: a tombstone) and, if `durable`, waits until it is
    /// fsynced.
    async fn persist(
        &self,
        id: &str,
        value: Option<&[u8]>,
        durable: bool,
    ) -> Result<(), ResponseError> {
        let key = store::encode_key(id);
        let batch = encode_batch(&[(Some(&key[..]), value)], now_ms());
        let written = match self.log.append(&batch) {
            Ok(info) if durable => self.log.wait_durable(info.last_offset).await,
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        written.map_err(|e| {
            tracing::error!(transactional_id = id, error = %e, "cannot persist transaction state");
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// Appends `id`'s new state and waits until it is fsynced, then publishes it.
    async fn save(
        &self,
        slot: &mut Option<TxnRecord>,
        id: &str,
        rec: TxnRecord,
    ) -> Result<(), ResponseError> {
        self.save_as(slot, id, rec, true).await
    }

    /// [`Self::save`], waiting for the fsync only if `durable`.
    async fn save_as(
        &self,
        slot: &mut Option<TxnRecord>,
        id: &str,
        rec: TxnRecord,
        durable: bool,
    ) -> Result<(), ResponseError> {
        self.persist(id, Some(&rec.encode()), durable).await?;
        let mut ongoing = self.ongoing.lock().unwrap_or_else(PoisonError::into_inner);
        ongoing.remove(&rec.producer_id);
        if rec.status == TxnStatus::Ongoing {
            ongoing.insert(rec.producer_id, ongoing_entry(&rec));
        }
        drop(ongoing);
        *slot = Some(rec);
        Ok(())
    }

    /// Writes `marker` to every partition of `rec`'s transaction, then waits for all of them
    /// to be fsynced (side by side: one fsync's time, not one per partition); a marker in
    /// `__consumer_offsets` also settles the transaction's offsets once durable.
    async fn write_markers(
        &self,
        broker: &Broker,
        rec: &TxnRecord,
        marker: Marker,
    ) -> Result<(), ResponseError> {
        let failed = |topic: &str, index: i32, e: &dyn std::fmt::Display| {
            tracing::error!(topic, partition = index, error = %e,
                "cannot write a transaction marker");
            ResponseError::CoordinatorNotAvailable
        };
        let producer = (rec.producer_id, rec.producer_epoch);
        let mut syncs = tokio::task::JoinSet::new();
        let mut offsets_marked = false;
        for (topic, index) in &rec.partitions {
            let Some(partition) = broker
                .topic(topic)
                .and_then(|t| t.partition(*index).cloned())
            else {
                tracing::warn!(
                    topic,
                    partition = index,
                    "transaction partition is gone; no marker"
                );
                continue;
            };
            let info = partition
                .append_marker(producer, marker, 0, now_ms())
                .map_err(|e| failed(topic, *index, &e))?;
            offsets_marked |= topic == OFFSETS_TOPIC;
            let (topic, index) = (topic.clone(), *index);
            syncs.spawn(async move {
                let synced = partition.wait_durable(info.last_offset).await;
                (topic, index, synced)
            });
        }
        let mut result = Ok(());
        while let Some(joined) = syncs.join_next().await {
            let outcome = match joined {
                Ok((topic, index, synced)) => synced.map_err(|e| failed(&topic, index, &e)),
                Err(e) => Err(failed("?", -1, &e)),
            };
            result = result.and(outcome);
        }
        result?;
        if offsets_marked && let Some(groups) = broker.groups() {
            groups
                .complete_txn(rec.producer_id, marker == Marker::Commit)
                .await;
        }
        Ok(())
    }

    /// Prepares, marks and completes `rec`'s transaction with `marker`.
    async fn finish(
        &self,
        broker: &Broker,
        slot: &mut Option<TxnRecord>,
        id: &str,
        mut rec: TxnRecord,
        marker: Marker,
    ) -> Result<TxnRecord, ResponseError> {
        let (prepare, complete) = match marker {
            Marker::Commit => (TxnStatus::PrepareCommit, TxnStatus::CompleteCommit),
            Marker::Abort => (TxnStatus::PrepareAbort, TxnStatus::CompleteAbort),
        };
        if rec.status != prepare {
            rec.status = prepare;
            rec.last_update_ms = now_ms();
            self.save(slot, id, rec.clone()).await?;
        }
        self.write_markers(broker, &rec, marker).await?;
        rec.status = complete;
        rec.partitions.clear();
        rec.last_update_ms = now_ms();
        // Not waited for: with the markers durable, a crash that loses this record leaves
        // the prepared state, which is completed again (same markers) after the restart;
        // the id's next change is fsynced and carries this record to disk with it.
        self.save_as(slot, id, rec.clone(), false).await?;
        Ok(rec)
    }

    /// Bumps the epoch (fencing the producer that holds the old one) and aborts the open
    /// transaction with the new epoch.
    async fn fence_and_abort(
        &self,
        broker: &Broker,
        slot: &mut Option<TxnRecord>,
        id: &str,
        mut rec: TxnRecord,
    ) -> Result<TxnRecord, ResponseError> {
        rec.producer_epoch = rec.producer_epoch.saturating_add(1);
        self.finish(broker, slot, id, rec, Marker::Abort).await
    }

    /// InitProducerId with a transactional id: the producer id and a new epoch, after
    /// aborting (or completing) whatever the id's previous producer left open.
    pub(crate) async fn init_producer_id(
        &self,
        broker: &Broker,
        id: &str,
        timeout_ms: i32,
        current: (i64, i16),
        fenced: ResponseError,
    ) -> Result<(i64, i16), ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        let now = now_ms();
        let mut rec = match guard.clone() {
            None => TxnRecord {
                producer_id: broker.allocate_producer_id().map_err(|e| {
                    tracing::error!(error = %e, "cannot allocate a producer id");
                    ResponseError::CoordinatorNotAvailable
                })?,
                producer_epoch: 0,
                timeout_ms,
                status: TxnStatus::Empty,
                partitions: BTreeSet::new(),
                last_update_ms: now,
                start_ms: -1,
            },
            Some(rec) => {
                // KIP-360: a producer that names its id and epoch must hold the current ones,
                // or the ones just before an abort for its timeout (which bumped the epoch
                // without handing it out), so it may recover.
                let timed_out = rec.status == TxnStatus::CompleteAbort
                    && current == (rec.producer_id, rec.producer_epoch.saturating_sub(1));
                if current.0 >= 0 && current != (rec.producer_id, rec.producer_epoch) && !timed_out
                {
                    return Err(fenced);
                }
                let mut rec = match rec.status {
                    TxnStatus::Ongoing => {
                        let aborted = self.fence_and_abort(broker, &mut guard, id, rec).await?;
                        tracing::info!(
                            transactional_id = id,
                            producer_id = aborted.producer_id,
                            "aborted the open transaction of a re-initialised producer"
                        );
                        aborted
                    }
                    TxnStatus::PrepareCommit => {
                        self.finish(broker, &mut guard, id, rec, Marker::Commit)
                            .await?
                    }
                    TxnStatus::PrepareAbort => {
                        self.finish(broker, &mut guard, id, rec, Marker::Abort)
                            .await?
                    }
                    _ => rec,
                };
                if rec.producer_epoch >= i16::MAX - 1 {
                    rec.producer_id = broker.allocate_producer_id().map_err(|e| {
                        tracing::error!(error = %e, "cannot allocate a producer id");
                        ResponseError::CoordinatorNotAvailable
                    })?;
                    rec.producer_epoch = 0;
                } else {
                    rec.producer_epoch += 1;
                }
                rec
            }
        };
        rec.status = TxnStatus::Empty;
        rec.partitions.clear();
        rec.timeout_ms = timeout_ms;
        rec.last_update_ms = now;
        rec.start_ms = -1;
        let answer = (rec.producer_id, rec.producer_epoch);
        self.save(&mut guard, id, rec).await?;
        Ok(answer)
    }

    /// The current state of each of `ids` (`None`: not a known transactional id).
    pub(crate) async fn describe(&self, ids: &[&str]) -> Vec<Option<TxnRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(match self.existing(id) {
                Some(slot) => slot.lock().await.clone(),
                None => None,
            });
        }
        out
    }

    /// Every transactional id with its state, sorted by id.
    pub(crate) async fn list(&self) -> Vec<(String, TxnRecord)> {
        let mut out = Vec::new();
        for (id, slot) in self.all_slots() {
            if let Some(rec) = slot.lock().await.clone() {
                out.push((id, rec));
            }
        }
        out
    }

    /// The id's state if `p` holds its current producer id and epoch.
    fn verify(slot: Option<&TxnRecord>, p: &TxnProducer<'_>) -> Result<TxnRecord, ResponseError> {
        let rec = slot
            .filter(|r| r.producer_id == p.producer_id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        if rec.producer_epoch != p.epoch {
            return Err(p.fenced);
        }
        if matches!(
            rec.status,
            TxnStatus::PrepareCommit | TxnStatus::PrepareAbort
        ) {
            return Err(ResponseError::ConcurrentTransactions);
        }
        Ok(rec.clone())
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: one code per partition, in order. Unknown
    /// partitions fail the whole request (the others get OPERATION_NOT_ATTEMPTED).
    pub(crate) async fn add_partitions(
        &self,
        broker: &Broker,
        p: TxnProducer<'_>,
        partitions: &[(String, i32)],
    ) -> Vec<i16> {
        let all = |code: ResponseError| vec![code.code(); partitions.len()];
        let Some(slot) = self.existing(p.transactional_id) else {
            return all(ResponseError::InvalidProducerIdMapping);
        };
        let mut guard = slot.lock().await;
        let mut rec = match Self::verify(guard.as_ref(), &p) {
            Ok(rec) => rec,
            Err(code) => return all(code),
        };
        let known: Vec<bool> = partitions
            .iter()
            .map(|(t, i)| broker.topic(t).is_some_and(|t| t.partition(*i).is_some()))
            .collect();
        if known.contains(&false) {
            return known
                .iter()
                .map(|&k| {
                    if k {
                        ResponseError::OperationNotAttempted.code()
                    } else {
                        ResponseError::UnknownTopicOrPartition.code()
                    }
                })
                .collect();
        }
        let ongoing = rec.status == TxnStatus::Ongoing;
        if ongoing && partitions.iter().all(|tp| rec.partitions.contains(tp)) {
            return vec![0; partitions.len()];
        }
        if !ongoing {
            rec.status = TxnStatus::Ongoing;
            rec.partitions.clear();
            rec.start_ms = now_ms();
        }
        rec.partitions.extend(partitions.iter().cloned());
        rec.last_update_ms = now_ms();
        match self.save(&mut guard, p.transactional_id, rec).await {
            Ok(()) => vec![0; partitions.len()],
            Err(code) => all(code),
        }
    }

    /// EndTxn: commits or aborts the open transaction. A retry of an ending that already
    /// completed the same way succeeds.
    pub(crate) async fn end_txn(
        &self,
        broker: &Broker,
        p: TxnProducer<'_>,
        commit: bool,
    ) -> Result<(), ResponseError> {
        let slot = self
            .existing(p.transactional_id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        let mut guard = slot.lock().await;
        let rec = Self::verify(guard.as_ref(), &p)?;
        let marker = if commit {
            Marker::Commit
        } else {
            Marker::Abort
        };
        match (rec.status, commit) {
            (TxnStatus::Ongoing, _) => {
                self.finish(broker, &mut guard, p.transactional_id, rec, marker)
                    .await?;
                Ok(())
            }
            (TxnStatus::CompleteCommit, true) | (TxnStatus::CompleteAbort, false) => Ok(()),
            _ => Err(ResponseError::InvalidTxnState),
        }
    }

    /// Whether a transactional batch of `(producer_id, epoch)` may go to `topic`/`partition`:
    /// the partition must have been added to the producer's ongoing transaction.
    pub(crate) fn check_write(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), (ResponseError, String)> {
        let ongoing = self.ongoing.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((current, partitions)) = ongoing.get(&producer_id) else {
            return Err((
                ResponseError::InvalidTxnState,
                format!("producer id {producer_id} has no ongoing transaction"),
            ));
        };
        if epoch < *current {
            return Err((
                ResponseError::InvalidProducerEpoch,
                format!("producer epoch {epoch} is older than the current epoch {current}"),
            ));
        }
        if epoch != *current
            || !partitions
                .get(topic)
                .is_some_and(|p| p.contains(&partition))
        {
            return Err((
                ResponseError::InvalidTxnState,
                format!(
                    "{topic}-{partition} was not added to the transaction of producer id {producer_id}"
                ),
            ));
        }
        Ok(())
    }

    /// Aborts transactions that outlived their timeout (with a bumped epoch, so their
    /// producer is fenced), completes prepared ones left by a failure or a restart, and
    /// deletes ids idle for `transactional.id.expiration.ms`. Ids busy with a request are
    /// left for the next tick.
    pub(crate) async fn tick(&self, broker: &Broker) {
        let max_idle = i64::try_from(broker.config().transactional_id_expiration.as_millis())
            .unwrap_or(i64::MAX);
        for (id, slot) in self.all_slots() {
            let Ok(mut guard) = slot.try_lock() else {
                continue;
            };
            let Some(rec) = guard.clone() else {
                continue;
            };
            let now = now_ms();
            let producer_id = rec.producer_id;
            let result = match rec.status {
                TxnStatus::Ongoing
                    if rec.start_ms.saturating_add(i64::from(rec.timeout_ms)) < now =>
                {
                    tracing::info!(transactional_id = %id, producer_id,
                        timeout_ms = rec.timeout_ms, "aborting a transaction that timed out");
                    self.fence_and_abort(broker, &mut guard, &id, rec)
                        .await
                        .map(drop)
                }
                TxnStatus::Ongoing => Ok(()),
                TxnStatus::PrepareCommit => self
                    .finish(broker, &mut guard, &id, rec, Marker::Commit)
                    .await
                    .map(drop),
                TxnStatus::PrepareAbort => self
                    .finish(broker, &mut guard, &id, rec, Marker::Abort)
                    .await
                    .map(drop),
                TxnStatus::Empty | TxnStatus::CompleteCommit | TxnStatus::CompleteAbort
                    if now.saturating_sub(rec.last_update_ms) >= max_idle =>
                {
                    self.persist(&id, None, true).await.map(|()| {
                        *guard = None;
                        tracing::info!(transactional_id = %id, producer_id,
                            "transactional id expired");
                    })
                }
                _ => Ok(()),
            };
            if let Err(code) = result {
                tracing::warn!(transactional_id = %id, error = ?code,
                    "could not end or expire a transaction; retrying on the next tick");
            }
        }
        self.drop_empty_slots();
    }

    /// Forgets slots holding no id that nobody else holds (a slot is only handed out under
    /// the map's lock, so a count of one there means no request has it).
    fn drop_empty_slots(&self) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1 || slot.try_lock().map_or(true, |g| g.is_some())
        });
    }
}
