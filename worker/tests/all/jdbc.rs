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

/// The receiver of `examples/jdbc-to-http`, on a free port; its printed lines.
struct Receiver {
    child: crate::standalone::Worker,
    port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receiver {
    fn start(example: &std::path::Path) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new("python3")
            .arg(example.join("receiver.py"))
            .arg("0")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs (apt-get install -y python3)");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = std::io::BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).expect("first line");
        let port = first
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Self {
            child: crate::standalone::guard(child),
            port,
            lines,
        }
    }

    /// Orders received so far: (path, order).
    fn orders(&self) -> Vec<(String, Value)> {
        let lines = self.lines.lock().expect("lines").clone();
        lines
            .iter()
            .filter_map(|l| l.split_once(' '))
            .flat_map(|(path, body)| {
                let orders: Vec<Value> = serde_json::from_str(body).unwrap_or_default();
                orders.into_iter().map(move |o| (path.to_string(), o))
            })
            .collect()
    }

    async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let orders = self.orders();
            if orders.len() >= n || Instant::now() > deadline {
                return orders;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jdbc_to_http_example_runs_as_written() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/jdbc-to-http");
    let pg = Postgres::start().expect("postgres");
    let setup = std::fs::read_to_string(example.join("setup.sql")).expect("setup.sql");
    pg.psql("postgres", &setup).expect("setup");
    let receiver = Receiver::start(&example);
    assert!(receiver.child.id() > 0);

    // The example's files, with this test's ports and password.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for name in ["orders-source.json", "orders-to-http.json"] {
        let text = std::fs::read_to_string(example.join(name))
            .expect("example file")
            .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", pg.port()))
            .replace(
                "\"connection.password\": \"postgres\"",
                &format!("\"connection.password\": \"{PASSWORD}\""),
            )
            .replace("127.0.0.1:8000", &format!("127.0.0.1:{}", receiver.port));
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("write");
        files.push(file);
    }
    let paths: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    let (_worker, _base, _) = start_with(dir.path(), "", &[], &paths);

    let orders = receiver.wait_for(3).await;
    let ids_at = |orders: &[(String, Value)], path: &str| -> Vec<i64> {
        orders
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, o)| o["id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(
        ids_at(&orders, "/customers/acme/orders"),
        vec![1, 3],
        "{orders:?}"
    );
    assert_eq!(
        ids_at(&orders, "/customers/globex/orders"),
        vec![2],
        "{orders:?}"
    );
    assert!(
        orders
            .iter()
            .all(|(_, o)| o.get("card_number").is_none() && o.get("amount").is_some()),
        "the transform dropped card_number: {orders:?}"
    );

    pg.psql("postgres", "UPDATE orders SET amount = 25 WHERE id = 1;")
        .expect("update");
    let orders = receiver.wait_for(4).await;
    let (path, updated) = orders.last().expect("the update").clone();
    assert_eq!(path, "/customers/acme/orders");
    assert_eq!(updated["id"], 1);
    assert_eq!(updated["amount"], 25.0);
}
