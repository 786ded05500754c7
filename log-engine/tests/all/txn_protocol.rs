//! Transaction requests with raw frames: the error each kind of misuse gets, and that none
//! of them writes anything.

use std::io::Write;
use std::net::TcpStream;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse,
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, ResponseHeader, TopicName,
    TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::protocol::{connect, produce_raw, read_frame, request};
use crate::support::TestBroker;

/// Sends `body` as `key` v`version` and decodes the response body.
fn call<Req: Encodable, Resp: Decodable>(
    s: &mut TcpStream,
    key: ApiKey,
    version: i16,
    body: &Req,
) -> Resp {
    s.write_all(&request(key, version, 9, body)).expect("send");
    let mut frame = read_frame(s).expect("a response");
    ResponseHeader::decode(&mut frame, key.response_header_version(version)).expect("header");
    Resp::decode(&mut frame, version).expect("body")
}

fn init(s: &mut TcpStream, id: &str, timeout_ms: i32) -> InitProducerIdResponse {
    call(
        s,
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_string(id.into()))))
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    )
}

/// One transactional (or control) batch of `producer`.
fn batch(producer: (i64, i16), control: bool) -> Bytes {
    let record = Record {
        transactional: true,
        control,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: producer.0,
        producer_epoch: producer.1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: 0,
        timestamp: 1,
        key: Some(Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: Default::default(),
    };
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut out,
        std::iter::once(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    out.freeze()
}

#[test]
fn transaction_misuse_gets_kafkas_error_codes_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);

    // A timeout past transaction.max.timeout.ms (15 minutes).
    assert_eq!(
        init(&mut s, "raw-tx", 900_001).error_code,
        50,
        "INVALID_TRANSACTION_TIMEOUT"
    );
    let ok = init(&mut s, "raw-tx", 60_000);
    assert_eq!(ok.error_code, 0);
    let producer = (ok.producer_id.0, ok.producer_epoch);

    // Auto-create the topic.
    let _: kafka_protocol::messages::MetadataResponse = call(
        &mut s,
        ApiKey::Metadata,
        9,
        &kafka_protocol::messages::MetadataRequest::default()
            .with_topics(Some(vec![
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("raw-tx-topic")))),
            ]))
            .with_allow_auto_topic_creation(true),
    );

    // Writing before the partition joined the transaction.
    let (code, _) = produce_raw(&mut s, "raw-tx-topic", batch(producer, false));
    assert_eq!(code, 48, "INVALID_TXN_STATE");
    // Control batches come only from the coordinator.
    let (code, _) = produce_raw(&mut s, "raw-tx-topic", batch(producer, true));
    assert_eq!(code, 87, "INVALID_RECORD");

    // Ending a transaction of an unknown id, and ending one that never started.
    let end = |id: &str, epoch: i16| {
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(id.into())))
            .with_producer_id(ProducerId(producer.0))
            .with_producer_epoch(epoch)
            .with_committed(true)
    };
    let r: EndTxnResponse = call(&mut s, ApiKey::EndTxn, 3, &end("nobody", producer.1));
    assert_eq!(r.error_code, 49, "INVALID_PRODUCER_ID_MAPPING");
    let r: EndTxnResponse = call(&mut s, ApiKey::EndTxn, 3, &end("raw-tx", producer.1));
    assert_eq!(r.error_code, 48, "INVALID_TXN_STATE: nothing to end");

    // A producer that a newer InitProducerId fenced.
    assert_eq!(init(&mut s, "raw-tx", 60_000).error_code, 0);
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_static_str("raw-tx")))
        .with_v3_and_below_producer_id(ProducerId(producer.0))
        .with_v3_and_below_producer_epoch(producer.1)
        .with_v3_and_below_topics(vec![
            kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("raw-tx-topic")))
                .with_partitions(vec![0]),
        ]);
    let r: AddPartitionsToTxnResponse = call(&mut s, ApiKey::AddPartitionsToTxn, 3, &add);
    let code = r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
    assert_eq!(code, 90, "PRODUCER_FENCED");
    let r: AddPartitionsToTxnResponse = call(&mut s, ApiKey::AddPartitionsToTxn, 1, &add);
    let code = r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
    assert_eq!(
        code, 47,
        "INVALID_PRODUCER_EPOCH for versions before PRODUCER_FENCED"
    );

    let topic = broker_topic_end(&broker, "raw-tx-topic");
    assert_eq!(topic, 0, "nothing was written");
}

/// The high watermark of partition 0 of `topic` as a plain consumer sees it.
fn broker_topic_end(broker: &TestBroker, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "raw-tx-check")
        .create()
        .expect("consumer");
    consumer
        .fetch_watermarks(topic, 0, std::time::Duration::from_secs(30))
        .expect("watermarks")
        .1
}

