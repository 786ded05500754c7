//! Records flowing through `culvert standalone`: the datagen source into a topic, the
//! `post-sink` test plugin out of it to an HTTP server in this test, with bad records
//! dead-lettered (`errors.tolerance=all`) or failing the task, which then restarts by
//! itself (`none`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use reqwest::Method;
use serde_json::{Value, json};

use crate::standalone::{call, send, start_with};

/// An HTTP server handing each NDJSON line POSTed to it to `take`; returns its URL.
pub(crate) async fn serve_lines(take: impl Fn(Value) + Clone + Send + Sync + 'static) -> String {
    let app = Router::new().route(
        "/",
        post(move |body: String| {
            let take = take.clone();
            async move {
                for line in body.lines() {
                    take(serde_json::from_str::<Value>(line).expect("NDJSON line"));
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

/// An HTTP server keeping every line POSTed to it.
pub(crate) async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&lines);
    let url = serve_lines(move |line| store.lock().expect("lock").push(line)).await;
    (url, lines)
}

/// Waits up to a minute for `done` to hold, polling every 200 ms.
pub(crate) async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

pub(crate) fn plugin_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("mkdir");
    let sink = culvert_guests::test_guest("post-sink").expect("post-sink is a test guest");
    std::fs::write(plugins.join("post-sink.wasm"), sink.bytes).expect("write plugin");
    let manifest = json!({
        "name": "post-sink", "version": "0.1.0", "kind": "sink",
        "capabilities": ["http-client"], "sha256": culvert_plugin_host::sha256_hex(sink.bytes),
    });
    std::fs::write(plugins.join("post-sink.json"), manifest.to_string()).expect("write manifest");
    let transform = culvert_guests::test_guest("identity-transform").expect("a test guest");
    std::fs::write(plugins.join("identity-transform.wasm"), transform.bytes).expect("write");
    let manifest = json!({
        "name": "identity-transform", "version": "0.1.0", "kind": "transformation",
        "sha256": culvert_plugin_host::sha256_hex(transform.bytes),
    });
    std::fs::write(
        plugins.join("identity-transform.json"),
        manifest.to_string(),
    )
    .expect("write manifest");
    plugins
}

/// Runs `promtool check metrics` (Debian's prometheus package) on an exposition.
pub(crate) fn promtool_accepts(metrics: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install -y prometheus; scripts/deps installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("write metrics");
    let out = child.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A worker with the `post-sink` plugin installed and an HTTP collector for it.
pub(crate) struct Rig {
    _worker: crate::standalone::Worker,
    pub(crate) base: String,
    pub(crate) bootstrap: String,
    /// The collector's URL and its `host:port` (for `plugin.allow.hosts`).
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) lines: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

/// Starts a [`Rig`]; `flush_ms` sets `offset.flush.interval.ms`.
pub(crate) async fn rig(flush_ms: Option<u64>) -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(dir.path());
    let mut extra = format!("plugin.path = \"{}\"\n", plugins.display());
    if let Some(ms) = flush_ms {
        extra.push_str(&format!("offset.flush.interval.ms = {ms}\n"));
    }
    let (worker, base, bootstrap) = start_with(dir.path(), &extra, &[], &[]);
    let (url, lines) = collector().await;
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Rig {
        _worker: worker,
        base,
        bootstrap,
        url,
        host,
        lines,
        _dir: dir,
    }
}

pub(crate) fn counter_of(line: &Value) -> u64 {
    let value: Value = serde_json::from_str(line[4].as_str().expect("value text")).expect("JSON");
    value["payload"]["counter"].as_u64().expect("counter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_flow_source_to_sink_and_bad_ones_are_dead_lettered() {
    let r = rig(Some(300)).await;
    let (base, bootstrap, url, host, lines) = (&r.base, &r.bootstrap, &r.url, &r.host, &r.lines);

    let source = json!({"name": "gen", "config": {
        "connector.class": "datagen", "kafka.topic": "orders", "iterations": "2000",
        "max.interval": "0", "batch.size": "300", "tasks.max": "1",
        // A budget smaller than one batch: one batch in flight at a time, still flowing.
        "max.buffered.bytes": "4096",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), source).await,
        201
    );
    // Counters ending in 7 carry the marker: 200 of the 2000 records.
    let sink = json!({"name": "post", "config": {
        "connector.class": "post-sink", "topics": "orders", "url": url,
        "plugin.allow.hosts": host, "fail.containing": "7,\"timestamp_ms\"",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "orders-dlq",
        "errors.deadletterqueue.context.headers.enable": "true",
        "max.buffered.bytes": "8192",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), sink).await,
        201
    );

    eventually("1800 good records at the sink", async || {
        lines.lock().expect("lock").len() >= 1800
    })
    .await;
    let got = lines.lock().expect("lock").clone();
    let counters: BTreeSet<u64> = got.iter().map(counter_of).collect();
    let want: BTreeSet<u64> = (0..2000).filter(|n| n % 10 != 7).collect();
    assert_eq!(counters, want, "every good record, none of the bad");
    let first = &got[0];
    assert_eq!(first[0], "orders");
    assert_eq!(
        first[3], r#"{"schema":null,"payload":"0:0"}"#,
        "the key, JSON-enveloped"
    );

    let dlq = std::process::Command::new("kcat")
        .args([
            "-b",
            bootstrap,
            "-C",
            "-t",
            "orders-dlq",
            "-e",
            "-q",
            "-f",
            "%h\t%s\n",
        ])
        .output()
        .expect("kcat runs");
    let dlq = String::from_utf8_lossy(&dlq.stdout);
    let dead: Vec<&str> = dlq.lines().collect();
    assert_eq!(dead.len(), 200, "{dlq}");
    let (headers, value) = dead[0].split_once('\t').expect("headers and value");
    assert!(value.contains("\"counter\":7,"), "{value}");
    for expected in [
        "__connect.errors.topic=orders",
        "__connect.errors.partition=0",
        "__connect.errors.connector.name=post",
        "__connect.errors.task.id=0",
        "__connect.errors.stage=TASK_PUT",
        "__connect.errors.class.name=post-sink",
        "__connect.errors.exception.message=offset 7 contains the failure marker",
    ] {
        assert!(headers.contains(expected), "{expected} in {headers}");
    }

    for name in ["gen", "post"] {
        let (_, status) = call(Method::GET, &format!("{base}/connectors/{name}/status")).await;
        assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    }
    // The source's position is committed; topics are tracked for both connectors.
    eventually("the source offset at 1999", async || {
        let (_, offsets) = call(Method::GET, &format!("{base}/connectors/gen/offsets")).await;
        offsets["offsets"][0]["offset"] == json!({"counter": 1999})
    })
    .await;
    let (_, topics) = call(Method::GET, &format!("{base}/connectors/post/topics")).await;
    assert_eq!(topics, json!({"post": {"topics": ["orders"]}}));

    // /metrics passes promtool's checks and counts exactly what flowed.
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("body");
    promtool_accepts(&metrics);
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    let source = "{connector=\"gen\",task=\"0\"}";
    let post = "{connector=\"post\",task=\"0\"}";
    assert_eq!(
        value(&format!(
            "culvert_source_task_source_record_poll_total{source}"
        )),
        2000.0
    );
    assert_eq!(
        value(&format!(
            "culvert_source_task_source_record_write_total{source}"
        )),
        2000.0
    );
    assert_eq!(
        value(&format!("culvert_sink_task_sink_record_read_total{post}")),
        2000.0
    );
    assert_eq!(
        value(&format!("culvert_sink_task_sink_record_send_total{post}")),
        2000.0
    );
    assert_eq!(
        value(&format!("culvert_task_error_record_failures_total{post}")),
        200.0
    );
    assert_eq!(
        value(&format!("culvert_task_error_records_skipped_total{post}")),
        200.0
    );
    assert_eq!(
        value(&format!(
            "culvert_task_error_deadletterqueue_produce_requests_total{post}"
        )),
        200.0
    );
    assert_eq!(
        value(&format!("culvert_task_error_record_failures_total{source}")),
        0.0
    );
    assert_eq!(value("culvert_worker_connectors"), 2.0);
    assert_eq!(
        value("culvert_worker_connector_tasks{connector=\"post\",state=\"RUNNING\"}"),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_failing_without_tolerance_restarts_with_backoff_then_stays_failed() {
    let r = rig(None).await;
    let (base, url, host) = (&r.base, &r.url, &r.host);
    let source = json!({"name": "gen", "config": {
        "connector.class": "datagen", "kafka.topic": "events", "iterations": "50",
        "max.interval": "0",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), source).await,
        201
    );
    let sink = json!({"name": "strict", "config": {
        "connector.class": "post-sink", "topics": "events", "url": url,
        "plugin.allow.hosts": host, "fail.containing": "\"counter\":3,",
        "task.restart.backoff.initial.ms": "300", "task.restart.max.attempts": "2",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), sink).await,
        201
    );
    let status_url = format!("{base}/connectors/strict/status");
    eventually("a restart scheduled after the failure", async || {
        let (_, status) = call(Method::GET, &status_url).await;
        let trace = status["tasks"][0]["trace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        status["tasks"][0]["state"] == "FAILED" && trace.contains("(restart 1 in 300 ms")
    })
    .await;
    eventually("giving up after two restarts", async || {
        let (_, status) = call(Method::GET, &status_url).await;
        let trace = status["tasks"][0]["trace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        trace.contains("gave up after 2 restarts")
    })
    .await;
    let (_, status) = call(Method::GET, &status_url).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.starts_with(
            "Tolerance exceeded in error handler: stage TASK_PUT (post-sink) failed on events-0 \
             at offset 3: offset 3 contains the failure marker"
        ),
        "{trace}"
    );
    // A manual restart runs it again (and it fails again on the same record).
    let (code, _) = call(
        Method::POST,
        &format!("{base}/connectors/strict/tasks/0/restart"),
    )
    .await;
    assert_eq!(code, 204);
    eventually("the restarted task failing anew", async || {
        let (_, status) = call(Method::GET, &status_url).await;
        let trace = status["tasks"][0]["trace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        trace.contains("(restart 1 in 300 ms")
    })
    .await;
}

/// Per datagen key (`"T:N"`), how often it arrived; every arrival's value must carry the
/// same task and counter as its key.
#[derive(Default)]
pub(crate) struct Arrivals {
    pub(crate) seen: std::collections::HashMap<(u64, u64), u32>,
    pub(crate) total: u64,
    pub(crate) mismatched: u64,
}

impl Arrivals {
    /// The first ten (task, counter) pairs of `tasks` × `per_task` never seen.
    pub(crate) fn missing(&self, tasks: u64, per_task: u64) -> Vec<(u64, u64)> {
        (0..tasks)
            .flat_map(|t| (0..per_task).map(move |n| (t, n)))
            .filter(|k| !self.seen.contains_key(k))
            .take(10)
            .collect()
    }
}

/// An HTTP server recording the datagen records a `post-sink` delivers to it.
pub(crate) async fn arrivals_server() -> (String, Arc<Mutex<Arrivals>>) {
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    let store = Arc::clone(&arrivals);
    let url = serve_lines(move |line| {
        let mut a = store.lock().expect("lock");
        a.total += 1;
        match arrival(&line) {
            Some((key, consistent)) => {
                *a.seen.entry(key).or_default() += 1;
                a.mismatched += u64::from(!consistent);
            }
            None => a.mismatched += 1,
        }
    })
    .await;
    (url, arrivals)
}

fn arrival(line: &Value) -> Option<((u64, u64), bool)> {
    let key: Value = serde_json::from_str(line[3].as_str()?).ok()?;
    let (t, n) = key["payload"].as_str()?.split_once(':')?;
    let (t, n) = (t.parse().ok()?, n.parse().ok()?);
    let value: Value = serde_json::from_str(line[4].as_str()?).ok()?;
    let payload = &value["payload"];
    let consistent = payload["task"] == t && payload["counter"] == n;
    Some(((t, n), consistent))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_despite_repeated_kill_9() {
    const PER_TASK: u64 = 500_000;
    const KILLS: u64 = 3;
    const FLUSH_MS: u64 = 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(dir.path());
    let extra = format!(
        "plugin.path = \"{}\"\noffset.flush.interval.ms = {FLUSH_MS}\n",
        plugins.display()
    );
    let (url, arrivals) = arrivals_server().await;
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let files = [
        (
            "gen.json",
            json!({"name": "gen", "config": {
                "connector.class": "datagen", "kafka.topic": "stream", "tasks.max": "2",
                "iterations": PER_TASK.to_string(), "max.interval": "0", "batch.size": "2000",
            }}),
        ),
        (
            "post.json",
            json!({"name": "post", "config": {
                "connector.class": "post-sink", "topics": "stream", "url": url,
                "plugin.allow.hosts": host,
            }}),
        ),
    ];
    let paths: Vec<std::path::PathBuf> = files
        .iter()
        .map(|(name, body)| {
            let path = dir.path().join(name);
            std::fs::write(&path, body.to_string()).expect("write connector");
            path
        })
        .collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let started = std::time::Instant::now();
    let want = 2 * PER_TASK;
    let (mut child, _, _) = start_with(dir.path(), &extra, &[], &refs);
    for kill in 1..=KILLS {
        // Kill at 20%, 45% and 70% of the stream.
        let at = want * (20 + 25 * (kill - 1)) / 100;
        eventually("the stream to advance", async || {
            arrivals.lock().expect("lock").seen.len() as u64 >= at
        })
        .await;
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
        (child, _, _) = start_with(dir.path(), &extra, &[], &[]);
    }
    for _ in 0..600 {
        if arrivals.lock().expect("lock").seen.len() as u64 >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    drop(child);
    let a = arrivals.lock().expect("lock");
    let missing = a.missing(2, PER_TASK);
    assert!(
        missing.is_empty(),
        "records never delivered (first 10): {missing:?}"
    );
    assert_eq!(a.mismatched, 0, "every value matches its key");
    let duplicates = a.total - want;
    // At-least-once: each kill may repeat what was produced since the last source offset
    // flush and what was put since the last sink commit — one flush interval each, plus
    // the batches in flight.
    let rate = want as f64 / elapsed.as_secs_f64();
    let interval_worth = rate * FLUSH_MS as f64 / 1000.0;
    let in_flight = 16.0 * 2000.0 + 10_000.0;
    let bound = KILLS as f64 * 2.0 * (interval_worth + in_flight);
    println!(
        "{want} records through {KILLS} kill -9s in {:.1} s ({rate:.0} records/s): \
         {duplicates} duplicates ({:.0} per kill; one flush interval is {interval_worth:.0})",
        elapsed.as_secs_f64(),
        duplicates as f64 / KILLS as f64
    );
    assert!(
        (duplicates as f64) <= bound,
        "{duplicates} duplicates exceed {bound:.0}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transforms_run_on_both_sides_and_their_failures_are_dead_lettered() {
    let r = rig(Some(300)).await;
    let (base, bootstrap, url, host, lines) = (&r.base, &r.bootstrap, &r.url, &r.host, &r.lines);
    // Source side: the topic is rerouted; keys leave as plain text (StringConverter).
    let source = json!({"name": "gen", "config": {
        "connector.class": "datagen", "kafka.topic": "orders", "iterations": "30",
        "max.interval": "0", "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "transforms": "route", "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)", "transforms.route.replacement": "routed-$1",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), source).await,
        201
    );
    // Sink side: values are wrapped when the topic matches; keys are read back as text.
    let wrap = json!({"name": "wrap", "config": {
        "connector.class": "post-sink", "topics": "routed-orders", "url": url,
        "plugin.allow.hosts": host, "key.converter": "StringConverter",
        "predicates": "routed", "predicates.routed.type": "TopicNameMatches",
        "predicates.routed.pattern": "routed-.*",
        "transforms": "hoist", "transforms.hoist.type": "HoistField$Value",
        "transforms.hoist.field": "order", "transforms.hoist.predicate": "routed",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), wrap).await,
        201
    );
    // Raw key bytes (`0:5`) are not JSON: hoisting the key fails every record, and with
    // tolerance all they are dead-lettered while the task keeps running.
    let bad = json!({"name": "bad", "config": {
        "connector.class": "post-sink", "topics": "routed-orders", "url": url,
        "plugin.allow.hosts": host, "key.converter": "ByteArrayConverter",
        "transforms": "hoist", "transforms.hoist.type": "HoistField$Key",
        "transforms.hoist.field": "k", "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": "bad-dlq",
        "errors.deadletterqueue.context.headers.enable": "true",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), bad).await,
        201
    );
    eventually("30 wrapped records", async || {
        lines.lock().expect("lock").len() >= 30
    })
    .await;
    let got = lines.lock().expect("lock").clone();
    assert_eq!(got.len(), 30, "only the wrap sink delivers");
    for line in &got {
        assert_eq!(line[0], "routed-orders");
        let key: Value = serde_json::from_str(line[3].as_str().expect("key")).expect("JSON key");
        assert!(key.as_str().is_some_and(|k| k.starts_with("0:")), "{key}");
        let value: Value = serde_json::from_str(line[4].as_str().expect("value")).expect("JSON");
        assert!(value["order"]["counter"].is_u64(), "{value}");
    }
    eventually("30 dead letters", async || {
        let out = std::process::Command::new("kcat")
            .args([
                "-b", bootstrap, "-C", "-t", "bad-dlq", "-e", "-q", "-f", "%k\t%h\n",
            ])
            .output()
            .expect("kcat runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines().count() == 30
            && text
                .lines()
                .all(|l| l.starts_with("0:") && l.contains("__connect.errors.stage=TRANSFORMATION"))
    })
    .await;
    let (_, status) = call(Method::GET, &format!("{base}/connectors/bad/status")).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");

    // A bad transform configuration is refused when the connector is created.
    let invalid = json!({"name": "invalid", "config": {
        "connector.class": "post-sink", "topics": "x", "url": url,
        "transforms": "t", "transforms.t.type": "NoSuchTransform",
    }});
    let resp = reqwest::Client::new()
        .post(format!("{base}/connectors"))
        .json(&invalid)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("JSON");
    assert!(
        body["message"].as_str().is_some_and(
            |m| m.contains("Invalid value NoSuchTransform for configuration transforms.t.type")
        ),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_offsets_are_read_altered_and_reset_through_rest() {
    let r = rig(Some(200)).await;
    let (base, url, host, lines) = (&r.base, &r.url, &r.host, &r.lines);
    let source = json!({"name": "gen", "config": {
        "connector.class": "datagen", "kafka.topic": "events", "iterations": "100",
        "max.interval": "0",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), source).await,
        201
    );
    let sink = json!({"name": "post", "config": {
        "connector.class": "post-sink", "topics": "events", "url": url, "plugin.allow.hosts": host,
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), sink).await,
        201
    );
    let offsets_url = format!("{base}/connectors/post/offsets");
    let committed = |offset: i64| {
        json!({"offsets": [{"partition": {"kafka_topic": "events", "kafka_partition": 0},
            "offset": {"kafka_offset": offset}}]})
    };
    eventually("the sink's offsets at 100", async || {
        call(Method::GET, &offsets_url).await.1 == committed(100)
    })
    .await;
    assert_eq!(lines.lock().expect("lock").len(), 100);

    // Running connectors' offsets cannot change.
    let (code, _) = call(Method::DELETE, &offsets_url).await;
    assert_eq!(code, 400);
    assert_eq!(
        send(
            Method::PUT,
            &format!("{base}/connectors/post/stop"),
            json!({})
        )
        .await,
        204
    );
    let malformed = json!({"offsets": [{"partition": {"kafka_topic": "events"},
        "offset": {"kafka_offset": 1}}]});
    assert_eq!(send(Method::PATCH, &offsets_url, malformed).await, 400);
    let rewind = json!({"offsets": [{"partition": {"kafka_topic": "events", "kafka_partition": 0},
        "offset": {"kafka_offset": 90}}]});
    assert_eq!(send(Method::PATCH, &offsets_url, rewind).await, 200);
    assert_eq!(call(Method::GET, &offsets_url).await.1, committed(90));
    assert_eq!(
        send(
            Method::PUT,
            &format!("{base}/connectors/post/resume"),
            json!({})
        )
        .await,
        202
    );
    eventually("records 90..99 delivered again", async || {
        lines.lock().expect("lock").len() == 110
    })
    .await;
    let again: Vec<i64> = lines.lock().expect("lock")[100..]
        .iter()
        .map(|l| l[2].as_i64().expect("offset"))
        .collect();
    assert_eq!(again, (90..100).collect::<Vec<_>>());

    // A reset deletes the group: everything is delivered once more.
    eventually("the sink's offsets back at 100", async || {
        call(Method::GET, &offsets_url).await.1 == committed(100)
    })
    .await;
    assert_eq!(
        send(
            Method::PUT,
            &format!("{base}/connectors/post/stop"),
            json!({})
        )
        .await,
        204
    );
    let (code, body) = call(Method::DELETE, &offsets_url).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        call(Method::GET, &offsets_url).await.1,
        json!({"offsets": []})
    );
    assert_eq!(
        send(
            Method::PUT,
            &format!("{base}/connectors/post/resume"),
            json!({})
        )
        .await,
        202
    );
    eventually("all 100 delivered again", async || {
        lines.lock().expect("lock").len() == 210
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_topics_are_created_by_topic_creation_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_worker, base, bootstrap) = start_with(dir.path(), "", &[], &[]);
    for (name, topic) in [("small", "plain-1"), ("big", "big-1")] {
        let source = json!({"name": name, "config": {
            "connector.class": "datagen", "kafka.topic": topic, "iterations": "5",
            "max.interval": "0",
            "topic.creation.default.partitions": "3",
            "topic.creation.default.replication.factor": "1",
            "topic.creation.groups": "large",
            "topic.creation.large.include": "big-.*",
            "topic.creation.large.partitions": "5",
        }});
        assert_eq!(
            send(Method::POST, &format!("{base}/connectors"), source).await,
            201
        );
    }
    let partitions = |topic: &'static str| {
        let bootstrap = bootstrap.clone();
        async move {
            // All topics: asking for one by name could make the broker auto-create it.
            let out = std::process::Command::new("kcat")
                .args(["-b", &bootstrap, "-L"])
                .output()
                .expect("kcat runs");
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            text.lines()
                .find_map(|l| {
                    let rest = l.trim().strip_prefix(&format!("topic \"{topic}\" with "))?;
                    rest.split_whitespace().next()?.parse::<u32>().ok()
                })
                .unwrap_or(0)
        }
    };
    eventually("plain-1 with 3 partitions", async || {
        partitions("plain-1").await == 3
    })
    .await;
    eventually("big-1 with 5 partitions", async || {
        partitions("big-1").await == 5
    })
    .await;
    // A bad rule is a validation error naming the key.
    let bad = json!({"name": "bad", "config": {
        "connector.class": "datagen", "kafka.topic": "t",
        "topic.creation.default.partitions": "0",
        "topic.creation.default.replication.factor": "1",
    }});
    let resp = reqwest::Client::new()
        .post(format!("{base}/connectors"))
        .json(&bad)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("topic.creation.default.partitions")),
        "{body}"
    );
}
