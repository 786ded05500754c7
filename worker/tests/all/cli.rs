//! The `culvert` binary as a user runs it.

use std::process::{Command, Output};

fn culvert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_culvert"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the culvert binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_prints_the_crate_version() {
    let out = culvert(&["--version"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("culvert {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn plugins_list_loads_the_embedded_datagen_component() {
    let out = culvert(&["plugins", "list"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("a header line")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "VERSION", "KIND", "ORIGIN", "DESCRIPTION"]);
    let datagen: Vec<&str> = lines
        .find(|l| l.starts_with("datagen "))
        .unwrap_or_else(|| panic!("no datagen row in:\n{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        &datagen[..4],
        ["datagen", "0.1.0", "source", "builtin:datagen"]
    );
    assert_eq!(datagen[4], "Generates", "description column: {datagen:?}");
}

#[test]
fn plugins_list_reports_bad_plugin_path_entries_and_lists_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("broken.wasm"), b"not a component").expect("write");
    std::fs::write(
        dir.path().join("broken.json"),
        r#"{"name":"broken","version":"1.0.0","kind":"source","sha256":"00"}"#,
    )
    .expect("write");
    let cache = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_string_lossy().into_owned();
    let cache_dir = cache.path().to_string_lossy().into_owned();
    let out = culvert(&[
        "plugins",
        "list",
        "--plugin-path",
        &path,
        "--cache-dir",
        &cache_dir,
    ]);
    assert!(
        !out.status.success(),
        "a skipped plugin makes the command fail"
    );
    assert!(
        stdout(&out).lines().any(|l| l.starts_with("datagen ")),
        "the others are still listed: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("skipped"), "{err}");
    assert!(err.contains("broken.wasm: checksum mismatch"), "{err}");
}

#[test]
fn subcommands_that_have_not_landed_say_so_and_fail() {
    let args = &["apply", "-f", "connectors/"][..];
    let out = culvert(args);
    assert!(!out.status.success(), "{args:?} must exit non-zero");
    let err = stderr(&out);
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: one line expected, got {err:?}"
    );
    assert!(
        err.starts_with("culvert apply: not available yet"),
        "{args:?}: {err:?}"
    );
    assert!(stdout(&out).is_empty(), "{args:?} printed to stdout");
}

#[test]
fn worker_refuses_a_config_that_lacks_what_a_cluster_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("w.toml");
    std::fs::write(&config, "\"bootstrap.servers\" = \"127.0.0.1:1\"\n").expect("write");
    let path = config.display().to_string();
    let out = culvert(&["worker", "--config", &path]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for key in [
        "group.id",
        "config.storage.topic",
        "offset.storage.topic",
        "status.storage.topic",
    ] {
        assert!(err.contains(key), "names {key}: {err}");
    }
    let missing = dir.path().join("nope.toml").display().to_string();
    let out = culvert(&["worker", "--config", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.toml"), "{}", stderr(&out));
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = culvert(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unrecognized subcommand 'frobnicate'"));
}
