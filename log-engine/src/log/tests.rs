//! Partition log behaviour on a real filesystem: offsets, reads, rolls, indexes, recovery.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::batch::BatchHeader;
use super::batch::test_support::batch;
use super::{FlushPolicy, PartitionConfig, PartitionLog};
use crate::LogError;

fn config(segment_bytes: u64) -> PartitionConfig {
    PartitionConfig {
        segment_bytes,
        index_interval_bytes: 256,
        ..PartitionConfig::default()
    }
}

fn open(dir: &Path, cfg: PartitionConfig) -> PartitionLog {
    PartitionLog::open(dir, cfg).expect("open").0
}

/// Appends `n` single-record batches "k<i>"/"v<i>" with timestamp 1000 + i, then syncs.
fn fill(log: &mut PartitionLog, from: usize, n: usize) {
    for i in from..from + n {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        let b = batch(&[(Some(k.as_bytes()), Some(v.as_bytes()))], 1000 + i as i64);
        log.append(&b).expect("append");
    }
    log.sync().expect("sync");
}

/// Base offsets of the batches in `records`.
fn bases(records: &[u8]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let h = BatchHeader::parse(rest).expect("header");
        h.validate(&rest[..h.total_size()])
            .expect("stored batch stays valid");
        out.push(h.base_offset);
        rest = &rest[h.total_size()..];
    }
    out
}

#[test]
fn offsets_are_assigned_in_order_and_reads_return_whole_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    let a = batch(&[(Some(b"a"), Some(b"1")), (Some(b"b"), Some(b"2"))], 10);
    let b = batch(&[(Some(b"c"), Some(b"3"))], 20);
    assert_eq!(log.append(&a).expect("a").base_offset, 0);
    let info = log.append(&b).expect("b");
    assert_eq!((info.base_offset, info.last_offset), (2, 2));
    log.sync().expect("sync");
    assert_eq!(bases(&log.read(0, 1 << 20).expect("read").records), [0, 2]);
    // Offset 1 sits inside the first batch: the whole batch comes back.
    assert_eq!(bases(&log.read(1, 1 << 20).expect("read").records), [0, 2]);
    assert_eq!(bases(&log.read(2, 1 << 20).expect("read").records), [2]);
    assert!(log.read(3, 1 << 20).expect("at the end").records.is_empty());
    assert!(matches!(
        log.read(4, 10),
        Err(LogError::OffsetOutOfRange { offset: 4, .. })
    ));
}

#[test]
fn a_read_returns_at_least_one_batch_and_then_only_what_fits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    fill(&mut log, 0, 5);
    let one = log.read(0, 1).expect("read");
    assert_eq!(
        bases(&one.records),
        [0],
        "one batch even when max_bytes is tiny"
    );
    let size = one.records.len();
    assert_eq!(
        bases(&log.read(1, 3 * size).expect("read").records),
        [1, 2, 3]
    );
}

#[test]
fn with_flush_always_consumers_see_only_synced_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    let b = batch(&[(Some(b"k"), Some(b"v"))], 0);
    log.append(&b).expect("append");
    assert_eq!((log.log_end_offset(), log.high_watermark()), (1, 0));
    assert!(log.read(0, 100).expect("read").records.is_empty());
    log.sync().expect("sync");
    assert_eq!(log.high_watermark(), 1);
    assert_eq!(bases(&log.read(0, 100).expect("read").records), [0]);

    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = PartitionConfig {
        flush: FlushPolicy::Os,
        ..config(1 << 20)
    };
    let mut log = open(dir.path(), cfg);
    log.append(&batch(&[(Some(b"k"), Some(b"v"))], 0))
        .expect("append");
    assert_eq!(
        log.high_watermark(),
        1,
        "without flush=always the watermark follows the end"
    );
}

