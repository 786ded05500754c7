//! `jdbc-source` against PostgreSQL and MariaDB: every mode on tables with inserts and
//! updates, resuming from committed offsets without gaps or repeats, timestamp groups larger
//! than a batch, rows committed out of timestamp order, and Confluent-style configs.

use std::time::{Duration, Instant};

use culvert_connector_testkit::{Harness, OwnedRecord, Position, SourceRun};
use culvert_test_services::{MariaDb, PASSWORD, Postgres};
use serde_json::Value;

fn harness() -> Harness {
    let component = culvert_guests::builtin("jdbc-source").expect("jdbc-source is built in");
    Harness::load(&component.origin(), component.bytes).expect("loads")
}

/// The test PostgreSQL's native URL and the `plugin.allow.sql.urls` entry that grants it.
fn url_and_grant(pg: &Postgres) -> (String, String) {
    (
        pg.url("postgres"),
        format!("postgres://127.0.0.1:{}/postgres", pg.port()),
    )
}

fn payload(r: &OwnedRecord) -> Value {
    let v: Value = serde_json::from_slice(r.value.as_deref().expect("a value")).expect("JSON");
    v["payload"].clone()
}

fn ids(records: &[OwnedRecord]) -> Vec<i64> {
    records
        .iter()
        .map(|r| payload(r)["id"].as_i64().expect("an id"))
        .collect()
}

/// Polls until `want` records arrived or `within` passed.
fn poll_until(run: &mut SourceRun<'_>, want: usize, within: Duration) -> Vec<OwnedRecord> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        match run.poll(1000).expect("poll") {
            Some(records) => out.extend(records),
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    out
}

/// Polls for `period`, returning whatever arrives.
fn poll_for(run: &mut SourceRun<'_>, period: Duration) -> Vec<OwnedRecord> {
    poll_until(run, usize::MAX, period)
}

fn config<'a>(
    base: &[(&'a str, &'a str)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut c = base.to_vec();
    c.extend_from_slice(extra);
    c
}

#[test]
fn postgres_incrementing_reads_in_batches_and_resumes_exactly() {
    let pg = Postgres::start().expect("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, \
           amount numeric(10,2), placed date, note bytea);
         INSERT INTO orders (customer, amount, placed, note)
           SELECT 'c' || n, n * 1.25, DATE '2024-01-01' + n, '\\x0102'::bytea
           FROM generate_series(1, 250) n;
         CREATE TABLE ignored (id int PRIMARY KEY);",
    )
    .expect("setup");
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres&password={PASSWORD}",
        pg.port()
    );
    let h = harness();
    let base = [
        ("connection.url", url.as_str()),
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.whitelist", "orders"),
        ("topic.prefix", "pg-"),
        ("poll.interval.ms", "100"),
        ("batch.max.rows", "100"),
    ];
    // Stopped after the first batch, a restart resumes mid-table.
    let mut run = h.source(&base).expect("starts");
    let first_batch = poll_until(&mut run, 1, Duration::from_secs(20));
    assert_eq!(
        ids(&first_batch),
        (1..=100).collect::<Vec<_>>(),
        "batch.max.rows = 100"
    );
    let positions = run.commit_and_stop().expect("stops");
    let mut run = h.source_from(&base, &positions).expect("resumes");
    let rest = poll_until(&mut run, 150, Duration::from_secs(20));
    assert_eq!(
        ids(&rest),
        (101..=250).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    let mut records = first_batch;
    records.extend(rest);
    assert!(
        records.iter().all(|r| r.topic == "pg-orders"),
        "topic = prefix + table"
    );
    let first: Value = serde_json::from_slice(records[0].value.as_deref().expect("v")).expect("j");
    assert_eq!(first["schema"]["name"], "orders");
    let fields = first["schema"]["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["field"] == name)
            .expect(name)
            .clone()
    };
    assert_eq!(field("id")["type"], "int32");
    assert_eq!(field("id")["optional"], false);
    assert_eq!(field("customer")["type"], "string");
    assert_eq!(
        field("amount")["name"],
        "org.apache.kafka.connect.data.Decimal"
    );
    assert_eq!(field("amount")["parameters"]["scale"], "2");
    assert_eq!(
        field("placed")["name"],
        "org.apache.kafka.connect.data.Date"
    );
    assert_eq!(first["payload"]["amount"].to_string(), "1.25");
    assert_eq!(
        first["payload"]["placed"], 19724,
        "days since 1970 of 2024-01-02"
    );
    assert_eq!(first["payload"]["note"], "AQI=", "bytea as base64");
    assert!(records[0].key.is_none());

    let positions = run.commit_and_stop().expect("stops");
    assert_eq!(positions.len(), 1);
    let partition: Value = serde_json::from_str(&positions[0].partition).expect("json");
    assert_eq!(
        partition,
        serde_json::json!({"protocol": "1", "table": "public.orders"})
    );
    let offset: Value = serde_json::from_str(&positions[0].offset).expect("json");
    assert_eq!(offset, serde_json::json!({"incrementing": 250}));

    pg.psql(
        "postgres",
        "INSERT INTO orders (customer) VALUES ('late1'), ('late2');",
    )
    .expect("insert");
    let mut run = h.source_from(&base, &positions).expect("resumes");
    let records = poll_until(&mut run, 2, Duration::from_secs(10));
    assert_eq!(ids(&records), vec![251, 252], "no gap, no repeat");
    assert!(poll_for(&mut run, Duration::from_millis(400)).is_empty());

    // Connect's protocol-0 partition ({"table": name}) is honoured too.
    let legacy = vec![Position {
        partition: r#"{"table":"orders"}"#.into(),
        offset: r#"{"incrementing":251}"#.into(),
    }];
    let mut run = h.source_from(&base, &legacy).expect("resumes");
    assert_eq!(
        ids(&poll_until(&mut run, 1, Duration::from_secs(10))),
        vec![252]
    );
}

