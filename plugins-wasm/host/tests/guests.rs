//! The host with real guest components (built from `connectors/` and
//! `plugins-wasm/test-guests/` by the `culvert-guests` crate): records flowing source →
//! transform → sink, and misbehaving plugins ending as clean errors while others keep going.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use culvert_plugin_host::{
    Grants, HostError, PartitionOffset, Plugin, PluginEngine, PluginKind, PluginLimits, Record,
    RecordsBuilder, SinkBatchBuilder, SinkTaskInstance, SourceTaskInstance, TaskError,
    TopicPartition, TransformInstance,
};

fn cfg(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn engine(limits: PluginLimits) -> PluginEngine {
    PluginEngine::new(limits).expect("engine")
}

async fn load(engine: &PluginEngine, name: &str) -> Result<Plugin, HostError> {
    let component = culvert_guests::builtin(name)
        .or_else(|| culvert_guests::test_guest(name))
        .unwrap_or_else(|| panic!("guest {name} is not embedded"));
    Plugin::load(engine, &component.origin(), component.bytes).await
}

#[tokio::test]
async fn a_million_records_flow_from_a_source_through_a_transform_into_a_sink() {
    let engine = engine(PluginLimits::default());
    let datagen = load(&engine, "datagen").await.expect("datagen");
    let identity = load(&engine, "identity-transform")
        .await
        .expect("transform");
    let sink = load(&engine, "collect-sink").await.expect("sink");
    assert_eq!(
        (datagen.kind(), identity.kind(), sink.kind()),
        (PluginKind::Source, PluginKind::Transform, PluginKind::Sink)
    );

    const TOTAL: i64 = 1_000_000;
    let total = TOTAL.to_string();
    let mut source = SourceTaskInstance::start(
        &datagen,
        "flow",
        0,
        &Grants::none(),
        &cfg(&[
            ("kafka.topic", "numbers"),
            ("iterations", &total),
            ("batch.size", "20000"),
            ("max.interval", "0"),
        ]),
        &[],
    )
    .await
    .expect("source starts");
    let mut transform = TransformInstance::new(&identity, "flow", &[])
        .await
        .expect("transform");
    let mut task = SinkTaskInstance::start(&sink, "flow", 0, &Grants::none(), &[])
        .await
        .expect("sink starts");
    let tp = TopicPartition {
        topic: "numbers".into(),
        partition: 0,
    };
    task.open(std::slice::from_ref(&tp)).await.expect("open");

    let mut next_offset = 0i64;
    while let Some(batch) = source.poll(20_000).await.expect("poll") {
        let out = transform.apply(batch.into_records()).await.expect("apply");
        assert!(out.failures.is_empty());
        let mut builder = SinkBatchBuilder::new();
        for r in out.records.iter() {
            builder.push_record(&r, 0, next_offset).expect("push");
            next_offset += 1;
        }
        let failures = task.put(&builder.build()).await.expect("put");
        assert!(failures.is_empty(), "{failures:?}");
    }
    assert_eq!(next_offset, TOTAL);
    let current = [PartitionOffset {
        topic: "numbers".into(),
        partition: 0,
        offset: next_offset,
    }];
    let durable = task.flush(&current).await.expect("flush");
    assert_eq!(durable, current);
    task.close(&[tp]).await.expect("close");
    task.stop().await.expect("stop");
    transform.close().await.expect("transform close");
    source.stop().await.expect("source stop");
}

fn records(values: &[&str]) -> culvert_plugin_host::Records {
    let mut b = RecordsBuilder::new();
    for v in values {
        b.push(
            &Record::new("t", Some(b"k"), Some(v.as_bytes()), Some(5)),
            &[],
        )
        .expect("push");
    }
    b.build()
}

#[tokio::test]
async fn a_transform_drops_and_fails_records_and_says_where_outputs_came_from() {
    let engine = engine(PluginLimits::default());
    let plugin = load(&engine, "identity-transform").await.expect("load");
    let mut t = TransformInstance::new(
        &plugin,
        "c",
        &cfg(&[("drop.containing", "drop"), ("fail.containing", "bad")]),
    )
    .await
    .expect("new");
    let out = t
        .apply(records(&["a", "drop me", "bad", "b"]))
        .await
        .expect("apply");
    let values: Vec<_> = out.records.iter().map(|r| r.value).collect();
    assert_eq!(values, [Some(&b"a"[..]), Some(&b"b"[..])]);
    assert_eq!(out.origins, [0, 3]);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].index, 2);
    assert!(out.failures[0].message.contains("failure marker"));
}

