//! Raw frames: version negotiation and bad input. Each bad frame closes only its own
//! connection; the broker keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::support::TestBroker;

pub(crate) fn connect(broker: &TestBroker) -> TcpStream {
    let s = TcpStream::connect(&broker.bootstrap).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

pub(crate) fn request<R: Encodable>(
    key: ApiKey,
    version: i16,
    correlation: i32,
    body: &R,
) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation)
        .with_client_id(Some(StrBytes::from_static_str("protocol-test")))
        .encode(&mut buf, key.request_header_version(version))
        .expect("header");
    body.encode(&mut buf, version).expect("body");
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    buf.to_vec()
}

/// Reads one response frame; `None` when the broker closed the connection.
pub(crate) fn read_frame(s: &mut TcpStream) -> Option<Bytes> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).ok()?;
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(Bytes::from(buf))
}

fn api_versions(s: &mut TcpStream, version: i16) -> (i32, ApiVersionsResponse, usize) {
    // Versions past 4 cannot be encoded by the client library: send a v3 body labelled
    // with the newer version, as a newer client would.
    let body_version = if version > 4 { 3 } else { version };
    let mut req = request(
        ApiKey::ApiVersions,
        body_version,
        7,
        &ApiVersionsRequest::default(),
    );
    req[6..8].copy_from_slice(&version.to_be_bytes());
    s.write_all(&req).expect("send");
    let mut frame = read_frame(s).expect("a response");
    let header = ResponseHeader::decode(&mut frame, 0).expect("v0 header, always");
    let resp_version = if version > 4 { 0 } else { version };
    let body = ApiVersionsResponse::decode(&mut frame, resp_version).expect("body");
    (header.correlation_id, body, frame.remaining())
}

#[test]
fn api_versions_answers_every_version_and_downgrades_unknown_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);
    for v in 0..=4 {
        let (correlation, body, rest) = api_versions(&mut s, v);
        assert_eq!((correlation, body.error_code, rest), (7, 0, 0), "v{v}");
        let produce = body
            .api_keys
            .iter()
            .find(|k| k.api_key == 0)
            .expect("Produce listed");
        assert_eq!((produce.min_version, produce.max_version), (3, 11));
        assert!(
            body.api_keys.iter().all(|k| k.api_key != 68),
            "no KIP-848 heartbeat"
        );
    }
    // A future version: v0 body, UNSUPPORTED_VERSION, and the list to downgrade with.
    let (_, body, _) = api_versions(&mut s, 9);
    assert_eq!(body.error_code, 35);
    assert!(
        body.api_keys
            .iter()
            .any(|k| k.api_key == 18 && k.max_version == 4)
    );
}

#[test]
fn the_v3_api_versions_body_ends_with_an_empty_tag_section() {
    // Old librdkafka (Debian's 2.0.2, used by kcat) miscounts trailing tagged fields, so the
    // body must end with exactly one zero byte: no tagged fields at all.
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);
    s.write_all(&request(
        ApiKey::ApiVersions,
        3,
        1,
        &ApiVersionsRequest::default(),
    ))
    .expect("send");
    let frame = read_frame(&mut s).expect("response");
    // correlation id (4) + error code (2) + compact array length + entries(7 bytes each)
    let entries = frame[6] as usize - 1;
    let expected_len = 4 + 2 + 1 + entries * 7 + 4 + 1;
    assert_eq!(frame.len(), expected_len, "body: {:02x?}", &frame[..]);
    assert_eq!(frame[frame.len() - 1], 0, "empty top-level tag section");
}

fn still_serves(broker: &TestBroker) {
    let mut s = connect(broker);
    let req = MetadataRequest::default().with_topics(Some(Vec::new()));
    s.write_all(&request(ApiKey::Metadata, 9, 3, &req))
        .expect("send");
    let mut frame = read_frame(&mut s).expect("metadata response");
    ResponseHeader::decode(&mut frame, 1).expect("header");
    let md = MetadataResponse::decode(&mut frame, 9).expect("metadata");
    assert_eq!(md.brokers.len(), 1);
}