#[test]
fn postgres_timestamp_incrementing_sees_inserts_and_updates() {
    let pg = Postgres::start().expect("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE items (id bigserial PRIMARY KEY, name text, \
           updated timestamp(6) NOT NULL DEFAULT clock_timestamp());
         INSERT INTO items (name) SELECT 'i' || n FROM generate_series(1, 30) n;",
    )
    .expect("setup");
    let h = harness();
    let (url, grant) = url_and_grant(&pg);
    let base = [
        ("connection.url", url.as_str()),
        ("plugin.allow.sql.urls", grant.as_str()),
        ("mode", "timestamp+incrementing"),
        ("incrementing.column.name", "id"),
        ("timestamp.column.name", "updated"),
        ("topic.prefix", "t."),
        ("poll.interval.ms", "50"),
        ("batch.max.rows", "7"),
    ];
    let mut run = h.source(&base).expect("starts");
    let records = poll_until(&mut run, 30, Duration::from_secs(20));
    assert_eq!(ids(&records), (1..=30).collect::<Vec<_>>());
    let schema: Value = serde_json::from_slice(records[0].value.as_deref().expect("v")).expect("j");
    let updated = schema["schema"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["field"] == "updated")
        .expect("updated")
        .clone();
    assert_eq!(updated["name"], "org.apache.kafka.connect.data.Timestamp");
    assert_eq!(updated["type"], "int64");

    pg.psql(
        "postgres",
        "UPDATE items SET name = 'changed', updated = clock_timestamp() WHERE id IN (3, 17);
         INSERT INTO items (name) VALUES ('new');",
    )
    .expect("update");
    let records = poll_until(&mut run, 3, Duration::from_secs(10));
    assert_eq!(
        ids(&records),
        vec![3, 17, 31],
        "updates and the insert, in timestamp order"
    );
    assert_eq!(payload(&records[0])["name"], "changed");
    let positions = run.commit_and_stop().expect("stops");
    let offset: Value = serde_json::from_str(&positions[0].offset).expect("json");
    assert_eq!(offset["incrementing"], 31);
    assert!(offset["timestamp"].as_i64().expect("ms") > 1_700_000_000_000);
    assert!(offset["timestamp_nanos"].as_i64().expect("ns") < 1_000_000_000);

    let mut run = h.source_from(&base, &positions).expect("resumes");
    assert!(
        poll_for(&mut run, Duration::from_millis(500)).is_empty(),
        "nothing is repeated after a restart"
    );
}

