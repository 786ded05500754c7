//! The Kafka v2 record batch header: parsing, validation and offset assignment.
//!
//! Batches are stored exactly as producers sent them; only `baseOffset` (and, when asked,
//! `partitionLeaderEpoch`) are rewritten, and both lie outside the CRC.
//!
//! Layout (big-endian): baseOffset i64 @0, batchLength i32 @8 (bytes after this field),
//! partitionLeaderEpoch i32 @12, magic i8 @16, crc u32 @17 (CRC-32C of bytes 21..end),
//! attributes i16 @21, lastOffsetDelta i32 @23, baseTimestamp i64 @27, maxTimestamp i64 @35,
//! producerId i64 @43, producerEpoch i16 @51, baseSequence i32 @53, recordCount i32 @57.

/// Size of the fixed batch header.
pub const HEADER_SIZE: usize = 61;
/// Bytes before `batchLength`'s payload: baseOffset + batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// The only record batch format the engine stores.
pub const MAGIC_V2: i8 = 2;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;

/// The parsed fixed header of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the `batchLength` field; the whole batch is `LOG_OVERHEAD + batch_length`.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parses the fixed header from the first [`HEADER_SIZE`] bytes of `bytes`.
    /// Checks only that enough bytes are present; see [`BatchHeader::validate`].
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < HEADER_SIZE {
            return Err(format!(
                "{} bytes is shorter than the {HEADER_SIZE}-byte batch header",
                bytes.len()
            ));
        }
        Ok(Self {
            base_offset: be_i64(bytes, 0),
            batch_length: be_i32(bytes, 8),
            partition_leader_epoch: be_i32(bytes, 12),
            magic: bytes[16] as i8,
            crc: be_i32(bytes, 17) as u32,
            attributes: be_i16(bytes, 21),
            last_offset_delta: be_i32(bytes, 23),
            base_timestamp: be_i64(bytes, 27),
            max_timestamp: be_i64(bytes, 35),
            producer_id: be_i64(bytes, 43),
            producer_epoch: be_i16(bytes, 51),
            base_sequence: be_i32(bytes, 53),
            record_count: be_i32(bytes, 57),
        })
    }

    /// Total size of the batch on disk and on the wire.
    pub fn total_size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Offset of the batch's last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & ATTR_COMPRESSION_MASK
    }

    /// Whether timestamps are LogAppendTime rather than CreateTime.
    pub fn log_append_time(&self) -> bool {
        self.attributes & ATTR_TIMESTAMP_TYPE != 0
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Whether the batch is a transaction control marker.
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// Checks that `bytes` holds exactly this one well-formed v2 batch: magic, length,
    /// CRC-32C, record count, offset delta and codec.
    pub fn validate(&self, bytes: &[u8]) -> Result<(), String> {
        if self.magic != MAGIC_V2 {
            return Err(format!(
                "magic byte {} is not supported (only v2 record batches are)",
                self.magic
            ));
        }
        if self.batch_length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return Err(format!(
                "batch length {} is shorter than the header",
                self.batch_length
            ));
        }
        if self.total_size() != bytes.len() {
            return Err(format!(
                "batch length says {} bytes but {} were given",
                self.total_size(),
                bytes.len()
            ));
        }
        let crc = crc32c::crc32c(&bytes[21..]);
        if crc != self.crc {
            return Err(format!(
                "CRC-32C mismatch: header says {:#010x}, content is {crc:#010x}",
                self.crc
            ));
        }
        // Zero is legal on disk: compaction keeps emptied batches of idempotent producers.
        // Produce requests are held to a positive count by the partition's append.
        if self.record_count < 0 {
            return Err(format!("record count {} is negative", self.record_count));
        }
        if self.last_offset_delta < 0 {
            return Err(format!(
                "last offset delta {} is negative",
                self.last_offset_delta
            ));
        }
        if self.compression() > 4 {
            return Err(format!("unknown compression codec {}", self.compression()));
        }
        Ok(())
    }
}

