//! The group coordinator: every consumer group (any protocol type: `consumer`, `connect`)
//! lives here, with its committed offsets. State changes that must survive a restart —
//! committed offsets and group metadata at Stable/Empty transitions — are appended to the
//! compacted internal topic `__consumer_offsets` and acknowledged only once fsynced; at
//! start the topic is replayed, so groups come back Empty with their generation and offsets.
//!
//! - `state`: one group's state machine.
//! - `store`: the `__consumer_offsets` record formats.
//! - `txn_offsets`: offsets committed inside transactions, held until their marker.

pub(crate) mod state;
pub(crate) mod store;
mod txn_offsets;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::records::RecordBatchDecoder;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::error::BrokerError;
use crate::log::batch::{BatchHeader, KeyValue, encode_batch};
use crate::partition::Partition;
use state::{
    Committed, Group, GroupSettings, GroupState, JoinParams, JoinResult, Persist, Step, SyncResult,
};
use store::{GroupValue, MemberValue, OffsetValue, StoredRecord};
pub(crate) use txn_offsets::TxnMember;
use txn_offsets::{Pending, PendingOffset};

/// The internal topic holding offsets and group metadata.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Largest commit metadata string accepted (`offset.metadata.max.bytes`).
const MAX_METADATA_BYTES: usize = 4096;

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub(crate) struct GroupDescription {
    pub(crate) state: GroupState,
    pub(crate) protocol_type: String,
    pub(crate) protocol: String,
    /// `(member id, instance id, client id, client host, metadata, assignment)`.
    pub(crate) members: Vec<(String, Option<String>, String, String, Bytes, Bytes)>,
}

/// One partition's offset in an OffsetCommit request.
#[derive(Debug, Clone)]
pub(crate) struct OffsetEntry {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: Option<String>,
}

/// One partition's offset in an OffsetFetch answer.
#[derive(Debug, Clone)]
pub(crate) struct FetchedOffset {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    /// UNSTABLE_OFFSET_COMMIT while a transaction holds an offset for the partition and
    /// the request asked for stable offsets; 0 otherwise.
    pub(crate) error_code: i16,
}

#[derive(Debug)]
pub(crate) struct GroupCoordinator {
    groups: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Group>>>>,
    settings: GroupSettings,
    log: Arc<Partition>,
    /// Offsets of open transactions, by producer id.
    pending: Mutex<Pending>,
}

impl GroupCoordinator {
    /// Creates `__consumer_offsets` if needed and replays it.
    pub(crate) fn open(broker: &Broker) -> Result<Self, BrokerError> {
        let log = broker.internal_partition(OFFSETS_TOPIC)?;
        let cfg = broker.config();
        let coordinator = Self {
            groups: Mutex::new(HashMap::new()),
            settings: GroupSettings {
                min_session_timeout: cfg.group_min_session_timeout,
                max_session_timeout: cfg.group_max_session_timeout,
                initial_rebalance_delay: cfg.group_initial_rebalance_delay,
            },
            log,
            pending: Mutex::new(HashMap::new()),
        };
        coordinator.replay()?;
        Ok(coordinator)
    }

