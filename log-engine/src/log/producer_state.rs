//! Idempotent-producer state of one partition: per producer id, its epoch and the
//! sequence ranges of its last five batches, so retries are recognised as duplicates and
//! gaps are refused. Rebuilt from batch headers when the partition opens. A producer not
//! heard from for `producer.id.expiration.ms` is forgotten (Kafka's rule), unless it holds
//! an open transaction here. As in Kafka, a producer this partition has no state for
//! may start at any sequence (its state expired, or retention removed its batches).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::log::batch::BatchHeader;

/// Batches remembered per producer (what Kafka and its clients assume: 5 in flight).
const CACHED_BATCHES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CachedBatch {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
    last_offset: i64,
}

#[derive(Debug)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<CachedBatch>,
    /// When this partition last took a batch or marker of the producer (at a restart: when
    /// the partition opened, so a replayed producer gets a whole expiration period).
    last_seen: Instant,
    /// The largest timestamp of the producer's last batch or marker (DescribeProducers).
    last_timestamp: i64,
    /// Whether a transaction marker of the producer is in the log (Culvert's coordinator
    /// writes coordinator epoch 0; -1 means none seen).
    coordinator_epoch: i32,
}

/// One producer as DescribeProducers shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSnapshot {
    pub producer_id: i64,
    pub epoch: i16,
    /// The last sequence written, -1 when none (only markers since the epoch began).
    pub last_sequence: i32,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
}

/// The verdict on an idempotent batch before it is appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// Append it.
    Append,
    /// Already written at these offsets: answer success without appending.
    Duplicate { base_offset: i64, last_offset: i64 },
    /// The producer's epoch is older than the one seen (INVALID_PRODUCER_EPOCH).
    StaleEpoch { current: i16 },
    /// The sequence does not follow the last one (OUT_OF_ORDER_SEQUENCE_NUMBER).
    OutOfOrder { expected: i32 },
}

/// Sequence numbers wrap from i32::MAX to 0.
fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

fn last_seq(h: &BatchHeader) -> i32 {
    let n = i64::from(h.base_sequence) + i64::from(h.last_offset_delta);
    (n % (i64::from(i32::MAX) + 1)) as i32
}

