//! An independent Kafka Connect client, kafka-connect-py's `kc` CLI (PyPI; installed into
//! `.venv` by scripts/deps), drives `culvert standalone`: create, list, get, config,
//! update, pause, resume, restart (with `includeTasks=True`, as it sends it), status, tasks,
//! task status, plugin listing and delete all succeed with the shapes it expects.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

fn kc_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/kc");
    assert!(
        path.exists(),
        "kafka-connect-py's kc is missing at {}; run scripts/deps (it installs \
         scripts/requirements-test.txt into .venv)",
        path.display()
    );
    path
}

/// Runs `kc <args>` against `url`; the command must succeed; returns its JSON output.
fn kc(url: &str, args: &[&str]) -> Value {
    let out = Command::new(kc_path())
        .args(["--url", url])
        .args(args)
        .output()
        .expect("kc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kc {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or(Value::String(stdout.trim().to_string()))
}

#[test]
fn kafka_connect_py_drives_the_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, url) = super::standalone::start(dir.path(), &[]);
    let config = json!({"name": "orders", "config": {"connector.class": "datagen",
        "kafka.topic": "orders", "tasks.max": "2"}});

    let created = kc(&url, &["create", "-d", &config.to_string()]);
    assert_eq!(created["name"], "orders");
    assert_eq!(created["type"], "source");
    assert_eq!(kc(&url, &["list"]), json!(["orders"]));
    let listed = kc(&url, &["list", "--expand", "status"]);
    assert_eq!(listed["orders"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(
        kc(&url, &["get", "orders"])["config"]["kafka.topic"],
        "orders"
    );
    assert_eq!(kc(&url, &["config", "orders"])["tasks.max"], "2");

    let update = json!({"connector.class": "datagen", "kafka.topic": "orders-2", "tasks.max": "1"});
    let updated = kc(&url, &["update", "orders", "-d", &update.to_string()]);
    assert_eq!(updated["config"]["kafka.topic"], "orders-2");

    kc(&url, &["pause", "orders"]);
    assert_eq!(
        kc(&url, &["status", "orders"])["connector"]["state"],
        "PAUSED"
    );
    kc(&url, &["resume", "orders"]);
    assert_eq!(
        kc(&url, &["status", "orders"])["connector"]["state"],
        "RUNNING"
    );
    let restarted = kc(&url, &["restart", "orders", "--include-tasks"]);
    assert_eq!(restarted["name"], "orders");

    let tasks = kc(&url, &["list-tasks", "orders"]);
    assert_eq!(tasks[0]["id"], json!({"connector": "orders", "task": 0}));
    assert_eq!(kc(&url, &["task-status", "orders", "0"])["id"], 0);
    kc(&url, &["restart-task", "orders", "0"]);
    let plugins = kc(&url, &["list-plugins"]);
    assert!(
        plugins
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["class"] == "datagen")),
        "{plugins}"
    );
    kc(&url, &["delete", "orders"]);
    assert_eq!(kc(&url, &["list"]), json!([]));

    child.kill().expect("kill");
    child.wait().expect("reaped");
}
