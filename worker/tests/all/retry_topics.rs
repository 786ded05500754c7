//! Retry topics (`errors.retry.topics`) with the built-in `http-sink` in a worker: one shared
//! topic feeds three customer endpoints; while one is down, its records are parked in the
//! connector's tier topics and the other two keep receiving; once it is back, its records
//! arrive from the tiers. Records still failing after the last tier are dead-lettered
//! with the coordinates they were first consumed at.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::Method;
use serde_json::{Value, json};

use crate::pipeline::eventually;
use crate::standalone::{call, kcat_lines, send, start_with};

type Arrivals = Arc<Mutex<BTreeMap<String, Vec<i64>>>>;

/// Customer endpoints at `/customers/{name}`: each POSTed JSON array's `id`s are kept per
/// customer; `c` answers 503 while `down` is set. Returns the server's address.
async fn customers(down: Arc<AtomicBool>, arrivals: Arrivals) -> String {
    let app = Router::new().route(
        "/customers/{name}",
        post(move |Path(name): Path<String>, body: String| {
            let (down, arrivals) = (Arc::clone(&down), Arc::clone(&arrivals));
            async move {
                if name == "c" && down.load(Ordering::SeqCst) {
                    return (StatusCode::SERVICE_UNAVAILABLE, "down");
                }
                let batch: Vec<Value> = serde_json::from_str(&body).expect("a JSON array");
                let mut arrivals = arrivals.lock().expect("lock");
                let ids = arrivals.entry(name).or_default();
                ids.extend(batch.iter().filter_map(|r| r["id"].as_i64()));
                (StatusCode::OK, "ok")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr.to_string()
}

/// Produces `{"id": n, "customer": ...}` for `ids` to `orders`, keyed by customer, with kcat.
fn produce(bootstrap: &str, ids: std::ops::Range<i64>, customer: impl Fn(i64) -> &'static str) {
    let mut kcat = Command::new("kcat")
        .args(["-b", bootstrap, "-P", "-t", "orders", "-K", "|"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat runs (apt-get install -y kcat; scripts/deps installs it)");
    let mut stdin = kcat.stdin.take().expect("stdin");
    for id in ids {
        let c = customer(id);
        writeln!(stdin, "{c}|{}", json!({"id": id, "customer": c})).expect("write");
    }
    drop(stdin);
    assert!(kcat.wait().expect("kcat").success(), "kcat produce failed");
}

/// The offset group `connect-http` committed on partition 0 of `topic`.
fn committed(bootstrap: &str, topic: &str) -> Option<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "connect-http")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .ok()?;
    match committed.elements().first()?.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

fn ids_of(arrivals: &Arrivals, customer: &str) -> Vec<i64> {
    let arrivals = arrivals.lock().expect("lock");
    arrivals.get(customer).cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_endpoints_records_wait_in_retry_topics_while_the_others_flow() {
    let down = Arc::new(AtomicBool::new(true));
    let arrivals: Arrivals = Arc::default();
    let addr = customers(Arc::clone(&down), Arc::clone(&arrivals)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_worker, base, bootstrap) =
        start_with(dir.path(), "offset.flush.interval.ms = 300\n", &[], &[]);
    let sink = json!({"name": "http", "config": {
        "connector.class": "http-sink", "topics": "orders",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "http.api.url": format!("http://{addr}/customers/${{value.customer}}"),
        "plugin.allow.hosts": "127.0.0.1", "plugin.allow.private.networks": "true",
        "max.retries": "0",
        "errors.retry.topics": "1s,3s",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "orders-dlq",
        "errors.deadletterqueue.context.headers.enable": "true",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), sink).await,
        201
    );
    // Tier topics are created by the task when it starts.
    eventually("the tier topics", async || {
        let out = Command::new("kcat")
            .args(["-b", &bootstrap, "-L", "-J"])
            .output()
            .expect("kcat");
        let text = String::from_utf8_lossy(&out.stdout);
        text.contains("\"http-retry-1s\"") && text.contains("\"http-retry-3s\"")
    })
    .await;

    let customer = |id: i64| ["a", "b", "c"][(id % 3) as usize];
    produce(&bootstrap, 0..30, customer);
    eventually(
        "a and b have all their records while c is down",
        async || ids_of(&arrivals, "a").len() == 10 && ids_of(&arrivals, "b").len() == 10,
    )
    .await;
    assert!(down.load(Ordering::SeqCst));
    assert_eq!(
        ids_of(&arrivals, "a"),
        (0..30).step_by(3).collect::<Vec<_>>()
    );
    assert_eq!(
        ids_of(&arrivals, "b"),
        (1..30).step_by(3).collect::<Vec<_>>()
    );
    assert!(ids_of(&arrivals, "c").is_empty());
    // c's records went to the first tier, with where they came from.
    eventually("c's records in the first tier", async || {
        kcat_lines(&bootstrap, "http-retry-1s", "%h\n").len() >= 10
    })
    .await;
    let parked = kcat_lines(&bootstrap, "http-retry-1s", "%h\t%s\n");
    assert!(
        parked
            .iter()
            .all(|l| l.contains("culvert.retry.original.topic=orders")
                && l.contains("culvert.retry.topic=orders")
                && l.contains("503")),
        "{parked:?}"
    );
    // More traffic meanwhile still flows to a and b.
    produce(&bootstrap, 30..36, customer);
    eventually("a and b have the later records too", async || {
        ids_of(&arrivals, "a").len() == 12 && ids_of(&arrivals, "b").len() == 12
    })
    .await;

    // c comes back: everything parked for it arrives, none is dead-lettered.
    down.store(false, Ordering::SeqCst);
    eventually("every record of c", async || {
        ids_of(&arrivals, "c").len() >= 12
    })
    .await;
    let mut c = ids_of(&arrivals, "c");
    c.sort_unstable();
    assert_eq!(c, (2..36).step_by(3).collect::<Vec<_>>(), "each once");
    assert!(kcat_lines(&bootstrap, "orders-dlq", "%s\n").is_empty());

    // c goes down for good: new records for it pass both tiers, then reach the DLQ with
    // the topic, partition and offset they were consumed at from `orders`.
    down.store(true, Ordering::SeqCst);
    produce(&bootstrap, 36..39, |_| "c");
    eventually("3 dead letters after both tiers", async || {
        kcat_lines(&bootstrap, "orders-dlq", "%s\n").len() == 3
    })
    .await;
    let dead = kcat_lines(&bootstrap, "orders-dlq", "%h\n");
    for (n, line) in dead.iter().enumerate() {
        assert!(
            line.contains("__connect.errors.topic=orders,")
                && line.contains(&format!("__connect.errors.offset={}", 36 + n))
                && line.contains("__connect.errors.stage=TASK_PUT")
                && line.contains("503"),
            "{line}"
        );
    }
    let tier_2 = kcat_lines(&bootstrap, "http-retry-3s", "%s\n").len();
    assert!(
        tier_2 >= 3,
        "the dead letters passed the second tier: {tier_2}"
    );
    let tier_1 = kcat_lines(&bootstrap, "http-retry-1s", "%s\n").len();
    let (_, status) = call(Method::GET, &format!("{base}/connectors/http/status")).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    eventually("offsets committed past everything", async || {
        let (_, offsets) = call(Method::GET, &format!("{base}/connectors/http/offsets")).await;
        offsets["offsets"][0]["offset"]["kafka_offset"] == 39
            && committed(&bootstrap, "http-retry-1s") == Some(tier_1 as i64)
            && committed(&bootstrap, "http-retry-3s") == Some(tier_2 as i64)
    })
    .await;
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let parked: f64 = metrics
        .lines()
        .find(|l| l.starts_with("culvert_task_error_retry_topic_produce_requests_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .expect("the retry topic counter");
    assert_eq!(parked as usize, tier_1 + tier_2, "{metrics}");
}