#[tokio::test]
async fn kept_records_come_first_among_the_outputs_of_their_origin() {
    let engine = engine(PluginLimits::default());
    let plugin = load(&engine, "identity-transform").await.expect("load");
    // Each record kept, then a copy with a new key; one input dropped in between.
    let mut t = TransformInstance::new(
        &plugin,
        "c",
        &cfg(&[("also.key", "copy"), ("drop.containing", "drop")]),
    )
    .await
    .expect("new");
    let out = t
        .apply(records(&["a", "drop me", "b"]))
        .await
        .expect("apply");
    let got: Vec<_> = out.records.iter().map(|r| (r.key, r.value)).collect();
    assert_eq!(
        got,
        [
            (Some(&b"k"[..]), Some(&b"a"[..])),
            (Some(&b"copy"[..]), Some(&b"a"[..])),
            (Some(&b"k"[..]), Some(&b"b"[..])),
            (Some(&b"copy"[..]), Some(&b"b"[..])),
        ]
    );
    assert_eq!(out.origins, [0, 0, 2, 2]);
    // Every record kept twice: the second keep of an input travels as a reused copy.
    let mut t = TransformInstance::new(&plugin, "c", &cfg(&[("twice", "true")]))
        .await
        .expect("new");
    let out = t.apply(records(&["a", "b"])).await.expect("apply");
    let values: Vec<_> = out.records.iter().map(|r| r.value).collect();
    assert_eq!(
        values,
        [
            Some(&b"a"[..]),
            Some(&b"a"[..]),
            Some(&b"b"[..]),
            Some(&b"b"[..])
        ]
    );
    assert_eq!(out.origins, [0, 0, 1, 1]);
}

#[tokio::test]
async fn reused_parts_come_back_from_the_input_and_copies_match_them() {
    let engine = engine(PluginLimits::default());
    let plugin = load(&engine, "identity-transform").await.expect("load");
    let input = || {
        let mut b = RecordsBuilder::new();
        let h = [culvert_plugin_host::Header {
            name: "h",
            value: Some(b"1"),
        }];
        b.push(&Record::new("t", Some(b"k0"), Some(b"v0"), Some(1)), &h)
            .expect("push");
        b.push(&Record::new("u", None, None, None), &[])
            .expect("push");
        b.build()
    };
    let expected = input();
    for mode in [&[][..], &[("copy", "true")][..]] {
        let mut t = TransformInstance::new(&plugin, "c", &cfg(mode))
            .await
            .expect("new");
        let out = t.apply(input()).await.expect("apply");
        assert_eq!(out.records.len(), 2, "{mode:?}");
        for (a, b) in out.records.iter().zip(expected.iter()) {
            assert_eq!(a, b, "{mode:?}");
            assert_eq!(a.headers(), b.headers(), "{mode:?}");
        }
    }
    let mut t = TransformInstance::new(&plugin, "c", &cfg(&[("key", "new")]))
        .await
        .expect("new");
    let out = t.apply(input()).await.expect("apply");
    let got: Vec<_> = out
        .records
        .iter()
        .map(|r| (r.topic, r.key, r.value, r.timestamp_ms, r.headers().len()))
        .collect();
    assert_eq!(
        got,
        [
            ("t", Some(&b"new"[..]), Some(&b"v0"[..]), Some(1), 1),
            ("u", Some(&b"new"[..]), None, None, 0),
        ]
    );
}

#[tokio::test]
async fn a_sink_reports_per_record_failures_by_index() {
    let engine = engine(PluginLimits::default());
    let plugin = load(&engine, "collect-sink").await.expect("load");
    let mut task = SinkTaskInstance::start(
        &plugin,
        "c",
        0,
        &Grants::none(),
        &cfg(&[("fail.containing", "poison")]),
    )
    .await
    .expect("start");
    let mut b = SinkBatchBuilder::new();
    for (i, v) in ["ok", "poison pill", "ok"].iter().enumerate() {
        b.push(
            &Record::new("t", None, Some(v.as_bytes()), None),
            &[],
            3,
            10 + i as i64,
        )
        .expect("push");
    }
    let failures = task.put(&b.build()).await.expect("put");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].index, 1);
    // A flush may not claim records it never got.
    let asked = [PartitionOffset {
        topic: "t".into(),
        partition: 3,
        offset: 12,
    }];
    let err = task.flush(&asked).await.expect_err("13 > 12");
    assert!(err.to_string().contains("outside 0..=12"), "{err}");
}

