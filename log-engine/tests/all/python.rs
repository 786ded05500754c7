//! confluent-kafka (PyPI; current librdkafka) runs `tests/clients/confluent_matrix.py`
//! against the broker. The venv comes from `scripts/deps`.

use std::path::PathBuf;
use std::process::Command;

use crate::support::TestBroker;

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run scripts/deps (it creates the venv with confluent-kafka)",
        venv.display()
    );
    venv
}

#[test]
fn confluent_kafka_matrix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/confluent_matrix.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(&broker.bootstrap)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "confluent-kafka matrix failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
}