#[test]
fn a_producer_aborted_for_its_timeout_recovers_with_its_id_and_epoch_but_a_fenced_one_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);
    let reinit = |s: &mut TcpStream, producer: (i64, i16)| -> InitProducerIdResponse {
        call(
            s,
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("kip-360"))))
                .with_transaction_timeout_ms(1_000)
                .with_producer_id(ProducerId(producer.0))
                .with_producer_epoch(producer.1),
        )
    };
    let first = init(&mut s, "kip-360", 1_000);
    let producer = (first.producer_id.0, first.producer_epoch);
    // Open a transaction (AddOffsetsToTxn needs no topic) and let it time out.
    let add = kafka_protocol::messages::AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(StrBytes::from_static_str("kip-360")))
        .with_producer_id(ProducerId(producer.0))
        .with_producer_epoch(producer.1)
        .with_group_id(kafka_protocol::messages::GroupId(
            StrBytes::from_static_str("g"),
        ));
    let r: kafka_protocol::messages::AddOffsetsToTxnResponse =
        call(&mut s, ApiKey::AddOffsetsToTxn, 3, &add);
    assert_eq!(r.error_code, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let recovered = loop {
        // Past the 1 s timeout and the coordinator's next check.
        std::thread::sleep(std::time::Duration::from_secs(2));
        let r: EndTxnResponse = call(
            &mut s,
            ApiKey::EndTxn,
            3,
            &EndTxnRequest::default()
                .with_transactional_id(TransactionalId(StrBytes::from_static_str("kip-360")))
                .with_producer_id(ProducerId(producer.0))
                .with_producer_epoch(producer.1)
                .with_committed(true),
        );
        if r.error_code == 90 {
            // Fenced by the broker's abort: the producer recovers with its old id and epoch.
            break reinit(&mut s, producer);
        }
        assert_eq!(r.error_code, 0, "only success or PRODUCER_FENCED");
        assert!(
            std::time::Instant::now() < deadline,
            "the transaction never timed out"
        );
        // A commit that beat a slow coordinator: open another transaction and wait again.
        let _: kafka_protocol::messages::AddOffsetsToTxnResponse =
            call(&mut s, ApiKey::AddOffsetsToTxn, 3, &add);
    };
    assert_eq!(recovered.error_code, 0);
    assert_eq!(recovered.producer_id.0, producer.0);
    assert!(recovered.producer_epoch > producer.1);
    // Once recovered, the old epoch is fenced for good.
    assert_eq!(reinit(&mut s, producer).error_code, 90, "PRODUCER_FENCED");
}

/// EndTxn(commit) for `id` held by `producer`: with nothing open it changes nothing and
/// answers INVALID_TXN_STATE (48) while the id exists, INVALID_PRODUCER_ID_MAPPING (49)
/// once it is gone.
fn probe(s: &mut TcpStream, id: &str, producer: (i64, i16)) -> i16 {
    let r: EndTxnResponse = call(
        s,
        ApiKey::EndTxn,
        3,
        &EndTxnRequest::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(id.into())))
            .with_producer_id(ProducerId(producer.0))
            .with_producer_epoch(producer.1)
            .with_committed(true),
    );
    r.error_code
}

