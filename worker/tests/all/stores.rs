//! The internal-topic log against the embedded broker running in-process: topics created
//! compacted, records written with acks=all read back in order — also by a fresh reader, as
//! after a restart — and unsuitable existing topics refused with Connect's messages.

use std::collections::BTreeMap;

use culvert::config::TopicSettings;
use culvert::stores::{ClientSettings, ConfigRecord, StoreError, TargetState, TopicLog};
use culvert_log_engine::{BrokerConfig, RunningBroker};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

async fn broker(dir: &std::path::Path) -> RunningBroker {
    let config = BrokerConfig {
        listener: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.to_path_buf(),
        ..BrokerConfig::default()
    };
    RunningBroker::start(config).await.expect("broker")
}

fn settings(name: &str, partitions: i32) -> TopicSettings {
    TopicSettings {
        name: name.to_string(),
        partitions,
        replication_factor: 1,
        configs: BTreeMap::new(),
    }
}

async fn create_plain_topic(bootstrap: &str, name: &str, partitions: i32, policy: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin");
    let topic =
        NewTopic::new(name, partitions, TopicReplication::Fixed(1)).set("cleanup.policy", policy);
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .expect("create");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_records_survive_a_fresh_reader_and_unsuitable_topics_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker(dir.path()).await;
    let clients = ClientSettings {
        bootstrap_servers: broker.bootstrap(),
        ..ClientSettings::default()
    };
    let configs = settings("connect-configs", 1);
    let mut log = TopicLog::open(&clients, &configs, "config.storage.topic", true)
        .await
        .expect("open");
    assert!(log.read_to_end().await.expect("empty").is_empty());

    let records = [
        ConfigRecord::Connector {
            name: "orders".into(),
            properties: Some([("connector.class".to_string(), "datagen".to_string())].into()),
        },
        ConfigRecord::TargetState {
            connector: "orders".into(),
            state: Some(TargetState::Paused),
        },
        ConfigRecord::Connector {
            name: "orders".into(),
            properties: None,
        },
    ];
    for r in &records {
        let (key, value) = r.encode();
        log.send(key.as_bytes(), value.as_deref())
            .await
            .expect("send");
    }
    let read = |got: Vec<culvert::stores::LogRecord>| -> Vec<ConfigRecord> {
        got.iter()
            .map(|r| {
                let key = String::from_utf8(r.key.clone().expect("key")).expect("utf8");
                ConfigRecord::parse(&key, r.value.as_deref())
                    .expect("valid")
                    .expect("known")
            })
            .collect()
    };
    assert_eq!(read(log.read_to_end().await.expect("tail")), records);
    assert!(log.read_to_end().await.expect("nothing new").is_empty());
    let mut fresh = TopicLog::open(&clients, &configs, "config.storage.topic", true)
        .await
        .expect("reopen");
    assert_eq!(read(fresh.read_to_end().await.expect("replay")), records);

    // An offsets topic with several partitions is fine; a config topic is not.
    let offsets = settings("connect-offsets", 3);
    TopicLog::open(&clients, &offsets, "offset.storage.topic", false)
        .await
        .expect("offsets");
    let err = TopicLog::open(&clients, &offsets, "config.storage.topic", true)
        .await
        .expect_err("several partitions");
    assert!(
        matches!(&err, StoreError::Unsuitable(m) if m.contains("required to have a single partition") && m.contains("found 3 partitions")),
        "{err}"
    );

    create_plain_topic(&broker.bootstrap(), "deleting", 1, "delete").await;
    let err = TopicLog::open(
        &clients,
        &settings("deleting", 1),
        "status.storage.topic",
        false,
    )
    .await
    .expect_err("not compacted");
    assert!(
        err.to_string().starts_with(
            "Topic 'deleting' supplied via the 'status.storage.topic' property is required to \
             have 'cleanup.policy=compact'"
        ) && err.to_string().contains("'cleanup.policy=delete'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_read_their_own_writes_and_other_writers_after_a_sync() {
    use culvert::stores::{
        ConfigState, OffsetState, State, Status, StatusKey, StatusState, Store, encode_offset_key,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker(dir.path()).await;
    let clients = ClientSettings {
        bootstrap_servers: broker.bootstrap(),
        ..ClientSettings::default()
    };
    let open = |name: &'static str, partitions, single| {
        let clients = clients.clone();
        async move {
            TopicLog::open(&clients, &settings(name, partitions), "test", single)
                .await
                .expect("open")
        }
    };
    let configs = Store::<ConfigState>::load(open("configs", 1, true).await)
        .await
        .expect("load");
    let other = Store::<ConfigState>::load(open("configs", 1, true).await)
        .await
        .expect("load");
    let (key, value) = ConfigRecord::Connector {
        name: "orders".into(),
        properties: Some([("tasks.max".to_string(), "2".to_string())].into()),
    }
    .encode();
    configs
        .write(key.as_bytes(), value.as_deref())
        .await
        .expect("write");
    assert_eq!(
        configs
            .read()
            .connector("orders")
            .and_then(|p| p.get("tasks.max").cloned()),
        Some("2".to_string()),
        "the writer sees its write at once"
    );
    assert!(other.read().connector("orders").is_none(), "not synced yet");
    other.sync().await.expect("sync");
    assert!(other.read().connector("orders").is_some());
    assert_eq!(other.read().offset, 0);

    let statuses = Store::<StatusState>::load(open("status", 5, false).await)
        .await
        .expect("load");
    let running = Status {
        state: State::Running,
        trace: None,
        worker_id: "127.0.0.1:8083".into(),
        generation: 1,
    };
    statuses
        .write(
            StatusKey::Task("orders".into(), 1).encode().as_bytes(),
            Some(&running.encode()),
        )
        .await
        .expect("write");
    assert_eq!(statuses.read().task("orders", 1), Some(&running));

    let offsets = Store::<OffsetState>::load(open("offsets", 25, false).await)
        .await
        .expect("load");
    let partition = serde_json::json!({"table": "orders"});
    offsets
        .write(
            &encode_offset_key("orders", &partition),
            Some(br#"{"id":42}"#),
        )
        .await
        .expect("write");
    offsets
        .write(b"not json", Some(b"{}"))
        .await
        .expect("a malformed record is written but skipped on read");
    let reread = Store::<OffsetState>::load(open("offsets", 25, false).await)
        .await
        .expect("reload");
    assert_eq!(
        reread.read().offset("orders", &partition),
        Some(&serde_json::json!({"id": 42}))
    );
}
