//! WASM transforms in a connector's chain (`transforms.<alias>.type=wasm:<plugin>`), on
//! both sides, mixed with native ones: records dropped and replaced by the plugin, failures
//! skipped (source) or dead-lettered with the original record (sink), and an unknown plugin
//! refused when the connector is created.

use reqwest::Method;
use serde_json::{Value, json};

use crate::pipeline::{counter_of, eventually, rig};
use crate::standalone::{call, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_transforms_run_batch_by_batch_on_both_sides() {
    let r = rig(Some(300)).await;
    let (base, bootstrap, url, host, lines) = (&r.base, &r.bootstrap, &r.url, &r.host, &r.lines);
    // Source: the plugin drops counter 5 and fails counter 7 (skipped with tolerance all),
    // then a native InsertField tags what is left.
    let source = json!({"name": "gen", "config": {
        "connector.class": "datagen", "kafka.topic": "wt", "iterations": "20",
        "max.interval": "0", "key.converter": "StringConverter",
        "errors.tolerance": "all",
        "transforms": "w,tag",
        "transforms.w.type": "wasm:identity-transform",
        "transforms.w.drop.containing": "\"counter\":5,",
        "transforms.w.fail.containing": "\"counter\":7,",
        "transforms.tag.type": "InsertField$Value",
        "transforms.tag.static.field": "via", "transforms.tag.static.value": "wasm",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), source).await,
        201
    );
    // Sink: the plugin replaces every key and fails counter 3, which is dead-lettered.
    let sink = json!({"name": "out", "config": {
        "connector.class": "post-sink", "topics": "wt", "url": url,
        "plugin.allow.hosts": host, "key.converter": "StringConverter",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "wt-dlq",
        "errors.deadletterqueue.context.headers.enable": "true",
        "transforms": "w", "transforms.w.type": "wasm:identity-transform",
        "transforms.w.key": "sunk", "transforms.w.fail.containing": "\"counter\":3,",
    }});
    assert_eq!(
        send(Method::POST, &format!("{base}/connectors"), sink).await,
        201
    );

    eventually("17 records through both chains", async || {
        lines.lock().expect("lock").len() >= 17
    })
    .await;
    let got = lines.lock().expect("lock").clone();
    let mut counters: Vec<u64> = got.iter().map(counter_of).collect();
    counters.sort_unstable();
    let want: Vec<u64> = (0..20).filter(|c| ![3, 5, 7].contains(c)).collect();
    assert_eq!(counters, want);
    for line in &got {
        assert_eq!(
            line[3], "sunk",
            "the sink's plugin replaced the key: {line}"
        );
        let value: Value = serde_json::from_str(line[4].as_str().expect("value")).expect("JSON");
        assert_eq!(
            value["payload"]["via"], "wasm",
            "the native step ran after: {value}"
        );
    }
    eventually("counter 3 dead-lettered", async || {
        let out = std::process::Command::new("kcat")
            .args([
                "-b", bootstrap, "-C", "-t", "wt-dlq", "-e", "-q", "-f", "%k\t%h\n",
            ])
            .output()
            .expect("kcat runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines().count() == 1
            && text.starts_with("0:3\t")
            && text.contains("__connect.errors.stage=TRANSFORMATION")
            && text.contains("transform w: ")
    })
    .await;
    for name in ["gen", "out"] {
        let (_, status) = call(Method::GET, &format!("{base}/connectors/{name}/status")).await;
        assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    }

    // A wasm: type must name a loaded transform plugin.
    for (plugin, why) in [("nope", "nope"), ("post-sink", "not a transform")] {
        let invalid = json!({"name": "invalid", "config": {
            "connector.class": "datagen", "kafka.topic": "x",
            "transforms": "t", "transforms.t.type": format!("wasm:{plugin}"),
        }});
        let resp = reqwest::Client::new()
            .post(format!("{base}/connectors"))
            .json(&invalid)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 400);
        let body: Value = resp.json().await.expect("JSON");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!(
                "Invalid value wasm:{plugin} for configuration transforms.t.type"
            )) && message.contains(why),
            "{body}"
        );
    }
}
