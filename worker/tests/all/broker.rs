//! `culvert broker --config FILE` as a user runs it: starts (without transparent huge
//! pages unless asked), serves Kafka clients, and shuts down cleanly on SIGTERM; after a
//! SIGKILL no acknowledged record is lost and every transaction is whole or absent.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// Starts `culvert broker` on a free port with its data in `dir/data`; returns the
/// process and its bootstrap address.
pub(crate) fn start_broker(dir: &Path, extra: &str) -> (Child, String) {
    let config = dir.join("broker.toml");
    // A free loopback port unless `extra` names its own listener.
    let listener = if extra
        .lines()
        .any(|l| l.trim_start().starts_with("listeners"))
    {
        ""
    } else {
        "listeners = \"127.0.0.1:0\"\n"
    };
    std::fs::write(
        &config,
        format!(
            "{listener}\"log.dirs\" = {:?}\n{extra}",
            dir.join("data").display().to_string()
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .args(["broker", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("culvert broker starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let bootstrap = line
        .split("bootstrap.servers=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no bootstrap address in {line:?}"))
        .to_string();
    (child, bootstrap)
}

#[test]
fn broker_subcommand_serves_clients_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, bootstrap) = start_broker(dir.path(), "num.partitions = 3\n");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("client");
    let md = consumer
        .fetch_metadata(Some("from-config"), Duration::from_secs(20))
        .expect("metadata");
    assert_eq!(
        md.topics()[0].partitions().len(),
        3,
        "num.partitions from the file"
    );
    drop(consumer);

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exit");
    assert!(status.success(), "clean shutdown on SIGTERM: {status}");
    assert!(dir.path().join("data/from-config-0").is_dir());
}

#[test]
fn a_bad_broker_config_is_refused_with_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("broker.toml");
    std::fs::write(&config, "\"num.partitions\" = \"many\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .args(["broker", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("num.partitions"), "{err}");
}

/// Records which sequence numbers the broker acknowledged, and at which offset.
struct Acks(Arc<Mutex<Vec<(i64, i64)>>>);

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = Box<i64>;
    fn delivery(&self, result: &DeliveryResult<'_>, seq: Box<i64>) {
        if let Ok(msg) = result {
            self.0.lock().expect("lock").push((*seq, msg.offset()));
        }
    }
}

#[test]
fn sigkill_during_acks_all_produce_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut broker, bootstrap) = start_broker(dir.path(), "");
    let acked: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
    let producer: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "5000")
        .create_with_context(Acks(Arc::clone(&acked)))
        .expect("producer");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let writer = std::thread::spawn(move || {
        let mut seq = 0i64;
        while !stop2.load(Ordering::Relaxed) {
            let value = format!("{seq:012}");
            match producer.send(
                BaseRecord::with_opaque_to("crash", Box::new(seq))
                    .key("k")
                    .payload(&value),
            ) {
                Ok(()) => seq += 1,
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        producer.flush(Duration::from_secs(1)).ok();
    });
    // Let it write for a while, then kill the broker mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < 20_000 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    broker.kill().expect("SIGKILL");
    broker.wait().expect("reaped");
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > 1000,
        "only {} records were acknowledged before the kill",
        acked.len()
    );

    let (mut broker, bootstrap) = start_broker(dir.path(), "");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "crash-check")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let (_, end) = consumer
        .fetch_watermarks("crash", 0, Duration::from_secs(20))
        .expect("watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("crash", 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut stored: Vec<String> = Vec::new();
    let read_deadline = std::time::Instant::now() + Duration::from_secs(60);
    while (stored.len() as i64) < end {
        assert!(
            std::time::Instant::now() < read_deadline,
            "read {} of {end}",
            stored.len()
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            assert_eq!(m.offset(), stored.len() as i64, "offsets are dense");
            stored.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    for (seq, offset) in &acked {
        let at = stored
            .get(*offset as usize)
            .unwrap_or_else(|| panic!("acknowledged offset {offset} is missing"));
        assert_eq!(
            at,
            &format!("{seq:012}"),
            "offset {offset} holds the acknowledged record"
        );
    }
    assert!(
        stored.windows(2).all(|w| w[0] < w[1]),
        "records are in order without duplicates"
    );

    // The log accepts new writes after recovery.
    let producer: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .create_with_context(Acks(Arc::default()))
        .expect("producer");
    producer
        .send(
            BaseRecord::with_opaque_to("crash", Box::new(0))
                .key("k")
                .payload("after"),
        )
        .expect("send");
    producer
        .flush(Duration::from_secs(20))
        .expect("acknowledged");
    let (_, new_end) = consumer
        .fetch_watermarks("crash", 0, Duration::from_secs(20))
        .expect("watermarks");
    assert_eq!(new_end, end + 1);
    broker.kill().expect("stop");
    broker.wait().expect("reaped");
}

#[test]
fn the_example_broker_config_is_valid_and_fully_understood() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/broker.toml");
    let props = culvert::config::load_properties(Some(&path)).expect("loads");
    let (config, unknown) =
        culvert_log_engine::BrokerConfig::from_properties(&props).expect("valid");
    assert!(unknown.is_empty(), "unknown keys: {unknown:?}");
    assert_eq!(config.listener.port(), 9092);
}

/// Values `t<txn>-<i>` of transaction `txn`, `per_txn` of them.
fn txn_values(txn: usize, per_txn: usize) -> Vec<String> {
    (0..per_txn).map(|i| format!("t{txn:05}-{i:03}")).collect()
}

#[test]
fn sigkill_during_transactions_leaves_each_one_whole_or_absent() {
    use rdkafka::producer::BaseProducer;
    const PER_TXN: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut broker, bootstrap) = start_broker(dir.path(), "");
    let client = |bootstrap: &str| {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", bootstrap)
            .set("transactional.id", "crash-tx")
            .set("transaction.timeout.ms", "10000")
            .set("socket.timeout.ms", "5000")
            .set("linger.ms", "1");
        c
    };
    let committed: Arc<Mutex<Vec<usize>>> = Arc::default();
    let committed2 = Arc::clone(&committed);
    let bootstrap2 = bootstrap.clone();
    let writer = std::thread::spawn(move || {
        let producer: BaseProducer = client(&bootstrap2).create().expect("producer");
        producer
            .init_transactions(Duration::from_secs(20))
            .expect("init");
        for txn in 0.. {
            if producer.begin_transaction().is_err() {
                return;
            }
            for v in txn_values(txn, PER_TXN) {
                if producer
                    .send(BaseRecord::<(), _>::to("crash-tx").partition(0).payload(&v))
                    .is_err()
                {
                    return;
                }
            }
            match producer.commit_transaction(Duration::from_secs(5)) {
                Ok(()) => committed2.lock().expect("lock").push(txn),
                Err(_) => return,
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while committed.lock().expect("lock").len() < 30 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    broker.kill().expect("SIGKILL");
    broker.wait().expect("reaped");
    writer.join().expect("writer");
    let committed = committed.lock().expect("lock").clone();
    assert!(
        committed.len() >= 30,
        "only {} transactions committed",
        committed.len()
    );

    let (mut broker, bootstrap) = start_broker(dir.path(), "");
    // The producer returns: whatever its last transaction left is finished or aborted.
    let producer: BaseProducer = client(&bootstrap).create().expect("producer");
    producer
        .init_transactions(Duration::from_secs(20))
        .expect("init after the restart");
    producer.begin_transaction().expect("begin");
    producer
        .send(
            BaseRecord::<(), _>::to("crash-tx")
                .partition(0)
                .payload("after"),
        )
        .map_err(|(e, _)| e)
        .expect("send");
    producer
        .commit_transaction(Duration::from_secs(20))
        .expect("commit after the restart");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "crash-tx-check")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("crash-tx", 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut seen: Vec<String> = Vec::new();
    let read_deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.last().map(String::as_str) != Some("after") {
        assert!(
            std::time::Instant::now() < read_deadline,
            "read {} records, never the one written after the restart",
            seen.len()
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            seen.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    seen.pop();
    // Whole transactions only, in order, each at most once; every acknowledged commit is in.
    let mut txns: Vec<usize> = Vec::new();
    for chunk in seen.chunks(PER_TXN) {
        let txn: usize = chunk[0][1..6].parse().expect("a transaction value");
        assert_eq!(
            chunk,
            txn_values(txn, PER_TXN).as_slice(),
            "transaction {txn} is whole"
        );
        txns.push(txn);
    }
    assert!(
        txns.windows(2).all(|w| w[0] < w[1]),
        "in order, no repeats: {txns:?}"
    );
    for txn in &committed {
        assert!(txns.contains(txn), "committed transaction {txn} is missing");
    }
    // Beyond those, only the one in flight at the kill may have committed.
    let in_flight = committed.iter().max().map_or(0, |t| t + 1);
    for txn in &txns {
        assert!(
            committed.contains(txn) || *txn == in_flight,
            "transaction {txn} was never committed"
        );
    }
    broker.kill().expect("stop");
    broker.wait().expect("reaped");
}

/// Whether the kernel may back `pid`'s memory with transparent huge pages (the
/// `THP_enabled` line of `/proc/PID/status`, 0 after `prctl(PR_SET_THP_DISABLE)`).
fn thp_enabled(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .expect("a kernel that reports THP_enabled in /proc/PID/status (Linux 5.0+)");
    line.trim() == "1"
}

#[test]
fn the_binary_keeps_to_small_pages_unless_mimalloc_is_allowed_huge_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _) = start_broker(dir.path(), "");
    assert!(
        !thp_enabled(child.id()),
        "mimalloc's MADV_HUGEPAGE arena would add tens of MB of barely used 2 MB pages"
    );
    child.kill().expect("stop");
    child.wait().expect("reaped");

    let config = dir.path().join("broker.toml");
    let mut allowed = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .args(["broker", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .env("MIMALLOC_ALLOW_THP", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("culvert broker starts");
    let mut line = String::new();
    BufReader::new(allowed.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    assert!(line.contains("bootstrap.servers="), "started: {line:?}");
    assert!(
        thp_enabled(allowed.id()),
        "MIMALLOC_ALLOW_THP=1 keeps huge pages"
    );
    allowed.kill().expect("stop");
    allowed.wait().expect("reaped");
}
