//! The REST API's plugin endpoints over real HTTP: Connect's shapes, status codes and error
//! bodies, with the built-in plugins loaded by wasmtime.

use std::sync::Arc;

use culvert::rest::{RestState, router};
use culvert_plugin_host::{PluginEngine, PluginLimits, PluginRegistry};
use serde_json::{Value, json};

async fn serve() -> String {
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let registry = PluginRegistry::load(&engine, &culvert::builtin::components(), &[]).await;
    let state = Arc::new(RestState {
        registry: Arc::new(registry),
        kafka_cluster_id: "test-cluster".into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{addr}")
}

async fn call(method: reqwest::Method, url: &str, body: Option<&str>) -> (u16, Value) {
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
    let base = serve().await;
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
