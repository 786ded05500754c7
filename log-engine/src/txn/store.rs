//! The records the transaction coordinator keeps in `__transaction_state`, in Kafka's own
//! layouts so existing tooling can read them: key v0 `(transactional_id)`, value v0
//! `(producer_id, producer_epoch, timeout_ms, status, partitions[(topic, [partition])],
//! last_update_ms, start_ms)`, each prefixed with its int16 version. A null value is a
//! tombstone.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut};

/// Where a transaction stands (Kafka's `TransactionState` ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnStatus {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

impl TxnStatus {
    fn id(self) -> i8 {
        match self {
            TxnStatus::Empty => 0,
            TxnStatus::Ongoing => 1,
            TxnStatus::PrepareCommit => 2,
            TxnStatus::PrepareAbort => 3,
            TxnStatus::CompleteCommit => 4,
            TxnStatus::CompleteAbort => 5,
        }
    }

    /// The name Kafka's admin APIs use (DescribeTransactions, ListTransactions filters).
    pub(crate) fn name(self) -> &'static str {
        match self {
            TxnStatus::Empty => "Empty",
            TxnStatus::Ongoing => "Ongoing",
            TxnStatus::PrepareCommit => "PrepareCommit",
            TxnStatus::PrepareAbort => "PrepareAbort",
            TxnStatus::CompleteCommit => "CompleteCommit",
            TxnStatus::CompleteAbort => "CompleteAbort",
        }
    }

    /// Every status, for matching ListTransactions' state filters by name.
    pub(crate) const ALL: [TxnStatus; 6] = [
        TxnStatus::Empty,
        TxnStatus::Ongoing,
        TxnStatus::PrepareCommit,
        TxnStatus::PrepareAbort,
        TxnStatus::CompleteCommit,
        TxnStatus::CompleteAbort,
    ];

    fn from_id(id: i8) -> Result<Self, String> {
        Ok(match id {
            0 => TxnStatus::Empty,
            1 => TxnStatus::Ongoing,
            2 => TxnStatus::PrepareCommit,
            3 => TxnStatus::PrepareAbort,
            4 => TxnStatus::CompleteCommit,
            5 => TxnStatus::CompleteAbort,
            other => {
                return Err(format!(
                    "transaction status {other} is not one this broker writes"
                ));
            }
        })
    }
}

/// One transactional id's state as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxnRecord {
    pub(crate) producer_id: i64,
    pub(crate) producer_epoch: i16,
    pub(crate) timeout_ms: i32,
    pub(crate) status: TxnStatus,
    pub(crate) partitions: BTreeSet<(String, i32)>,
    pub(crate) last_update_ms: i64,
    pub(crate) start_ms: i64,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.put_i16(s.len() as i16);
    out.extend_from_slice(s.as_bytes());
}

fn need(buf: &[u8], n: usize, what: &str) -> Result<(), String> {
    if buf.remaining() < n {
        return Err(format!("record truncated in {what}"));
    }
    Ok(())
}

fn get_str(buf: &mut &[u8], what: &str) -> Result<String, String> {
    need(buf, 2, what)?;
    let len = buf.get_i16();
    let len = usize::try_from(len).map_err(|_| format!("{what} is null"))?;
    need(buf, len, what)?;
    let s = std::str::from_utf8(&buf[..len])
        .map_err(|_| format!("{what} is not UTF-8"))?
        .to_string();
    buf.advance(len);
    Ok(s)
}

/// The key of `transactional_id`'s record.
pub(crate) fn encode_key(transactional_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + transactional_id.len());
    out.put_i16(0);
    put_str(&mut out, transactional_id);
    out
}

impl TxnRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, p) in &self.partitions {
            by_topic.entry(topic).or_default().push(*p);
        }
        let mut out = Vec::with_capacity(64);
        out.put_i16(0);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.timeout_ms);
        out.put_i8(self.status.id());
        out.put_i32(by_topic.len() as i32);
        for (topic, parts) in by_topic {
            put_str(&mut out, topic);
            out.put_i32(parts.len() as i32);
            for p in parts {
                out.put_i32(p);
            }
        }
        out.put_i64(self.last_update_ms);
        out.put_i64(self.start_ms);
        out
    }
}

/// Decodes one record: the transactional id and its state (`None` for a tombstone).
pub(crate) fn decode(
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(String, Option<TxnRecord>), String> {
    let mut k = key;
    need(k, 2, "key version")?;
    let version = k.get_i16();
    if version != 0 {
        return Err(format!(
            "key version {version} is not a transaction log key"
        ));
    }
    let id = get_str(&mut k, "transactional id")?;
    let Some(mut v) = value else {
        return Ok((id, None));
    };
    need(v, 2 + 8 + 2 + 4 + 1 + 4, "value header")?;
    let version = v.get_i16();
    if version != 0 {
        return Err(format!("value version {version} is not supported"));
    }
    let producer_id = v.get_i64();
    let producer_epoch = v.get_i16();
    let timeout_ms = v.get_i32();
    let status = TxnStatus::from_id(v.get_i8())?;
    let topics = v.get_i32();
    let mut partitions = BTreeSet::new();
    for _ in 0..topics.max(0) {
        let topic = get_str(&mut v, "topic")?;
        need(v, 4, "partition count")?;
        let n = v.get_i32();
        for _ in 0..n.max(0) {
            need(v, 4, "partition")?;
            partitions.insert((topic.clone(), v.get_i32()));
        }
    }
    need(v, 16, "timestamps")?;
    let last_update_ms = v.get_i64();
    let start_ms = v.get_i64();
    Ok((
        id,
        Some(TxnRecord {
            producer_id,
            producer_epoch,
            timeout_ms,
            status,
            partitions,
            last_update_ms,
            start_ms,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_ones_are_named() {
        let rec = TxnRecord {
            producer_id: 42,
            producer_epoch: 3,
            timeout_ms: 60_000,
            status: TxnStatus::Ongoing,
            partitions: BTreeSet::from([("a".to_string(), 1), ("a".into(), 0), ("b".into(), 7)]),
            last_update_ms: 1000,
            start_ms: 900,
        };
        let key = encode_key("tx-1");
        assert_eq!(
            decode(&key, Some(&rec.encode())),
            Ok(("tx-1".into(), Some(rec.clone())))
        );
        assert_eq!(decode(&key, None), Ok(("tx-1".into(), None)));
        let value = rec.encode();
        let err = decode(&key, Some(&value[..value.len() - 3])).expect_err("truncated");
        assert!(err.contains("timestamps"), "{err}");
        let err = decode(&[0, 1, 0, 0], None).expect_err("key version");
        assert!(err.contains("key version 1"), "{err}");
    }
}
