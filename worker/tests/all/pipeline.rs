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

/// An HTTP server collecting the NDJSON lines POSTed to it.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&lines);
    let app = Router::new().route(
        "/",
        post(move |body: String| {
            let store = Arc::clone(&store);
            async move {
                let mut s = store.lock().expect("lock");
                for line in body.lines() {
                    s.push(serde_json::from_str::<Value>(line).expect("NDJSON line"));
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
    (format!("http://{addr}/"), lines)
}

/// Waits up to a minute for `done` to hold, polling every 200 ms.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

fn plugin_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("mkdir");
    let sink = culvert_guests::test_guest("post-sink").expect("post-sink is a test guest");
    std::fs::write(plugins.join("post-sink.wasm"), sink.bytes).expect("write plugin");
    let manifest = json!({
        "name": "post-sink", "version": "0.1.0", "kind": "sink",
        "capabilities": ["http-client"], "sha256": culvert_plugin_host::sha256_hex(sink.bytes),
    });
    std::fs::write(plugins.join("post-sink.json"), manifest.to_string()).expect("write manifest");
    plugins
}

fn counter_of(line: &Value) -> u64 {
    let value: Value = serde_json::from_str(line[4].as_str().expect("value text")).expect("JSON");
    value["payload"]["counter"].as_u64().expect("counter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_flow_source_to_sink_and_bad_ones_are_dead_lettered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(dir.path());
    let extra = format!(
        "plugin.path = \"{}\"\noffset.flush.interval.ms = 300\n",
        plugins.display()
    );
    let (mut child, base, bootstrap) = start_with(dir.path(), &extra, &[], &[]);
    let (url, lines) = collector().await;
    let host = url.trim_start_matches("http://").trim_end_matches('/');

    let source = json!({"name": "gen", "config": {
        "connector.class": "datagen", "kafka.topic": "orders", "iterations": "2000",
        "max.interval": "0", "batch.size": "300", "tasks.max": "1",
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
            &bootstrap,
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
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_failing_without_tolerance_restarts_with_backoff_then_stays_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(dir.path());
    let extra = format!("plugin.path = \"{}\"\n", plugins.display());
    let (mut child, base, _) = start_with(dir.path(), &extra, &[], &[]);
    let (url, _lines) = collector().await;
    let host = url.trim_start_matches("http://").trim_end_matches('/');
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
    child.kill().expect("kill");
    child.wait().expect("reaped");
}
