//! The built-in `http-sink` in a worker: records held for an endpoint that stays down are
//! handed back after their retries and dead-lettered, while the task keeps running.

use axum::Router;
use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;

use crate::pipeline::eventually;
use crate::standalone::{call, send, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_an_endpoint_never_takes_are_dead_lettered() {
    let app = Router::new().fallback(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().expect("tempdir");
    let (_worker, base, bootstrap) =
        start_with(dir.path(), "offset.flush.interval.ms = 300\n", &[], &[]);
    let source = json!({"name": "gen", "config": {
        "connector.class": "datagen", "kafka.topic": "events", "iterations": "5",
        "max.interval": "0",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), source).await,
        201
    );
    let sink = json!({"name": "http", "config": {
        "connector.class": "http-sink", "topics": "events",
        "http.api.url": format!("http://{addr}/events"),
        "plugin.allow.hosts": "127.0.0.1", "plugin.allow.private.networks": "true",
        "max.retries": "1", "retry.backoff.ms": "50",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "events-dlq",
        "errors.deadletterqueue.context.headers.enable": "true",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), sink).await,
        201
    );
    eventually("5 dead letters", async || {
        let out = std::process::Command::new("kcat")
            .args([
                "-b",
                &bootstrap,
                "-C",
                "-t",
                "events-dlq",
                "-e",
                "-q",
                "-f",
                "%h\t%s\n",
            ])
            .output()
            .expect("kcat runs (apt-get install -y kcat)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines().count() == 5
            && text
                .lines()
                .all(|l| l.contains("__connect.errors.stage=TASK_PUT") && l.contains("503"))
    })
    .await;
    let (_, status) = call(Method::GET, &format!("{base}/connectors/http/status")).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    eventually("offsets committed past the dead letters", async || {
        let (_, offsets) = call(Method::GET, &format!("{base}/connectors/http/offsets")).await;
        offsets["offsets"]
            .as_array()
            .and_then(|o| o.first())
            .is_some_and(|o| o["offset"]["kafka_offset"] == 5)
    })
    .await;
}
