//! The embedded `datagen` component run through the real plugin host: spec, validation,
//! task splitting, polling, checkpoints and resuming from committed positions.

use culvert::builtin;
use culvert_plugin_host::{
    Grants, Plugin, PluginEngine, PluginKind, PluginLimits, Position, SourceTaskInstance, TaskError,
};

fn cfg(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn datagen() -> Plugin {
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let component = builtin::find("datagen").expect("datagen is embedded");
    Plugin::load(&engine, &component.origin(), component.bytes)
        .await
        .expect("datagen loads")
}

#[tokio::test]
async fn spec_describes_the_config() {
    let plugin = datagen().await;
    assert_eq!(plugin.kind(), PluginKind::Source);
    let spec = plugin.spec();
    assert_eq!(spec.name, "datagen");
    assert_eq!(spec.version, "0.1.0");
    let topic = spec
        .config_def
        .iter()
        .find(|k| k.name == "kafka.topic")
        .expect("kafka.topic");
    assert!(topic.required);
    assert_eq!((topic.type_name, topic.importance), ("STRING", "HIGH"));
    let iterations = spec
        .config_def
        .iter()
        .find(|k| k.name == "iterations")
        .expect("iterations");
    assert_eq!(iterations.default_value.as_deref(), Some("-1"));
    assert_eq!(iterations.type_name, "LONG");
}

#[tokio::test]
async fn validate_lists_every_problem() {
    let plugin = datagen().await;
    let ok = plugin
        .validate("c", &cfg(&[("kafka.topic", "t")]))
        .await
        .expect("validate");
    assert!(ok.is_empty(), "{ok:?}");

    let issues = plugin
        .validate("c", &cfg(&[("iterations", "ten"), ("batch.size", "0")]))
        .await
        .expect("validate");
    let keys: Vec<&str> = issues.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["kafka.topic", "iterations", "batch.size"],
        "{issues:?}"
    );
    assert!(
        issues[0]
            .1
            .contains("Missing required configuration \"kafka.topic\"")
    );
    assert!(
        issues[1]
            .1
            .contains("Invalid value ten for configuration iterations")
    );
    assert!(issues[2].1.contains("at least 1"));
}

#[tokio::test]
async fn task_configs_split_by_max_tasks() {
    let plugin = datagen().await;
    let configs = plugin
        .task_configs("c", &cfg(&[("kafka.topic", "t")]), 3)
        .await
        .expect("no trap")
        .expect("accepted");
    assert_eq!(configs.len(), 3);
    for (i, c) in configs.iter().enumerate() {
        assert!(c.contains(&("task.id".to_string(), i.to_string())), "{c:?}");
        assert!(c.contains(&("kafka.topic".to_string(), "t".to_string())));
    }
}

#[tokio::test]
async fn polls_every_record_once_in_order_then_goes_quiet() {
    let plugin = datagen().await;
    let config = cfg(&[
        ("kafka.topic", "events"),
        ("iterations", "2500"),
        ("max.interval", "0"),
        ("task.id", "4"),
    ]);
    let mut task = SourceTaskInstance::start(&plugin, "gen", 4, &Grants::none(), &config, &[])
        .await
        .expect("start");
    let mut expected = 0u64;
    let mut last_checkpoint = None;
    while let Some(batch) = task.poll(700).await.expect("poll") {
        assert!(batch.len() <= 700 && !batch.is_empty());
        for record in batch.iter() {
            assert_eq!(record.topic, "events");
            assert_eq!(record.key, Some(format!("\"4:{expected}\"").as_bytes()));
            let value: serde_json::Value =
                serde_json::from_slice(record.value.expect("a value")).expect("JSON value");
            assert_eq!(value["task"], 4);
            assert_eq!(value["counter"], expected);
            assert_eq!(
                Some(value["timestamp_ms"].as_i64().expect("ts")),
                record.timestamp_ms
            );
            assert!(record.headers().is_empty());
            expected += 1;
        }
        let (upto, pos) = batch
            .checkpoints()
            .last()
            .expect("a checkpoint per batch")
            .clone();
        assert_eq!(upto, batch.len());
        assert_eq!(pos.partition, r#"{"task":4}"#);
        last_checkpoint = Some(pos);
    }
    assert_eq!(expected, 2500);
    assert_eq!(
        last_checkpoint.expect("checkpoint").offset,
        r#"{"counter":2499}"#
    );
    assert!(task.poll(10).await.expect("poll").is_none(), "stays quiet");
    task.stop().await.expect("stop");
}

#[tokio::test]
async fn resumes_after_the_committed_position() {
    let plugin = datagen().await;
    let config = cfg(&[
        ("kafka.topic", "t"),
        ("task.id", "0"),
        ("max.interval", "0"),
    ]);
    let committed = [
        Position {
            partition: r#"{"task":1}"#.into(),
            offset: r#"{"counter":5}"#.into(),
        },
        Position {
            partition: r#"{"task":0}"#.into(),
            offset: r#"{"counter":99}"#.into(),
        },
    ];
    let mut task =
        SourceTaskInstance::start(&plugin, "gen", 0, &Grants::none(), &config, &committed)
            .await
            .expect("start");
    let batch = task.poll(3).await.expect("poll").expect("records");
    let keys: Vec<&[u8]> = batch.iter().map(|r| r.key.expect("key")).collect();
    assert_eq!(keys, [&br#""0:100""#[..], br#""0:101""#, br#""0:102""#]);
    task.committed(&[batch.checkpoints()[0].1.clone()])
        .await
        .expect("committed");
    task.stop().await.expect("stop");
}

#[tokio::test]
async fn bad_task_config_and_bad_offsets_fail_start_clearly() {
    let plugin = datagen().await;
    let err = SourceTaskInstance::start(&plugin, "gen", 0, &Grants::none(), &cfg(&[]), &[])
        .await
        .expect_err("no topic");
    assert!(
        matches!(&err, TaskError::Fatal(m) if m == "kafka.topic is required"),
        "{err}"
    );

    let committed = [Position {
        partition: r#"{"task":0}"#.into(),
        offset: "not json".into(),
    }];
    let err = SourceTaskInstance::start(
        &plugin,
        "gen",
        0,
        &Grants::none(),
        &cfg(&[("kafka.topic", "t")]),
        &committed,
    )
    .await
    .expect_err("bad offset");
    assert!(
        matches!(&err, TaskError::Fatal(m) if m.starts_with("committed offset not json is not JSON")),
        "{err}"
    );
}

#[tokio::test]
async fn pads_values_to_the_asked_size() {
    let plugin = datagen().await;
    for pad in [0usize, 40, 200, 1024] {
        let pad_text = pad.to_string();
        let config = cfg(&[
            ("kafka.topic", "t"),
            ("max.interval", "0"),
            ("pad.bytes", pad_text.as_str()),
        ]);
        let mut task = SourceTaskInstance::start(&plugin, "gen", 0, &Grants::none(), &config, &[])
            .await
            .expect("start");
        let batch = task.poll(5).await.expect("poll").expect("records");
        for record in batch.iter() {
            let value = record.value.expect("value");
            let json: serde_json::Value = serde_json::from_slice(value).expect("JSON");
            assert!(value.len() >= pad, "{} < {pad}", value.len());
            if pad > 100 {
                assert!(value.len() <= pad + 10, "{} far above {pad}", value.len());
            } else if pad == 0 {
                assert!(json.get("pad").is_none());
            }
        }
        task.stop().await.expect("stop");
    }
}
