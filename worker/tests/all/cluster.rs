//! Distributed mode as an operator runs it: `culvert broker` as its own process and several
//! `culvert worker` processes on loopback forming one Connect group. Work spreads evenly;
//! a worker killed with SIGKILL has its tasks RUNNING elsewhere within seconds (the time is
//! printed); a new worker takes a fair share without disturbing tasks that stay; a frozen
//! worker (SIGSTOP) writes nothing for the tasks that moved while it was frozen; a rolling
//! restart loses no record; REST requests are forwarded to the leader or a task's owner,
//! and answered 409 — never 500, never a hang — while the group rebalances.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use culvert::cluster::connection::BrokerConnection;
use culvert::cluster::transport::Transport;
use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use reqwest::Method;
use serde_json::{Value, json};

use crate::broker::start_broker;
use crate::pipeline::{eventually, plugin_dir};
use crate::standalone::{Worker, call};

/// A broker process and the workers started against it.
pub(crate) struct Cluster {
    /// Started workers (`None` once killed), with their REST base URLs. Dropped (killed)
    /// before the broker.
    workers: Vec<Option<(Worker, String)>>,
    _broker: Worker,
    bootstrap: String,
    config: String,
    dir: tempfile::TempDir,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The nisshi binary scripts/nisshi builds (or `CULVERT_NISSHI`).
pub(crate) fn nisshi() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("CULVERT_NISSHI") {
        return path.into();
    }
    let cache = std::env::var("CULVERT_BENCH_CACHE").map_or_else(
        |_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/culvert-bench")
        },
        std::path::PathBuf::from,
    );
    let path = cache.join("bin/nisshi");
    assert!(
        path.exists(),
        "nisshi is not installed at {}: run scripts/nisshi (or scripts/deps)",
        path.display()
    );
    path
}

/// Starts nisshi on a free port with `storage` (e.g. `memory://nisshi/`) and `args`;
/// returns it and its address (`127.0.0.1:port`). It runs in `dir` (relative `sqlite://`
/// paths are there) and logs to `dir/nisshi.log`.
pub(crate) fn start_nisshi(dir: &Path, storage: &str, args: &[&str]) -> (Worker, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("nisshi.log"))
        .expect("log file");
    let child = Command::new(nisshi())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args([
            "--storage-engine",
            storage,
            "--group-initial-rebalance-delay",
            "0s",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nisshi starts");
    let child = crate::standalone::guard(child);
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return (child, addr);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nisshi did not listen on {addr}");
}

/// Which broker holds the cluster's topics and coordinates its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broker {
    Culvert,
    Nisshi,
}

impl Cluster {
    /// Culvert's broker and `n` workers; `extra` adds worker settings (TOML).
    fn start(n: usize, extra: &str) -> Self {
        Self::start_on(Broker::Culvert, n, extra)
    }

    fn start_on(kind: Broker, n: usize, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (broker, bootstrap) = match kind {
            Broker::Culvert => {
                let (child, bootstrap) = start_broker(dir.path(), "num.partitions = 1\n");
                (crate::standalone::guard(child), bootstrap)
            }
            Broker::Nisshi => start_nisshi(dir.path(), "memory://nisshi/", &[]),
        };
        Self::with_broker(dir, broker, bootstrap, n, extra)
    }

    /// `n` workers against a running broker (its process in `broker`, reached at
    /// `bootstrap`); `extra` adds worker settings (TOML).
    pub(crate) fn with_broker(
        dir: tempfile::TempDir,
        broker: Worker,
        bootstrap: String,
        n: usize,
        extra: &str,
    ) -> Self {
        let plugins = plugin_dir(dir.path());
        let config = format!(
            "\"bootstrap.servers\" = \"{bootstrap}\"\n\
             \"group.id\" = \"it\"\n\
             \"config.storage.topic\" = \"it-configs\"\n\
             \"offset.storage.topic\" = \"it-offsets\"\n\
             \"status.storage.topic\" = \"it-status\"\n\
             \"config.storage.replication.factor\" = 1\n\
             \"offset.storage.replication.factor\" = 1\n\
             \"status.storage.replication.factor\" = 1\n\
             \"offset.flush.interval.ms\" = 1000\n\
             \"plugin.path\" = \"{}\"\n\
             listeners = \"http://127.0.0.1:0\"\n{extra}",
            plugins.display()
        );
        let mut cluster = Self {
            dir,
            _broker: broker,
            bootstrap,
            workers: Vec::new(),
            config,
        };
        for _ in 0..n {
            cluster.add();
        }
        cluster
    }

