//! The Fetch response (v4–v12) encoded by hand, so that stored batches go from the segment
//! file to the socket without being copied through the broker: the frame is a list of
//! chunks — encoded bytes and file ranges — that the connection writes in order, the file
//! ranges with `sendfile`. Field order and encodings follow Kafka's `FetchResponse` schema;
//! the tests compare the bytes with `kafka-protocol`'s encoder for every version served.

use bytes::{BufMut, Bytes, BytesMut};

use crate::log::FileSlice;

/// Fetch v12 is the first flexible version (compact arrays and strings, tagged fields).
const FIRST_FLEXIBLE: i16 = 12;

/// One piece of an outgoing frame.
#[derive(Debug, Clone)]
pub(crate) enum Chunk {
    Bytes(Bytes),
    File(FileSlice),
}

/// A partition's record set in the response.
#[derive(Debug, Clone)]
pub(crate) enum Records {
    /// No record set at all (partitions with an error).
    Null,
    /// An empty record set (nothing new yet).
    Empty,
    /// Whole stored batches.
    File(FileSlice),
}

impl Records {
    pub(crate) fn len(&self) -> usize {
        match self {
            Records::File(slice) => slice.len(),
            Records::Null | Records::Empty => 0,
        }
    }
}

/// One partition of the response.
#[derive(Debug, Clone)]
pub(crate) struct PartitionOut {
    pub(crate) index: i32,
    pub(crate) error_code: i16,
    pub(crate) high_watermark: i64,
    pub(crate) last_stable_offset: i64,
    pub(crate) log_start_offset: i64,
    /// `(producer id, first offset)` of aborted transactions; `None` is a null array.
    pub(crate) aborted: Option<Vec<(i64, i64)>>,
    pub(crate) records: Records,
}

/// One topic of the response.
#[derive(Debug, Clone)]
pub(crate) struct TopicOut {
    pub(crate) name: String,
    pub(crate) partitions: Vec<PartitionOut>,
}

enum Piece {
    Buf(BytesMut),
    File(FileSlice),
}

/// Builds a frame piece by piece; encoded fields go into the current buffer, record sets
/// become file pieces.
struct Frame {
    flexible: bool,
    pieces: Vec<Piece>,
    buf: BytesMut,
}

impl Frame {
    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }

    /// The length of an array or of a byte string (records): both are encoded alike.
    fn array_len(&mut self, n: usize) -> Result<(), String> {
        if self.flexible {
            self.uvarint(n as u64 + 1);
        } else {
            self.buf
                .put_i32(i32::try_from(n).map_err(|_| "array too long")?);
        }
        Ok(())
    }

    fn null_array(&mut self) {
        if self.flexible {
            self.uvarint(0);
        } else {
            self.buf.put_i32(-1);
        }
    }

    fn string(&mut self, s: &str) -> Result<(), String> {
        if self.flexible {
            self.uvarint(s.len() as u64 + 1);
        } else {
            self.buf
                .put_i16(i16::try_from(s.len()).map_err(|_| "topic name too long")?);
        }
        self.buf.put_slice(s.as_bytes());
        Ok(())
    }

    fn no_tags(&mut self) {
        if self.flexible {
            self.uvarint(0);
        }
    }

    fn records(&mut self, records: &Records) -> Result<(), String> {
        match records {
            Records::Null => self.null_array(),
            Records::Empty => self.array_len(0)?,
            Records::File(slice) => {
                self.array_len(slice.len())?;
                if !slice.is_empty() {
                    let buf = std::mem::take(&mut self.buf);
                    self.pieces.push(Piece::Buf(buf));
                    self.pieces.push(Piece::File(slice.clone()));
                }
            }
        }
        Ok(())
    }

    /// The chunks with the size prefix filled in.
    fn finish(mut self) -> Result<Vec<Chunk>, String> {
        self.pieces.push(Piece::Buf(self.buf));
        let total: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Buf(b) => b.len(),
                Piece::File(f) => f.len(),
            })
            .sum();
        let size = i32::try_from(total - 4).map_err(|_| "response larger than 2 GiB")?;
        let mut chunks = Vec::with_capacity(self.pieces.len());
        for (i, piece) in self.pieces.into_iter().enumerate() {
            match piece {
                Piece::Buf(mut b) => {
                    if i == 0 {
                        b[..4].copy_from_slice(&size.to_be_bytes());
                    }
                    if !b.is_empty() {
                        chunks.push(Chunk::Bytes(b.freeze()));
                    }
                }
                Piece::File(f) => chunks.push(Chunk::File(f)),
            }
        }
        Ok(chunks)
    }
}

