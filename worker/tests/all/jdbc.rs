//! A connector configuration in the form Confluent documents it — the JDBC source with
//! `ValueToKey` + `ExtractField$Key` to key records by id and a `RegexRouter` to rename the
//! topic — validated and run unchanged by `culvert standalone` against a real PostgreSQL.

use std::time::{Duration, Instant};

use culvert_test_services::{PASSWORD, Postgres};
use serde_json::{Value, json};

use crate::standalone::{call, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confluent_jdbc_source_config_with_transforms_runs_unchanged() {
    let pg = Postgres::start().expect("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, city text);
         INSERT INTO customers (name, city) VALUES ('Ada', 'London'), ('Grace', NULL),
           ('Linus', 'Helsinki');",
    )
    .expect("setup");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": format!("jdbc:postgresql://127.0.0.1:{}/postgres", pg.port()),
        "connection.user": "postgres",
        "connection.password": PASSWORD,
        "topic.prefix": "postgres-01-",
        "mode": "incrementing",
        "incrementing.column.name": "id",
        "table.whitelist": "customers",
        "poll.interval.ms": "200",
        "tasks.max": "1",
        "transforms": "createKey,extractInt,route",
        "transforms.createKey.type": "org.apache.kafka.connect.transforms.ValueToKey",
        "transforms.createKey.fields": "id",
        "transforms.extractInt.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
        "transforms.extractInt.field": "id",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "postgres-01-(.*)",
        "transforms.route.replacement": "$1-from-postgres",
    });
    let file = dir.path().join("customers.json");
    std::fs::write(
        &file,
        json!({"name": "jdbc_source_postgres_01", "config": config}).to_string(),
    )
    .expect("write connector");
    let (_worker, base, bootstrap) = start_with(dir.path(), "", &[], &[file.as_path()]);

    // Validation through the REST API, by the Confluent class's simple name.
    let body = serde_json::to_string(&config).expect("json");
    let (status, answer) = crate::rest::call(
        reqwest::Method::PUT,
        &format!("{base}/connector-plugins/JdbcSourceConnector/config/validate"),
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["error_count"], 0, "{answer}");

    let lines = wait_for_records(&bootstrap, 3).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (line, (id, name)) in lines.iter().zip([(1, "Ada"), (2, "Grace"), (3, "Linus")]) {
        let (key, value) = line.split_once('\t').expect("key and value");
        let key: Value = serde_json::from_str(key).expect("key is JSON");
        assert_eq!(key["payload"], id, "keyed by id: {line}");
        assert_eq!(key["schema"]["type"], "int32", "{line}");
        let value: Value = serde_json::from_str(value).expect("value is JSON");
        assert_eq!(value["payload"]["name"], name, "{line}");
        assert_eq!(value["schema"]["name"], "customers", "{line}");
    }
    let (_, status) = call(
        reqwest::Method::GET,
        &format!("{base}/connectors/jdbc_source_postgres_01/status"),
    )
    .await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");

    // New rows keep flowing.
    pg.psql(
        "postgres",
        "INSERT INTO customers (name) VALUES ('Barbara');",
    )
    .expect("insert");
    let lines = wait_for_records(&bootstrap, 4).await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[3].contains("Barbara"), "{}", lines[3]);
}

/// The topic's records as `key<TAB>value` lines; none while the topic does not exist yet.
fn read_topic(bootstrap: &str) -> Vec<String> {
    let out = std::process::Command::new("kcat")
        .args([
            "-b",
            bootstrap,
            "-C",
            "-t",
            "customers-from-postgres",
            "-e",
            "-q",
        ])
        .args(["-f", "%k\t%s\n"])
        .output()
        .expect("kcat runs (apt-get install -y kcat; scripts/deps installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Reads the topic until it holds `n` records (or 30 s pass).
async fn wait_for_records(bootstrap: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines = read_topic(bootstrap);
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
