//! A compacted topic driven by librdkafka: after the cleaner runs, a consumer reading from
//! offset 0 sees exactly the latest value of every key, at its original offset.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::support::TestBroker;

const KEYS: usize = 50;
const ROUNDS: usize = 20;

fn read_all(broker: &TestBroker, topic: &str) -> Vec<(i64, String, String)> {
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "reader")
        .create()
        .expect("consumer");
    let (_, end) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out
        .last()
        .is_none_or(|(o, _, _): &(i64, String, String)| *o + 1 < end)
        && Instant::now() < deadline
    {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            let value = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
            out.push((m.offset(), key, value));
        }
    }
    out
}

#[test]
fn consumers_from_zero_see_the_latest_value_of_every_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start_with(dir.path(), |c| {
        c.cleaner_interval = Duration::from_millis(100)
    });
    let admin: AdminClient<DefaultClientContext> = broker.client().create().expect("admin");
    let topic = NewTopic::new("table", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "compact")
        .set("segment.bytes", "4096")
        .set("segment.ms", "200")
        .set("min.cleanable.dirty.ratio", "0.01");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(admin.create_topics(&[topic], &AdminOptions::new()))
        .expect("create");
    let producer: ThreadedProducer<DefaultProducerContext> = broker
        .client()
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    for round in 0..ROUNDS {
        for k in 0..KEYS {
            let (key, value) = (format!("key{k:02}"), format!("round{round}"));
            producer
                .send(BaseRecord::to("table").key(&key).payload(&value))
                .expect("send");
        }
        producer.flush(Duration::from_secs(10)).expect("flush");
    }
    // Let segment.ms pass, then one more write rolls the last updates into a sealed segment.
    std::thread::sleep(Duration::from_millis(300));
    producer
        .send(BaseRecord::to("table").key("marker").payload("m"))
        .expect("send");
    producer.flush(Duration::from_secs(10)).expect("flush");

    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records = read_all(&broker, "table");
        if records.len() == KEYS + 1 || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        records.len(),
        KEYS + 1,
        "one record per key plus the marker"
    );
    for (i, (offset, key, value)) in records.iter().take(KEYS).enumerate() {
        assert_eq!(key, &format!("key{i:02}"));
        assert_eq!(
            value,
            &format!("round{}", ROUNDS - 1),
            "{key} has its latest value"
        );
        assert_eq!(
            *offset,
            ((ROUNDS - 1) * KEYS + i) as i64,
            "{key} keeps its original offset"
        );
    }
    assert_eq!(records[KEYS].1, "marker");
}

#[test]
fn keyless_records_are_refused_on_compacted_topics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let admin: AdminClient<DefaultClientContext> = broker.client().create().expect("admin");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(
            admin.create_topics(
                &[NewTopic::new("keyed", 1, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "compact")],
                &AdminOptions::new(),
            ),
        )
        .expect("create");
    let producer: ThreadedProducer<DefaultProducerContext> = broker
        .client()
        .set("message.timeout.ms", "5000")
        .create()
        .expect("producer");
    producer
        .send(BaseRecord::<(), str>::to("keyed").payload("no key"))
        .expect("queued");
    producer.flush(Duration::from_secs(10)).expect("flushed");
    let consumer: BaseConsumer = broker.client().create().expect("consumer");
    assert_eq!(
        consumer
            .fetch_watermarks("keyed", 0, Duration::from_secs(10))
            .expect("wm"),
        (0, 0)
    );
}