#[test]
fn postgres_timestamp_groups_larger_than_a_batch_are_read_whole() {
    let pg = Postgres::start().expect("postgres");
    // Every row of one INSERT shares now(), the transaction's start time.
    pg.psql(
        "postgres",
        "CREATE TABLE events (id int NOT NULL, at timestamptz NOT NULL DEFAULT now());
         INSERT INTO events (id) SELECT n FROM generate_series(1, 25) n;
         INSERT INTO events (id) SELECT n FROM generate_series(26, 30) n;",
    )
    .expect("setup");
    let h = harness();
    let (url, grant) = url_and_grant(&pg);
    let base = [
        ("connection.url", url.as_str()),
        ("plugin.allow.sql.urls", grant.as_str()),
        ("mode", "timestamp"),
        ("timestamp.column.name", "at"),
        ("topic.prefix", ""),
        ("poll.interval.ms", "50"),
        ("batch.max.rows", "10"),
    ];
    let mut run = h.source(&base).expect("starts");
    let records = poll_until(&mut run, 30, Duration::from_secs(20));
    let mut got = ids(&records);
    got.sort_unstable();
    assert_eq!(got, (1..=30).collect::<Vec<_>>(), "no row lost or repeated");
    assert!(poll_for(&mut run, Duration::from_millis(300)).is_empty());
    // An update that moves a row's timestamp sends the row again.
    pg.psql("postgres", "UPDATE events SET at = now() WHERE id = 7;")
        .expect("update");
    assert_eq!(
        ids(&poll_until(&mut run, 1, Duration::from_secs(10))),
        vec![7]
    );
}

#[test]
fn postgres_rows_committed_out_of_order_are_not_skipped_with_the_delay() {
    let pg = Postgres::start().expect("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE payments (id serial PRIMARY KEY, who text NOT NULL, \
           at timestamp NOT NULL DEFAULT now());",
    )
    .expect("setup");
    let h = harness();
    let (url, grant) = url_and_grant(&pg);
    let base = [
        ("connection.url", url.as_str()),
        ("plugin.allow.sql.urls", grant.as_str()),
        ("mode", "timestamp+incrementing"),
        ("incrementing.column.name", "id"),
        ("timestamp.column.name", "at"),
        ("topic.prefix", "p-"),
        ("poll.interval.ms", "100"),
        ("timestamp.delay.interval.ms", "4000"),
    ];
    let mut run = h.source(&base).expect("starts");
    let mut records = Vec::new();
    std::thread::scope(|s| {
        // The slow transaction starts first (earlier timestamp) and commits last.
        let slow = s.spawn(|| {
            pg.psql(
                "postgres",
                "BEGIN; INSERT INTO payments (who) VALUES ('slow'); SELECT pg_sleep(2); COMMIT;",
            )
        });
        std::thread::sleep(Duration::from_millis(500));
        pg.psql("postgres", "INSERT INTO payments (who) VALUES ('fast');")
            .expect("fast");
        // Keep polling while the slow one is still open.
        records.extend(poll_for(&mut run, Duration::from_millis(2000)));
        slow.join().expect("joins").expect("slow");
    });
    records.extend(poll_until(
        &mut run,
        2 - records.len(),
        Duration::from_secs(15),
    ));
    let mut who: Vec<String> = records
        .iter()
        .map(|r| payload(r)["who"].as_str().expect("who").to_string())
        .collect();
    who.sort();
    assert_eq!(
        who,
        vec!["fast", "slow"],
        "the late-committing row is not skipped"
    );
}

