//! The REST contract: schemathesis (PyPI; installed into `.venv` by scripts/deps) generates
//! requests from `api-spec/openapi.yaml` — valid ones and malformed ones (bad JSON, wrong
//! types, unknown names) — against `culvert standalone`, and checks that no answer is a
//! server error and every answer matches the contract (status code, content type, body
//! schema).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_rest_api_keeps_its_openapi_contract() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let schemathesis = root.join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "schemathesis is missing at {}; run scripts/deps (it installs \
         scripts/requirements-test.txt into .venv)",
        schemathesis.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let connector = root.join("examples/datagen.json");
    let (mut child, url) = super::standalone::start(dir.path(), &[&connector]);
    let out = Command::new(&schemathesis)
        .arg("run")
        .arg(root.join("api-spec/openapi.yaml"))
        .args([
            "--url",
            &url,
            "--max-examples",
            "25",
            "--seed",
            "20261122",
            "--no-color",
        ])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
        ])
        .output()
        .expect("schemathesis runs");
    let _ = child.kill();
    let _ = child.wait();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found contract violations:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
