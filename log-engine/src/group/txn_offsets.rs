//! Offsets committed inside a transaction (TxnOffsetCommit). They are appended to
//! `__consumer_offsets` at once, as a transactional batch of the producer, but count as
//! committed only when the transaction's COMMIT marker reaches `__consumer_offsets`; an
//! ABORT marker drops them. Until then OffsetFetch with `require_stable` answers
//! UNSTABLE_OFFSET_COMMIT for those partitions. Replaying the topic at start follows the
//! same markers.

use std::collections::HashMap;
use std::time::Instant;

use kafka_protocol::ResponseError;

use super::state::Committed;
use super::{GroupCoordinator, OffsetEntry, offset_records};

/// An offset waiting for its transaction's outcome.
#[derive(Debug, Clone)]
pub(crate) struct PendingOffset {
    pub(crate) group: String,
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) committed: Committed,
}

/// Producer id → its transaction's pending offsets, in commit order.
pub(crate) type Pending = HashMap<i64, Vec<PendingOffset>>;

/// The member a TxnOffsetCommit names (v3+); generation -1 means none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxnMember<'a> {
    pub(crate) member_id: &'a str,
    pub(crate) instance_id: Option<&'a str>,
    pub(crate) generation: i32,
}

impl GroupCoordinator {
    /// TxnOffsetCommit: checks the member (when named), writes the offsets as a
    /// transactional batch of `producer` and holds them until the transaction ends.
    /// Returns a code per entry.
    pub(crate) async fn txn_commit(
        &self,
        group_id: &str,
        producer: (i64, i16),
        member: TxnMember<'_>,
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
        if member.generation >= 0
            && let Err(code) = g.check_commit(
                member.member_id,
                member.instance_id,
                member.generation,
                Instant::now(),
            )
        {
            return vec![code.code(); n];
        }
        drop(g);
        let (codes, records, accepted) = offset_records(group_id, offsets);
        if records.is_empty() {
            return codes;
        }
        if let Err(e) = self.persist_as(&records, Some(producer)).await {
            tracing::error!(group = group_id, error = %e, "cannot persist transactional offsets");
            return vec![ResponseError::CoordinatorNotAvailable.code(); n];
        }
        self.pending()
            .entry(producer.0)
            .or_default()
            .extend(
                accepted
                    .into_iter()
                    .map(|(topic, partition, committed)| PendingOffset {
                        group: group_id.to_string(),
                        topic,
                        partition,
                        committed,
                    }),
            );
        codes
    }

    /// Applies (commit) or drops (abort) `producer_id`'s pending offsets once its marker is
    /// in `__consumer_offsets`.
    pub(crate) async fn complete_txn(&self, producer_id: i64, commit: bool) {
        let Some(offsets) = self.pending().remove(&producer_id) else {
            return;
        };
        if !commit {
            return;
        }
        for p in offsets {
            if let Some(group) = self.group(&p.group, true) {
                group
                    .lock()
                    .await
                    .offsets
                    .insert((p.topic, p.partition), p.committed);
            }
        }
    }

    /// Whether a transaction holds an uncommitted offset for the partition.
    pub(crate) fn is_unstable(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.pending()
            .values()
            .flatten()
            .any(|p| p.group == group && p.topic == topic && p.partition == partition)
    }
}
