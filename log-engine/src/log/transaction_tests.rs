//! Transactions in one partition log on a real filesystem: the last stable offset,
//! `read_committed` reads, aborted-transaction lists, markers, rebuild at open, compaction.

use std::path::Path;

use super::batch::test_support::{batch, transactional};
use super::batch::{BatchHeader, LOG_OVERHEAD};
use super::{AbortedTxn, Isolation, Marker, PartitionConfig, PartitionLog};
use crate::LogError;

fn open(dir: &Path, cfg: PartitionConfig) -> PartitionLog {
    PartitionLog::open(dir, cfg).expect("open").0
}

/// Appends one transactional record `key=value` for producer `pid` at sequence `seq`.
fn txn_write(log: &mut PartitionLog, pid: i64, seq: i32, key: &str, value: &str) -> i64 {
    let b = transactional(&[(Some(key.as_bytes()), Some(value.as_bytes()))], pid, seq);
    log.append(&b).expect("append").base_offset
}

/// Base offsets and control flags of the batches readable from `offset` (reading on
/// across segments), and the aborted transactions the reads listed.
fn located(
    log: &PartitionLog,
    offset: i64,
    isolation: Isolation,
) -> (Vec<(i64, bool)>, Vec<AbortedTxn>) {
    let (mut batches, mut aborted) = (Vec::new(), Vec::new());
    let mut next = offset;
    loop {
        let read = log.locate(next, 1 << 20, isolation).expect("locate");
        let Some(slice) = read.slice else {
            return (batches, aborted);
        };
        for t in read.aborted {
            if !aborted.contains(&t) {
                aborted.push(t);
            }
        }
        let bytes = slice.read().expect("read");
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let h = BatchHeader::parse(rest).expect("header");
            batches.push((h.base_offset, h.is_control()));
            next = h.last_offset() + 1;
            rest = &rest[LOG_OVERHEAD + h.batch_length as usize..];
        }
    }
}

#[test]
fn an_open_transaction_holds_the_stable_offset_until_its_marker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), PartitionConfig::default());
    log.append(&batch(&[(Some(b"a"), Some(b"1"))], 0))
        .expect("plain");
    let first = txn_write(&mut log, 7, 0, "b", "2");
    log.append(&batch(&[(Some(b"c"), Some(b"3"))], 0))
        .expect("plain");
    txn_write(&mut log, 7, 1, "d", "4");
    log.sync().expect("sync");
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (4, first));
    // read_uncommitted sees everything; read_committed stops before the open transaction.
    assert_eq!(located(&log, 0, Isolation::ReadUncommitted).0.len(), 4);
    assert_eq!(
        located(&log, 0, Isolation::ReadCommitted).0,
        vec![(0, false)]
    );
    // An offset between the stable offset and the high watermark is in range, and empty.
    assert_eq!(located(&log, 2, Isolation::ReadCommitted).0, vec![]);

    let marker = log
        .append_marker(7, 0, Marker::Commit, 0, 2000)
        .expect("marker");
    assert_eq!(marker.base_offset, 4);
    log.sync().expect("sync");
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (5, 5));
    let (batches, aborted) = located(&log, 0, Isolation::ReadCommitted);
    assert_eq!(batches.last(), Some(&(4, true)), "the marker is served too");
    assert!(aborted.is_empty());
}

#[test]
fn aborted_transactions_are_listed_and_rebuilt_when_the_log_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), PartitionConfig::default());
    let first = txn_write(&mut log, 3, 0, "k", "aborted");
    txn_write(&mut log, 3, 1, "k", "aborted too");
    let abort = log
        .append_marker(3, 0, Marker::Abort, 0, 2000)
        .expect("abort");
    let open_first = txn_write(&mut log, 4, 0, "k", "still open");
    log.sync().expect("sync");
    let want = vec![AbortedTxn {
        producer_id: 3,
        first_offset: first,
        last_offset: abort.base_offset,
    }];
    assert_eq!(log.last_stable_offset(), open_first);
    assert_eq!(located(&log, 0, Isolation::ReadCommitted).1, want);
    assert_eq!(located(&log, 1, Isolation::ReadCommitted).1, want);
    assert!(located(&log, 0, Isolation::ReadUncommitted).1.is_empty());

    log.close().expect("close");
    let mut log = open(dir.path(), PartitionConfig::default());
    assert_eq!(
        log.last_stable_offset(),
        open_first,
        "the open transaction survives"
    );
    assert_eq!(located(&log, 0, Isolation::ReadCommitted).1, want);
    // The producer's sequence continues across the reopen; the marker did not disturb it.
    txn_write(&mut log, 4, 1, "k", "more");
    log.append_marker(4, 0, Marker::Commit, 0, 2000)
        .expect("commit");
    log.sync().expect("sync");
    assert_eq!(log.last_stable_offset(), log.high_watermark());
}