#[test]
fn postgres_query_mode_filters_around_the_query() {
    let pg = Postgres::start().expect("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, total int);
         CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO customers VALUES (1, 'ada'), (2, 'grace');
         INSERT INTO orders (customer_id, total) VALUES (1, 10), (2, 20), (1, 30);",
    )
    .expect("setup");
    let h = harness();
    let (url, grant) = url_and_grant(&pg);
    let base = [
        ("connection.url", url.as_str()),
        ("plugin.allow.sql.urls", grant.as_str()),
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        (
            "query",
            "SELECT o.id, c.name, o.total FROM orders o JOIN customers c ON c.id = o.customer_id",
        ),
        ("topic.prefix", "joined-orders"),
        ("poll.interval.ms", "100"),
    ];
    let configs = h.task_configs(&base, 4).expect("runs").expect("splits");
    assert_eq!(configs.len(), 1, "a query runs in one task");
    let mut run = h.source(&base).expect("starts");
    let records = poll_until(&mut run, 3, Duration::from_secs(10));
    assert_eq!(ids(&records), vec![1, 2, 3]);
    assert!(records.iter().all(|r| r.topic == "joined-orders"));
    assert_eq!(payload(&records[1])["name"], "grace");
    let positions = run.commit_and_stop().expect("stops");
    let partition: Value = serde_json::from_str(&positions[0].partition).expect("json");
    assert_eq!(partition, serde_json::json!({"query": "query"}));
    pg.psql(
        "postgres",
        "INSERT INTO orders (customer_id, total) VALUES (2, 40);",
    )
    .expect("insert");
    let mut run = h.source_from(&base, &positions).expect("resumes");
    assert_eq!(
        ids(&poll_until(&mut run, 1, Duration::from_secs(10))),
        vec![4]
    );
}

