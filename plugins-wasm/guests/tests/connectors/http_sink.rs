//! `http-sink` against a real HTTP server (axum, in the test) that injects faults: batching
//! shapes and formats, headers and auth, 429 with Retry-After, bursts of 500s, final
//! failures reported per record, and one of three per-customer endpoints down while the
//! other two keep receiving in real time.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use culvert_connector_testkit::{Harness, OwnedRecord, SinkRun};
use serde_json::{Value, json};

/// A request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
    status: u16,
    at: Instant,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    /// Per path: the next answers to give instead of 200 (status, Retry-After seconds).
    faults: BTreeMap<String, VecDeque<(u16, Option<u64>)>>,
    /// Paths that answer 503 until removed.
    down: Vec<String>,
}

/// The HTTP server, on its own runtime thread.
struct Server {
    base: String,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = Arc::clone(&shared);
            async move { answer(&state, &uri, &headers, &body) }
        });
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://{addr}"),
            state,
            _runtime: runtime,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state")
    }

    /// Requests that got a 2xx.
    fn delivered(&self) -> Vec<Seen> {
        self.lock()
            .seen
            .iter()
            .filter(|s| s.status < 300)
            .cloned()
            .collect()
    }

    fn attempts(&self, path: &str) -> Vec<Seen> {
        self.lock()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

fn answer(state: &Mutex<State>, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let mut state = state.lock().expect("state");
    let path = uri.path().to_string();
    let fault = if state.down.contains(&path) {
        Some((503, None))
    } else if path.starts_with("/reject") {
        Some((400, None))
    } else {
        state.faults.get_mut(&path).and_then(VecDeque::pop_front)
    };
    let status = fault.map_or(200, |(s, _)| s);
    state.seen.push(Seen {
        path,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
        status,
        at: Instant::now(),
    });
    let code = StatusCode::from_u16(status).expect("status");
    match fault {
        Some((_, Some(secs))) => {
            (code, [("retry-after", secs.to_string())], "slow down").into_response()
        }
        Some(_) => (code, "failed on purpose").into_response(),
        None => (code, "ok").into_response(),
    }
}

/// The grant every test sink needs to reach the loopback server.
const GRANT: [(&str, &str); 2] = [
    ("plugin.allow.hosts", "127.0.0.1"),
    ("plugin.allow.private.networks", "true"),
];

/// A sink task posting to `url` (with the loopback grant) and `extra` settings.
fn sink_at<'h>(h: &'h Harness, url: &str, extra: &[(&str, &str)]) -> SinkRun<'h> {
    let mut config = vec![GRANT[0], GRANT[1], ("http.api.url", url)];
    config.extend_from_slice(extra);
    h.sink(&config).expect("starts")
}

fn harness() -> Harness {
    let component = culvert_guests::builtin("http-sink").expect("http-sink is built in");
    Harness::load(&component.origin(), component.bytes).expect("loads")
}

fn record(value: Value) -> OwnedRecord {
    OwnedRecord::value("orders", value.to_string())
}