/// Encodes a whole Fetch response frame (size prefix, header, body) for `version`.
pub(crate) fn encode(
    version: i16,
    correlation_id: i32,
    topics: &[TopicOut],
) -> Result<Vec<Chunk>, String> {
    let mut f = Frame {
        flexible: version >= FIRST_FLEXIBLE,
        pieces: Vec::new(),
        buf: BytesMut::with_capacity(256),
    };
    f.buf.put_i32(0);
    // Response header: v1 (with tagged fields) for flexible versions.
    f.buf.put_i32(correlation_id);
    f.no_tags();
    f.buf.put_i32(0); // throttle_time_ms
    if version >= 7 {
        f.buf.put_i16(0); // error_code
        f.buf.put_i32(0); // session_id: no fetch sessions
    }
    f.array_len(topics.len())?;
    for topic in topics {
        f.string(&topic.name)?;
        f.array_len(topic.partitions.len())?;
        for p in &topic.partitions {
            f.buf.put_i32(p.index);
            f.buf.put_i16(p.error_code);
            f.buf.put_i64(p.high_watermark);
            f.buf.put_i64(p.last_stable_offset);
            if version >= 5 {
                f.buf.put_i64(p.log_start_offset);
            }
            match &p.aborted {
                None => f.null_array(),
                Some(aborted) => {
                    f.array_len(aborted.len())?;
                    for &(producer_id, first_offset) in aborted {
                        f.buf.put_i64(producer_id);
                        f.buf.put_i64(first_offset);
                        f.no_tags();
                    }
                }
            }
            if version >= 11 {
                f.buf.put_i32(-1); // preferred_read_replica
            }
            f.records(&p.records)?;
            f.no_tags();
        }
        f.no_tags();
    }
    f.no_tags();
    f.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, FetchableTopicResponse, PartitionData,
    };
    use kafka_protocol::messages::{ApiKey, BrokerId, FetchResponse, ProducerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::log::PartitionLog;

    /// A real segment slice: a partition log with a few appended batches.
    fn stored_batches(dir: &std::path::Path) -> FileSlice {
        let mut log = PartitionLog::open(dir, crate::log::PartitionConfig::default())
            .expect("open")
            .0;
        for i in 0..3u8 {
            let value = [i; 100];
            let batch = crate::log::batch::test_support::batch(&[(None, Some(&value))], 1000);
            log.append(&batch).expect("append");
        }
        log.sync().expect("sync");
        log.locate(0, 1 << 20, crate::log::Isolation::ReadUncommitted)
            .expect("locate")
            .slice
            .expect("stored batches")
    }

    fn flatten(chunks: &[Chunk]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            match c {
                Chunk::Bytes(b) => out.write_all(b).expect("write"),
                Chunk::File(f) => out.write_all(&f.read().expect("read")).expect("write"),
            }
        }
        out
    }

    #[test]
    fn frames_match_kafka_protocols_encoding_for_every_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let slice = stored_batches(dir.path());
        let bytes = Bytes::from(slice.read().expect("read"));
        for version in 4..=12i16 {
            let log_start = if version >= 5 { 7 } else { -1 };
            let ours = vec![
                TopicOut {
                    name: "orders".into(),
                    partitions: vec![
                        PartitionOut {
                            index: 0,
                            error_code: 0,
                            high_watermark: 3,
                            last_stable_offset: 3,
                            log_start_offset: log_start,
                            aborted: Some(vec![(42, 1)]),
                            records: Records::File(slice.clone()),
                        },
                        PartitionOut {
                            index: 1,
                            error_code: 0,
                            high_watermark: 0,
                            last_stable_offset: 0,
                            log_start_offset: log_start,
                            aborted: None,
                            records: Records::Empty,
                        },
                    ],
                },
                TopicOut {
                    name: "missing".into(),
                    partitions: vec![PartitionOut {
                        index: 2,
                        error_code: 3,
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        aborted: None,
                        records: Records::Null,
                    }],
                },
            ];
            let theirs = FetchResponse::default().with_responses(vec![
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_static_str("orders")))
                    .with_partitions(vec![
                        PartitionData::default()
                            .with_partition_index(0)
                            .with_high_watermark(3)
                            .with_last_stable_offset(3)
                            .with_log_start_offset(log_start)
                            .with_aborted_transactions(Some(vec![
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(42))
                                    .with_first_offset(1),
                            ]))
                            .with_preferred_read_replica(BrokerId(-1))
                            .with_records(Some(bytes.clone())),
                        PartitionData::default()
                            .with_partition_index(1)
                            .with_last_stable_offset(0)
                            .with_log_start_offset(log_start)
                            .with_aborted_transactions(None)
                            .with_preferred_read_replica(BrokerId(-1))
                            .with_records(Some(Bytes::new())),
                    ]),
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_static_str("missing")))
                    .with_partitions(vec![
                        PartitionData::default()
                            .with_partition_index(2)
                            .with_error_code(3)
                            .with_high_watermark(-1)
                            .with_last_stable_offset(-1)
                            .with_log_start_offset(-1)
                            .with_aborted_transactions(None)
                            .with_preferred_read_replica(BrokerId(-1))
                            .with_records(None),
                    ]),
            ]);
            let expected = crate::api::encode_frame(ApiKey::Fetch, version, 99, &theirs)
                .unwrap_or_else(|e| panic!("kafka-protocol v{version}: {e}"));
            let chunks = encode(version, 99, &ours).expect("encode");
            assert!(
                chunks.iter().any(|c| matches!(c, Chunk::File(_))),
                "records travel as a file range"
            );
            let ours = flatten(&chunks);
            let first_difference = ours.iter().zip(expected.iter()).position(|(a, b)| a != b);
            assert!(
                first_difference.is_none() && ours.len() == expected.len(),
                "Fetch v{version}: {} bytes against {}, first difference at {first_difference:?}: \
                 ours {:?}, kafka-protocol {:?}",
                ours.len(),
                expected.len(),
                first_difference.map(|i| &ours[i.saturating_sub(8)..(i + 8).min(ours.len())]),
                first_difference
                    .map(|i| &expected[i.saturating_sub(8)..(i + 8).min(expected.len())]),
            );
        }
    }
}
