//! The plugin registry with real components on disk: manifests, several versions side by
//! side, aliases, and every kind of bad entry skipped with a clear reason while the rest load.

use std::path::Path;

use culvert_plugin_host::{
    HostError, PluginEngine, PluginKind, PluginLimits, PluginRegistry, sha256_hex,
};

fn guest(name: &str) -> &'static [u8] {
    culvert_guests::test_guest(name)
        .or_else(|| culvert_guests::builtin(name))
        .unwrap_or_else(|| panic!("guest {name} is not embedded"))
        .bytes
}

/// Writes `<stem>.wasm` and its manifest; `edit` may change the manifest first.
fn install(dir: &Path, stem: &str, bytes: &[u8], manifest: serde_json::Value) {
    std::fs::write(dir.join(format!("{stem}.wasm")), bytes).expect("write wasm");
    std::fs::write(dir.join(format!("{stem}.json")), manifest.to_string()).expect("write json");
}

fn manifest(name: &str, version: &str, kind: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "name": name, "version": version, "kind": kind, "sha256": sha256_hex(bytes),
    })
}

#[tokio::test]
async fn versions_side_by_side_aliases_and_bad_entries_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let v1 = guest("identity-transform");
    let v2 = guest("identity-transform-next");
    let mut m1 = manifest("identity-transform", "0.1.0", "transformation", v1);
    m1["aliases"] = serde_json::json!(["com.example.smt.Identity"]);
    install(d, "identity-0.1.0", v1, m1);
    install(
        d,
        "identity-0.2.0",
        v2,
        manifest("identity-transform", "0.2.0", "transformation", v2),
    );
    // Bad entries, each skipped with its own reason.
    install(
        d,
        "garbage",
        b"not wasm at all",
        manifest("garbage", "1", "source", b"not wasm at all"),
    );
    let sink = guest("collect-sink");
    let mut wrong_sum = manifest("collect-sink", "0.1.0", "sink", sink);
    wrong_sum["sha256"] = serde_json::json!("00".repeat(32));
    install(d, "tampered", sink, wrong_sum);
    install(
        d,
        "misnamed",
        sink,
        manifest("other-name", "0.1.0", "sink", sink),
    );
    let probe = guest("sockets-probe");
    install(
        d,
        "sockets",
        probe,
        manifest("sockets-probe", "0.1.0", "source", probe),
    );
    let mut wants_gpu = manifest("collect-sink", "0.1.0", "sink", sink);
    wants_gpu["capabilities"] = serde_json::json!(["metrics", "gpu"]);
    install(d, "wants-gpu", sink, wants_gpu);
    std::fs::write(d.join("orphan.wasm"), sink).expect("write");
    std::fs::write(d.join("bad-json.wasm"), sink).expect("write");
    std::fs::write(d.join("bad-json.json"), "{\"name\": ").expect("write");

    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let builtins = [("datagen", guest("datagen"))];
    let registry =
        PluginRegistry::load(&engine, &builtins, &[d.to_path_buf(), d.join("missing")]).await;

    let loaded: Vec<_> = registry
        .plugins()
        .map(|p| (p.spec().name.as_str(), p.spec().version.as_str(), p.kind()))
        .collect();
    assert_eq!(
        loaded,
        [
            ("datagen", "0.1.0", PluginKind::Source),
            ("identity-transform", "0.1.0", PluginKind::Transform),
            ("identity-transform", "0.2.0", PluginKind::Transform),
        ]
    );
    let newest = registry
        .resolve("identity-transform", None)
        .expect("newest");
    assert_eq!(newest.spec().version, "0.2.0");
    let pinned = registry
        .resolve("identity-transform", Some("0.1.0"))
        .expect("pinned");
    assert!(
        pinned.origin().ends_with("identity-0.1.0.wasm"),
        "{}",
        pinned.origin()
    );
    for alias in ["com.example.smt.Identity", "Identity", "org.other.Identity"] {
        let p = registry.resolve(alias, None).expect(alias);
        assert_eq!(p.spec().name, "identity-transform");
    }
    let err = registry
        .resolve("identity-transform", Some("9.9.9"))
        .expect_err("no such version");
    assert_eq!(
        err.to_string(),
        "plugin identity-transform has no version 9.9.9; installed: 0.1.0, 0.2.0"
    );
    let err = registry.resolve("nope", None).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "no plugin named nope; installed: datagen, identity-transform"
    );

    let mut problems: Vec<(String, String)> = registry
        .problems()
        .iter()
        .map(|p| {
            let file = Path::new(&p.origin)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            (file, p.error.to_string())
        })
        .collect();
    problems.sort();
    let expect = [
        ("bad-json.wasm", "the manifest is not valid"),
        (
            "garbage.wasm",
            "does not start with the WebAssembly magic bytes",
        ),
        (
            "misnamed.wasm",
            "the manifest says other-name 0.1.0 (sink) but the component is collect-sink 0.1.0 (sink)",
        ),
        ("missing", "cannot read the plugin.path directory"),
        ("orphan.wasm", "cannot read its manifest"),
        ("sockets.wasm", "imports wasi:sockets/"),
        ("tampered.wasm", "checksum mismatch"),
        (
            "wants-gpu.wasm",
            "requests an unknown capability \"gpu\" (known: http-client, sql, object-store, \
             logging, metrics)",
        ),
    ];
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    for ((file, msg), (want_file, want_msg)) in problems.iter().zip(expect) {
        assert_eq!(file, want_file);
        assert!(
            msg.contains(want_msg),
            "{file}: {msg:?} should contain {want_msg:?}"
        );
    }
    assert!(
        registry
            .problems()
            .iter()
            .any(|p| matches!(p.error, HostError::Denied { .. }))
    );
}

#[tokio::test]
async fn a_second_engine_with_the_same_cache_reuses_compiled_components() {
    let cache = tempfile::tempdir().expect("tempdir");
    let builtins = [("identity-transform", guest("identity-transform"))];
    for _ in 0..2 {
        let engine =
            PluginEngine::with_cache(PluginLimits::default(), Some(cache.path())).expect("engine");
        let registry = PluginRegistry::load(&engine, &builtins, &[]).await;
        assert!(registry.problems().is_empty(), "{:?}", registry.problems());
        assert_eq!(registry.plugins().count(), 1);
    }
    let cached = walk(cache.path());
    assert!(cached > 0, "nothing was written to the cache");
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
