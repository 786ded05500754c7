//! Producing with every codec and consuming it back with librdkafka; restart survival;
//! watermarks and offsets for times.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

use crate::support::{TestBroker, stored_codec};

const TIMEOUT: Duration = Duration::from_secs(30);

fn produce(broker: &TestBroker, topic: &str, codec: &str, acks: &str, n: usize, ts_base: i64) {
    produce_with(broker, topic, codec, acks, false, n, ts_base);
}

fn produce_with(
    broker: &TestBroker,
    topic: &str,
    codec: &str,
    acks: &str,
    idempotent: bool,
    n: usize,
    ts_base: i64,
) {
    let producer: ThreadedProducer<DefaultProducerContext> = broker
        .client()
        .set("compression.codec", codec)
        .set("acks", acks)
        .set(
            "enable.idempotence",
            if idempotent { "true" } else { "false" },
        )
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for i in 0..n {
        let key = format!("key-{i}");
        let value = format!("value-{i}-{}", "x".repeat(i % 50));
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "i",
                value: Some(i.to_string().as_bytes()),
            })
            .insert(Header {
                key: "dup",
                value: Some("a"),
            })
            .insert(Header {
                key: "dup",
                value: None::<&[u8]>,
            });
        let mut record = BaseRecord::to(topic)
            .key(key.as_bytes())
            .payload(value.as_bytes())
            .headers(headers)
            .timestamp(ts_base + i as i64);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r)) => {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "send failed: {e}"
                    );
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(TIMEOUT).expect("every record acknowledged");
}

/// Reads `n` records of partition 0 from the beginning and checks them.
fn consume_and_check(broker: &TestBroker, topic: &str, n: usize) {
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "unused-assign-only")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut next = 0usize;
    while next < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {next} of {n} records arrived"
        );
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg.expect("no consumer error");
        assert_eq!(msg.offset(), next as i64);
        assert_eq!(msg.key(), Some(format!("key-{next}").as_bytes()));
        assert_eq!(
            msg.payload(),
            Some(format!("value-{next}-{}", "x".repeat(next % 50)).as_bytes())
        );
        let headers = msg.headers().expect("headers");
        let got: Vec<(String, Option<Vec<u8>>)> = headers
            .iter()
            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
            .collect();
        assert_eq!(
            got,
            [
                ("i".to_string(), Some(next.to_string().into_bytes())),
                ("dup".to_string(), Some(b"a".to_vec())),
                ("dup".to_string(), None),
            ]
        );
        next += 1;
    }
}

#[test]
fn every_codec_round_trips_records_keys_and_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    for (codec, id) in [
        ("none", 0),
        ("gzip", 1),
        ("snappy", 2),
        ("lz4", 3),
        ("zstd", 4),
    ] {
        let topic = format!("codec-{codec}");
        produce(&broker, &topic, codec, "all", 2000, 1_700_000_000_000);
        assert_eq!(
            stored_codec(dir.path(), &topic),
            id,
            "{codec} must arrive as {codec}"
        );
        consume_and_check(&broker, &topic, 2000);
    }
}

#[test]
fn acks_one_and_zero_records_become_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    produce(&broker, "acks-one", "none", "1", 500, 0);
    consume_and_check(&broker, "acks-one", 500);
    produce(&broker, "acks-zero", "lz4", "0", 500, 0);
    consume_and_check(&broker, "acks-zero", 500);
}

#[test]
fn records_survive_a_restart_and_offsets_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    produce(&broker, "durable", "gzip", "all", 300, 0);
    broker.stop();
    let broker = TestBroker::start(dir.path());
    consume_and_check(&broker, "durable", 300);
    let consumer: BaseConsumer = broker.client().create().expect("consumer");
    let (low, high) = consumer
        .fetch_watermarks("durable", 0, TIMEOUT)
        .expect("watermarks");
    assert_eq!((low, high), (0, 300));
}

#[test]
fn watermarks_and_offsets_for_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    produce(&broker, "times", "snappy", "all", 1000, 1_000_000);
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "times")
        .create()
        .expect("consumer");
    assert_eq!(
        consumer
            .fetch_watermarks("times", 0, TIMEOUT)
            .expect("watermarks"),
        (0, 1000)
    );
    let mut query = TopicPartitionList::new();
    query
        .add_partition_offset("times", 0, Offset::Offset(1_000_000 + 737))
        .expect("tpl");
    let found = consumer
        .offsets_for_times(query, TIMEOUT)
        .expect("offsets for times");
    let elem = found.find_partition("times", 0).expect("partition");
    assert_eq!(elem.offset(), Offset::Offset(737));
    let mut late = TopicPartitionList::new();
    late.add_partition_offset("times", 0, Offset::Offset(9_000_000))
        .expect("tpl");
    let found = consumer
        .offsets_for_times(late, TIMEOUT)
        .expect("offsets for times");
    assert_eq!(
        found
            .find_partition("times", 0)
            .expect("partition")
            .offset(),
        Offset::End
    );
}