    fn replay(&self) -> Result<(), BrokerError> {
        let (mut offset, end) = self.log.offsets();
        let mut groups: HashMap<String, Group> = HashMap::new();
        let mut pending = Pending::new();
        let mut applied = 0usize;
        while offset < end {
            let read = self.log.read(offset, 1 << 20)?;
            if read.records.is_empty() {
                break;
            }
            let mut rest = Bytes::from(read.records);
            while !rest.is_empty() {
                let header = BatchHeader::parse(&rest).map_err(|reason| BrokerError::Metadata {
                    path: OFFSETS_TOPIC.into(),
                    reason,
                })?;
                offset = header.last_offset() + 1;
                let set =
                    RecordBatchDecoder::decode(&mut rest).map_err(|e| BrokerError::Metadata {
                        path: OFFSETS_TOPIC.into(),
                        reason: format!("undecodable batch: {e}"),
                    })?;
                if header.is_control() {
                    let marker = set.records.first().and_then(|r| r.key.as_deref());
                    let commit = marker.and_then(crate::log::Marker::from_control_key)
                        == Some(crate::log::Marker::Commit);
                    let offsets = pending.remove(&header.producer_id).unwrap_or_default();
                    for p in offsets.into_iter().filter(|_| commit) {
                        groups
                            .entry(p.group.clone())
                            .or_insert_with(|| Group::new(&p.group))
                            .offsets
                            .insert((p.topic, p.partition), p.committed);
                    }
                    continue;
                }
                for r in set.records {
                    let Some(key) = r.key else { continue };
                    match StoredRecord::decode(&key, r.value.as_deref()) {
                        Ok(StoredRecord::Offset {
                            group,
                            topic,
                            partition,
                            value: Some(v),
                        }) if header.is_transactional() => {
                            pending
                                .entry(header.producer_id)
                                .or_default()
                                .push(PendingOffset {
                                    group,
                                    topic,
                                    partition,
                                    committed: Committed {
                                        offset: v.offset,
                                        leader_epoch: v.leader_epoch,
                                        metadata: v.metadata,
                                        commit_timestamp: v.commit_timestamp,
                                    },
                                });
                        }
                        Ok(rec) => {
                            apply(&mut groups, rec);
                            applied += 1;
                        }
                        Err(e) => tracing::warn!(offset = r.offset, error = %e,
                            "skipping an unreadable __consumer_offsets record"),
                    }
                }
            }
        }
        *self.pending() = pending;
        let count = groups.len();
        let mut map = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        for (id, g) in groups {
            map.insert(id, Arc::new(tokio::sync::Mutex::new(g)));
        }
        tracing::info!(
            groups = count,
            records = applied,
            "group coordinator loaded"
        );
        Ok(())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn group(&self, id: &str, create: bool) -> Option<Arc<tokio::sync::Mutex<Group>>> {
        let mut map = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(g) = map.get(id) {
            return Some(Arc::clone(g));
        }
        if !create {
            return None;
        }
        let g = Arc::new(tokio::sync::Mutex::new(Group::new(id)));
        map.insert(id.to_string(), Arc::clone(&g));
        Some(g)
    }

    /// A snapshot of every group handle (the map lock is not held while groups are used).
    fn all_groups(&self) -> Vec<Arc<tokio::sync::Mutex<Group>>> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Appends records to `__consumer_offsets` and waits until they are fsynced.
    async fn persist(&self, records: &[StoredRecord]) -> Result<(), String> {
        self.persist_as(records, None).await
    }

    /// Appends records to `__consumer_offsets` as one batch — plain, or a transactional one
    /// of `producer` (id, epoch) — and waits until they are fsynced.
    async fn persist_as(
        &self,
        records: &[StoredRecord],
        producer: Option<(i64, i16)>,
    ) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let encoded: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            records.iter().map(StoredRecord::encode).collect();
        let kvs: Vec<KeyValue<'_>> = encoded
            .iter()
            .map(|(k, v)| (Some(k.as_slice()), v.as_deref()))
            .collect();
        let appended = match producer {
            None => self.log.append(&encode_batch(&kvs, now_ms())),
            Some(producer) => {
                self.log
                    .append_for_coordinator(&crate::log::batch::encode_transactional(
                        &kvs,
                        now_ms(),
                        producer,
                    ))
            }
        };
        let info = appended.map_err(|e| e.to_string())?;
        self.log
            .wait_durable(info.last_offset)
            .await
            .map_err(|e| e.to_string())
    }