fn assert_closed(broker: &TestBroker, bytes: &[u8], what: &str) {
    let mut s = connect(broker);
    s.write_all(bytes).expect("send");
    assert!(
        read_frame(&mut s).is_none(),
        "{what}: the connection must be closed"
    );
    still_serves(broker);
}

#[test]
fn bad_frames_close_only_their_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    // TLS ClientHello start on the plaintext port.
    assert_closed(
        &broker,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
        "TLS handshake",
    );
    // A size past socket.request.max.bytes, and a negative one.
    assert_closed(&broker, &(200i32 << 20).to_be_bytes(), "oversized frame");
    assert_closed(&broker, &(-5i32).to_be_bytes(), "negative size");
    // Unknown API key 999.
    let mut unknown = vec![0, 0, 0, 10];
    unknown.extend_from_slice(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_closed(&broker, &unknown, "unknown API key");
    // Metadata v50 is not advertised.
    let req = request(ApiKey::Metadata, 9, 1, &MetadataRequest::default());
    let mut bad_version = req.clone();
    bad_version[6..8].copy_from_slice(&50i16.to_be_bytes());
    assert_closed(&broker, &bad_version, "unsupported version");
    // A Metadata v9 request cut in the middle of its body.
    let mut truncated = req[..req.len() - 2].to_vec();
    let size = (truncated.len() - 4) as i32;
    truncated[..4].copy_from_slice(&size.to_be_bytes());
    assert_closed(&broker, &truncated, "truncated body");
    // A frame too short to hold a header.
    assert_closed(&broker, &[0, 0, 0, 3, 0, 1, 2], "short frame");
}

#[test]
fn produce_rejects_corrupt_and_multi_batch_payloads_with_error_codes() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let mut one = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut one,
        std::iter::once(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    let one = one.freeze();
    let mut corrupt = one.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let two = [one.to_vec(), one.to_vec()].concat();
    for (payload, expected, what) in [
        (corrupt, 2i16, "bad CRC → CORRUPT_MESSAGE"),
        (two, 87, "two batches → INVALID_RECORD"),
        (one.to_vec(), 0, "a good batch"),
    ] {
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("raw")))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(Bytes::from(payload))),
                    ]),
            ]);
        // Auto-create the topic first.
        still_serves(&broker);
        let mut s = connect(&broker);
        let md = MetadataRequest::default()
            .with_topics(Some(vec![
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("raw")))),
            ]))
            .with_allow_auto_topic_creation(true);
        s.write_all(&request(ApiKey::Metadata, 9, 1, &md))
            .expect("send");
        read_frame(&mut s).expect("metadata");
        s.write_all(&request(ApiKey::Produce, 9, 2, &req))
            .expect("send");
        let mut frame = read_frame(&mut s).expect("produce response");
        ResponseHeader::decode(&mut frame, 1).expect("header");
        let resp = ProduceResponse::decode(&mut frame, 9).expect("body");
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(p.error_code, expected, "{what}: {:?}", p.error_message);
        if expected == 0 {
            assert_eq!(p.base_offset, 0, "{what}: nothing before it was written");
        }
    }
}

/// One record batch from a (possibly idempotent) producer.
fn encoded_batch(producer_id: i64, epoch: i16, first_sequence: i32, n: i32) -> Bytes {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: first_sequence + i,
            timestamp: 1,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
        })
        .collect();
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut out,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    out.freeze()
}

