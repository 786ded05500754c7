//! `culvert standalone` as a user runs it: the embedded broker and one worker in one
//! process, a connector file applied at start, the REST API answering, and the state
//! surviving `kill -9` and a restart on the same data directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A child process killed when dropped, so a failing test leaves no worker behind.
pub(crate) struct Worker(Child);

impl std::ops::Deref for Worker {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Worker {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills `child` when the guard is dropped.
pub(crate) fn guard(child: Child) -> Worker {
    Worker(child)
}

/// Starts `culvert standalone` on free ports; returns the process and the REST base URL.
pub(crate) fn start(dir: &Path, connectors: &[&Path]) -> (Worker, String) {
    let (child, url, _) = start_with(dir, "", &[], connectors);
    (child, url)
}

/// Like [`start`], with more worker settings (TOML) and environment variables; also
/// returns the embedded broker's address.
pub(crate) fn start_with(
    dir: &Path,
    extra: &str,
    envs: &[(&str, &str)],
    connectors: &[&Path],
) -> (Worker, String, String) {
    let config = dir.join("worker.toml");
    std::fs::write(
        &config,
        format!("listeners = \"http://127.0.0.1:0\"\n{extra}"),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .envs(envs.iter().copied())
        .arg("standalone")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .args(["--broker-listener", "127.0.0.1:0"])
        .args(connectors)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("culvert standalone starts");
    let (line, url) = banner(&mut child);
    let bootstrap = line
        .split("bootstrap.servers=")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap_or_else(|| panic!("no bootstrap address in {line:?}"))
        .to_string();
    (Worker(child), url, bootstrap)
}

/// Reads the first stdout line of a worker (which keeps being drained, so it never writes
/// into a closed pipe); returns it and the REST URL it names.
pub(crate) fn banner(child: &mut Child) -> (String, String) {
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("first line");
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line
        .split("REST API on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no REST URL in {line:?}"))
        .to_string();
    (line, url)
}

/// Reads a whole internal topic with kcat: `key<TAB>value` per record (`value` empty for a
/// tombstone).
fn kcat_topic(bootstrap: &str, topic: &str) -> Vec<String> {
    kcat_lines(bootstrap, topic, "%k\t%s\n")
}

/// Reads a whole topic with kcat, one line per record in kcat's `format`.
pub(crate) fn kcat_lines(bootstrap: &str, topic: &str, format: &str) -> Vec<String> {
    let out = Command::new("kcat")
        .args(["-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-f", format])
        .output()
        .expect("kcat runs (apt-get install -y kcat; scripts/deps installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

pub(crate) async fn call(method: reqwest::Method, url: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Writes a connector file for a datagen connector `orders` writing to `topic`.
fn orders_file(dir: &Path, topic: &str) -> std::path::PathBuf {
    let file = dir.join("orders.json");
    let connector =
        json!({"name": "orders", "config": {"connector.class": "datagen", "kafka.topic": topic}});
    std::fs::write(&file, connector.to_string()).expect("write connector");
    file
}

pub(crate) async fn send(method: reqwest::Method, url: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .request(method, url)
        .json(&body)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Everything the API says about `names`: configs, statuses, tasks and offsets.
/// Waits until every task of `names` is started (no longer UNASSIGNED), then takes a
/// snapshot.
async fn snapshot(base: &str, names: &[&str]) -> Value {
    for _ in 0..150 {
        let mut settled = true;
        for name in names {
            let url = format!("{base}/connectors/{name}/status");
            let (_, status) = call(reqwest::Method::GET, &url).await;
            let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
            settled &= tasks.iter().all(|t| t["state"] != "UNASSIGNED");
        }
        if settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        for part in ["config", "status", "tasks", "offsets"] {
            let (status, body) = call(
                reqwest::Method::GET,
                &format!("{base}/connectors/{name}/{part}"),
            )
            .await;
            assert_eq!(status, 200, "{name}/{part}: {body}");
            let mut body = body;
            // A task's status names the worker running it, whose port changes at each start.
            if let Some(tasks) = body.get_mut("tasks").and_then(Value::as_array_mut) {
                for task in tasks.iter_mut() {
                    if let Some(t) = task.as_object_mut() {
                        t.remove("worker_id");
                    }
                }
            }
            entry.insert(part.to_string(), body);
        }
        out.insert(name.to_string(), Value::Object(entry));
    }
    Value::Object(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_applies_connector_files_and_survives_kill_9() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = orders_file(dir.path(), "orders");
    let (mut child, base) = start(dir.path(), &[&file]);
    let (status, body) = call(Method::GET, &format!("{base}/connectors/orders/status")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connector"]["state"], "RUNNING");
    let (status, root) = call(Method::GET, &format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(
        root["kafka_cluster_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    // Three connectors: one paused, one stopped with offsets set, one reconfigured.
    for name in ["audit", "metrics"] {
        let created = send(
            Method::POST,
            &format!("{base}/connectors"),
            json!({"name": name, "config": {"connector.class": "datagen", "kafka.topic": name}}),
        )
        .await;
        assert_eq!(created, 201);
    }
    let (status, _) = call(Method::PUT, &format!("{base}/connectors/orders/pause")).await;
    assert_eq!(status, 202);
    let (status, _) = call(Method::PUT, &format!("{base}/connectors/audit/stop")).await;
    assert_eq!(status, 204);
    let altered = send(
        Method::PATCH,
        &format!("{base}/connectors/audit/offsets"),
        json!({"offsets": [{"partition": {"task": 0}, "offset": {"sequence": 41}}]}),
    )
    .await;
    assert_eq!(altered, 200);
    let changed = send(
        Method::PUT,
        &format!("{base}/connectors/metrics/config"),
        json!({"connector.class": "datagen", "kafka.topic": "metrics-v2", "tasks.max": "1"}),
    )
    .await;
    assert_eq!(changed, 200);
    let names = ["audit", "metrics", "orders"];
    let before = snapshot(&base, &names).await;
    assert_eq!(before["orders"]["status"]["connector"]["state"], "PAUSED");
    assert_eq!(before["audit"]["status"]["connector"]["state"], "STOPPED");
    assert_eq!(
        before["audit"]["offsets"]["offsets"][0]["offset"],
        json!({"sequence": 41})
    );
    assert_eq!(before["metrics"]["config"]["kafka.topic"], "metrics-v2");

    child.kill().expect("kill -9");
    child.wait().expect("reaped");

    let (mut child, base) = start(dir.path(), &[]);
    let (status, body) = call(Method::GET, &format!("{base}/connectors")).await;
    assert_eq!((status, body), (200, json!(names)));
    let after = snapshot(&base, &names).await;
    assert_eq!(after, before, "the state after kill -9 and restart");
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_from_config_providers_reach_plugins_but_are_never_stored() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = orders_file(dir.path(), "${env:ORDERS_TOPIC_SECRET}");
    let (mut child, base, _) = start_with(
        dir.path(),
        "[config.providers.env]\nclass = \"EnvVarConfigProvider\"\n",
        &[("ORDERS_TOPIC_SECRET", "hidden-topic")],
        &[&file],
    );
    let (_, status) = call(Method::GET, &format!("{base}/connectors/orders/status")).await;
    assert_eq!(
        status["connector"]["state"], "RUNNING",
        "the plugin validated the resolved value"
    );
    let (_, config) = call(Method::GET, &format!("{base}/connectors/orders/config")).await;
    assert_eq!(config["kafka.topic"], "${env:ORDERS_TOPIC_SECRET}");
    let (_, tasks) = call(Method::GET, &format!("{base}/connectors/orders/tasks")).await;
    assert_eq!(
        tasks[0]["config"]["kafka.topic"], "${env:ORDERS_TOPIC_SECRET}",
        "{tasks}"
    );
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_topics_hold_kafka_connects_formats_for_kcat() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = orders_file(dir.path(), "orders");
    let (mut child, base, bootstrap) = start_with(dir.path(), "", &[], &[&file]);
    let (status, _) = call(Method::PUT, &format!("{base}/connectors/orders/stop")).await;
    assert_eq!(status, 204);
    let configs = kcat_topic(&bootstrap, "connect-configs");
    assert_eq!(
        configs,
        [
            r#"target-state-orders	{"state":"STARTED","state.v2":"STARTED"}"#,
            r#"connector-orders	{"properties":{"connector.class":"datagen","kafka.topic":"orders","name":"orders"}}"#,
            r#"task-orders-0	{"properties":{"connector.class":"datagen","kafka.topic":"orders","name":"orders","task.id":"0"}}"#,
            r#"commit-orders	{"tasks":1}"#,
            r#"commit-orders	{"tasks":0}"#,
            r#"target-state-orders	{"state":"PAUSED","state.v2":"STOPPED"}"#,
        ]
    );
    let statuses = kcat_topic(&bootstrap, "connect-status");
    assert_eq!(
        statuses
            .iter()
            .rfind(|s| s.starts_with("status-connector-orders\t"))
            .map(String::as_str),
        Some(
            format!(
                "status-connector-orders\t{{\"generation\":0,\"state\":\"STOPPED\",\"trace\":null,\"worker_id\":\"{}\"}}",
                base.trim_start_matches("http://")
            )
            .as_str()
        )
    );
    child.kill().expect("kill");
    child.wait().expect("reaped");
}