    fn metadata_record(g: &Group) -> StoredRecord {
        StoredRecord::Group {
            group: g.id.clone(),
            value: Some(GroupValue {
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                generation: g.generation,
                protocol: g.protocol_name.clone(),
                leader: g.leader.clone(),
                state_timestamp: now_ms(),
                members: g
                    .members
                    .values()
                    .map(|m| MemberValue {
                        member_id: m.id.clone(),
                        instance_id: m.instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        rebalance_timeout: m.rebalance_timeout.as_millis() as i32,
                        session_timeout: m.session_timeout.as_millis() as i32,
                        subscription: m.metadata(g.protocol_name.as_deref()),
                        assignment: m.assignment.clone(),
                    })
                    .collect(),
            }),
        }
    }

    pub(crate) async fn join(&self, group_id: &str, p: JoinParams) -> JoinResult {
        if group_id.is_empty() {
            return JoinResult::error(ResponseError::InvalidGroupId, &p.member_id);
        }
        let member_id = p.member_id.clone();
        let Some(group) = self.group(group_id, true) else {
            return JoinResult::error(ResponseError::CoordinatorNotAvailable, &member_id);
        };
        let step = group.lock().await.join(p, Instant::now(), &self.settings);
        match step {
            Step::Now(r) => r,
            Step::Parked(rx) => rx.await.unwrap_or_else(|_| {
                JoinResult::error(ResponseError::RebalanceInProgress, &member_id)
            }),
        }
    }

    pub(crate) async fn sync(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol: (Option<&str>, Option<&str>),
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        let Some(group) = self.group(group_id, false) else {
            return SyncResult {
                error: ResponseError::UnknownMemberId.code(),
                ..SyncResult::default()
            };
        };
        let mut g = group.lock().await;
        let (step, persist) = g.sync(
            member_id,
            instance_id,
            generation,
            protocol,
            assignments,
            Instant::now(),
        );
        let record = (persist == Persist::GroupMetadata).then(|| Self::metadata_record(&g));
        drop(g);
        if let Some(record) = record
            && let Err(e) = self.persist(&[record]).await
        {
            tracing::error!(group = group_id, error = %e, "cannot persist group metadata");
            return SyncResult {
                error: ResponseError::CoordinatorNotAvailable.code(),
                ..SyncResult::default()
            };
        }
        match step {
            Step::Now(r) => r,
            Step::Parked(rx) => rx.await.unwrap_or(SyncResult {
                error: ResponseError::RebalanceInProgress.code(),
                ..SyncResult::default()
            }),
        }
    }