#[test]
fn markers_of_a_fenced_epoch_and_control_batches_from_producers_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), PartitionConfig::default());
    txn_write(&mut log, 9, 0, "k", "v");
    log.append_marker(9, 1, Marker::Abort, 0, 2000)
        .expect("a newer epoch aborts");
    let err = log
        .append_marker(9, 0, Marker::Commit, 0, 2000)
        .expect_err("stale epoch");
    assert!(
        matches!(err, LogError::InvalidProducerEpoch { got: 0, current: 1 }),
        "{err}"
    );
    let end = log.log_end_offset();
    let control = super::batch::encode_marker((9, 1), Marker::Commit, 0, 0);
    let err = log.append(&control).expect_err("control from a producer");
    assert!(err.to_string().contains("transaction coordinator"), "{err}");
    let anonymous = transactional(&[(Some(b"k"), Some(b"v"))], -1, 0);
    let err = log.append(&anonymous).expect_err("no producer id");
    assert!(err.to_string().contains("producer id"), "{err}");
    assert_eq!(log.log_end_offset(), end, "nothing written");
}

#[test]
fn compaction_drops_aborted_values_and_leaves_open_transactions_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = PartitionConfig {
        require_keys: true,
        segment_bytes: 300,
        ..PartitionConfig::default()
    };
    let mut log = open(dir.path(), cfg);
    let committed = log
        .append(&batch(&[(Some(b"k"), Some(b"committed"))], 0))
        .expect("plain")
        .base_offset;
    let aborted = txn_write(&mut log, 1, 0, "k", "aborted");
    log.append_marker(1, 0, Marker::Abort, 0, 2000)
        .expect("abort");
    let open = txn_write(&mut log, 2, 0, "j", "open");
    let later = log
        .append(&batch(&[(Some(b"j"), Some(b"old"))], 0))
        .expect("plain")
        .base_offset;
    for i in 0..8 {
        let key = format!("filler{i}");
        log.append(&batch(&[(Some(key.as_bytes()), Some(b"x"))], 0))
            .expect("filler");
    }
    log.sync().expect("sync");
    assert!(log.segment_count() > 3);
    log.compact(10_000, 86_400_000).expect("compact");
    log.sync().expect("sync");
    let (batches, _) = located(&log, 0, Isolation::ReadUncommitted);
    let offsets: Vec<i64> = batches.iter().map(|&(o, _)| o).collect();
    assert!(
        offsets.contains(&committed),
        "an aborted value never supersedes: {offsets:?}"
    );
    assert!(
        !offsets.contains(&aborted),
        "aborted records go: {offsets:?}"
    );
    assert!(
        offsets.contains(&open),
        "an open transaction's batch stays: {offsets:?}"
    );
    assert!(
        offsets.contains(&later),
        "the latest committed value of a key an open transaction also wrote stays: {offsets:?}"
    );
}

#[test]
fn expired_producers_are_forgotten_but_not_while_their_transaction_is_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), PartitionConfig::default());
    txn_write(&mut log, 7, 0, "a", "1");
    txn_write(&mut log, 8, 0, "b", "2");
    log.append_marker(8, 0, Marker::Commit, 0, 1000)
        .expect("commit 8");
    let long = std::time::Duration::from_secs(3600);
    assert_eq!(log.expire_producers(long), 0, "both were just heard from");
    assert_eq!(log.expire_producers(std::time::Duration::ZERO), 1);
    // Producer 7 (still open) keeps its sequence: a gap is still refused.
    let b = transactional(&[(Some(b"c"), Some(b"3"))], 7, 5);
    assert!(matches!(
        log.append(&b),
        Err(LogError::OutOfOrderSequence { expected: 1, .. })
    ));
    txn_write(&mut log, 7, 1, "d", "4");
    log.append_marker(7, 0, Marker::Abort, 0, 1000)
        .expect("abort 7");
    assert_eq!(log.expire_producers(std::time::Duration::ZERO), 1);
    // A restart replays both producers from the log and gives them a fresh period.
    drop(log);
    let mut log = open(dir.path(), PartitionConfig::default());
    assert_eq!(log.expire_producers(long), 0);
    assert_eq!(log.expire_producers(std::time::Duration::ZERO), 2);
}