#[test]
fn batches_formats_headers_and_auth() {
    let server = Server::start();
    let h = harness();
    let url = format!("{}/ingest", server.base);
    let mut sink = sink_at(
        &h,
        &url,
        &[
            ("batch.max.size", "3"),
            ("headers", "X-Team: payments|X-Env:test"),
            ("auth.type", "BASIC"),
            ("connection.user", "ada"),
            ("connection.password", "s3cret"),
        ],
    );
    let mut records: Vec<OwnedRecord> = (0..6).map(|n| record(json!({"n": n}))).collect();
    // A Connect envelope is sent as its payload.
    records.push(record(
        json!({"schema": {"type": "struct"}, "payload": {"n": 6}}),
    ));
    assert!(sink.put(&records).expect("put").is_empty());
    let seen = server.delivered();
    let bodies: Vec<&str> = seen.iter().map(|s| s.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec![
            r#"[{"n":0},{"n":1},{"n":2}]"#,
            r#"[{"n":3},{"n":4},{"n":5}]"#,
            r#"[{"n":6}]"#
        ]
    );
    let headers = &seen[0].headers;
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-team"], "payments");
    assert_eq!(headers["x-env"], "test");
    assert_eq!(headers["authorization"], "Basic YWRhOnMzY3JldA==");
    let offsets = sink.flush().expect("flush");
    assert_eq!(offsets[0].offset, 7, "everything delivered is durable");

    let mut ndjson = sink_at(
        &h,
        &url,
        &[
            ("request.body.format", "ndjson"),
            ("auth.type", "BEARER"),
            ("bearer.token", "tok-123"),
            ("request.method", "PUT"),
        ],
    );
    ndjson
        .put(&[
            record(json!({"a": 1})),
            OwnedRecord::value("orders", "plain text"),
        ])
        .expect("put");
    let last = server.delivered().pop().expect("a request");
    assert_eq!(last.body, "{\"a\":1}\n\"plain text\"\n");
    assert_eq!(last.headers["content-type"], "application/x-ndjson");
    assert_eq!(last.headers["authorization"], "Bearer tok-123");

    let mut single = sink_at(
        &h,
        &url,
        &[("request.body.format", "single"), ("batch.max.size", "50")],
    );
    let before = server.delivered().len();
    single
        .put(&[record(json!({"x": 1})), record(json!({"x": 2}))])
        .expect("put");
    let bodies: Vec<String> = server.delivered()[before..]
        .iter()
        .map(|s| s.body.clone())
        .collect();
    assert_eq!(
        bodies,
        vec![r#"{"x":1}"#, r#"{"x":2}"#],
        "one request per record"
    );
}

#[test]
fn batches_close_on_bytes_and_wait_out_their_linger() {
    let server = Server::start();
    let h = harness();
    let url = format!("{}/lingering", server.base);
    let mut sink = sink_at(
        &h,
        &url,
        &[
            ("batch.max.size", "10"),
            ("batch.max.bytes", "30"),
            ("batch.linger.ms", "300"),
            ("success.codes", "200,202"),
        ],
    );
    // Each body part is 9 bytes (+1 separator): three fit in 30 bytes, a fourth does not.
    let five: Vec<OwnedRecord> = (0..5).map(|n| record(json!({"seq": n}))).collect();
    sink.put(&five).expect("put");
    assert!(
        server.delivered().is_empty(),
        "not full (by count) and still lingering"
    );
    std::thread::sleep(Duration::from_millis(350));
    sink.put(&[]).expect("idle put");
    let bodies: Vec<String> = server.delivered().into_iter().map(|s| s.body).collect();
    assert_eq!(
        bodies,
        vec![
            r#"[{"seq":0},{"seq":1},{"seq":2}]"#,
            r#"[{"seq":3},{"seq":4}]"#
        ],
        "cut by bytes once the linger time passed"
    );
    // flush sends what lingers at once.
    sink.put(&[record(json!({"seq": 5}))]).expect("put");
    assert_eq!(sink.flush().expect("flush")[0].offset, 6);
    assert_eq!(server.delivered().len(), 3);
}

#[test]
fn retry_after_and_bursts_of_500_are_retried_without_loss() {
    let server = Server::start();
    server.lock().faults.insert(
        "/flaky".into(),
        VecDeque::from([(429, Some(1)), (500, None), (500, None), (500, None)]),
    );
    let h = harness();
    let url = format!("{}/flaky", server.base);
    let mut sink = sink_at(
        &h,
        &url,
        &[("retry.backoff.ms", "50"), ("retry.backoff.max.ms", "200")],
    );
    let failures = sink
        .put(&[record(json!({"id": 1})), record(json!({"id": 2}))])
        .expect("put");
    assert!(failures.is_empty(), "retriable answers are not failures");
    assert_eq!(
        sink.flush().expect("flush")[0].offset,
        0,
        "nothing durable yet"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.delivered().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(30));
        sink.put(&[]).expect("idle put");
    }
    let attempts = server.attempts("/flaky");
    let statuses: Vec<u16> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, vec![429, 500, 500, 500, 200]);
    let waited = attempts[1].at - attempts[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 honoured ({waited:?})"
    );
    assert!(attempts.iter().all(|a| a.body == r#"[{"id":1},{"id":2}]"#));
    assert_eq!(
        sink.flush().expect("flush")[0].offset,
        2,
        "durable once delivered"
    );
}

#[test]
fn final_failures_are_reported_per_record() {
    let server = Server::start();
    let h = harness();
    let url = format!("{}/${{value.target}}", server.base);
    let mut sink = sink_at(&h, &url, &[]);
    let mut tombstone = record(json!({}));
    tombstone.value = None;
    let failures = sink
        .put(&[
            record(json!({"target": "fine", "n": 1})),
            record(json!({"target": "reject", "n": 2})),
            record(json!({"n": 3})),
            tombstone,
            record(json!({"target": "fine", "n": 5})),
        ])
        .expect("put");
    let by_index: BTreeMap<usize, String> =
        failures.into_iter().map(|f| (f.index, f.message)).collect();
    assert_eq!(by_index.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert!(by_index[&1].contains("400"), "{}", by_index[&1]);
    assert!(by_index[&2].contains("value.target"), "{}", by_index[&2]);
    let fine: Vec<String> = server.delivered().into_iter().map(|s| s.body).collect();
    assert_eq!(
        fine,
        vec![r#"[{"n":1,"target":"fine"},{"n":5,"target":"fine"}]"#]
    );

    let problems = h
        .validate(&[
            ("http.api.url", "ftp://x"),
            ("auth.type", "DIGEST"),
            ("success.codes", "2xx"),
        ])
        .expect("validates");
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    for key in ["http.api.url", "auth.type", "success.codes"] {
        assert!(keys.contains(&key), "{key} missing from {problems:?}");
    }
}

#[test]
fn one_customer_down_does_not_stall_the_others() {
    let server = Server::start();
    server.lock().down.push("/customers/c/events".into());
    let h = harness();
    let url = format!("{}/customers/${{value.customer}}/events", server.base);
    let mut sink = sink_at(
        &h,
        &url,
        &[("retry.backoff.ms", "50"), ("retry.backoff.max.ms", "200")],
    );
    let events = |path: &str| -> Vec<i64> {
        server
            .delivered()
            .iter()
            .filter(|s| s.path == path)
            .flat_map(|s| {
                serde_json::from_str::<Vec<Value>>(&s.body)
                    .expect("array")
                    .into_iter()
            })
            .map(|v| v["seq"].as_i64().expect("seq"))
            .collect()
    };
    for seq in 0..10 {
        let round: Vec<OwnedRecord> = ["a", "b", "c"]
            .iter()
            .map(|c| record(json!({"customer": c, "seq": seq})))
            .collect();
        assert!(sink.put(&round).expect("put").is_empty());
        // a and b have this round as soon as put returns: nothing waits for c.
        let want: Vec<i64> = (0..=seq).collect();
        assert_eq!(events("/customers/a/events"), want);
        assert_eq!(events("/customers/b/events"), want);
        assert!(events("/customers/c/events").is_empty());
        std::thread::sleep(Duration::from_millis(50));
    }
    // c's first record (offset 2) is the first one not delivered: nothing from it on is
    // committed.
    assert_eq!(sink.flush().expect("flush")[0].offset, 2);
    server.lock().down.clear();
    let deadline = Instant::now() + Duration::from_secs(10);
    while events("/customers/c/events").len() < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        sink.put(&[]).expect("idle put");
    }
    assert_eq!(
        events("/customers/c/events"),
        (0..10).collect::<Vec<_>>(),
        "all, in order"
    );
    assert_eq!(
        sink.flush().expect("flush")[0].offset,
        30,
        "everything durable"
    );
    let c_attempts = server.attempts("/customers/c/events");
    assert!(
        c_attempts.len() < 40,
        "c was retried with backoff, not hammered: {} attempts",
        c_attempts.len()
    );
}

#[test]
fn records_that_fail_after_their_put_are_handed_back_whole() {
    let server = Server::start();
    server.lock().down.push("/down".into());
    let h = harness();
    let url = format!("{}/down", server.base);
    let mut sink = sink_at(
        &h,
        &url,
        &[
            ("max.retries", "2"),
            ("retry.backoff.ms", "50"),
            ("retry.backoff.max.ms", "100"),
        ],
    );
    // Consumed from `orders-raw`, renamed `orders` by a transform: offsets are kept by
    // the consumed topic, the record handed back with both.
    let records = [record(json!({"id": 1})), record(json!({"id": 2}))];
    assert!(
        sink.put_from("orders-raw", &records)
            .expect("put")
            .is_empty(),
        "held, not failed yet"
    );
    let durable = sink.flush().expect("flush");
    assert_eq!(
        (durable[0].topic.as_str(), durable[0].offset),
        ("orders-raw", 0),
        "held records are not durable"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failures = Vec::new();
    while failures.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(40));
        failures = sink.put(&[]).expect("idle put");
    }
    assert_eq!(failures.len(), 2, "{failures:?}");
    for (f, want) in failures.iter().zip(&records) {
        let held = f.held.as_ref().expect("handed back whole");
        assert_eq!(held.value, want.value);
        assert_eq!(held.topic, "orders");
        assert_eq!(held.consumed_topic, "orders-raw");
        assert!(
            f.message.contains("503") && f.message.contains("after 2 retries"),
            "{}",
            f.message
        );
    }
    let offsets: Vec<i64> = failures
        .iter()
        .filter_map(|f| f.held.as_ref())
        .map(|h| h.offset)
        .collect();
    assert_eq!(offsets, vec![0, 1]);
    assert_eq!(
        server.attempts("/down").len(),
        3,
        "the first try and two retries"
    );
    assert_eq!(
        sink.flush().expect("flush")[0].offset,
        2,
        "handed over: nothing waits"
    );
}