    pub(crate) async fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        match self.group(group_id, false) {
            Some(group) => {
                group
                    .lock()
                    .await
                    .heartbeat(member_id, instance_id, generation, Instant::now())
            }
            None => ResponseError::UnknownMemberId.code(),
        }
    }

    pub(crate) async fn leave(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<i16>, ResponseError> {
        let Some(group) = self.group(group_id, false) else {
            return Err(ResponseError::UnknownMemberId);
        };
        let mut g = group.lock().await;
        let (codes, persist) = g.leave(members, Instant::now());
        let record = (persist == Persist::GroupMetadata).then(|| Self::metadata_record(&g));
        drop(g);
        if let Some(record) = record
            && let Err(e) = self.persist(&[record]).await
        {
            tracing::error!(group = group_id, error = %e, "cannot persist group metadata");
        }
        Ok(codes)
    }

    /// OffsetCommit: checks membership, persists, then applies. Returns a code per entry.
    #[allow(
        clippy::type_complexity,
        reason = "a flat list of the request's entries"
    )]
    pub(crate) async fn commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        offsets: Vec<OffsetEntry>,
    ) -> Vec<i16> {
        let n = offsets.len();
        if group_id.is_empty() {
            return vec![ResponseError::InvalidGroupId.code(); n];
        }
        let Some(group) = self.group(group_id, true) else {
            return vec![ResponseError::CoordinatorNotAvailable.code(); n];
        };
        let mut g = group.lock().await;
        if let Err(code) = g.check_commit(member_id, instance_id, generation, Instant::now()) {
            return vec![code.code(); n];
        }
        let (codes, records, accepted) = offset_records(group_id, offsets);
        // Appended under the group lock so commits land in the order they were checked.
        if let Err(e) = self.persist(&records).await {
            tracing::error!(group = group_id, error = %e, "cannot persist offsets");
            return vec![ResponseError::CoordinatorNotAvailable.code(); codes.len()];
        }
        g.offsets
            .extend(accepted.into_iter().map(|(t, p, c)| ((t, p), c)));
        codes
    }

    /// OffsetFetch for one group; `None` topics means every committed partition. With
    /// `require_stable`, partitions a transaction holds an offset for answer
    /// UNSTABLE_OFFSET_COMMIT (the client retries).
    pub(crate) async fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> Vec<(String, Vec<FetchedOffset>)> {
        let group = self.group(group_id, false);
        let offsets = match &group {
            Some(g) => g.lock().await.offsets.clone(),
            None => BTreeMap::new(),
        };
        let found = |topic: &str, partition: i32| {
            let error_code = if require_stable && self.is_unstable(group_id, topic, partition) {
                ResponseError::UnstableOffsetCommit.code()
            } else {
                0
            };
            match offsets.get(&(topic.to_string(), partition)) {
                Some(c) => FetchedOffset {
                    partition,
                    offset: c.offset,
                    leader_epoch: c.leader_epoch,
                    metadata: c.metadata.clone(),
                    error_code,
                },
                None => FetchedOffset {
                    partition,
                    offset: -1,
                    leader_epoch: -1,
                    metadata: String::new(),
                    error_code,
                },
            }
        };
        match topics {
            Some(list) => list
                .into_iter()
                .map(|(t, parts)| {
                    let fetched = parts.into_iter().map(|p| found(&t, p)).collect();
                    (t, fetched)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, Vec<FetchedOffset>> = BTreeMap::new();
                for (t, p) in offsets.keys() {
                    by_topic.entry(t.clone()).or_default().push(found(t, *p));
                }
                by_topic.into_iter().collect()
            }
        }
    }

    pub(crate) async fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let group = self.group(group_id, false)?;
        let g = group.lock().await;
        Some(GroupDescription {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: if g.state == GroupState::Stable {
                g.protocol_name.clone().unwrap_or_default()
            } else {
                String::new()
            },
            members: g
                .members
                .values()
                .map(|m| {
                    (
                        m.id.clone(),
                        m.instance_id.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                        m.metadata(g.protocol_name.as_deref()),
                        m.assignment.clone(),
                    )
                })
                .collect(),
        })
    }

    /// `(group id, protocol type, state)` of every group.
    pub(crate) async fn list(&self) -> Vec<(String, String, GroupState)> {
        let groups = self.all_groups();
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let g = g.lock().await;
            out.push((
                g.id.clone(),
                g.protocol_type.clone().unwrap_or_default(),
                g.state,
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// DeleteGroups: only groups without members; their offsets are tombstoned.
    pub(crate) async fn delete(&self, group_id: &str) -> i16 {
        let Some(group) = self.group(group_id, false) else {
            return ResponseError::GroupIdNotFound.code();
        };
        let mut g = group.lock().await;
        if !g.members.is_empty() {
            return ResponseError::NonEmptyGroup.code();
        }
        let mut records: Vec<StoredRecord> = g
            .offsets
            .keys()
            .map(|(t, p)| StoredRecord::offset_tombstone(group_id, t, *p))
            .collect();
        records.push(StoredRecord::Group {
            group: group_id.to_string(),
            value: None,
        });
        if let Err(e) = self.persist(&records).await {
            tracing::error!(group = group_id, error = %e, "cannot persist group deletion");
            return ResponseError::CoordinatorNotAvailable.code();
        }
        g.state = GroupState::Dead;
        g.offsets.clear();
        drop(g);
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(group_id);
        0
    }

    /// OffsetDelete: drops committed offsets of a group that has no members.
    pub(crate) async fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<(), ResponseError> {
        let Some(group) = self.group(group_id, false) else {
            return Err(ResponseError::GroupIdNotFound);
        };
        let mut g = group.lock().await;
        if !g.members.is_empty() {
            return Err(ResponseError::GroupSubscribedToTopic);
        }
        let records: Vec<StoredRecord> = partitions
            .iter()
            .filter(|k| g.offsets.contains_key(*k))
            .map(|(t, p)| StoredRecord::offset_tombstone(group_id, t, *p))
            .collect();
        self.persist(&records).await.map_err(|e| {
            tracing::error!(group = group_id, error = %e, "cannot persist offset deletion");
            ResponseError::CoordinatorNotAvailable
        })?;
        for k in partitions {
            g.offsets.remove(k);
        }
        Ok(())
    }

    /// Periodic work for every group (session expiry, join deadlines).
    pub(crate) async fn tick(&self) {
        let groups = self.all_groups();
        let now = Instant::now();
        for group in groups {
            let mut g = group.lock().await;
            if g.tick(now) == Persist::GroupMetadata {
                let record = Self::metadata_record(&g);
                drop(g);
                if let Err(e) = self.persist(&[record]).await {
                    tracing::error!(error = %e, "cannot persist group metadata");
                }
            }
        }
    }
}

fn apply(groups: &mut HashMap<String, Group>, rec: StoredRecord) {
    match rec {
        StoredRecord::Offset {
            group,
            topic,
            partition,
            value,
        } => {
            let g = groups
                .entry(group.clone())
                .or_insert_with(|| Group::new(&group));
            match value {
                Some(v) => {
                    g.offsets.insert(
                        (topic, partition),
                        Committed {
                            offset: v.offset,
                            leader_epoch: v.leader_epoch,
                            metadata: v.metadata,
                            commit_timestamp: v.commit_timestamp,
                        },
                    );
                }
                None => {
                    g.offsets.remove(&(topic, partition));
                }
            }
        }
        StoredRecord::Group {
            group,
            value: Some(v),
        } => {
            let g = groups
                .entry(group.clone())
                .or_insert_with(|| Group::new(&group));
            g.restore(
                v.generation,
                (!v.protocol_type.is_empty()).then_some(v.protocol_type),
                v.protocol,
            );
        }
        StoredRecord::Group { group, value: None } => {
            groups.remove(&group);
        }
    }
}

/// An OffsetCommit's entries checked and turned into records: a code per entry (metadata
/// past `offset.metadata.max.bytes` is refused), the `__consumer_offsets` records to append,
/// and `(topic, partition, committed)` for each accepted entry.
#[allow(
    clippy::type_complexity,
    reason = "three parallel results, named at the call sites"
)]
fn offset_records(
    group_id: &str,
    offsets: Vec<OffsetEntry>,
) -> (Vec<i16>, Vec<StoredRecord>, Vec<(String, i32, Committed)>) {
    let ts = now_ms();
    let mut codes = Vec::with_capacity(offsets.len());
    let mut records = Vec::new();
    let mut accepted = Vec::new();
    for e in offsets {
        let metadata = e.metadata.unwrap_or_default();
        if metadata.len() > MAX_METADATA_BYTES {
            codes.push(ResponseError::OffsetMetadataTooLarge.code());
            continue;
        }
        codes.push(0);
        records.push(StoredRecord::Offset {
            group: group_id.to_string(),
            topic: e.topic.clone(),
            partition: e.partition,
            value: Some(OffsetValue {
                offset: e.offset,
                leader_epoch: e.leader_epoch,
                metadata: metadata.clone(),
                commit_timestamp: ts,
            }),
        });
        let committed = Committed {
            offset: e.offset,
            leader_epoch: e.leader_epoch,
            metadata,
            commit_timestamp: ts,
        };
        accepted.push((e.topic, e.partition, committed));
    }
    (codes, records, accepted)
}

/// How often [`GroupCoordinator::tick`] runs.
pub(crate) const TICK: Duration = Duration::from_millis(100);
