//! Benchmark: the built-in connectors under the real plugin host (the test kit: no broker,
//! no worker), each beside a baseline doing the same work natively in the same run.
//!
//! - `jdbc-source` (incrementing mode) reads a PostgreSQL table; the baseline runs the same
//!   keyset query (`WHERE id > $1 ORDER BY id ASC LIMIT batch`) with sqlx and decodes every
//!   column to a typed value. Target: the connector at >= 0.7x the baseline's rows/s.
//! - `http-sink` delivers NDJSON batches to a local axum receiver; the baseline joins the
//!   same values into the same bodies and POSTs them with reqwest, one after another.
//!
//!   cargo run --release -p culvert-guests --example connectors_bench [ROWS] [BATCH] [ROUNDS] [jdbc|http]
//!
//! Needs PostgreSQL's server binaries (`scripts/deps` installs them). Prints records/s per
//! round for both sides and their ratio.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use culvert_connector_testkit::{Harness, OwnedRecord};
use culvert_test_services::{PASSWORD, Postgres};
use sqlx::{Connection, PgConnection, Row};

/// The allocator the `culvert` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map(|a| a.parse().expect("arguments are numbers: ROWS BATCH ROUNDS"))
        .unwrap_or(default)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn load(name: &str) -> Harness {
    let component = culvert_guests::builtin(name).expect("a built-in connector");
    Harness::load(&component.origin(), component.bytes).expect("loads")
}

fn per_second(n: u64, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

/// The keyset query with sqlx, every column decoded; returns the rows read.
async fn raw_keyset(url: &str, batch: i64) -> u64 {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let (mut last, mut n) = (0i64, 0u64);
    loop {
        let rows = sqlx::query("SELECT * FROM orders WHERE id > $1 ORDER BY id ASC LIMIT $2")
            .bind(last)
            .bind(batch)
            .fetch_all(&mut conn)
            .await
            .expect("query");
        if rows.is_empty() {
            return n;
        }
        for row in &rows {
            let id: i64 = row.try_get(0).expect("id");
            let customer: String = row.try_get(1).expect("customer");
            let amount: Option<BigDecimal> = row.try_get(2).expect("amount");
            let placed: DateTime<Utc> = row.try_get(3).expect("placed");
            let note: Option<String> = row.try_get(4).expect("note");
            black_box((customer, amount, placed, note));
            last = id;
        }
        n += rows.len() as u64;
    }
}

/// The connector reading the whole table from the start; returns the rows read.
fn connector_reads(h: &Harness, jdbc_url: &str, batch: &str, rows: u64) -> u64 {
    let config = [
        ("connection.url", jdbc_url),
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.whitelist", "orders"),
        ("topic.prefix", "pg-"),
        ("batch.max.rows", batch),
        ("poll.interval.ms", "1000"),
    ];
    let mut run = h.source(&config).expect("starts");
    let max = batch.parse().expect("batch");
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut n = 0u64;
    while n < rows && Instant::now() < deadline {
        if let Some(records) = run.poll_count(max).expect("poll") {
            n += records as u64;
        }
    }
    n
}

fn jdbc(rows: u64, batch: u64, rounds: u64) {
    let pg = Postgres::start().expect("postgres (scripts/deps installs it)");
    pg.psql(
        "postgres",
        &format!(
            "CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, \
               amount numeric(10,2), placed timestamptz NOT NULL, note text);
             INSERT INTO orders (customer, amount, placed, note)
               SELECT 'customer-' || n, n * 1.25, TIMESTAMPTZ '2024-01-01' + n * INTERVAL '1 s',
                      repeat('x', 64) FROM generate_series(1, {rows}) n;"
        ),
    )
    .expect("setup");
    pg.psql("postgres", "VACUUM ANALYZE orders")
        .expect("vacuum");
    let url = pg.url("postgres");
    let jdbc_url = format!(
        "jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres&password={PASSWORD}",
        pg.port()
    );
    let h = load("jdbc-source");
    let rt = runtime();
    let batch_text = batch.to_string();
    println!("jdbc-source vs sqlx keyset query: {rows} rows (5 columns, ~110 B), batch {batch}");
    println!("round  sqlx rows/s  connector rows/s  connector/sqlx");
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let started = Instant::now();
        let raw = rt.block_on(raw_keyset(&url, batch as i64));
        let raw_rate = per_second(raw, started.elapsed());
        let started = Instant::now();
        let read = connector_reads(&h, &jdbc_url, &batch_text, rows);
        let rate = per_second(read, started.elapsed());
        assert_eq!((raw, read), (rows, rows), "both read the whole table");
        println!(
            "{round:>5}  {raw_rate:>11.0}  {rate:>16.0}  {:>14.2}",
            rate / raw_rate
        );
        ratios.push(rate / raw_rate);
    }
    print_median(&mut ratios);
}

