//! Consumer groups with librdkafka: members join and leave, partitions move, commits
//! survive a broker restart, and the group shows up in ListGroups/DescribeGroups.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::support::TestBroker;

const TIMEOUT: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 6;

type Seen = Arc<Mutex<Vec<(i32, i64)>>>;

struct Member {
    stop: Arc<AtomicBool>,
    assigned: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    /// A `StreamConsumer` in group `group`, driven by its own runtime thread: it records
    /// every record it receives and commits it synchronously.
    fn spawn(broker: &TestBroker, group: &str, topic: &str, seen: Seen) -> Self {
        let mut config = broker.client();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "200");
        let topic = topic.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let assigned = Arc::new(AtomicUsize::new(0));
        let (stop2, assigned2) = (Arc::clone(&stop), Arc::clone(&assigned));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                let consumer: StreamConsumer = config.create().expect("consumer");
                consumer.subscribe(&[&topic]).expect("subscribe");
                while !stop2.load(Ordering::Relaxed) {
                    if let Ok(Ok(msg)) =
                        tokio::time::timeout(Duration::from_millis(50), consumer.recv()).await
                    {
                        seen.lock()
                            .expect("lock")
                            .push((msg.partition(), msg.offset()));
                        consumer
                            .commit_message(&msg, CommitMode::Sync)
                            .expect("commit");
                    }
                    let count = consumer.assignment().map(|a| a.count()).unwrap_or(0);
                    assigned2.store(count, Ordering::Relaxed);
                }
                // Dropping the consumer closes it: it leaves the group.
            });
        });
        Self {
            stop,
            assigned,
            thread: Some(thread),
        }
    }

    fn assigned(&self) -> usize {
        self.assigned.load(Ordering::Relaxed)
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("member thread");
        }
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn produce(broker: &TestBroker, topic: &str, n: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> = broker
        .client()
        .set("acks", "all")
        .create()
        .expect("producer");
    for i in 0..n {
        let key = format!("k{i}");
        producer
            .send(
                BaseRecord::to(topic)
                    .key(key.as_bytes())
                    .payload("v")
                    .partition((i % PARTITIONS as usize) as i32),
            )
            .expect("send");
    }
    producer.flush(TIMEOUT).expect("flush");
}

fn committed_total(broker: &TestBroker, group: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let committed = consumer
        .committed_offsets(tpl, TIMEOUT)
        .expect("OffsetFetch");
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum()
}

#[test]
fn a_group_of_three_rebalances_as_members_come_and_go_and_commits_survive_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let admin: AdminClient<DefaultClientContext> = broker.client().create().expect("admin");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(
                "orders",
                PARTITIONS,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new(),
        ))
        .expect("create");
    produce(&broker, "orders", 600);

    let seen: Seen = Arc::default();
    let a = Member::spawn(&broker, "g1", "orders", Arc::clone(&seen));
    wait_until("A to own all 6 partitions", || a.assigned() == 6);
    let b = Member::spawn(&broker, "g1", "orders", Arc::clone(&seen));
    let c = Member::spawn(&broker, "g1", "orders", Arc::clone(&seen));
    wait_until("an even 2/2/2 split", || {
        a.assigned() == 2 && b.assigned() == 2 && c.assigned() == 2
    });
    wait_until("all 600 records consumed", || {
        seen.lock()
            .expect("lock")
            .iter()
            .collect::<HashSet<_>>()
            .len()
            == 600
    });

    let groups = {
        let probe: BaseConsumer = broker.client().create().expect("probe");
        probe
            .fetch_group_list(Some("g1"), TIMEOUT)
            .expect("ListGroups + DescribeGroups")
    };
    let g1 = &groups.groups()[0];
    assert_eq!(
        (g1.name(), g1.state(), g1.protocol_type()),
        ("g1", "Stable", "consumer")
    );
    assert_eq!(g1.members().len(), 3);

    c.stop();
    wait_until("A and B to take over C's partitions", || {
        a.assigned() == 3 && b.assigned() == 3
    });
    a.stop();
    b.stop();
    assert_eq!(
        committed_total(&broker, "g1", "orders"),
        600,
        "every partition committed to its end"
    );

    broker.stop();
    let broker = TestBroker::start(dir.path());
    assert_eq!(
        committed_total(&broker, "g1", "orders"),
        600,
        "commits survive a restart"
    );
    // A new member resumes after the commits: nothing is consumed again.
    let seen_after: Seen = Arc::default();
    let d = Member::spawn(&broker, "g1", "orders", Arc::clone(&seen_after));
    wait_until("D to own all partitions", || d.assigned() == 6);
    std::thread::sleep(Duration::from_millis(500));
    d.stop();
    assert!(
        seen_after.lock().expect("lock").is_empty(),
        "no record is delivered twice"
    );
}