#[derive(Debug, Default)]
pub(crate) struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    /// Decides what to do with an idempotent batch (producer id >= 0).
    pub(crate) fn check(&self, h: &BatchHeader) -> SequenceCheck {
        let Some(entry) = self.producers.get(&h.producer_id) else {
            return SequenceCheck::Append;
        };
        if h.producer_epoch < entry.epoch {
            return SequenceCheck::StaleEpoch {
                current: entry.epoch,
            };
        }
        if h.producer_epoch > entry.epoch {
            return if h.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::OutOfOrder { expected: 0 }
            };
        }
        let last = last_seq(h);
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last)
        {
            return SequenceCheck::Duplicate {
                base_offset: dup.base_offset,
                last_offset: dup.last_offset,
            };
        }
        let expected = entry.batches.back().map_or(0, |b| next_seq(b.last_seq));
        if h.base_sequence == expected {
            SequenceCheck::Append
        } else {
            SequenceCheck::OutOfOrder { expected }
        }
    }

    /// The epoch last seen for `producer_id`.
    pub(crate) fn epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// Records an appended (or replayed) idempotent batch or transaction marker;
    /// `h.base_offset` is assigned.
    pub(crate) fn record(&mut self, h: &BatchHeader, now: Instant) {
        if h.producer_id < 0 {
            return;
        }
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: h.producer_epoch,
                batches: VecDeque::new(),
                last_seen: now,
                last_timestamp: -1,
                coordinator_epoch: -1,
            });
        entry.last_seen = now;
        entry.last_timestamp = h.max_timestamp;
        if h.is_control() {
            entry.coordinator_epoch = 0;
        }
        if h.producer_epoch != entry.epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        if h.is_control() || h.base_sequence < 0 {
            // Transaction markers and coordinator-written batches carry the producer's
            // epoch but no sequence.
            return;
        }
        entry.batches.push_back(CachedBatch {
            first_seq: h.base_sequence,
            last_seq: last_seq(h),
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
        });
        while entry.batches.len() > CACHED_BATCHES {
            entry.batches.pop_front();
        }
    }

    /// Forgets producers last seen `max_age` or longer before `now`, except those `keep`
    /// names (producers with an open transaction). Returns how many were forgotten.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        max_age: Duration,
        keep: impl Fn(i64) -> bool,
    ) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|&pid, e| keep(pid) || now.saturating_duration_since(e.last_seen) < max_age);
        before - self.producers.len()
    }

    /// Every remembered producer, by producer id.
    pub(crate) fn snapshot(&self) -> Vec<ProducerSnapshot> {
        let mut out: Vec<ProducerSnapshot> = self
            .producers
            .iter()
            .map(|(&producer_id, e)| ProducerSnapshot {
                producer_id,
                epoch: e.epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        out
    }

    /// How many producers are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::test_support::batch;

    fn header(pid: i64, epoch: i16, seq: i32, records: i32, base_offset: i64) -> BatchHeader {
        let kvs: Vec<_> = (0..records)
            .map(|_| (Some(&b"k"[..]), Some(&b"v"[..])))
            .collect();
        let h = BatchHeader::parse(&batch(&kvs, 0)).expect("header");
        BatchHeader {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            base_offset,
            ..h
        }
    }

    #[test]
    fn in_order_duplicate_gap_and_epochs() {
        let mut s = ProducerStates::default();
        let b0 = header(7, 0, 0, 3, 0);
        assert_eq!(s.check(&b0), SequenceCheck::Append);
        s.record(&b0, Instant::now());
        let b1 = header(7, 0, 3, 2, 3);
        assert_eq!(s.check(&b1), SequenceCheck::Append);
        s.record(&b1, Instant::now());
        // A retry of b0 is recognised with its original offsets.
        assert_eq!(
            s.check(&header(7, 0, 0, 3, -1)),
            SequenceCheck::Duplicate {
                base_offset: 0,
                last_offset: 2
            }
        );
        assert_eq!(
            s.check(&header(7, 0, 9, 1, -1)),
            SequenceCheck::OutOfOrder { expected: 5 }
        );
        assert_eq!(
            s.check(&header(7, 1, 0, 1, -1)),
            SequenceCheck::Append,
            "a new epoch restarts at 0"
        );
        assert_eq!(
            s.check(&header(7, 1, 4, 1, -1)),
            SequenceCheck::OutOfOrder { expected: 0 }
        );
        s.record(&header(7, 1, 0, 1, 5), Instant::now());
        assert_eq!(
            s.check(&header(7, 0, 5, 1, -1)),
            SequenceCheck::StaleEpoch { current: 1 }
        );
        assert_eq!(
            s.check(&header(8, 0, 3, 1, -1)),
            SequenceCheck::Append,
            "a producer without state here may start anywhere"
        );
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut s = ProducerStates::default();
        s.record(&header(1, 0, i32::MAX - 1, 2, 0), Instant::now());
        assert_eq!(s.check(&header(1, 0, 0, 1, -1)), SequenceCheck::Append);
    }

    #[test]
    fn producers_silent_for_the_expiration_period_are_forgotten_unless_kept() {
        let mut s = ProducerStates::default();
        let start = Instant::now();
        let hour = Duration::from_secs(3600);
        s.record(&header(1, 0, 0, 1, 0), start);
        s.record(&header(2, 0, 0, 1, 1), start);
        s.record(&header(3, 0, 0, 1, 2), start);
        // Producer 2 is heard from again later.
        s.record(&header(2, 0, 1, 1, 3), start + hour);
        // Producer 3 is as old as 1 but holds an open transaction.
        let open = |pid| pid == 3;
        assert_eq!(s.expire(start + hour, hour, open), 1, "only producer 1");
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.check(&header(1, 0, 0, 1, -1)),
            SequenceCheck::Append,
            "a retry of a forgotten producer's batch is no longer recognised"
        );
        assert_eq!(s.expire(start + 2 * hour, hour, open), 1, "now producer 2");
        assert_eq!(s.epoch(3), Some(0));
        assert_eq!(s.epoch(2), None);
        assert_eq!(s.expire(start + 2 * hour, hour, |_| true), 0);
    }
}
