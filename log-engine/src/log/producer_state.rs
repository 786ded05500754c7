//! Idempotent-producer state of one partition: per producer id, its epoch and the
//! sequence ranges of its last five batches, so retries are recognised as duplicates and
//! gaps are refused. Rebuilt from batch headers when the partition opens.

use std::collections::{HashMap, VecDeque};

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

#[derive(Debug, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<CachedBatch>,
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
    /// No state for this producer and the batch does not start a sequence
    /// (UNKNOWN_PRODUCER_ID).
    UnknownProducer,
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
            return if h.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::UnknownProducer
            };
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
    pub(crate) fn record(&mut self, h: &BatchHeader) {
        if h.producer_id < 0 {
            return;
        }
        let entry = self.producers.entry(h.producer_id).or_default();
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
        s.record(&b0);
        let b1 = header(7, 0, 3, 2, 3);
        assert_eq!(s.check(&b1), SequenceCheck::Append);
        s.record(&b1);
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
        s.record(&header(7, 1, 0, 1, 5));
        assert_eq!(
            s.check(&header(7, 0, 5, 1, -1)),
            SequenceCheck::StaleEpoch { current: 1 }
        );
        assert_eq!(
            s.check(&header(8, 0, 3, 1, -1)),
            SequenceCheck::UnknownProducer
        );
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut s = ProducerStates::default();
        s.record(&header(1, 0, i32::MAX - 1, 2, 0));
        assert_eq!(s.check(&header(1, 0, 0, 1, -1)), SequenceCheck::Append);
    }
}