    /// Starts one more worker; returns its index.
    fn add(&mut self) -> usize {
        self.add_with("")
    }

    /// Starts one more worker with `extra` settings (TOML) added; returns its index.
    pub(crate) fn add_with(&mut self, extra: &str) -> usize {
        let i = self.workers.len();
        let config = self.dir.path().join(format!("worker-{i}.toml"));
        std::fs::write(&config, format!("{}{extra}", self.config)).expect("write config");
        let (worker, url) = spawn_worker(&config, &self.dir.path().join("data"));
        self.workers.push(Some((worker, url)));
        i
    }

    /// Restarts worker `i` (after it exited) with its config.
    fn restart(&mut self, i: usize) {
        let config = self.dir.path().join(format!("worker-{i}.toml"));
        let (worker, url) = spawn_worker(&config, &self.dir.path().join("data"));
        self.workers[i] = Some((worker, url));
    }

    pub(crate) fn url(&self, i: usize) -> &str {
        &self.workers[i].as_ref().expect("a running worker").1
    }

    /// The worker id (`host:port`) of worker `i`.
    pub(crate) fn id(&self, i: usize) -> String {
        self.url(i).trim_start_matches("http://").to_string()
    }

    fn pid(&self, i: usize) -> i32 {
        self.workers[i].as_ref().expect("a running worker").0.id() as i32
    }

    fn signal(&self, i: usize, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid(i).to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} worker {i}");
    }

    /// SIGKILL; returns the dead worker's id.
    pub(crate) fn kill(&mut self, i: usize) -> String {
        let id = self.id(i);
        let (mut worker, _) = self.workers[i].take().expect("a running worker");
        worker.kill().expect("kill -9");
        worker.wait().expect("reaped");
        id
    }

    /// SIGTERM, and waits for a clean exit.
    fn stop(&mut self, i: usize) {
        self.signal(i, "TERM");
        let (mut worker, _) = self.workers[i].take().expect("a running worker");
        let status = worker.wait().expect("exits");
        assert!(
            status.success(),
            "worker {i} exits cleanly on SIGTERM: {status}"
        );
    }

    /// Creates a datagen connector through worker `via`.
    pub(crate) async fn datagen(&self, via: usize, name: &str, tasks: u32, extra: Value) {
        let mut config = json!({
            "connector.class": "datagen", "kafka.topic": name,
            "tasks.max": tasks.to_string(), "max.interval": "20",
        });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let body = json!({"name": name, "config": config});
        let status = retry_409(
            Method::POST,
            &format!("{}/connectors", self.url(via)),
            &body,
        )
        .await;
        assert_eq!(status, 201, "creating {name} through worker {via}");
    }
}