#[test]
fn postgres_bulk_rereads_and_discovery_splits_tables_across_tasks() {
    let pg = Postgres::start().expect("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE TABLE c (id int);
         CREATE TABLE d (id int); INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (3);
         INSERT INTO c VALUES (4); INSERT INTO d VALUES (5);",
    )
    .expect("setup");
    let h = harness();
    let (url, grant) = url_and_grant(&pg);
    let base = [
        ("connection.url", url.as_str()),
        ("plugin.allow.sql.urls", grant.as_str()),
        ("mode", "bulk"),
        ("table.blacklist", "d"),
        ("topic.prefix", "bulk-"),
        ("poll.interval.ms", "300"),
    ];
    let mut run = h.source(&base).expect("starts");
    let records = poll_for(&mut run, Duration::from_millis(1000));
    let count = |topic: &str| records.iter().filter(|r| r.topic == topic).count();
    assert!(
        count("bulk-a") >= 4,
        "table a read whole, more than once: {}",
        count("bulk-a")
    );
    assert_eq!(count("bulk-a") % 2, 0, "whole tables only");
    assert!(count("bulk-b") >= 2 && count("bulk-c") >= 2);
    assert_eq!(count("bulk-d"), 0, "blacklisted");
    assert!(run.positions().is_empty(), "bulk mode commits no offsets");
    run.commit_and_stop().expect("stops");

    // Without a list, the tasks discover the tables and share them without overlap.
    let configs = h.task_configs(&base, 3).expect("runs").expect("splits");
    assert_eq!(configs.len(), 3);
    let mut topics = Vec::new();
    for task_config in &configs {
        let pairs: Vec<(&str, &str)> = task_config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut run = h.source(&pairs).expect("task starts");
        let mut mine: Vec<String> = poll_for(&mut run, Duration::from_millis(400))
            .into_iter()
            .map(|r| r.topic)
            .collect();
        mine.sort();
        mine.dedup();
        topics.extend(mine);
    }
    topics.sort();
    assert_eq!(
        topics,
        vec!["bulk-a", "bulk-b", "bulk-c"],
        "each table in exactly one task"
    );

    // An include list is split round-robin by task-configs.
    let listed = config(
        &base[..2],
        &[
            ("mode", "bulk"),
            ("topic.prefix", "x"),
            ("table.whitelist", "a,b,c"),
        ],
    );
    let configs = h.task_configs(&listed, 2).expect("runs").expect("splits");
    let shares: Vec<&str> = configs
        .iter()
        .map(|c| {
            c.iter()
                .find(|(k, _)| k == "culvert.jdbc.tables")
                .expect("share")
                .1
                .as_str()
        })
        .collect();
    assert_eq!(shares, vec![r#"["a","c"]"#, r#"["b"]"#]);
}

#[test]
fn mariadb_modes_with_a_confluent_style_config() {
    let db = MariaDb::start().expect("mariadb");
    db.sql(
        "CREATE TABLE culvert.users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL, \
           balance DECIMAL(12,3), active BOOLEAN NOT NULL DEFAULT TRUE, \
           modified DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));
         INSERT INTO culvert.users (email, balance) VALUES ('a@x', 10.5), ('b@x', NULL), ('c@x', -3.125);",
    )
    .expect("setup");
    let url = format!(
        "jdbc:mysql://127.0.0.1:{}/culvert?useSSL=false&serverTimezone=UTC",
        db.port()
    );
    let h = harness();
    // As in Confluent's documentation: JDBC URL, user and password keys, no Culvert keys.
    let base = [
        (
            "connector.class",
            "io.confluent.connect.jdbc.JdbcSourceConnector",
        ),
        ("connection.url", url.as_str()),
        ("connection.user", "culvert"),
        ("connection.password", PASSWORD),
        ("mode", "timestamp+incrementing"),
        ("incrementing.column.name", "id"),
        ("timestamp.column.name", "modified"),
        ("table.whitelist", "users"),
        ("topic.prefix", "mysql-"),
        ("poll.interval.ms", "100"),
        ("numeric.mapping", "best_fit"),
    ];
    assert!(h.validate(&base).expect("validates").is_empty());
    let mut run = h.source(&base).expect("starts");
    let records = poll_until(&mut run, 3, Duration::from_secs(20));
    assert_eq!(ids(&records), vec![1, 2, 3]);
    assert!(records.iter().all(|r| r.topic == "mysql-users"));
    assert_eq!(payload(&records[0])["balance"], 10.5, "best_fit: a double");
    assert_eq!(payload(&records[1])["balance"], Value::Null);
    assert_eq!(payload(&records[0])["email"], "a@x");
    db.sql("UPDATE culvert.users SET email = 'b2@x' WHERE id = 2; INSERT INTO culvert.users (email) VALUES ('d@x');")
        .expect("update");
    let records = poll_until(&mut run, 2, Duration::from_secs(10));
    assert_eq!(ids(&records), vec![2, 4]);
    assert_eq!(payload(&records[0])["email"], "b2@x");
    let positions = run.commit_and_stop().expect("stops");
    let partition: Value = serde_json::from_str(&positions[0].partition).expect("json");
    assert_eq!(
        partition,
        serde_json::json!({"protocol": "1", "table": "culvert.users"})
    );

    // Incrementing mode, restarted from its offset.
    let inc = config(
        &base[..4],
        &[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("topic.prefix", "m-"),
            ("poll.interval.ms", "100"),
        ],
    );
    let mut run = h.source(&inc).expect("starts");
    assert_eq!(
        ids(&poll_until(&mut run, 4, Duration::from_secs(10))),
        vec![1, 2, 3, 4]
    );
    let positions = run.commit_and_stop().expect("stops");
    db.sql("INSERT INTO culvert.users (email) VALUES ('e@x');")
        .expect("insert");
    let mut run = h.source_from(&inc, &positions).expect("resumes");
    assert_eq!(
        ids(&poll_until(&mut run, 1, Duration::from_secs(10))),
        vec![5]
    );
    run.commit_and_stop().expect("stops");

    // Timestamp mode sees inserts and updates; bulk mode re-reads the whole table.
    let ts = config(
        &base[..4],
        &[
            ("mode", "timestamp"),
            ("timestamp.column.name", "modified"),
            ("topic.prefix", "ts-"),
            ("poll.interval.ms", "100"),
        ],
    );
    let mut run = h.source(&ts).expect("starts");
    assert_eq!(
        ids(&poll_until(&mut run, 5, Duration::from_secs(10))),
        vec![1, 3, 2, 4, 5],
        "in timestamp order (row 2 was updated after 3 was written)"
    );
    db.sql("UPDATE culvert.users SET email = 'a2@x' WHERE id = 1;")
        .expect("update");
    let records = poll_until(&mut run, 1, Duration::from_secs(10));
    assert_eq!(ids(&records), vec![1]);
    assert_eq!(payload(&records[0])["email"], "a2@x");
    run.commit_and_stop().expect("stops");
    let bulk = config(
        &base[..4],
        &[
            ("mode", "bulk"),
            ("topic.prefix", "b-"),
            ("poll.interval.ms", "200"),
        ],
    );
    let mut run = h.source(&bulk).expect("starts");
    let records = poll_for(&mut run, Duration::from_millis(700));
    assert!(
        records.len() >= 10 && records.len().is_multiple_of(5),
        "{} rows",
        records.len()
    );
    assert_eq!(ids(&records[..5]), vec![1, 2, 3, 4, 5]);
}

#[test]
fn bad_configs_are_refused_by_key() {
    let h = harness();
    let problems = h
        .validate(&[
            ("connection.url", "jdbc:postgresql://db/x"),
            ("mode", "sometimes"),
        ])
        .expect("validates");
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"mode"), "{problems:?}");
    assert!(keys.contains(&"topic.prefix"), "{problems:?}");
    let problems = h
        .validate(&[
            ("connection.url", "jdbc:postgresql://db/x"),
            ("mode", "timestamp+incrementing"),
            ("topic.prefix", "p"),
            ("batch.max.rows", "0"),
        ])
        .expect("validates");
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "incrementing.column.name",
        "timestamp.column.name",
        "batch.max.rows",
    ] {
        assert!(keys.contains(&key), "{key} missing from {problems:?}");
    }
    // A nullable incrementing column is refused at the first poll, naming the fix.
    let pg = Postgres::start().expect("postgres");
    pg.psql("postgres", "CREATE TABLE loose (id int, v text);")
        .expect("setup");
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres&password={PASSWORD}",
        pg.port()
    );
    let mut run = h
        .source(&[
            ("connection.url", url.as_str()),
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("topic.prefix", "l-"),
        ])
        .expect("starts");
    let err = run.poll(10).expect_err("nullable column").to_string();
    assert!(err.contains("validate.non.null=false"), "{err}");
}

