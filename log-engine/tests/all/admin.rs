//! AdminClient calls: create, describe configs, delete; Kafka's errors for bad requests.

use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::support::TestBroker;

const TIMEOUT: Duration = Duration::from_secs(30);

fn admin(broker: &TestBroker) -> AdminClient<DefaultClientContext> {
    broker.client().create().expect("admin client")
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn create_describe_and_delete_topics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let admin = admin(&broker);
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let topics = [
        NewTopic::new("connect-configs", 1, TopicReplication::Fixed(1))
            .set("cleanup.policy", "compact"),
        NewTopic::new("events", 4, TopicReplication::Fixed(-1)),
    ];
    let created = block(admin.create_topics(&topics, &opts)).expect("create");
    assert!(created.iter().all(Result::is_ok), "{created:?}");

    let consumer: BaseConsumer = broker.client().create().expect("client");
    let md = consumer
        .fetch_metadata(Some("events"), TIMEOUT)
        .expect("metadata");
    assert_eq!(md.topics()[0].partitions().len(), 4);

    let described = block(admin.describe_configs(
        &[
            ResourceSpecifier::Topic("connect-configs"),
            ResourceSpecifier::Topic("events"),
        ],
        &opts,
    ))
    .expect("describe");
    let compacted = described[0].as_ref().expect("connect-configs");
    let policy = compacted
        .get("cleanup.policy")
        .expect("cleanup.policy reported");
    assert_eq!(policy.value.as_deref(), Some("compact"));
    assert_eq!(policy.source, ConfigSource::DynamicTopic);
    let events = described[1].as_ref().expect("events");
    let policy = events
        .get("cleanup.policy")
        .expect("cleanup.policy reported");
    assert_eq!(policy.value.as_deref(), Some("delete"));
    assert_eq!(policy.source, ConfigSource::Default);

    let again = block(admin.create_topics(&topics[1..], &opts)).expect("create again");
    assert!(
        matches!(again[0], Err((_, RDKafkaErrorCode::TopicAlreadyExists))),
        "{again:?}"
    );

    let deleted = block(admin.delete_topics(&["events"], &opts)).expect("delete");
    assert!(deleted[0].is_ok(), "{deleted:?}");
    let md = consumer.fetch_metadata(None, TIMEOUT).expect("metadata");
    let names: Vec<&str> = md.topics().iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "__consumer_offsets",
            "__transaction_state",
            "connect-configs"
        ]
    );
    // A topic of the same name starts empty.
    let recreated = block(admin.create_topics(&topics[1..], &opts)).expect("recreate");
    assert!(recreated[0].is_ok());
    assert_eq!(
        consumer.fetch_watermarks("events", 0, TIMEOUT).expect("wm"),
        (0, 0)
    );
}

#[test]
fn bad_create_requests_get_kafkas_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let admin = admin(&broker);
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let cases = [
        (
            NewTopic::new("rf3", 1, TopicReplication::Fixed(3)),
            RDKafkaErrorCode::InvalidReplicationFactor,
        ),
        (
            NewTopic::new("bad name!", 1, TopicReplication::Fixed(1)),
            RDKafkaErrorCode::InvalidTopic,
        ),
        (
            NewTopic::new("bad-config", 1, TopicReplication::Fixed(1))
                .set("cleanup.policy", "shred"),
            RDKafkaErrorCode::InvalidConfig,
        ),
        (
            NewTopic::new("unknown-config", 1, TopicReplication::Fixed(1)).set("colour", "blue"),
            RDKafkaErrorCode::InvalidConfig,
        ),
    ];
    for (topic, expected) in cases {
        let name = topic.name;
        let result = block(admin.create_topics(&[topic], &opts)).expect("request answered");
        assert!(
            matches!(&result[0], Err((_, code)) if *code == expected),
            "{name}: {result:?}"
        );
    }
    let unknown = block(admin.delete_topics(&["never-created"], &opts)).expect("answered");
    assert!(
        matches!(
            unknown[0],
            Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))
        ),
        "{unknown:?}"
    );
}

#[test]
fn unknown_topics_are_auto_created_unless_disabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path());
    let consumer: BaseConsumer = broker
        .client()
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("client");
    let md = consumer
        .fetch_metadata(Some("auto"), TIMEOUT)
        .expect("metadata");
    assert_eq!(md.topics()[0].error(), None);
    assert_eq!(md.topics()[0].partitions().len(), 1);
    drop(consumer);
    drop(broker);

    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start_with(dir.path(), |c| c.auto_create_topics = false);
    let consumer: BaseConsumer = broker
        .client()
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("client");
    let md = consumer
        .fetch_metadata(Some("auto"), TIMEOUT)
        .expect("metadata");
    assert!(md.topics()[0].error().is_some(), "not created");
}
