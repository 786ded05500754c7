//! Transactions with librdkafka's transactional producer: read_committed consumers see
//! only committed records and wait at open transactions; a second producer with the same
//! transactional id fences the first; timed-out transactions are aborted by the broker;
//! offsets sent to a transaction count only once it commits, also after a restart.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::support::TestBroker;

const TIMEOUT: Duration = Duration::from_secs(30);

fn txn_producer(broker: &TestBroker, id: &str, timeout_ms: u32) -> BaseProducer {
    let producer: BaseProducer = broker
        .client()
        .set("transactional.id", id)
        .set("transaction.timeout.ms", timeout_ms.to_string())
        // librdkafka requires socket.timeout.ms <= transaction.timeout.ms + 100.
        .set("socket.timeout.ms", timeout_ms.min(10_000).to_string())
        .set("linger.ms", "0")
        .create()
        .expect("transactional producer");
    producer
        .init_transactions(TIMEOUT)
        .expect("init_transactions");
    producer
}

fn plain_producer(broker: &TestBroker) -> BaseProducer {
    broker.client().create().expect("producer")
}

/// Sends `values` to partition 0 of `topic` and waits until every one is acknowledged.
fn send(producer: &BaseProducer, topic: &str, values: &[&str]) {
    for v in values {
        producer
            .send(BaseRecord::<(), _>::to(topic).partition(0).payload(*v))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(TIMEOUT).expect("flush");
}

/// Values read from partition 0 of `topic` from the beginning: everything that arrives
/// until `want` values are in and nothing more comes for a second (or 30 s pass).
fn read(broker: &TestBroker, topic: &str, isolation: &str, want: usize) -> Vec<String> {
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "txn-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + TIMEOUT;
    let mut quiet_since = Instant::now();
    let mut out = Vec::new();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(msg) => {
                let msg = msg.expect("no consumer error");
                out.push(String::from_utf8_lossy(msg.payload().unwrap_or_default()).into_owned());
                quiet_since = Instant::now();
            }
            None if out.len() >= want && quiet_since.elapsed() > Duration::from_secs(1) => break,
            None => {}
        }
    }
    out
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

#[test]
fn concurrent_producers_commit_and_abort_side_by_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let (producers, transactions) = (4, 15);
    std::thread::scope(|s| {
        for i in 0..producers {
            let broker = &broker;
            s.spawn(move || {
                let p = txn_producer(broker, &format!("tx-many-{i}"), 60_000);
                for t in 0..transactions {
                    p.begin_transaction().expect("begin");
                    let value = format!("p{i}-t{t}");
                    send(&p, "tx-many", &[&value]);
                    if t % 3 == 2 {
                        p.abort_transaction(TIMEOUT).expect("abort");
                    } else {
                        p.commit_transaction(TIMEOUT).expect("commit");
                    }
                }
            });
        }
    });
    let mut committed: Vec<String> = (0..producers)
        .flat_map(|i| {
            (0..transactions)
                .filter(|t| t % 3 != 2)
                .map(move |t| format!("p{i}-t{t}"))
        })
        .collect();
    committed.sort();
    let mut seen = read(&broker, "tx-many", "read_committed", committed.len());
    seen.sort();
    assert_eq!(seen, committed, "exactly the committed transactions");
    let all = read(
        &broker,
        "tx-many",
        "read_uncommitted",
        producers * transactions,
    );
    assert_eq!(all.len(), producers * transactions);
}

#[test]
fn read_committed_consumers_see_committed_transactions_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let p = txn_producer(&broker, "tx-basic", 60_000);
    p.begin_transaction().expect("begin");
    send(&p, "tx-basic", &["a0", "a1", "a2"]);
    p.commit_transaction(TIMEOUT).expect("commit");
    p.begin_transaction().expect("begin");
    send(&p, "tx-basic", &["b0", "b1"]);
    p.abort_transaction(TIMEOUT).expect("abort");
    send(&plain_producer(&broker), "tx-basic", &["plain"]);
    p.begin_transaction().expect("begin");
    send(&p, "tx-basic", &["c0"]);
    p.commit_transaction(TIMEOUT).expect("commit");

    assert_eq!(
        read(&broker, "tx-basic", "read_committed", 5),
        strings(&["a0", "a1", "a2", "plain", "c0"])
    );
    assert_eq!(
        read(&broker, "tx-basic", "read_uncommitted", 7),
        strings(&["a0", "a1", "a2", "b0", "b1", "plain", "c0"]),
        "aborted records are there for read_uncommitted; markers are never delivered"
    );
}