/// Runs SQL on a SQLite file with Python's sqlite3 module (python3 ships it).
fn sqlite(path: &std::path::Path, sql: &str) {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"])
        .arg(path)
        .arg(sql)
        .output()
        .expect("python3 runs (apt-get install -y python3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sqlite_incrementing_from_a_jdbc_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.db");
    sqlite(
        &path,
        "CREATE TABLE items (id INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, price REAL);
         INSERT INTO items (name, price) VALUES ('a', 1.5), ('b', NULL), ('c', 3.0);",
    );
    let url = format!("jdbc:sqlite:{}", path.display());
    let h = harness();
    let base = [
        ("connection.url", url.as_str()),
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("topic.prefix", "lite-"),
        ("poll.interval.ms", "100"),
    ];
    let mut run = h.source(&base).expect("starts");
    let records = poll_until(&mut run, 3, Duration::from_secs(10));
    assert_eq!(ids(&records), vec![1, 2, 3]);
    assert!(records.iter().all(|r| r.topic == "lite-items"));
    assert_eq!(payload(&records[0])["price"], 1.5);
    let positions = run.commit_and_stop().expect("stops");
    let partition: Value = serde_json::from_str(&positions[0].partition).expect("json");
    assert_eq!(
        partition,
        serde_json::json!({"protocol": "1", "table": "items"})
    );
    sqlite(&path, "INSERT INTO items (name) VALUES ('d');");
    let mut run = h.source_from(&base, &positions).expect("resumes");
    assert_eq!(
        ids(&poll_until(&mut run, 1, Duration::from_secs(10))),
        vec![4]
    );
}

#[test]
fn text_needing_json_escapes_arrives_intact() {
    let pg = Postgres::start().expect("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE notes (id int PRIMARY KEY, body text);
         INSERT INTO notes VALUES (1, E'quote \" backslash \\\\ tab \\t newline \\n cr \\r'),
           (2, E'control \\x01 \\x1f end'), (3, 'é ü 日本 ✓'), (4, '');",
    )
    .expect("setup");
    let (url, grant) = url_and_grant(&pg);
    let h = harness();
    let config = [
        ("connection.url", url.as_str()),
        ("plugin.allow.sql.urls", grant.as_str()),
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.whitelist", "notes"),
        ("topic.prefix", "pg-"),
        ("poll.interval.ms", "100"),
    ];
    let mut run = h.source(&config).expect("starts");
    let records = poll_until(&mut run, 4, Duration::from_secs(20));
    let bodies: Vec<Value> = records.iter().map(|r| payload(r)["body"].clone()).collect();
    assert_eq!(
        bodies,
        [
            "quote \" backslash \\ tab \t newline \n cr \r",
            "control \u{1} \u{1f} end",
            "é ü 日本 ✓",
            "",
        ]
    );
}