/// Rewrites `baseOffset` of the batch at the start of `bytes` (outside the CRC).
pub fn set_base_offset(bytes: &mut [u8], base_offset: i64) {
    bytes[..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Marks the batch as LogAppendTime with `timestamp_ms` as its max timestamp and recomputes
/// the CRC (what Kafka does for `message.timestamp.type=LogAppendTime`). The batch must be
/// at least a header long (callers validate first).
pub fn set_log_append_time(bytes: &mut [u8], timestamp_ms: i64) {
    if bytes.len() < HEADER_SIZE {
        return;
    }
    let attributes = i16::from_be_bytes([bytes[21], bytes[22]]) | ATTR_TIMESTAMP_TYPE;
    bytes[21..23].copy_from_slice(&attributes.to_be_bytes());
    bytes[35..43].copy_from_slice(&timestamp_ms.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// A record's key and value; `None` is null.
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
}

/// Encodes one uncompressed v2 batch (no producer id, base offset 0) holding `records`,
/// stamped `timestamp_ms`; used for the broker's own internal records.
pub fn encode_batch(records: &[KeyValue<'_>], timestamp_ms: i64) -> Vec<u8> {
    encode_batch_with_timestamps(records, timestamp_ms, 0)
}

/// Like [`encode_batch`], with record i stamped `base_timestamp + i * step`.
pub(crate) fn encode_batch_with_timestamps(
    records: &[KeyValue<'_>],
    base_timestamp: i64,
    step: i64,
) -> Vec<u8> {
    encode(records, base_timestamp, step, 0, (-1, -1))
}

/// Like [`encode_batch`], flagged transactional and written for `producer` (id, epoch)
/// without a sequence: a coordinator's write inside the producer's transaction.
pub(crate) fn encode_transactional(
    records: &[KeyValue<'_>],
    timestamp_ms: i64,
    producer: (i64, i16),
) -> Vec<u8> {
    encode(records, timestamp_ms, 0, ATTR_TRANSACTIONAL, producer)
}

/// A transaction marker: a control batch of `producer` (id, epoch) holding one control
/// record, key `(version 0, type)` and value `(version 0, coordinator epoch)`.
pub(crate) fn encode_marker(
    producer: (i64, i16),
    marker: crate::log::Marker,
    coordinator_epoch: i32,
    timestamp_ms: i64,
) -> Vec<u8> {
    let mut key = 0i16.to_be_bytes().to_vec();
    key.extend_from_slice(&marker.control_type().to_be_bytes());
    let mut value = 0i16.to_be_bytes().to_vec();
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    encode(
        &[(Some(&key[..]), Some(&value[..]))],
        timestamp_ms,
        0,
        ATTR_TRANSACTIONAL | ATTR_CONTROL,
        producer,
    )
}

fn encode(
    records: &[KeyValue<'_>],
    base_timestamp: i64,
    step: i64,
    attributes: i16,
    (producer_id, producer_epoch): (i64, i16),
) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (key, value)) in records.iter().enumerate() {
        let mut rec = vec![0u8]; // attributes
        put_varint(&mut rec, i as i64 * step); // timestamp delta
        put_varint(&mut rec, i as i64); // offset delta
        for field in [key, value] {
            match field {
                Some(b) => {
                    put_varint(&mut rec, b.len() as i64);
                    rec.extend_from_slice(b);
                }
                None => put_varint(&mut rec, -1),
            }
        }
        put_varint(&mut rec, 0); // headers
        put_varint(&mut body, rec.len() as i64);
        body.extend_from_slice(&rec);
    }
    let n = records.len() as i32;
    let mut after_crc = Vec::with_capacity(40 + body.len());
    after_crc.extend_from_slice(&attributes.to_be_bytes());
    after_crc.extend_from_slice(&(n - 1).max(0).to_be_bytes()); // last offset delta
    after_crc.extend_from_slice(&base_timestamp.to_be_bytes());
    after_crc.extend_from_slice(&(base_timestamp + i64::from(n - 1).max(0) * step).to_be_bytes());
    after_crc.extend_from_slice(&producer_id.to_be_bytes());
    after_crc.extend_from_slice(&producer_epoch.to_be_bytes());
    after_crc.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    after_crc.extend_from_slice(&n.to_be_bytes());
    after_crc.extend_from_slice(&body);
    let crc = crc32c::crc32c(&after_crc);
    let mut out = Vec::with_capacity(21 + after_crc.len());
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&((4 + 1 + 4 + after_crc.len()) as i32).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&after_crc);
    out
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builds real, uncompressed v2 batches for tests.

    use super::KeyValue;

    /// One uncompressed batch with the given records at `base_timestamp` + i.
    pub(crate) fn batch(records: &[KeyValue<'_>], base_timestamp: i64) -> Vec<u8> {
        super::encode_batch_with_timestamps(records, base_timestamp, 1)
    }

    /// Like [`batch`], flagged transactional and written by producer `pid` (epoch 0)
    /// starting at sequence `seq`.
    pub(crate) fn transactional(records: &[KeyValue<'_>], pid: i64, seq: i32) -> Vec<u8> {
        let mut b = super::encode(records, 1000, 1, super::ATTR_TRANSACTIONAL, (pid, 0));
        b[53..57].copy_from_slice(&seq.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::batch;
    use super::*;

    #[test]
    fn a_built_batch_parses_and_validates() {
        let bytes = batch(&[(Some(b"k"), Some(b"v")), (None, Some(b"w"))], 1000);
        let h = BatchHeader::parse(&bytes).expect("parse");
        h.validate(&bytes).expect("valid");
        assert_eq!((h.record_count, h.last_offset_delta), (2, 1));
        assert_eq!((h.base_timestamp, h.max_timestamp), (1000, 1001));
        assert_eq!(h.total_size(), bytes.len());
    }

    #[test]
    fn base_offset_is_outside_the_crc() {
        let mut bytes = batch(&[(Some(b"k"), Some(b"v"))], 0);
        set_base_offset(&mut bytes, 42);
        let h = BatchHeader::parse(&bytes).expect("parse");
        assert_eq!(h.base_offset, 42);
        h.validate(&bytes).expect("still valid");
    }

    #[test]
    fn log_append_time_keeps_the_batch_valid() {
        let mut bytes = batch(&[(Some(b"k"), Some(b"v"))], 5);
        set_log_append_time(&mut bytes, 99);
        let h = BatchHeader::parse(&bytes).expect("parse");
        h.validate(&bytes)
            .expect("valid after the CRC is recomputed");
        assert!(h.log_append_time());
        assert_eq!((h.base_timestamp, h.max_timestamp), (5, 99));
    }

    #[test]
    fn corruption_is_named() {
        let good = batch(&[(Some(b"k"), Some(b"v"))], 0);
        let check = |bytes: &[u8]| {
            BatchHeader::parse(bytes)
                .and_then(|h| h.validate(bytes))
                .expect_err("invalid")
        };
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(check(&flipped).starts_with("CRC-32C mismatch"));
        let mut magic = good.clone();
        magic[16] = 1;
        assert!(check(&magic).contains("magic byte 1"));
        assert!(check(&good[..good.len() - 1]).contains("batch length says"));
        assert!(check(&good[..20]).contains("shorter than the 61-byte"));
    }
}