#[test]
fn segments_roll_and_reads_cross_them_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(600));
    fill(&mut log, 0, 40);
    assert!(log.segment_count() > 3, "{} segments", log.segment_count());
    log.close().expect("close");
    let (log, report) = PartitionLog::open(dir.path(), config(600)).expect("reopen");
    assert_eq!(
        report.segments_recovered, 1,
        "only the active segment is past the recovery point"
    );
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(log.log_end_offset(), 40);
    let mut next = 0;
    while next < 40 {
        let got = bases(&log.read(next, 200).expect("read").records);
        assert_eq!(got.first(), Some(&next));
        next = got.last().expect("batches") + 1;
    }
}

#[test]
fn the_index_finds_every_offset_in_a_long_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    fill(&mut log, 0, 300);
    for (i, offset) in [0i64, 1, 57, 150, 298, 299].into_iter().enumerate() {
        let got = bases(&log.read(offset, 1).expect("read").records);
        assert_eq!(got, [offset], "case {i}");
    }
    // Reopening with trusted indexes must find the same positions.
    log.close().expect("close");
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(bases(&log.read(211, 1).expect("read").records), [211]);
}

fn last_log_file(dir: &Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("a segment")
}

#[test]
fn a_torn_tail_is_cut_and_the_log_accepts_new_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    fill(&mut log, 0, 10);
    drop(log); // a crash: no close
    // Half of another batch made it to disk.
    let torn = batch(&[(Some(b"torn"), Some(b"write"))], 0);
    let mut f = OpenOptions::new()
        .append(true)
        .open(last_log_file(dir.path()))
        .expect("open");
    f.write_all(&torn[..torn.len() / 2]).expect("write");
    drop(f);

    let (mut log, report) = PartitionLog::open(dir.path(), config(1 << 20)).expect("reopen");
    assert_eq!(report.truncated_bytes, (torn.len() / 2) as u64);
    assert_eq!(log.log_end_offset(), 10);
    fill(&mut log, 10, 1);
    assert_eq!(bases(&log.read(9, 1 << 20).expect("read").records), [9, 10]);
}

#[test]
fn a_corrupt_batch_and_everything_after_it_are_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    fill(&mut log, 0, 6);
    let size = log.read(0, 1).expect("read").records.len();
    drop(log);
    fs::remove_file(dir.path().join("recovery-point")).expect("no recovery point: full scan");
    // Flip a byte inside the value of batch 4.
    let path = last_log_file(dir.path());
    let mut bytes = fs::read(&path).expect("read");
    bytes[4 * size + size - 3] ^= 0xff;
    fs::write(&path, &bytes).expect("write");

    let (log, report) = PartitionLog::open(dir.path(), config(1 << 20)).expect("reopen");
    assert_eq!(report.truncated_bytes, 2 * size as u64);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(
        bases(&log.read(0, 1 << 20).expect("read").records),
        [0, 1, 2, 3]
    );
}

#[test]
fn invalid_or_oversized_batches_are_refused_without_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = PartitionConfig {
        max_message_bytes: 100,
        ..config(1 << 20)
    };
    let mut log = open(dir.path(), cfg);
    let big = batch(&[(Some(b"k"), Some(&[7u8; 200]))], 0);
    assert!(matches!(
        log.append(&big),
        Err(LogError::BatchTooLarge { max: 100, .. })
    ));
    let mut bad = batch(&[(Some(b"k"), Some(b"v"))], 0);
    bad[30] ^= 1;
    let err = log.append(&bad).expect_err("bad crc");
    assert!(err.to_string().contains("CRC-32C mismatch"), "{err}");
    assert_eq!((log.log_end_offset(), log.size_bytes()), (0, 0));
}

#[test]
fn the_batch_for_a_timestamp_is_the_first_that_reaches_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(2000));
    fill(&mut log, 0, 100); // timestamps 1000..=1099
    let find = |ts: i64| {
        log.batch_for_timestamp(ts)
            .expect("lookup")
            .map(|b| BatchHeader::parse(&b).expect("header").base_offset)
    };
    assert_eq!(find(0), Some(0));
    assert_eq!(find(1042), Some(42));
    assert_eq!(find(1099), Some(99));
    assert_eq!(find(1100), None);
}

