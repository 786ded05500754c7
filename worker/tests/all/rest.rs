//! The REST API's plugin endpoints over real HTTP: Connect's shapes, status codes and error
//! bodies, with the built-in plugins loaded by wasmtime.

use std::sync::Arc;

use std::collections::BTreeMap;

use culvert::config::{Mode, WorkerConfig};
use culvert::herder::Herder;
use culvert::rest::{RestState, router};
use culvert::stores::{ClientSettings, Store, TopicLog};
use culvert_log_engine::{BrokerConfig, RunningBroker};
use culvert_plugin_host::{PluginEngine, PluginLimits, PluginRegistry};
use serde_json::{Value, json};

/// An embedded broker, the three stores, a herder and the REST API on a free port. Keep
/// the returned guard alive while using the URL.
async fn serve() -> (String, (RunningBroker, tempfile::TempDir)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = RunningBroker::start(BrokerConfig {
        listener: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        ..BrokerConfig::default()
    })
    .await
    .expect("broker");
    let clients = ClientSettings {
        bootstrap_servers: broker.bootstrap(),
        ..ClientSettings::default()
    };
    let (config, _) =
        WorkerConfig::from_properties(&BTreeMap::new(), Mode::Standalone).expect("config");
    let log = |settings, role, single| {
        let clients = clients.clone();
        async move {
            TopicLog::open(&clients, &settings, role, single)
                .await
                .expect("topic")
        }
    };
    let configs = Store::load(log(config.config_topic.clone(), "config.storage.topic", true).await)
        .await
        .expect("configs");
    let statuses =
        Store::load(log(config.status_topic.clone(), "status.storage.topic", false).await)
            .await
            .expect("statuses");
    let offsets =
        Store::load(log(config.offset_topic.clone(), "offset.storage.topic", false).await)
            .await
            .expect("offsets");
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let registry = PluginRegistry::load(&engine, &culvert::builtin::components(), &[]).await;
    let herder = Herder::new(
        "127.0.0.1:8083".into(),
        Arc::new(registry),
        configs,
        statuses,
        offsets,
    );
    let state = Arc::new(RestState {
        herder: Arc::new(herder),
        loggers: Arc::new(culvert::logging::Loggers::new("INFO", None)),
        kafka_cluster_id: "test-cluster".into(),
        plugin_metrics: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    (format!("http://{addr}"), (broker, dir))
}

pub(crate) async fn call(method: reqwest::Method, url: &str, body: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_endpoints_answer_like_connect() {
    let (base, _guard) = serve().await;
    use reqwest::Method;

    let (status, body) = call(Method::GET, &format!("{base}/"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["kafka_cluster_id"], "test-cluster");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    let (status, body) = call(Method::GET, &format!("{base}/connector-plugins"), None).await;
    assert_eq!(status, 200);
    let list = body.as_array().expect("array");
    assert!(
        list.contains(&json!({"class": "datagen", "type": "source", "version": "0.1.0"})),
        "{body}"
    );
    assert!(
        list.iter()
            .all(|p| p["type"] == "source" || p["type"] == "sink")
    );
    let url = format!("{base}/connector-plugins?connectorsOnly=FALSE");
    let (status, body) = call(Method::GET, &url, None).await;
    assert_eq!(status, 200);
    let list = body.as_array().expect("array");
    let version = env!("CARGO_PKG_VERSION");
    for (class, kind) in [
        ("org.apache.kafka.connect.json.JsonConverter", "converter"),
        (
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "header_converter",
        ),
        (
            "org.apache.kafka.connect.transforms.RegexRouter",
            "transformation",
        ),
        (
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicate",
        ),
    ] {
        let entry = json!({"class": class, "type": kind, "version": version});
        assert!(list.contains(&entry), "{entry} in {body}");
    }

    let (status, body) = call(
        Method::GET,
        &format!("{base}/connector-plugins/datagen/config"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let topic = body
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["name"] == "kafka.topic"))
        .expect("kafka.topic is defined");
    assert_eq!(topic["type"], "STRING");
    assert_eq!(topic["required"], true);
    assert_eq!(topic["importance"], "HIGH");

    // Validation answers 200 even for an invalid configuration; error_count says so.
    let (status, body) = call(
        Method::PUT,
        &format!("{base}/connector-plugins/datagen/config/validate"),
        Some(r#"{"connector.class": "datagen", "batch.size": "0", "iterations": "many"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "datagen");
    assert_eq!(body["error_count"], 3, "{body}");
    let errors_of = |name: &str| {
        body["configs"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["value"]["name"] == name))
            .map(|c| c["value"]["errors"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        errors_of("kafka.topic"),
        json!(["Missing required configuration \"kafka.topic\" which has no default value."])
    );
    assert_eq!(
        errors_of("batch.size"),
        json!(["batch.size must be at least 1, got 0"])
    );

    let (status, body) = call(
        Method::PUT,
        &format!("{base}/connector-plugins/datagen/config/validate"),
        Some(r#"{"connector.class": "org.example.Other"}"#),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error_code": 400, "message": "Included connector type org.example.Other does not match request type datagen"})
    );

    let (status, body) = call(
        Method::PUT,
        &format!("{base}/connector-plugins/datagen/config/validate"),
        Some("{not json"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_code"], 400);

    let (status, body) = call(
        Method::GET,
        &format!("{base}/connector-plugins/nope/config"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Unknown plugin nope")),
        "{body}"
    );

    // Runtime log levels.
    let (status, body) = call(Method::GET, &format!("{base}/admin/loggers"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["root"],
        json!({"level": "INFO", "last_modified": null})
    );
    let (status, body) = call(
        Method::PUT,
        &format!("{base}/admin/loggers/culvert::herder"),
        Some(r#"{"level": "debug"}"#),
    )
    .await;
    assert_eq!((status, body), (200, json!(["culvert::herder"])));
    let (_, body) = call(
        Method::GET,
        &format!("{base}/admin/loggers/culvert::herder::changes"),
        None,
    )
    .await;
    assert_eq!(body, json!({"level": "DEBUG", "last_modified": null}));
    let url = format!("{base}/admin/loggers/culvert");
    let (status, _) = call(Method::PUT, &url, Some(r#"{"level": "LOUD"}"#)).await;
    assert_eq!(status, 404);
    let (status, _) = call(Method::PUT, &url, Some("{}")).await;
    assert_eq!(status, 400);
    let (status, _) = call(
        Method::PUT,
        &format!("{url}?scope=cluster"),
        Some(r#"{"level": "WARN"}"#),
    )
    .await;
    assert_eq!(status, 204);

    let (status, body) = call(Method::GET, &format!("{base}/no/such/path"), None).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error_code": 404, "message": "HTTP 404 Not Found"})
        )
    );
    let (status, body) = call(Method::DELETE, &format!("{base}/connector-plugins"), None).await;
    assert_eq!(
        (status, body),
        (
            405,
            json!({"error_code": 405, "message": "HTTP 405 Method Not Allowed"})
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_are_created_changed_paused_stopped_and_deleted() {
    use reqwest::Method;
    let (base, _guard) = serve().await;
    let create = r#"{"name": "orders", "config": {"connector.class": "datagen",
        "kafka.topic": "orders", "tasks.max": 2}}"#;
    let (status, body) = call(Method::POST, &format!("{base}/connectors"), Some(create)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "orders");
    assert_eq!(body["type"], "source");
    assert_eq!(body["config"]["tasks.max"], "2");
    assert_eq!(body["config"]["name"], "orders");
    let task_count = body["tasks"].as_array().map(Vec::len).unwrap_or_default();
    assert!((1..=2).contains(&task_count), "{body}");

    let (status, body) = call(Method::POST, &format!("{base}/connectors"), Some(create)).await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error_code": 409, "message": "Connector orders already exists"})
        )
    );

    let (status, body) = call(
        Method::POST,
        &format!("{base}/connectors"),
        Some(r#"{"name": "bad", "config": {"connector.class": "datagen", "tasks.max": "0"}}"#),
    )
    .await;
    assert_eq!(status, 400);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "Connector configuration is invalid and contains the following 2 error(s):"
        ),
        "{message}"
    );
    assert!(
        message.contains("Invalid value 0 for configuration tasks.max"),
        "{message}"
    );
    assert!(
        message.contains("Missing required configuration \"kafka.topic\""),
        "{message}"
    );

    let (status, body) = call(
        Method::GET,
        &format!("{base}/connectors/orders/status"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["connector"]["state"], "RUNNING");
    assert_eq!(body["connector"]["worker_id"], "127.0.0.1:8083");
    assert_eq!(
        body["tasks"][0]["state"], "UNASSIGNED",
        "no runtime runs tasks yet"
    );

    let (status, body) = call(
        Method::GET,
        &format!("{base}/connectors/orders/tasks"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["id"], json!({"connector": "orders", "task": 0}));

    // Reconfigure: 200 for an existing connector, 201 for a new one.
    let (status, body) = call(
        Method::PUT,
        &format!("{base}/connectors/orders/config"),
        Some(r#"{"connector.class": "datagen", "kafka.topic": "orders-v2"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        Method::GET,
        &format!("{base}/connectors/orders/config"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["kafka.topic"], "orders-v2");
    let (status, _) = call(
        Method::PUT,
        &format!("{base}/connectors/audit/config"),
        Some(r#"{"connector.class": "datagen", "kafka.topic": "audit"}"#),
    )
    .await;
    assert_eq!(status, 201);

    let (status, _) = call(
        Method::PUT,
        &format!("{base}/connectors/orders/pause"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let (_, body) = call(
        Method::GET,
        &format!("{base}/connectors/orders/status"),
        None,
    )
    .await;
    assert_eq!(body["connector"]["state"], "PAUSED");
    let (status, _) = call(Method::PUT, &format!("{base}/connectors/orders/stop"), None).await;
    assert_eq!(status, 204);
    let (_, body) = call(Method::GET, &format!("{base}/connectors/orders"), None).await;
    assert_eq!(body["tasks"], json!([]), "a stopped connector has no tasks");
    let (status, _) = call(
        Method::PUT,
        &format!("{base}/connectors/orders/resume"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let (_, body) = call(
        Method::GET,
        &format!("{base}/connectors/orders/status"),
        None,
    )
    .await;
    assert_eq!(body["connector"]["state"], "RUNNING");
    assert_eq!(body["tasks"].as_array().map(Vec::len), Some(1));

    let (status, body) = call(
        Method::GET,
        &format!("{base}/connectors?expand=status&expand=info"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["audit"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(body["orders"]["info"]["config"]["kafka.topic"], "orders-v2");
    let (_, body) = call(
        Method::GET,
        &format!("{base}/connectors/orders/offsets"),
        None,
    )
    .await;
    assert_eq!(body, json!({"offsets": []}));

    // PATCH merges; a null removes a key.
    let (status, body) = call(
        Method::PATCH,
        &format!("{base}/connectors/orders/config"),
        Some(r#"{"iterations": 5, "batch.size": null}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["iterations"], "5");
    assert_eq!(body["config"]["kafka.topic"], "orders-v2");
    // Restart: 204 for the connector alone, 202 with RESTARTING instances otherwise.
    let (status, _) = call(
        Method::POST,
        &format!("{base}/connectors/orders/restart"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = call(
        Method::POST,
        &format!("{base}/connectors/orders/restart?includeTasks=True&onlyFailed=false"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["connector"]["state"], "RESTARTING");
    assert_eq!(body["tasks"][0]["state"], "RESTARTING");
    let (status, body) = call(
        Method::POST,
        &format!("{base}/connectors/orders/tasks/7/restart"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["message"].clone()),
        (404, json!("Unknown task: orders-7"))
    );

    // Health, topics, and offsets of a stopped source connector.
    let (status, body) = call(Method::GET, &format!("{base}/health"), None).await;
    assert_eq!((status, body["status"].clone()), (200, json!("healthy")));
    let (status, body) = call(
        Method::GET,
        &format!("{base}/connectors/audit/topics"),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({"audit": {"topics": []}})));
    let (status, _) = call(
        Method::PUT,
        &format!("{base}/connectors/audit/topics/reset"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let offsets = r#"{"offsets": [{"partition": {"table": "t"}, "offset": {"id": 5}}]}"#;
    let url = format!("{base}/connectors/audit/offsets");
    let (status, body) = call(Method::PATCH, &url, Some(offsets)).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Connectors must be in the STOPPED state")),
        "{body}"
    );
    let (status, _) = call(Method::PUT, &format!("{base}/connectors/audit/stop"), None).await;
    assert_eq!(status, 204);
    let (status, body) = call(Method::PATCH, &url, Some(offsets)).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = call(Method::GET, &url, None).await;
    assert_eq!(
        body,
        json!({"offsets": [{"partition": {"table": "t"}, "offset": {"id": 5}}]})
    );
    let (status, _) = call(Method::PATCH, &url, Some(r#"{"offsets": []}"#)).await;
    assert_eq!(status, 400);
    let (status, _) = call(Method::DELETE, &url, None).await;
    assert_eq!(status, 200);
    let (_, body) = call(Method::GET, &url, None).await;
    assert_eq!(body, json!({"offsets": []}));

    let (status, _) = call(Method::DELETE, &format!("{base}/connectors/orders"), None).await;
    assert_eq!(status, 204);
    let (status, body) = call(Method::GET, &format!("{base}/connectors/orders"), None).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error_code": 404, "message": "Connector orders not found"})
        )
    );
    let (_, body) = call(Method::GET, &format!("{base}/connectors"), None).await;
    assert_eq!(body, json!(["audit"]));
}