/// Produces `batch` to partition 0 of `topic` on `s`; returns (error code, base offset).
pub(crate) fn produce_raw(s: &mut TcpStream, topic: &'static str, batch: Bytes) -> (i16, i64) {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(topic)))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch)),
                ]),
        ]);
    s.write_all(&request(ApiKey::Produce, 9, 2, &req))
        .expect("send");
    let mut frame = read_frame(s).expect("produce response");
    ResponseHeader::decode(&mut frame, 1).expect("header");
    let resp = ProduceResponse::decode(&mut frame, 9).expect("body");
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn idempotent_retries_are_deduplicated_and_gaps_refused() {
    use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);
    s.write_all(&request(
        ApiKey::InitProducerId,
        4,
        1,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_producer_id(kafka_protocol::messages::ProducerId(-1))
            .with_producer_epoch(-1),
    ))
    .expect("send");
    let mut frame = read_frame(&mut s).expect("response");
    ResponseHeader::decode(&mut frame, 1).expect("header");
    let init = InitProducerIdResponse::decode(&mut frame, 4).expect("body");
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    assert!(pid >= 0);

    still_serves(&broker); // creates nothing; the next metadata call auto-creates the topic
    auto_create(&mut s, "idem");

    assert_eq!(
        produce_raw(&mut s, "idem", encoded_batch(pid, epoch, 0, 3)),
        (0, 0)
    );
    assert_eq!(
        produce_raw(&mut s, "idem", encoded_batch(pid, epoch, 3, 2)),
        (0, 3)
    );
    // A retry of the first batch: success with its original offset, nothing appended.
    assert_eq!(
        produce_raw(&mut s, "idem", encoded_batch(pid, epoch, 0, 3)),
        (0, 0)
    );
    // A gap in the sequence.
    assert_eq!(
        produce_raw(&mut s, "idem", encoded_batch(pid, epoch, 9, 1)).0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    // The next in-order batch lands right after the first two.
    assert_eq!(
        produce_raw(&mut s, "idem", encoded_batch(pid, epoch, 5, 1)),
        (0, 5)
    );
    drop(s);

    // The state survives a restart: the retry is still recognised.
    broker.stop();
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);
    assert_eq!(
        produce_raw(&mut s, "idem", encoded_batch(pid, epoch, 5, 1)),
        (0, 5)
    );
    assert_eq!(
        produce_raw(&mut s, "idem", encoded_batch(pid, epoch, 6, 1)),
        (0, 6)
    );
}

/// Asks for `topic`'s metadata on `s`, creating the topic.
pub(crate) fn auto_create(s: &mut TcpStream, topic: &'static str) {
    let md = MetadataRequest::default()
        .with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(
                Some(kafka_protocol::messages::TopicName(
                    StrBytes::from_static_str(topic),
                )),
            ),
        ]))
        .with_allow_auto_topic_creation(true);
    s.write_all(&request(ApiKey::Metadata, 9, 1, &md))
        .expect("send");
    read_frame(s).expect("metadata");
}

#[test]
fn a_silent_idempotent_producer_is_forgotten_after_producer_id_expiration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start_with(dir.path(), |c| {
        c.producer_id_expiration = Duration::from_secs(1);
        c.cleaner_interval = Duration::from_millis(100);
    });
    let mut s = connect(&broker);
    auto_create(&mut s, "silent");
    let pid = 4242;
    assert_eq!(
        produce_raw(&mut s, "silent", encoded_batch(pid, 0, 0, 1)),
        (0, 0)
    );
    assert_eq!(
        produce_raw(&mut s, "silent", encoded_batch(pid, 0, 1, 1)),
        (0, 1)
    );
    // A retry is recognised (and appends nothing) until the producer is forgotten; then,
    // as in Kafka, the partition takes the producer's batch at whatever sequence it has.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match produce_raw(&mut s, "silent", encoded_batch(pid, 0, 1, 1)) {
            (0, 1) => {}
            (0, 2) => break,
            other => panic!("a retry got {other:?}, not offset 1 (duplicate) or 2 (appended)"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the producer was never forgotten"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // From there its sequence is tracked again.
    assert_eq!(
        produce_raw(&mut s, "silent", encoded_batch(pid, 0, 1, 1)),
        (0, 2)
    );
    assert_eq!(
        produce_raw(&mut s, "silent", encoded_batch(pid, 0, 2, 1)),
        (0, 3)
    );
    assert_eq!(
        produce_raw(&mut s, "silent", encoded_batch(pid, 0, 9, 1)).0,
        45
    );
}