fn print_median(ratios: &mut [f64]) {
    ratios.sort_by(f64::total_cmp);
    if let Some(median) = ratios.get(ratios.len() / 2) {
        println!("median ratio {median:.2}");
    }
}

/// A receiver counting NDJSON lines; returns its URL and the count.
fn receiver(rt: &tokio::runtime::Runtime) -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&count);
    let app = axum::Router::new().route(
        "/ingest",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counted = Arc::clone(&counted);
            async move {
                let lines = body.iter().filter(|b| **b == b'\n').count();
                counted.fetch_add(lines as u64, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/ingest"), count)
}

/// A JSON value of about 200 bytes.
fn value(i: u64) -> String {
    let mut v = format!(
        "{{\"id\":{i},\"customer\":\"customer-{}\",\"note\":\"",
        i % 100
    );
    while v.len() < 198 {
        v.push('x');
    }
    v.push_str("\"}");
    v
}

fn http(records: u64, batch: u64, rounds: u64) {
    let rt = runtime();
    let (url, count) = receiver(&rt);
    let h = load("http-sink");
    let batch_text = batch.to_string();
    let config = [
        ("plugin.allow.hosts", "127.0.0.1"),
        ("plugin.allow.private.networks", "true"),
        ("http.api.url", url.as_str()),
        ("request.body.format", "ndjson"),
        ("batch.max.size", batch_text.as_str()),
    ];
    let values: Vec<String> = (0..records).map(value).collect();
    let puts: Vec<Vec<OwnedRecord>> = values
        .chunks(1000)
        .map(|c| {
            c.iter()
                .map(|v| OwnedRecord::value("orders", v.as_str()))
                .collect()
        })
        .collect();
    let client = reqwest::Client::new();
    println!(
        "\nhttp-sink vs reqwest POSTs: {records} records of ~200 B, NDJSON batches of {batch}, \
         puts of 1000"
    );
    println!("round  reqwest records/s  http-sink records/s  http-sink/reqwest");
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        count.store(0, Ordering::Relaxed);
        let started = Instant::now();
        rt.block_on(async {
            // The same work natively: each batch's values joined into an NDJSON body.
            for chunk in values.chunks(batch as usize) {
                let mut body = Vec::with_capacity(chunk.len() * 201);
                for v in chunk {
                    body.extend_from_slice(v.as_bytes());
                    body.push(b'\n');
                }
                let resp = client
                    .post(&url)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await
                    .expect("post");
                assert!(resp.status().is_success());
            }
        });
        let raw_rate = per_second(records, started.elapsed());
        assert_eq!(count.load(Ordering::Relaxed), records);
        count.store(0, Ordering::Relaxed);
        let mut sink = h.sink(&config).expect("starts");
        let started = Instant::now();
        for put in &puts {
            assert!(sink.put(put).expect("put").is_empty(), "no failures");
        }
        sink.flush().expect("flush");
        let rate = per_second(records, started.elapsed());
        assert_eq!(count.load(Ordering::Relaxed), records, "all delivered");
        sink.stop().expect("stop");
        println!(
            "{round:>5}  {raw_rate:>17.0}  {rate:>19.0}  {:>17.2}",
            rate / raw_rate
        );
        ratios.push(rate / raw_rate);
    }
    print_median(&mut ratios);
}

fn main() {
    let rows = arg(1, 500_000);
    let batch = arg(2, 1000);
    let rounds = arg(3, 5);
    let only = std::env::args().nth(4);
    if only.as_deref().is_none_or(|o| o == "jdbc") {
        jdbc(rows, batch, rounds);
    }
    if only.as_deref().is_none_or(|o| o == "http") {
        http(rows, batch.min(500), rounds);
    }
}