#[test]
fn an_open_transaction_holds_back_read_committed_readers_until_it_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    send(&plain_producer(&broker), "tx-open", &["before"]);
    let p = txn_producer(&broker, "tx-open", 60_000);
    p.begin_transaction().expect("begin");
    send(&p, "tx-open", &["t0"]);
    send(&plain_producer(&broker), "tx-open", &["after"]);
    assert_eq!(
        read(&broker, "tx-open", "read_committed", 1),
        strings(&["before"]),
        "nothing past the open transaction's first record"
    );
    assert_eq!(
        read(&broker, "tx-open", "read_uncommitted", 3),
        strings(&["before", "t0", "after"])
    );
    p.commit_transaction(TIMEOUT).expect("commit");
    assert_eq!(
        read(&broker, "tx-open", "read_committed", 3),
        strings(&["before", "t0", "after"])
    );
}

fn is_fenced(e: &KafkaError) -> bool {
    let text = e.to_string();
    text.contains("fenced") || text.contains("Fenced") || text.contains("epoch")
}

#[test]
fn a_new_producer_with_the_same_id_fences_the_old_one_and_aborts_its_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let old = txn_producer(&broker, "tx-fence", 60_000);
    old.begin_transaction().expect("begin");
    send(&old, "tx-fence", &["zombie"]);
    let new = txn_producer(&broker, "tx-fence", 60_000);
    let err = old
        .commit_transaction(TIMEOUT)
        .expect_err("the old producer is fenced");
    assert!(is_fenced(&err), "{err}");
    new.begin_transaction().expect("begin");
    send(&new, "tx-fence", &["fresh"]);
    new.commit_transaction(TIMEOUT).expect("commit");
    assert_eq!(
        read(&broker, "tx-fence", "read_committed", 1),
        strings(&["fresh"])
    );
}

#[test]
fn a_transaction_past_its_timeout_is_aborted_by_the_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let p = txn_producer(&broker, "tx-timeout", 2_000);
    p.begin_transaction().expect("begin");
    send(&p, "tx-timeout", &["late"]);
    send(&plain_producer(&broker), "tx-timeout", &["plain"]);
    // The broker aborts on its own: the plain record becomes readable without any EndTxn.
    assert_eq!(
        read(&broker, "tx-timeout", "read_committed", 1),
        strings(&["plain"])
    );
    let err = p
        .commit_transaction(TIMEOUT)
        .expect_err("the transaction is gone");
    assert!(is_fenced(&err), "{err}");
}

fn committed(broker: &TestBroker, group: &str, topic: &str) -> Offset {
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = consumer.committed_offsets(tpl, TIMEOUT).expect("committed");
    got.find_partition(topic, 0)
        .map_or(Offset::Invalid, |e| e.offset())
}

#[test]
fn offsets_sent_to_a_transaction_count_once_it_commits_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    send(&plain_producer(&broker), "tx-in", &["x"; 10]);
    let group: BaseConsumer = broker
        .client()
        .set("group.id", "tx-group")
        .create()
        .expect("consumer");
    let metadata = group.group_metadata().expect("group metadata");
    let offsets = |at: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("tx-in", 0, Offset::Offset(at))
            .expect("tpl");
        tpl
    };
    let p = txn_producer(&broker, "tx-offsets", 60_000);
    p.begin_transaction().expect("begin");
    send(&p, "tx-out", &["derived"]);
    p.send_offsets_to_transaction(&offsets(5), &metadata, TIMEOUT)
        .expect("send offsets");
    p.abort_transaction(TIMEOUT).expect("abort");
    assert_eq!(committed(&broker, "tx-group", "tx-in"), Offset::Invalid);

    p.begin_transaction().expect("begin");
    send(&p, "tx-out", &["derived"]);
    p.send_offsets_to_transaction(&offsets(7), &metadata, TIMEOUT)
        .expect("send offsets");
    p.commit_transaction(TIMEOUT).expect("commit");
    assert_eq!(committed(&broker, "tx-group", "tx-in"), Offset::Offset(7));
    drop((p, group));

    broker.stop();
    let broker = TestBroker::start(dir.path());
    assert_eq!(
        committed(&broker, "tx-group", "tx-in"),
        Offset::Offset(7),
        "the committed offset is replayed from its transactional batch and marker"
    );
}

#[test]
fn an_open_transaction_survives_a_restart_until_its_producer_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let p = txn_producer(&broker, "tx-restart", 60_000);
    p.begin_transaction().expect("begin");
    send(&p, "tx-restart", &["pending"]);
    drop(p);
    broker.stop();

    let broker = TestBroker::start(dir.path());
    send(&plain_producer(&broker), "tx-restart", &["plain"]);
    assert_eq!(
        read(&broker, "tx-restart", "read_committed", 0),
        Vec::<String>::new(),
        "the reopened partition still holds the transaction open"
    );
    // The producer comes back: its new InitProducerId aborts what it left.
    let _p = txn_producer(&broker, "tx-restart", 60_000);
    assert_eq!(
        read(&broker, "tx-restart", "read_committed", 1),
        strings(&["plain"])
    );
}