#[test]
fn log_start_moves_forward_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(600));
    fill(&mut log, 0, 30);
    let before = log.segment_count();
    assert_eq!(log.advance_log_start(20).expect("advance"), 20);
    assert!(
        log.segment_count() < before,
        "whole segments below the start are deleted"
    );
    assert!(matches!(
        log.read(5, 10),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(bases(&log.read(20, 1).expect("read").records), [20]);
    log.close().expect("close");
    let log = open(dir.path(), config(600));
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (20, 30));
}

#[test]
fn a_damaged_index_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    fill(&mut log, 0, 200);
    log.close().expect("close");
    let index = last_log_file(dir.path()).with_extension("index");
    let mut raw = fs::read(&index).expect("index");
    assert!(raw.len() >= 16, "the test needs at least two index entries");
    raw[..8].copy_from_slice(&[0xff; 8]); // first entry now points past the second
    fs::write(&index, raw).expect("write");
    let log = open(dir.path(), config(1 << 20));
    for offset in [0i64, 99, 199] {
        assert_eq!(bases(&log.read(offset, 1).expect("read").records), [offset]);
    }
}

/// `(offset, key, value)` of one stored record.
type Stored = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record readable from the log start.
fn records(log: &PartitionLog) -> Vec<Stored> {
    use kafka_protocol::records::RecordBatchDecoder;
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.high_watermark() {
        let read = log.read(next, 1 << 20).expect("read");
        if read.records.is_empty() {
            break;
        }
        let mut buf = bytes::Bytes::from(read.records);
        for set in RecordBatchDecoder::decode_all(&mut buf).expect("decode") {
            for r in set.records {
                if r.offset >= next {
                    out.push((
                        r.offset,
                        r.key.map(|k| k.to_vec()),
                        r.value.map(|v| v.to_vec()),
                    ));
                }
            }
        }
        let last = out.last().map_or(next, |r| r.0 + 1);
        next = if last > next { last } else { next + 1 };
    }
    out
}

#[test]
fn compaction_keeps_the_latest_value_per_key_at_its_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = PartitionConfig {
        require_keys: true,
        ..config(700)
    };
    let mut log = open(dir.path(), cfg.clone());
    // 10 keys, 20 rounds of updates; key 3 ends deleted (tombstone) in an old batch.
    let mut expected = std::collections::BTreeMap::new();
    for round in 0..20 {
        for k in 0..10 {
            let key = format!("key{k}");
            let value = (k == 3 && round == 19)
                .then_some(())
                .map_or(Some(format!("v{round}")), |_| None);
            let b = batch(
                &[(Some(key.as_bytes()), value.as_deref().map(str::as_bytes))],
                1000,
            );
            let info = log.append(&b).expect("append");
            expected.insert(key, (info.base_offset, value));
        }
    }
    // Roll so every update is in a sealed segment; the active segment holds one marker.
    log.sync().expect("sync");
    let marker = batch(&[(Some(b"marker"), Some(b"m"))], 1000);
    let marker_offset = log.append(&marker).expect("marker").base_offset;
    log.sync().expect("sync");
    assert!(log.segment_count() > 5);
    let before = log.size_bytes();

    // Tombstones are young (delete.retention.ms not passed): kept.
    let report = log.compact(1000 + 10, 86_400_000).expect("compact");
    assert!(report.records_removed >= 180, "{report:?}");
    assert!(
        log.size_bytes() < before / 4,
        "{} of {before} bytes left",
        log.size_bytes()
    );
    let got = records(&log);
    let mut want: Vec<Stored> = expected
        .iter()
        .map(|(k, (o, v))| {
            (
                *o,
                Some(k.clone().into_bytes()),
                v.clone().map(String::into_bytes),
            )
        })
        .collect();
    want.push((marker_offset, Some(b"marker".to_vec()), Some(b"m".to_vec())));
    want.sort();
    assert_eq!(got, want, "one record per key, at its original offset");

    // Reopening finds the same records (indexes rebuilt for rewritten segments).
    log.close().expect("close");
    let mut log = open(dir.path(), cfg);
    assert_eq!(records(&log), want);
    // Once delete.retention.ms has passed, the tombstone goes too.
    log.compact(1000 + 86_400_001, 86_400_000).expect("compact");
    let got = records(&log);
    assert_eq!(got.len(), want.len() - 1);
    assert!(
        got.iter()
            .all(|(_, k, _)| k.as_deref() != Some(&b"key3"[..]))
    );
}

