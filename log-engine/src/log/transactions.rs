//! Transaction state of one partition: where each producer's open transaction began (which
//! bounds the last stable offset) and the offset ranges of aborted transactions (which a
//! `read_committed` consumer needs to skip their records). Rebuilt from batch headers and
//! control markers when the partition opens; nothing beyond the log itself is stored.
//!
//! A transaction opens at the first transactional batch of a producer id that has none open
//! and ends at the COMMIT or ABORT control batch (marker) written for that producer id.

use std::collections::{BTreeSet, HashMap};

use crate::log::batch::BatchHeader;

/// The two control markers that end a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Abort,
    Commit,
}

impl Marker {
    /// The control record key's `type` field.
    pub(crate) fn control_type(self) -> i16 {
        match self {
            Marker::Abort => 0,
            Marker::Commit => 1,
        }
    }

    /// The marker a control record's key names, if it is one (other control types exist,
    /// e.g. KRaft's, and are not transaction markers).
    pub(crate) fn from_control_key(key: &[u8]) -> Option<Marker> {
        match key {
            [_, _, 0, 0, ..] => Some(Marker::Abort),
            [_, _, 0, 1, ..] => Some(Marker::Commit),
            _ => None,
        }
    }
}

/// One aborted transaction: its producer and the offsets from its first batch to its
/// ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Default)]
pub(crate) struct TxnStates {
    /// Producer id → first offset of its open transaction.
    open: HashMap<i64, i64>,
    /// The same, ordered by first offset.
    open_by_offset: BTreeSet<(i64, i64)>,
    /// Aborted transactions in the order their markers were written (ascending
    /// `last_offset`).
    aborted: Vec<AbortedTxn>,
}

impl TxnStates {
    /// Notes an appended (or replayed) batch; only transactional data batches matter.
    pub(crate) fn on_data(&mut self, h: &BatchHeader) {
        if !h.is_transactional() || h.is_control() || h.producer_id < 0 {
            return;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.open.entry(h.producer_id) {
            e.insert(h.base_offset);
            self.open_by_offset.insert((h.base_offset, h.producer_id));
        }
    }

    /// Notes a marker written at `offset` for `producer_id`. A marker with no open
    /// transaction (a retried EndTxn, or one for a partition that received no data) changes
    /// nothing.
    pub(crate) fn on_marker(&mut self, producer_id: i64, marker: Marker, offset: i64) {
        let Some(first_offset) = self.open.remove(&producer_id) else {
            return;
        };
        self.open_by_offset.remove(&(first_offset, producer_id));
        if marker == Marker::Abort {
            self.aborted.push(AbortedTxn {
                producer_id,
                first_offset,
                last_offset: offset,
            });
        }
    }

    /// The first offset of the oldest open transaction.
    pub(crate) fn first_open_offset(&self) -> Option<i64> {
        self.open_by_offset.first().map(|&(offset, _)| offset)
    }

    /// The first offset of `producer_id`'s open transaction.
    pub(crate) fn open_since(&self, producer_id: i64) -> Option<i64> {
        self.open.get(&producer_id).copied()
    }

    /// Aborted transactions with records in `[from, to)`.
    pub(crate) fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        let start = self.aborted.partition_point(|t| t.last_offset < from);
        self.aborted[start..]
            .iter()
            .filter(|t| t.first_offset < to)
            .copied()
            .collect()
    }

    /// Whether the record at `offset` written by `producer_id` belongs to an aborted
    /// transaction.
    pub(crate) fn is_aborted(&self, producer_id: i64, offset: i64) -> bool {
        let start = self.aborted.partition_point(|t| t.last_offset < offset);
        self.aborted[start..]
            .iter()
            .any(|t| t.producer_id == producer_id && t.first_offset <= offset)
    }

    /// Forgets aborted transactions that ended below the log start offset.
    pub(crate) fn forget_below(&mut self, log_start: i64) {
        let start = self.aborted.partition_point(|t| t.last_offset < log_start);
        self.aborted.drain(..start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::test_support::batch;

    fn txn_header(pid: i64, base_offset: i64) -> BatchHeader {
        let h =
            BatchHeader::parse(&batch(&[(Some(&b"k"[..]), Some(&b"v"[..]))], 0)).expect("header");
        BatchHeader {
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            base_offset,
            attributes: 0x10,
            ..h
        }
    }

    #[test]
    fn open_transactions_bound_the_stable_offset_and_aborts_are_listed() {
        let mut t = TxnStates::default();
        t.on_data(&txn_header(1, 0));
        t.on_data(&txn_header(2, 1));
        t.on_data(&txn_header(1, 2));
        assert_eq!(t.first_open_offset(), Some(0));
        t.on_marker(1, Marker::Commit, 3);
        assert_eq!(t.first_open_offset(), Some(1));
        t.on_marker(2, Marker::Abort, 4);
        assert_eq!(t.first_open_offset(), None);
        let aborted = AbortedTxn {
            producer_id: 2,
            first_offset: 1,
            last_offset: 4,
        };
        assert_eq!(t.aborted_between(0, 10), vec![aborted]);
        assert_eq!(t.aborted_between(4, 10), vec![aborted]);
        assert_eq!(t.aborted_between(5, 10), vec![]);
        assert_eq!(t.aborted_between(0, 1), vec![]);
        assert!(t.is_aborted(2, 1) && !t.is_aborted(1, 2) && !t.is_aborted(2, 5));
        // A repeated marker changes nothing.
        t.on_marker(2, Marker::Abort, 5);
        assert_eq!(t.aborted_between(0, 10).len(), 1);
        t.forget_below(5);
        assert_eq!(t.aborted_between(0, 10), vec![]);
    }

    #[test]
    fn control_keys_name_their_marker() {
        assert_eq!(Marker::from_control_key(&[0, 0, 0, 0]), Some(Marker::Abort));
        assert_eq!(
            Marker::from_control_key(&[0, 0, 0, 1]),
            Some(Marker::Commit)
        );
        assert_eq!(Marker::from_control_key(&[0, 0, 0, 3]), None);
        assert_eq!(Marker::from_control_key(&[0]), None);
    }
}
