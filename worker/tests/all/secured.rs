//! Workers on brokers that require logins.
//!
//! Culvert's own broker with a `SASL_PLAINTEXT` listener: two workers log in with PLAIN
//! (the membership client's PLAIN and librdkafka's) and run a pipeline; a wrong password
//! or no login is refused at start.
//!
//! An external broker that requires TLS and SASL/SCRAM, as a managed Kafka would: nisshi
//! with a certificate from a test CA and `--authentication`. Two workers log in with Kafka
//! Connect's keys (`security.protocol=SASL_SSL`, `sasl.mechanism`, `sasl.jaas.config`, a PEM
//! truststore), one with SCRAM-SHA-512 and one with SCRAM-SHA-256; they form one group (the
//! membership client's TLS and SCRAM), keep their internal topics there and run a source →
//! sink pipeline through it (librdkafka's). A worker with a wrong password, or one that
//! trusts another CA, refuses to start and says why.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, load, nisshi, retry_409, settled, start_nisshi};
use crate::pipeline::{collector, eventually};
use crate::standalone::Worker;

/// Runs `openssl` with `args` in `dir`; the test fails with its output if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (apt-get install -y openssl; scripts/deps installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`name-ca.pem`) and a broker certificate for `names` (a subjectAltName list)
/// signed by it (`name-broker.pem`, `name-broker.key`).
fn certificates(dir: &Path, name: &str, names: &str) {
    let (ca, ca_key) = (format!("{name}-ca.pem"), format!("{name}-ca.key"));
    let (cert, key, csr) = (
        format!("{name}-broker.pem"),
        format!("{name}-broker.key"),
        format!("{name}-broker.csr"),
    );
    let ext = format!("{name}-ext.cnf");
    std::fs::write(dir.join(&ext), format!("subjectAltName={names}\n")).expect("ext");
    let subject = format!("/CN=Culvert Test CA {name}");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &ca_key, "-out", &ca,
            "-days", "2", "-subj", &subject,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

/// Creates a SCRAM user through a broker that does not require logins yet.
fn create_user(bootstrap: &str, name: &str, password: &str, mechanism: &str) {
    let out = Command::new(nisshi())
        .args(["user", "create", "--broker", &format!("tcp://{bootstrap}")])
        .args(["--mechanism", mechanism, name, password])
        .stdin(Stdio::null())
        .output()
        .expect("nisshi user create runs");
    assert!(
        out.status.success(),
        "nisshi user create {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Worker settings that log in as `user` with `mechanism`, trusting `ca`.
fn login(user: &str, password: &str, mechanism: &str, ca: &Path) -> String {
    format!(
        "\"security.protocol\" = \"SASL_SSL\"\n\
         \"sasl.mechanism\" = \"{mechanism}\"\n\
         \"sasl.jaas.config\" = 'org.apache.kafka.common.security.scram.ScramLoginModule \
         required username=\"{user}\" password=\"{password}\";'\n\
         \"ssl.truststore.type\" = \"PEM\"\n\
         \"ssl.truststore.location\" = \"{}\"\n",
        ca.display()
    )
}

/// Writes a worker config for `bootstrap` with `settings` added; returns its path.
fn minimal_config(dir: &Path, bootstrap: &str, settings: &str) -> std::path::PathBuf {
    let config = dir.join(format!("worker-{}.toml", next_number()));
    std::fs::write(
        &config,
        format!(
            "\"bootstrap.servers\" = \"{bootstrap}\"\n\"group.id\" = \"it\"\n\
             \"config.storage.topic\" = \"it-configs\"\n\
             \"offset.storage.topic\" = \"it-offsets\"\n\
             \"status.storage.topic\" = \"it-status\"\n\
             \"config.storage.replication.factor\" = 1\n\
             \"offset.storage.replication.factor\" = 1\n\
             \"status.storage.replication.factor\" = 1\n\
             listeners = \"http://127.0.0.1:0\"\n{settings}"
        ),
    )
    .expect("config");
    config
}

/// A number no earlier call returned (config file names).
fn next_number() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Starts `culvert worker` with `config` expecting it to fail; returns what it printed.
fn failed_start(config: &Path, data: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .arg("worker")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("culvert worker starts");
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("output");
            assert!(!out.status.success(), "the worker must not start");
            return format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("a worker that cannot log in kept running for 60 s instead of failing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_log_in_with_tls_and_scram_and_run_a_pipeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    certificates(path, "good", "IP:127.0.0.1,DNS:localhost");
    certificates(path, "other", "IP:127.0.0.1,DNS:localhost");
    let storage = "sqlite://nisshi.db";
    // Users are created through a broker that does not require logins yet (nisshi's way to
    // bootstrap its first users), then the broker restarts with TLS and --authentication.
    {
        let (_open, bootstrap) = start_nisshi(path, storage, &[]);
        create_user(&bootstrap, "alice", "alice-secret", "scram512");
        create_user(&bootstrap, "bob", "bob-secret", "scram256");
    }
    let (broker, bootstrap) = start_nisshi(
        path,
        storage,
        &[
            "--cert",
            &path.join("good-broker.pem").display().to_string(),
            "--key",
            &path.join("good-broker.key").display().to_string(),
            "--authentication",
        ],
    );
    let ca = path.join("good-ca.pem");

    // Refusals first (on the same broker): a wrong password, an untrusted certificate.
    let data = path.join("refused");
    let cases = [
        (
            login("alice", "wrong", "SCRAM-SHA-512", &ca),
            "authentication",
        ),
        (
            login(
                "alice",
                "alice-secret",
                "SCRAM-SHA-512",
                &path.join("other-ca.pem"),
            ),
            "certificate",
        ),
    ];
    for (i, (settings, expect)) in cases.iter().enumerate() {
        let said = failed_start(&minimal_config(path, &bootstrap, settings), &data);
        assert!(
            said.to_lowercase().contains(expect),
            "case {i}: the error must mention {expect}: {said}"
        );
    }

    let logins = [
        login("alice", "alice-secret", "SCRAM-SHA-512", &ca),
        login("bob", "bob-secret", "SCRAM-SHA-256", &ca),
    ];
    pipeline_through(broker, bootstrap, &logins, "secured").await;
}

/// Two workers, each with its `logins` settings, on a running broker: a datagen source
/// (2 tasks × 300 records) and a sink posting to this test spread over both, and all 600
/// records arrive.
async fn pipeline_through(broker: Worker, bootstrap: String, logins: &[String; 2], topic: &str) {
    let (url, lines) = collector().await;
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut cluster = Cluster::with_broker(
        tempfile::tempdir().expect("tempdir"),
        broker,
        bootstrap,
        0,
        "",
    );
    for login in logins {
        cluster.add_with(login);
    }
    cluster
        .datagen(
            0,
            topic,
            2,
            json!({"iterations": "300", "max.interval": "0"}),
        )
        .await;
    let sink = json!({"name": "post", "config": {
        "connector.class": "post-sink", "topics": topic, "url": url,
        "plugin.allow.hosts": host, "tasks.max": "1",
    }});
    let status = retry_409(
        reqwest::Method::POST,
        &format!("{}/connectors", cluster.url(1)),
        &sink,
    )
    .await;
    assert_eq!(status, 201);
    let placed = settled(cluster.url(0), 5, &[]).await;
    let spread = load(&placed);
    assert_eq!(spread.len(), 2, "both workers run work: {spread:?}");

    // Two datagen tasks, 300 records each, counters 0..300 per task.
    eventually("600 records through the secured broker", async || {
        lines.lock().expect("lock").len() >= 600
    })
    .await;
    let got = lines.lock().expect("lock").clone();
    let keys: BTreeSet<String> = got
        .iter()
        .map(|line| line[3].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        keys.len() >= 600,
        "every record arrived: {} distinct",
        keys.len()
    );
    let first: Value = serde_json::from_str(got[0][4].as_str().expect("value")).expect("JSON");
    assert!(first["payload"]["counter"].is_u64(), "{first}");
}

/// Worker settings that log in to a `SASL_PLAINTEXT` listener as `user` with PLAIN.
fn plain_login(user: &str, password: &str) -> String {
    format!(
        "\"security.protocol\" = \"SASL_PLAINTEXT\"\n\
         \"sasl.mechanism\" = \"PLAIN\"\n\
         \"sasl.jaas.config\" = 'org.apache.kafka.common.security.plain.PlainLoginModule \
         required username=\"{user}\" password=\"{password}\";'\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_log_in_with_plain_to_culverts_broker_and_run_a_pipeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    // `culvert broker` with a SASL_PLAINTEXT listener and Kafka's JAAS form for its logins.
    let (child, bootstrap) = crate::broker::start_broker(
        path,
        "listeners = \"SASL_PLAINTEXT://127.0.0.1:0\"\n\
         \"sasl.enabled.mechanisms\" = \"PLAIN\"\n\
         \"listener.name.sasl_plaintext.plain.sasl.jaas.config\" = \
         'org.apache.kafka.common.security.plain.PlainLoginModule required \
         user_alice=\"alice-secret\" user_bob=\"bob-secret\";'\n",
    );
    let broker = crate::standalone::guard(child);

    // A wrong password and no login at all are refused at start, saying why.
    let data = path.join("refused");
    let wrong = failed_start(
        &minimal_config(path, &bootstrap, &plain_login("alice", "wrong")),
        &data,
    );
    assert!(wrong.to_lowercase().contains("authentication"), "{wrong}");
    // Without a login the broker closes the connection, as Kafka does.
    let none = failed_start(&minimal_config(path, &bootstrap, ""), &data);
    assert!(none.contains("transport failure"), "{none}");

    let logins = [
        plain_login("alice", "alice-secret"),
        plain_login("bob", "bob-secret"),
    ];
    pipeline_through(broker, bootstrap, &logins, "plain").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alone_works_and_the_host_name_check_can_be_switched_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    // The broker's certificate names another host than the one the workers dial.
    certificates(path, "misnamed", "DNS:broker.elsewhere.invalid");
    let (_broker, bootstrap) = start_nisshi(
        path,
        "memory://nisshi/",
        &[
            "--cert",
            &path.join("misnamed-broker.pem").display().to_string(),
            "--key",
            &path.join("misnamed-broker.key").display().to_string(),
        ],
    );
    let tls = format!(
        "\"security.protocol\" = \"SSL\"\n\"ssl.truststore.location\" = \"{}\"\n",
        path.join("misnamed-ca.pem").display()
    );
    let said = failed_start(&minimal_config(path, &bootstrap, &tls), &path.join("a"));
    assert!(
        said.contains("certificate not valid for name"),
        "the host name is checked by default: {said}"
    );
    let unchecked = format!(
        "{tls}\"ssl.endpoint.identification.algorithm\" = \"\"\n\
         \"offset.flush.interval.ms\" = 500\n"
    );
    let (_worker, base) = crate::cluster::spawn_worker(
        &minimal_config(path, &bootstrap, &unchecked),
        &path.join("b"),
    );
    let body = json!({"name": "tls", "config": {
        "connector.class": "datagen", "kafka.topic": "tls", "iterations": "50",
        "max.interval": "0",
    }});
    let status = retry_409(reqwest::Method::POST, &format!("{base}/connectors"), &body).await;
    assert_eq!(status, 201);
    // The source's offsets are committed only after the broker acknowledged its records.
    eventually("50 records acknowledged over TLS", async || {
        let (_, offsets) = crate::standalone::call(
            reqwest::Method::GET,
            &format!("{base}/connectors/tls/offsets"),
        )
        .await;
        offsets["offsets"][0]["offset"]["counter"] == json!(49)
    })
    .await;
}