#[test]
fn idle_transactional_ids_expire_and_stay_deleted_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = |c: &mut culvert_log_engine::BrokerConfig| {
        c.transactional_id_expiration = std::time::Duration::from_secs(1);
    };
    let broker = TestBroker::start_with(dir.path(), short);
    let mut s = connect(&broker);
    let held: Vec<(i64, i16)> = ["idle-a", "idle-b"]
        .iter()
        .map(|id| {
            let r = init(&mut s, id, 60_000);
            assert_eq!(r.error_code, 0);
            (r.producer_id.0, r.producer_epoch)
        })
        .collect();
    assert_eq!(
        probe(&mut s, "idle-a", held[0]),
        48,
        "the id exists at first"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while probe(&mut s, "idle-a", held[0]) != 49 || probe(&mut s, "idle-b", held[1]) != 49 {
        assert!(
            std::time::Instant::now() < deadline,
            "the idle ids never expired"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let again = init(&mut s, "idle-a", 60_000);
    assert_eq!(again.error_code, 0);
    assert_ne!(
        again.producer_id.0, held[0].0,
        "an expired id starts afresh"
    );
    drop(s);
    broker.stop();

    // With the default expiration only a replayed tombstone keeps idle-b deleted.
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);
    assert_eq!(probe(&mut s, "idle-b", held[1]), 49, "idle-b came back");
    assert_eq!(
        probe(
            &mut s,
            "idle-a",
            (again.producer_id.0, again.producer_epoch)
        ),
        48,
        "the re-initialised idle-a survives the restart"
    );
}

#[test]
fn operators_can_describe_and_list_transactions_and_a_partitions_producers() {
    use kafka_protocol::messages::describe_producers_request::TopicRequest;
    use kafka_protocol::messages::{
        DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
        DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let mut s = connect(&broker);
    crate::protocol::auto_create(&mut s, "ops");
    let ok = init(&mut s, "ops-tx", 60_000);
    assert_eq!(ok.error_code, 0);
    let producer = (ok.producer_id.0, ok.producer_epoch);
    let id = TransactionalId(StrBytes::from_static_str("ops-tx"));
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(id.clone())
        .with_v3_and_below_producer_id(ProducerId(producer.0))
        .with_v3_and_below_producer_epoch(producer.1)
        .with_v3_and_below_topics(vec![
            kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("ops")))
                .with_partitions(vec![0]),
        ]);
    let r: AddPartitionsToTxnResponse = call(&mut s, ApiKey::AddPartitionsToTxn, 3, &add);
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    assert_eq!(produce_raw(&mut s, "ops", batch(producer, false)), (0, 0));

    let describe = |s: &mut TcpStream| -> DescribeTransactionsResponse {
        call(
            s,
            ApiKey::DescribeTransactions,
            0,
            &DescribeTransactionsRequest::default().with_transactional_ids(vec![
                id.clone(),
                TransactionalId(StrBytes::from_static_str("nobody")),
            ]),
        )
    };
    let d = describe(&mut s);
    let (ours, unknown) = (&d.transaction_states[0], &d.transaction_states[1]);
    assert_eq!(ours.error_code, 0);
    assert_eq!(&*ours.transaction_state, "Ongoing");
    assert_eq!(
        (ours.producer_id.0, ours.producer_epoch),
        producer,
        "{ours:?}"
    );
    assert_eq!(ours.transaction_timeout_ms, 60_000);
    assert!(ours.transaction_start_time_ms > 0);
    assert_eq!(ours.topics.len(), 1);
    assert_eq!(
        (&*ours.topics[0].topic.0, &ours.topics[0].partitions[..]),
        ("ops", &[0][..])
    );
    assert_eq!(unknown.error_code, 105, "TRANSACTIONAL_ID_NOT_FOUND");

    let list = |s: &mut TcpStream, states: &[&'static str], pids: Vec<i64>, open_ms: i64| {
        let r: ListTransactionsResponse = call(
            s,
            ApiKey::ListTransactions,
            1,
            &ListTransactionsRequest::default()
                .with_state_filters(
                    states
                        .iter()
                        .map(|s| StrBytes::from_static_str(s))
                        .collect(),
                )
                .with_producer_id_filters(pids.into_iter().map(ProducerId).collect())
                .with_duration_filter(open_ms),
        );
        assert_eq!(r.error_code, 0);
        let listed: Vec<(String, i64, String)> = r
            .transaction_states
            .iter()
            .map(|t| {
                (
                    t.transactional_id.to_string(),
                    t.producer_id.0,
                    t.transaction_state.to_string(),
                )
            })
            .collect();
        let unknown: Vec<String> = r
            .unknown_state_filters
            .iter()
            .map(|s| s.to_string())
            .collect();
        (listed, unknown)
    };
    let ongoing = vec![("ops-tx".to_string(), producer.0, "Ongoing".to_string())];
    assert_eq!(list(&mut s, &[], vec![], -1), (ongoing.clone(), vec![]));
    assert_eq!(
        list(&mut s, &["Ongoing", "Sleeping"], vec![producer.0], -1),
        (ongoing, vec!["Sleeping".to_string()])
    );
    assert!(list(&mut s, &["CompleteCommit"], vec![], -1).0.is_empty());
    assert!(list(&mut s, &[], vec![producer.0 + 1], -1).0.is_empty());
    assert!(
        list(&mut s, &[], vec![], 3_600_000).0.is_empty(),
        "not open for an hour yet"
    );

    let producers = |s: &mut TcpStream| -> DescribeProducersResponse {
        call(
            s,
            ApiKey::DescribeProducers,
            0,
            &DescribeProducersRequest::default().with_topics(vec![
                TopicRequest::default()
                    .with_name(TopicName(StrBytes::from_static_str("ops")))
                    .with_partition_indexes(vec![0, 7]),
            ]),
        )
    };
    let p = producers(&mut s);
    let parts = &p.topics[0].partitions;
    assert_eq!(parts[0].error_code, 0);
    assert_eq!(parts[1].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    let active = &parts[0].active_producers;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].producer_id.0, producer.0);
    assert_eq!(active[0].producer_epoch, i32::from(producer.1));
    assert_eq!(active[0].last_sequence, 0);
    assert_eq!(
        active[0].current_txn_start_offset, 0,
        "the open transaction starts at 0"
    );
    assert_eq!(active[0].coordinator_epoch, -1, "no marker yet");

    let r: EndTxnResponse = call(
        &mut s,
        ApiKey::EndTxn,
        3,
        &EndTxnRequest::default()
            .with_transactional_id(id.clone())
            .with_producer_id(ProducerId(producer.0))
            .with_producer_epoch(producer.1)
            .with_committed(true),
    );
    assert_eq!(r.error_code, 0);
    let d = describe(&mut s);
    assert_eq!(
        &*d.transaction_states[0].transaction_state,
        "CompleteCommit"
    );
    assert!(d.transaction_states[0].topics.is_empty());
    let p = producers(&mut s);
    let active = &p.topics[0].partitions[0].active_producers;
    assert_eq!(
        active[0].current_txn_start_offset, -1,
        "nothing open after the commit"
    );
    assert_eq!(
        active[0].coordinator_epoch, 0,
        "the COMMIT marker is in the log"
    );
    assert_eq!(list(&mut s, &["CompleteCommit"], vec![], -1).0.len(), 1);
}