/// Starts `culvert worker`; returns it and its REST base URL (from its first line).
pub(crate) fn spawn_worker(config: &Path, data: &Path) -> (Worker, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .arg("worker")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        // TEST_WORKER_LOG sets the workers' log filter when debugging a test.
        .env(
            "RUST_LOG",
            std::env::var("TEST_WORKER_LOG")
                .unwrap_or_else(|_| "warn,culvert::cluster=info".into()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("culvert worker starts");
    let (_, url) = crate::standalone::banner(&mut child);
    (crate::standalone::guard(child), url)
}

/// Sends a request, retrying while the answer is 409 (as Connect's clients do).
pub(crate) async fn retry_409(method: Method, url: &str, body: &Value) -> u16 {
    for _ in 0..100 {
        let status = reqwest::Client::new()
            .request(method.clone(), url)
            .json(body)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16();
        if status != 409 {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{method} {url} kept answering 409");
}

/// The worker's `culvert_worker_rebalance_completed_rebalances_total`, after checking its
/// whole `/metrics` exposition with promtool.
async fn completed_rebalances(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    crate::pipeline::promtool_accepts(&text);
    text.lines()
        .find_map(|l| l.strip_prefix("culvert_worker_rebalance_completed_rebalances_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rebalance counter in {text}"))
}

/// Connector and task placements: `(connector, task)` → `(state, worker_id)`, with task
/// -1 for the connector itself.
pub(crate) async fn placements(base: &str) -> BTreeMap<(String, i64), (String, String)> {
    let (status, body) = call(Method::GET, &format!("{base}/connectors?expand=status")).await;
    assert_eq!(status, 200, "{body}");
    let mut out = BTreeMap::new();
    for (name, entry) in body.as_object().into_iter().flatten() {
        let s = &entry["status"];
        let place = |v: &Value| {
            (
                v["state"].as_str().unwrap_or_default().to_string(),
                v["worker_id"].as_str().unwrap_or_default().to_string(),
            )
        };
        out.insert((name.clone(), -1), place(&s["connector"]));
        for t in s["tasks"].as_array().into_iter().flatten() {
            out.insert((name.clone(), t["id"].as_i64().unwrap_or(-2)), place(t));
        }
    }
    out
}

/// Waits until `want` items are RUNNING, none on `not_on`; returns the placements.
pub(crate) async fn settled(
    base: &str,
    want: usize,
    not_on: &[String],
) -> BTreeMap<(String, i64), (String, String)> {
    let mut last = BTreeMap::new();
    eventually("every connector and task RUNNING", async || {
        last = placements(base).await;
        last.len() == want
            && last
                .values()
                .all(|(state, worker)| state == "RUNNING" && !not_on.contains(worker))
    })
    .await;
    last
}

/// Counts (connectors, tasks) per worker id.
pub(crate) fn load(
    placed: &BTreeMap<(String, i64), (String, String)>,
) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for ((_, task), (_, worker)) in placed {
        let entry = out.entry(worker.clone()).or_default();
        if *task == -1 {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    out
}

/// The status topic, record by record: (partition, offset, key, value).
fn status_records(bootstrap: &str) -> Vec<(i32, i64, String, Value)> {
    crate::standalone::kcat_lines(bootstrap, "it-status", "%p\t%o\t%k\t%s\n")
        .iter()
        .filter_map(|line| {
            let mut parts = line.splitn(4, '\t');
            let p = parts.next()?.parse().ok()?;
            let o = parts.next()?.parse().ok()?;
            let k = parts.next()?.to_string();
            let v = serde_json::from_str(parts.next().unwrap_or_default()).unwrap_or(Value::Null);
            Some((p, o, k, v))
        })
        .collect()
}

/// Every record of partition 0 of `topic`: (offset, producer id, timestamp).
async fn raw_records(bootstrap: &str, topic: &str) -> Vec<(i64, i64, i64)> {
    let mut conn = BrokerConnection::open(
        bootstrap,
        "cluster-test",
        &Transport::default(),
        Duration::from_secs(10),
    )
    .await
    .expect("connect to the broker");
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let request = |_v: i16| {
            FetchRequest::default()
                .with_replica_id((-1).into())
                .with_max_wait_ms(0)
                .with_min_bytes(0)
                .with_max_bytes(16 * 1024 * 1024)
                .with_topics(vec![
                    FetchTopic::default()
                        .with_topic(StrBytes::from_string(topic.to_string()).into())
                        .with_partitions(vec![
                            FetchPartition::default()
                                .with_partition(0)
                                .with_fetch_offset(offset)
                                .with_partition_max_bytes(8 * 1024 * 1024),
                        ]),
                ])
        };
        let (response, _) = conn
            .send(request, (4, 12), Duration::from_secs(10))
            .await
            .expect("fetch");
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0, "fetching {topic}");
        let before = out.len();
        if let Some(bytes) = &partition.records {
            let mut bytes = bytes.clone();
            while !bytes.is_empty() {
                let Ok(set) = RecordBatchDecoder::decode(&mut bytes) else {
                    break;
                };
                for r in set.records {
                    offset = offset.max(r.offset + 1);
                    out.push((r.offset, r.producer_id, r.timestamp));
                }
            }
        }
        if out.len() == before || offset >= partition.high_watermark {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_spread_work_take_in_a_fourth_and_fail_over_a_kill_9_in_seconds() {
    let mut c = Cluster::start(3, "");
    // Created through a worker that need not be the leader: forwarded.
    for i in 0..3 {
        c.datagen(1, &format!("gen-{i}"), 4, json!({})).await;
    }
    let placed = settled(c.url(0), 15, &[]).await;
    let spread = load(&placed);
    assert_eq!(spread.len(), 3, "every worker runs something: {spread:?}");
    assert!(
        spread
            .values()
            .all(|&(connectors, tasks)| connectors == 1 && tasks == 4),
        "three connectors and twelve tasks over three workers: {spread:?}"
    );
    // A fourth worker takes a fair share; tasks that stay are not restarted.
    let before: BTreeSet<(i32, i64)> = status_records(&c.bootstrap)
        .iter()
        .map(|(p, o, _, _)| (*p, *o))
        .collect();
    let fourth = c.add();
    let fourth_id = c.id(fourth);
    let mut after = placed.clone();
    eventually("the fourth worker to take tasks", async || {
        after = placements(c.url(0)).await;
        after.values().all(|(s, _)| s == "RUNNING")
            && load(&after).get(&fourth_id).is_some_and(|l| l.1 == 3)
    })
    .await;
    let spread = load(&after);
    assert!(
        spread.values().all(|&(_, tasks)| tasks == 3),
        "twelve tasks over four workers: {spread:?}"
    );
    let moved: BTreeSet<String> = after
        .iter()
        .filter(|(k, v)| placed.get(*k).is_some_and(|p| p.1 != v.1))
        .map(|((c, t), _)| {
            if *t == -1 {
                format!("status-connector-{c}")
            } else {
                format!("status-task-{c}-{t}")
            }
        })
        .collect();
    assert_eq!(moved.len(), 3, "exactly the fair share moves: {moved:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (p, o, key, value) in status_records(&c.bootstrap) {
        // Placement statuses only: `status-topic-*` records (KIP-558 active topics) are
        // written when a task first produces to a topic, whenever that happens.
        let placement = key.starts_with("status-connector-") || key.starts_with("status-task-");
        if placement && !before.contains(&(p, o)) {
            assert!(
                moved.contains(&key),
                "{key} was rewritten ({value}) though it did not move; moved: {moved:?}"
            );
        }
    }
    // kill -9: its work runs elsewhere within seconds.
    let victim = 0;
    let killed_at = Instant::now();
    let dead = c.kill(victim);
    let placed = settled(c.url(1), 15, std::slice::from_ref(&dead)).await;
    let failover = killed_at.elapsed();
    println!(
        "failover: {} ms from kill -9 of {dead} to all 15 connectors and tasks RUNNING elsewhere \
         (session.timeout.ms 3000, heartbeat.interval.ms 1000, debug build)",
        failover.as_millis()
    );
    let spread = load(&placed);
    assert_eq!(spread.len(), 3, "{spread:?}");
    assert!(spread.values().all(|&(_, tasks)| tasks == 4), "{spread:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_writes_nothing_for_the_tasks_that_moved_then_rejoins() {
    let c = Cluster::start(3, "");
    for i in 0..6 {
        c.datagen(0, &format!("z-{i}"), 1, json!({"max.interval": "10"}))
            .await;
    }
    let placed = settled(c.url(0), 12, &[]).await;
    let victim = 2;
    let victim_id = c.id(victim);
    let moving: Vec<String> = placed
        .iter()
        .filter(|((_, t), (_, w))| *t == 0 && *w == victim_id)
        .map(|((name, _), _)| name.clone())
        .collect();
    assert!(!moving.is_empty(), "the victim runs tasks: {placed:?}");
    // Let the victim's tasks write, then learn its producers' ids from the latest batches.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut victim_producers = BTreeMap::new();
    for topic in &moving {
        let records = raw_records(&c.bootstrap, topic).await;
        let last = records.last().expect("the victim's task wrote records");
        victim_producers.insert(topic.clone(), last.1);
    }
    c.signal(victim, "STOP");
    let frozen_at = now_ms();
    let others = settled(c.url(0), 12, std::slice::from_ref(&victim_id)).await;
    let frozen_for = now_ms() - frozen_at;
    println!("tasks of the frozen worker RUNNING elsewhere after {frozen_for} ms");
    // The status generation at which the moved tasks were taken over.
    let statuses = status_records(&c.bootstrap);
    let mut takeover = BTreeMap::new();
    for (_, _, key, value) in &statuses {
        if let Some(name) = key.strip_prefix("status-task-")
            && value["worker_id"] != victim_id.as_str()
        {
            takeover.insert(name.to_string(), value["generation"].as_i64().unwrap_or(0));
        }
    }
    let status_end: BTreeSet<(i32, i64)> = statuses.iter().map(|(p, o, _, _)| (*p, *o)).collect();
    c.signal(victim, "CONT");
    // It rejoins cleanly and gets a share of the work again.
    eventually("the resumed worker to run tasks again", async || {
        let placed = placements(c.url(0)).await;
        placed.values().all(|(s, _)| s == "RUNNING")
            && load(&placed).get(&victim_id).is_some_and(|l| l.1 >= 1)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Not one record from its old producers after the freeze...
    for (topic, producer) in &victim_producers {
        let late: Vec<(i64, i64, i64)> = raw_records(&c.bootstrap, topic)
            .await
            .into_iter()
            .filter(|(_, pid, ts)| pid == producer && *ts > frozen_at)
            .collect();
        assert!(
            late.is_empty(),
            "the frozen worker wrote {} records to {topic} after it was frozen: {:?}",
            late.len(),
            &late[..late.len().min(5)]
        );
    }
    // ...and not one status update for the moved tasks in its old generation.
    for (p, o, key, value) in status_records(&c.bootstrap) {
        if status_end.contains(&(p, o)) || value["worker_id"] != victim_id.as_str() {
            continue;
        }
        let Some(name) = key.strip_prefix("status-task-") else {
            continue;
        };
        let generation = value["generation"].as_i64().unwrap_or(0);
        if let Some(&moved_in) = takeover.get(name) {
            assert!(
                generation > moved_in,
                "the resumed worker wrote {key} = {value} from generation {generation}, \
                 not newer than the takeover's {moved_in}"
            );
        }
    }
    assert!(others.len() == 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_worker_loses_no_record() {
    const PER_TASK: u64 = 6000;
    let mut c = Cluster::start(3, "");
    let (url, arrivals) = crate::pipeline::arrivals_server().await;
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let post = json!({"name": "post", "config": {
        "connector.class": "post-sink", "topics": "roll", "url": url, "tasks.max": "3",
        "plugin.allow.hosts": host,
    }});
    assert_eq!(
        retry_409(Method::POST, &format!("{}/connectors", c.url(0)), &post).await,
        201
    );
    c.datagen(
        0,
        "roll",
        3,
        json!({"iterations": PER_TASK.to_string(), "max.interval": "2"}),
    )
    .await;
    settled(c.url(0), 8, &[]).await;
    for i in 0..3 {
        c.stop(i);
        c.restart(i);
        let live = if i == 0 { 1 } else { 0 };
        settled(c.url(live), 8, &[]).await;
    }
    let want = 3 * PER_TASK;
    for _ in 0..240 {
        if arrivals.lock().expect("lock").seen.len() as u64 >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let a = arrivals.lock().expect("lock");
    let missing = a.missing(3, PER_TASK);
    assert!(
        missing.is_empty(),
        "records never delivered (first 10): {missing:?}"
    );
    assert_eq!(a.mismatched, 0);
    let duplicates = a.total - want;
    println!("rolling restart of 3 workers: {want} records, {duplicates} duplicates");
    // Graceful stops commit what was delivered: at most what one flush interval (1 s) and
    // the batches in flight hold, per restart.
    assert!(duplicates <= want / 2, "{duplicates} duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_requests_are_forwarded_and_answered_409_during_a_rebalance() {
    // A longer session, so a frozen member holds the rebalance open for seconds.
    let mut c = Cluster::start(3, "\"session.timeout.ms\" = 8000\n");
    c.datagen(2, "fwd", 3, json!({})).await;
    let placed = settled(c.url(0), 4, &[]).await;
    // Every worker accepts every mutating request.
    for i in 0..3 {
        let body = json!({"connector.class": "datagen", "kafka.topic": "fwd",
            "tasks.max": "3", "max.interval": (100 + i).to_string()});
        let status = retry_409(
            Method::PUT,
            &format!("{}/connectors/fwd/config", c.url(i)),
            &body,
        )
        .await;
        assert_eq!(status, 200, "PUT config through worker {i}");
        for t in 0..3 {
            let url = format!("{}/connectors/fwd/tasks/{t}/restart", c.url(i));
            assert_eq!(retry_409(Method::POST, &url, &json!({})).await, 204);
        }
    }
    let url = format!("{}/connectors/fwd/restart?includeTasks=true", c.url(1));
    assert_eq!(retry_409(Method::POST, &url, &json!({})).await, 202);
    settled(c.url(0), 4, &[]).await;
    // Pause and resume through any worker: the owners report the states.
    let states = async |want: &str| {
        eventually(&format!("fwd {want}"), async || {
            let placed = placements(c.url(2)).await;
            let fwd: Vec<_> = placed.iter().filter(|((n, _), _)| n == "fwd").collect();
            eprintln!("{fwd:?}");
            fwd.iter().all(|(_, (s, _))| s == want)
        })
        .await;
    };
    let url = format!("{}/connectors/fwd/pause", c.url(2));
    assert_eq!(retry_409(Method::PUT, &url, &json!({})).await, 202);
    states("PAUSED").await;
    let url = format!("{}/connectors/fwd/resume", c.url(0));
    assert_eq!(retry_409(Method::PUT, &url, &json!({})).await, 202);
    states("RUNNING").await;
    // Twelve connectors created at once: their changes are coalesced into few rebalances.
    let before = completed_rebalances(c.url(1)).await;
    let names: Vec<String> = (0..12).map(|i| format!("burst-{i}")).collect();
    let creations = names
        .iter()
        .enumerate()
        .map(|(i, name)| c.datagen(i % 3, name, 1, json!({})));
    futures_util::future::join_all(creations).await;
    settled(c.url(0), 4 + 24, &[]).await;
    // A worker publishes its round just after starting the round's tasks.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rebalances = completed_rebalances(c.url(1)).await - before;
    assert!(rebalances >= 1, "new connectors need a rebalance");
    println!(
        "12 connectors created at once: {rebalances} rebalances (worker 1 counted {before} before)"
    );
    assert!(rebalances < 12, "{rebalances} rebalances for 12 connectors");
    for i in 0..12 {
        let url = format!("{}/connectors/burst-{i}", c.url(0));
        assert_eq!(retry_409(Method::DELETE, &url, &json!({})).await, 204);
    }
    settled(c.url(0), 4, &[]).await;
    // A rebalance held open by a frozen member: answers are 2xx or 409, never slow.
    let frozen = 2;
    c.signal(frozen, "STOP");
    c.add();
    let mut codes = BTreeMap::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(8) {
        let sent = Instant::now();
        let body = json!({"connector.class": "datagen", "kafka.topic": "fwd", "tasks.max": "3"});
        let response = reqwest::Client::new()
            .put(format!("{}/connectors/fwd/config", c.url(0)))
            .json(&body)
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "an answer within 10 s"
        );
        assert!(
            status == 200 || status == 409,
            "status {status} during a rebalance: {text}"
        );
        if status == 409 {
            let message: Value = serde_json::from_str(&text).expect("Connect's error body");
            let m = message["message"].as_str().unwrap_or_default();
            assert!(m.starts_with("Cannot complete request"), "{m}");
        }
        *codes.entry(status).or_insert(0) += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.signal(frozen, "CONT");
    println!("answers during a rebalance held open by a frozen worker: {codes:?}");
    assert!(
        codes.contains_key(&409),
        "a 409 while the group rebalanced: {codes:?}"
    );
    settled(c.url(0), 4, &[]).await;
    assert_eq!(placed.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_spreads_forwards_and_fails_over_on_nisshi_too() {
    let mut c = Cluster::start_on(Broker::Nisshi, 3, "");
    for i in 0..2 {
        c.datagen(1, &format!("n-{i}"), 3, json!({})).await;
    }
    let placed = settled(c.url(0), 8, &[]).await;
    let spread = load(&placed);
    assert_eq!(spread.len(), 3, "{spread:?}");
    assert!(spread.values().all(|&(_, tasks)| tasks == 2), "{spread:?}");
    for i in 0..3 {
        let body = json!({"connector.class": "datagen", "kafka.topic": "n-0",
            "tasks.max": "3", "max.interval": (50 + i).to_string()});
        let url = format!("{}/connectors/n-0/config", c.url(i));
        assert_eq!(
            retry_409(Method::PUT, &url, &body).await,
            200,
            "through worker {i}"
        );
        let url = format!("{}/connectors/n-1/tasks/0/restart", c.url(i));
        assert_eq!(retry_409(Method::POST, &url, &json!({})).await, 204);
    }
    settled(c.url(0), 8, &[]).await;
    let killed_at = Instant::now();
    let dead = c.kill(2);
    let placed = settled(c.url(0), 8, std::slice::from_ref(&dead)).await;
    println!(
        "failover on nisshi: {} ms from kill -9 of {dead} to all 8 connectors and tasks \
         RUNNING elsewhere",
        killed_at.elapsed().as_millis()
    );
    assert!(load(&placed).values().all(|&(_, tasks)| tasks == 3));
}