/// Polls an `ok` misbehave task in a loop, counting successful polls, until told to stop.
fn spawn_healthy_task(plugin: Plugin, polls: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut task = SourceTaskInstance::start(
            &plugin,
            "healthy",
            0,
            &Grants::none(),
            &cfg(&[("mode", "ok")]),
            &[],
        )
        .await
        .expect("healthy task starts");
        loop {
            let batch = task.poll(10).await.expect("healthy poll");
            assert_eq!(batch.map(|b| b.len()), Some(1));
            polls.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

async fn misbehave(limits: PluginLimits, mode: &str) -> (TaskError, u64) {
    let engine = engine(limits);
    let plugin = load(&engine, "misbehave").await.expect("load");
    let polls = Arc::new(AtomicU64::new(0));
    let healthy = spawn_healthy_task(plugin.clone(), Arc::clone(&polls));
    let mut task = SourceTaskInstance::start(
        &plugin,
        "bad",
        0,
        &Grants::none(),
        &cfg(&[("mode", mode)]),
        &[],
    )
    .await
    .expect("start");
    let before = polls.load(Ordering::Relaxed);
    let err = task.poll(10).await.expect_err("misbehaves");
    let during = polls.load(Ordering::Relaxed) - before;
    // The instance is dead; entering it again is refused, not undefined.
    if matches!(err, TaskError::Host(_)) {
        let again = task.poll(10).await.expect_err("poisoned");
        assert!(
            again.to_string().contains("cannot be entered again"),
            "{again}"
        );
    }
    // The healthy task is still running.
    let now = polls.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        polls.load(Ordering::Relaxed) > now,
        "the healthy task stopped"
    );
    healthy.abort();
    (err, during)
}

// One thread: the healthy task only progresses if the spinning guest yields.
#[tokio::test(flavor = "current_thread")]
async fn a_guest_that_loops_forever_is_interrupted_and_others_keep_running() {
    let limits = PluginLimits {
        call_timeout: Duration::from_millis(500),
        ..PluginLimits::default()
    };
    let (err, during) = misbehave(limits, "spin").await;
    let msg = err.to_string();
    assert!(
        matches!(err, TaskError::Host(HostError::Trap { .. })),
        "{msg}"
    );
    assert!(
        msg.contains("poll ran past its deadline of 500 ms"),
        "{msg}"
    );
    assert!(
        during > 0,
        "the healthy task made no progress while the guest spun"
    );
}

#[tokio::test]
async fn a_guest_that_allocates_past_its_limit_fails_cleanly() {
    let limits = PluginLimits {
        memory_bytes: 32 << 20,
        ..PluginLimits::default()
    };
    let (err, _) = misbehave(limits, "alloc").await;
    let msg = err.to_string();
    assert!(
        matches!(err, TaskError::Host(HostError::Trap { .. })),
        "{msg}"
    );
    assert!(msg.contains("memory"), "{msg}");
}

#[tokio::test]
async fn a_guest_that_traps_fails_with_its_trace() {
    let (err, _) = misbehave(PluginLimits::default(), "trap").await;
    let msg = err.to_string();
    assert!(msg.starts_with("plugin misbehave: poll trapped:"), "{msg}");
    assert!(msg.contains("unreachable"), "{msg}");
}

#[tokio::test]
async fn plugin_errors_keep_the_instance_usable() {
    for (mode, fatal) in [("fatal", true), ("retriable", false)] {
        let (err, _) = misbehave(PluginLimits::default(), mode).await;
        match err {
            TaskError::Fatal(m) if fatal => assert!(m.contains("told to fail")),
            TaskError::Retriable(m) if !fatal => assert!(m.contains("told to retry")),
            other => panic!("{mode}: {other}"),
        }
    }
}

#[tokio::test]
async fn metrics_a_guest_records_are_exported_with_its_connector_and_task() {
    let engine = engine(PluginLimits::default());
    let plugin = load(&engine, "misbehave").await.expect("load");
    let mut task = SourceTaskInstance::start(
        &plugin,
        "orders",
        2,
        &Grants::none(),
        &cfg(&[("mode", "ok")]),
        &[],
    )
    .await
    .expect("start");
    for _ in 0..3 {
        task.poll(10).await.expect("poll");
    }
    let text = engine.metrics().render_prometheus();
    assert!(
        text.contains("# TYPE culvert_plugin_polls_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "culvert_plugin_polls_total{connector=\"orders\",mode=\"ok\",task=\"2\"} 3\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("culvert_plugin_batch_records_count{connector=\"orders\",task=\"2\"} 3\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_guest_importing_sockets_is_refused_at_load() {
    let engine = engine(PluginLimits::default());
    let err = load(&engine, "sockets-probe").await.expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, HostError::Denied { .. }), "{msg}");
    assert!(msg.contains("wasi:sockets/"), "{msg}");
    assert!(msg.contains("http-client capability"), "{msg}");
}

#[tokio::test]
async fn a_plugin_is_only_run_as_its_own_kind() {
    let engine = engine(PluginLimits::default());
    let sink = load(&engine, "collect-sink").await.expect("load");
    let err = SourceTaskInstance::start(&sink, "c", 0, &Grants::none(), &[], &[])
        .await
        .expect_err("a sink is not a source");
    assert_eq!(
        err.to_string(),
        "plugin collect-sink is a sink plugin, not a source"
    );
    let transform = load(&engine, "identity-transform").await.expect("load");
    let err = transform
        .task_configs("c", &[], 1)
        .await
        .expect_err("transforms have no tasks");
    assert!(err.to_string().contains("not a connector"), "{err}");
}
