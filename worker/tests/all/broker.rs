//! `culvert broker --config FILE` as a user runs it: starts, serves Kafka clients, and
//! shuts down cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

#[test]
fn broker_subcommand_serves_clients_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("broker.toml");
    std::fs::write(
        &config,
        format!(
            "listeners = \"127.0.0.1:0\"\nnum.partitions = 3\n\"log.dirs\" = {:?}\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .args(["broker", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("culvert broker starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let bootstrap = line
        .split("bootstrap.servers=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no bootstrap address in {line:?}"))
        .to_string();

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("client");
    let md = consumer
        .fetch_metadata(Some("from-config"), Duration::from_secs(20))
        .expect("metadata");
    assert_eq!(
        md.topics()[0].partitions().len(),
        3,
        "num.partitions from the file"
    );
    drop(consumer);

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exit");
    assert!(status.success(), "clean shutdown on SIGTERM: {status}");
    assert!(dir.path().join("data/from-config-0").is_dir());
}

#[test]
fn a_bad_broker_config_is_refused_with_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("broker.toml");
    std::fs::write(&config, "\"num.partitions\" = \"many\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_culvert"))
        .args(["broker", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("num.partitions"), "{err}");
}
