//! The `sql` capability against real databases — PostgreSQL and MariaDB started by the test
//! (`culvert-test-services`), SQLite in a temporary file — through the `sql-probe` guest:
//! every value type read and bound exactly, row caps, describe, timeouts, and clear errors
//! for bad SQL, bad credentials and databases outside the grant.

mod common;

use common::owned;
use culvert_plugin_host::{Grants, Plugin, SourceTaskInstance, TaskError};
use culvert_test_services::{MariaDb, Postgres};

async fn probe_plugin() -> Plugin {
    common::load_probe("sql-probe", &["sql"]).await
}

/// Starts the probe with `grant` as the connector's grant setting and `config` as its
/// config, polls once: the emitted lines, or the error's text.
async fn run(plugin: &Plugin, grant: &str, config: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let grants = Grants::from_config(&owned(&[("plugin.allow.sql.urls", grant)])).expect("grants");
    let describe = |e: TaskError| match e {
        TaskError::Fatal(m) => format!("fatal: {m}"),
        TaskError::Retriable(m) => format!("retriable: {m}"),
        other => panic!("unexpected task error: {other}"),
    };
    let mut task = SourceTaskInstance::start(plugin, "c", 0, &grants, &owned(config), &[])
        .await
        .map_err(describe)?;
    let batch = task.poll(100).await.map_err(describe)?.expect("a batch");
    Ok(batch
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.unwrap_or_default()).into_owned())
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_values_round_trip_exactly() {
    let pg = Postgres::start().expect("postgres");
    let plugin = probe_plugin().await;
    let url = pg.url("postgres");
    let grant = format!("postgres://127.0.0.1:{}/postgres", pg.port());
    pg.psql(
        "postgres",
        "CREATE TYPE mood AS ENUM ('happy', 'sad');
         CREATE TABLE t (
           id serial PRIMARY KEY, b bool, s smallint, i int NOT NULL, l bigint, r real,
           d double precision, n numeric(30,10), tx text, vc varchar(10), ch char(3),
           by bytea, dt date, tm time, ts timestamp, tz timestamptz, u uuid, j jsonb,
           m mood);
         INSERT INTO t (b, s, i, l, r, d, n, tx, vc, ch, by, dt, tm, ts, tz, u, j, m) VALUES
           (true, -2, 7, 9007199254740993, 1.5, -0.25, 12345678901234567890.0123456789,
            'héllo', 'v', 'ab', '\\x00ff', '1969-12-31', '01:00:02.000005',
            '2024-02-29 12:00:00.000001', '2024-02-29 12:00:00+02', 
            'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2]}', 'sad');
         INSERT INTO t (i) VALUES (8);",
    )
    .expect("setup");

    let rows = run(
        &plugin,
        &grant,
        &[("url", &url), ("query", "SELECT * FROM t ORDER BY id")],
    )
    .await
    .expect("query");
    assert_eq!(
        rows,
        [
            "columns=id:INT4,b:BOOL,s:INT2,i:INT4,l:INT8,r:FLOAT4,d:FLOAT8,n:NUMERIC,tx:TEXT,\
             vc:VARCHAR,ch:CHAR,by:BYTEA,dt:DATE,tm:TIME,ts:TIMESTAMP,tz:TIMESTAMPTZ,u:UUID,\
             j:JSONB,m:mood truncated=false",
            "id=int:1|b=bool:true|s=int:-2|i=int:7|l=int:9007199254740993|r=double:1.5|\
             d=double:-0.25|n=decimal:12345678901234567890.0123456789|tx=text:héllo|vc=text:v|\
             ch=text:ab |by=bytes:00ff|dt=date:-1|tm=time:3602000005|\
             ts=timestamp:1709208000000001|tz=timestamp:1709200800000000|\
             u=text:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|j=text:{\"k\":[1,2]}|m=text:sad",
            "id=int:2|b=null:|s=null:|i=int:8|l=null:|r=null:|d=null:|n=null:|tx=null:|\
             vc=null:|ch=null:|by=null:|dt=null:|tm=null:|ts=null:|tz=null:|u=null:|j=null:|\
             m=null:",
        ]
    );

    // Every value kind binds as a parameter and comes back unchanged.
    let params = "null:;bool:false;int:-9007199254740993;double:2.5;decimal:-1.50;text:x y;\
                  bytes:0a0b;date:19782;time:86399999999;timestamp:-1";
    let rows = run(
        &plugin,
        &grant,
        &[
            ("url", &url),
            (
                "query",
                "SELECT $1 AS a, $2 AS b, $3 AS c, $4 AS d, $5 AS e, $6 AS f, $7 AS g, \
                       $8 AS h, $9 AS i, $10 AS j",
            ),
            ("params", params),
        ],
    )
    .await
    .expect("params");
    assert_eq!(
        rows[1],
        "a=null:|b=bool:false|c=int:-9007199254740993|d=double:2.5|e=decimal:-1.50|\
         f=text:x y|g=bytes:0a0b|h=date:19782|i=time:86399999999|j=timestamp:-1"
    );

    // A null binds untyped, so it fits an integer column; the same statement text with other
    // parameter types is prepared again rather than reusing the first types.
    for params in ["null:;int:5", "int:6;int:5"] {
        let rows = run(
            &plugin,
            &grant,
            &[
                ("url", &url),
                (
                    "query",
                    "INSERT INTO t (l, i) VALUES ($1, $2) RETURNING l, i",
                ),
                ("params", params),
            ],
        )
        .await
        .expect("insert");
        assert_eq!(rows[1].split('|').nth(1), Some("i=int:5"), "{rows:?}");
    }

    // Row cap, and describe's nullability.
    let rows = run(
        &plugin,
        &grant,
        &[
            ("url", &url),
            ("query", "SELECT id, i, l FROM t ORDER BY id"),
            ("max.rows", "2"),
            ("describe", "true"),
        ],
    )
    .await
    .expect("capped");
    assert_eq!(
        rows[0],
        "columns=id:INT4:notnull,i:INT4:notnull,l:INT8:null truncated=true"
    );
    assert_eq!(rows.len(), 3);

    // Errors name what is wrong.
    let err = run(&plugin, &grant, &[("url", &url), ("query", "SELEC 1")])
        .await
        .expect_err("syntax");
    assert!(
        err.starts_with("fatal: database error 42601: syntax error"),
        "{err}"
    );
    let err = run(
        &plugin,
        &grant,
        &[
            ("url", &url),
            ("query", "SELECT pg_sleep(5)"),
            ("timeout.ms", "200"),
        ],
    )
    .await
    .expect_err("timeout");
    assert_eq!(err, "retriable: the statement timed out");
    let bad_pw = format!("postgres://postgres:wrong@127.0.0.1:{}/postgres", pg.port());
    let err = run(&plugin, &grant, &[("url", &bad_pw), ("query", "SELECT 1")])
        .await
        .expect_err("password");
    assert!(err.contains("password authentication failed"), "{err}");
    let other_db = pg.url("template1");
    let err = run(
        &plugin,
        &grant,
        &[("url", &other_db), ("query", "SELECT 1")],
    )
    .await
    .expect_err("denied");
    assert!(
        err.starts_with(&format!(
            "fatal: database denied: postgres://127.0.0.1:{}/template1 is not in \
             plugin.allow.sql.urls",
            pg.port()
        )),
        "{err}"
    );
    let err = run(&plugin, "", &[("url", &url), ("query", "SELECT 1")])
        .await
        .expect_err("no grant");
    assert!(err.contains("sets no plugin.allow.sql.urls"), "{err}");
    let err = run(
        &plugin,
        &grant,
        &[("url", &url), ("query", "SELECT '1 day'::interval")],
    )
    .await
    .expect_err("unsupported");
    assert!(
        err.contains("has type INTERVAL, which the sql capability cannot convert"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_values_round_trip_exactly() {
    let db = MariaDb::start().expect("mariadb");
    let plugin = probe_plugin().await;
    let url = db.url("culvert");
    let grant = format!("mysql://127.0.0.1:{}/culvert", db.port());
    db.sql(
        "CREATE TABLE culvert.t (
           id int AUTO_INCREMENT PRIMARY KEY, b tinyint(1), ti tinyint, tu tinyint unsigned,
           bu bigint unsigned, i int NOT NULL, f float, d double, n decimal(30,10),
           vc varchar(10), tx text, bl blob, dt date, tm time(6), dtm datetime(6),
           ts timestamp(6) NULL, e enum('a','b'), y year, j json);
         SET time_zone = '+00:00';
         INSERT INTO culvert.t (b, ti, tu, bu, i, f, d, n, vc, tx, bl, dt, tm, dtm, ts, e, y, j)
         VALUES (1, -5, 250, 18446744073709551615, 7, 1.5, -0.25,
           12345678901234567890.0123456789, 'héllo', 'long', X'00FF', '1969-12-31',
           '01:00:02.000005', '2024-02-29 12:00:00.000001', '2024-02-29 12:00:00.5', 'b',
           2024, '{\"k\": 1}');
         INSERT INTO culvert.t (i) VALUES (8);",
    )
    .expect("setup");

    let rows = run(
        &plugin,
        &grant,
        &[("url", &url), ("query", "SELECT * FROM t ORDER BY id")],
    )
    .await
    .expect("query");
    assert_eq!(
        rows,
        [
            "columns=id:INT,b:BOOLEAN,ti:TINYINT,tu:TINYINT UNSIGNED,bu:BIGINT UNSIGNED,i:INT,\
             f:FLOAT,d:DOUBLE,n:DECIMAL,vc:VARCHAR,tx:TEXT,bl:BLOB,dt:DATE,tm:TIME,\
             dtm:DATETIME,ts:TIMESTAMP,e:ENUM,y:YEAR,j:BLOB truncated=false",
            "id=int:1|b=bool:true|ti=int:-5|tu=int:250|bu=decimal:18446744073709551615|i=int:7|\
             f=double:1.5|d=double:-0.25|n=decimal:12345678901234567890.0123456789|\
             vc=text:héllo|tx=text:long|bl=bytes:00ff|dt=date:-1|tm=time:3602000005|\
             dtm=timestamp:1709208000000001|ts=timestamp:1709208000500000|e=text:b|y=int:2024|\
             j=bytes:7b226b223a20317d",
            "id=int:2|b=null:|ti=null:|tu=null:|bu=null:|i=int:8|f=null:|d=null:|n=null:|\
             vc=null:|tx=null:|bl=null:|dt=null:|tm=null:|dtm=null:|ts=null:|e=null:|y=null:|\
             j=null:",
        ]
    );

    let params = "null:;bool:true;int:-9007199254740993;text:x y;bytes:0a0b;date:19782;\
                  timestamp:1709208000000001;decimal:-1.50";
    let rows = run(
        &plugin,
        &grant,
        &[
            ("url", &url),
            (
                "query",
                "SELECT ? IS NULL AS a, ? AS b, ? AS c, ? AS d, ? AS e, CAST(? AS DATE) AS f, \
                 CAST(? AS DATETIME(6)) AS g, CAST(? AS DECIMAL(10,2)) AS h",
            ),
            ("params", params),
        ],
    )
    .await
    .expect("params");
    assert_eq!(
        rows[1],
        "a=int:1|b=int:1|c=int:-9007199254740993|d=text:x y|e=bytes:0a0b|f=date:19782|\
         g=timestamp:1709208000000001|h=decimal:-1.50"
    );

    let rows = run(
        &plugin,
        &grant,
        &[
            ("url", &url),
            ("query", "SELECT id, i, n FROM t ORDER BY id"),
            ("max.rows", "1"),
            ("describe", "true"),
        ],
    )
    .await
    .expect("capped");
    assert_eq!(
        rows[0],
        "columns=id:INT:notnull,i:INT:notnull,n:DECIMAL:null truncated=true"
    );
    assert_eq!(rows.len(), 2);

    let err = run(
        &plugin,
        &grant,
        &[("url", &url), ("query", "SELECT * FROM missing")],
    )
    .await
    .expect_err("missing table");
    assert!(err.starts_with("fatal: database error 42S02: "), "{err}");
    let bad_pw = format!("mysql://culvert:wrong@127.0.0.1:{}/culvert", db.port());
    let err = run(&plugin, &grant, &[("url", &bad_pw), ("query", "SELECT 1")])
        .await
        .expect_err("password");
    assert!(err.contains("Access denied for user 'culvert'"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_storage_classes_and_declared_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let grant = format!("sqlite://{}", path.display());
    let plugin = probe_plugin().await;
    let rows = run(
        &plugin,
        &grant,
        &[
            ("url", &url),
            (
                "setup.1",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, flag BOOLEAN, r REAL, tx TEXT, bl BLOB, \
                 ts DATETIME, d DATE, loose)",
            ),
            (
                "setup.2",
                "INSERT INTO t VALUES (1, 1, 0.5, 'x', X'01', '2024-02-29 12:00:00.000001', \
                 '1969-12-31', 'free'), (2, NULL, NULL, NULL, NULL, 'not a time', NULL, 3)",
            ),
            ("query", "SELECT * FROM t WHERE id >= ? ORDER BY id"),
            ("params", "int:1"),
        ],
    )
    .await
    .expect("query");
    assert_eq!(
        rows[1..],
        [
            "id=int:1|flag=bool:true|r=double:0.5|tx=text:x|bl=bytes:01|\
             ts=timestamp:1709208000000001|d=date:-1|loose=text:free",
            "id=int:2|flag=null:|r=null:|tx=null:|bl=null:|ts=text:not a time|d=null:|loose=int:3",
        ]
    );
    let err = run(
        &plugin,
        &grant,
        &[("url", "sqlite:///etc/passwd"), ("query", "SELECT 1")],
    )
    .await
    .expect_err("denied");
    assert!(
        err.contains("sqlite:///etc/passwd is not in plugin.allow.sql.urls"),
        "{err}"
    );
}