#[test]
fn compacted_partitions_refuse_keyless_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(
        dir.path(),
        PartitionConfig {
            require_keys: true,
            ..config(1 << 20)
        },
    );
    let err = log
        .append(&batch(&[(Some(b"k"), Some(b"v")), (None, Some(b"v"))], 0))
        .expect_err("keyless");
    assert!(err.to_string().contains("without key"), "{err}");
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn retention_deletes_old_and_excess_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(600));
    fill(&mut log, 0, 60); // timestamps 1000..=1059
    let segments = log.segment_count();
    // By size: keep at most ~1500 bytes of sealed + active data.
    let deleted = log.apply_retention(0, -1, 1500).expect("size retention");
    assert!(deleted > 0 && log.segment_count() == segments - deleted);
    assert!(log.size_bytes() < 1500 + 600);
    let start = log.log_start_offset();
    assert!(start > 0);
    assert!(matches!(
        log.read(0, 10),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // By time: everything sealed is older than now - 10 ms.
    log.apply_retention(1059 + 11, 10, -1)
        .expect("time retention");
    assert_eq!(log.segment_count(), 1, "only the active segment is left");
    assert_eq!(log.log_end_offset(), 60);
    log.close().expect("close");
    let log = open(dir.path(), config(600));
    assert!(log.log_start_offset() > start);
}

#[test]
fn a_crash_after_rolls_revalidates_only_the_active_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(600));
    fill(&mut log, 0, 40);
    let segments = log.segment_count();
    assert!(segments > 3, "{segments} segments");
    // No close: the recovery point is what the last roll left.
    drop(log);
    let (log, report) = PartitionLog::open(dir.path(), config(600)).expect("reopen");
    assert_eq!(report.segments_recovered, 1, "sealed segments are trusted");
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(log.segment_count(), segments);
}

#[test]
fn the_stored_base_offset_is_the_assigned_one_whatever_the_client_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    let mut b = batch(&[(Some(b"k"), Some(b"v"))], 0);
    super::batch::set_base_offset(&mut b, 987_654);
    log.append(&b).expect("append");
    log.append(&b).expect("again");
    log.sync().expect("sync");
    assert_eq!(bases(&log.read(0, 1 << 20).expect("read").records), [0, 1]);
}

#[test]
fn appends_go_on_while_an_fsync_runs_and_only_what_it_covered_becomes_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), config(1 << 20));
    let b = batch(&[(Some(b"k"), Some(b"v"))], 0);
    log.append(&b).expect("append");
    log.append(&b).expect("append");
    let pending = log.pending_sync().expect("unsynced data");
    assert_eq!(pending.end, 2);
    // Appended while the fsync runs (it holds no borrow of the log).
    log.append(&b).expect("append during the fsync");
    pending.run().expect("fsync");
    log.complete_sync(pending.end);
    assert_eq!((log.high_watermark(), log.flushed_offset()), (2, 2));
    assert_eq!(bases(&log.read(0, 1 << 20).expect("read").records), [0, 1]);
    let rest = log
        .pending_sync()
        .expect("the last append is not synced yet");
    assert_eq!(rest.end, 3);
    rest.run().expect("fsync");
    log.complete_sync(rest.end);
    assert_eq!(log.high_watermark(), 3);
    assert!(log.pending_sync().is_none(), "nothing left to sync");
}
