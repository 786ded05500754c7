//! The `http-client` capability against a real HTTP server (axum on loopback): granted
//! hosts are reachable, everything else is denied with a reason — by allowlist, by address
//! after DNS resolution, without a grant — redirects are not followed, and a plugin.path
//! component must request the capability in its manifest.

use std::future::IntoFuture;
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::get;
use culvert_plugin_host::{
    Grants, Plugin, PluginEngine, PluginLimits, PluginRegistry, SourceTaskInstance, TaskError,
    sha256_hex,
};

async fn server() -> SocketAddr {
    let app = axum::Router::new()
        .route("/greet", get(|| async { "hello" }))
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [("location", "http://example.com/")]) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(axum::serve(listener, app).into_future());
    addr
}

async fn probe() -> Plugin {
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let guest = culvert_guests::test_guest("http-probe").expect("embedded");
    let plugin = Plugin::load(&engine, &guest.origin(), guest.bytes)
        .await
        .expect("load");
    assert_eq!(plugin.capabilities(), ["http-client"]);
    plugin
}

/// Runs one poll of the probe with `connector` settings as grants and `url` as target:
/// `Ok((status, body))` or the task error's text.
async fn fetch(connector: &[(&str, &str)], url: &str) -> Result<(String, String), String> {
    let plugin = probe().await;
    let connector: Vec<(String, String)> = connector
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let grants = Grants::from_config(&connector).expect("grants");
    let config = vec![("url".to_string(), url.to_string())];
    let mut task = SourceTaskInstance::start(&plugin, "c", 0, &grants, &config, &[])
        .await
        .expect("start");
    match task.poll(10).await {
        Ok(Some(batch)) => {
            let r = batch.get(0).expect("one record");
            let text =
                |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
            Ok((text(r.key), text(r.value)))
        }
        Ok(None) => Err("no record".into()),
        Err(TaskError::Fatal(msg)) => Err(msg),
        Err(other) => panic!("unexpected task error: {other}"),
    }
}

#[tokio::test]
async fn a_granted_host_is_reachable() {
    let addr = server().await;
    let got = fetch(
        &[("plugin.allow.hosts", &addr.to_string())],
        &format!("http://{addr}/greet"),
    )
    .await;
    assert_eq!(got, Ok(("200".into(), "hello".into())));
}

#[tokio::test]
async fn a_host_outside_the_allowlist_is_denied() {
    let addr = server().await;
    let other = server().await;
    let err = fetch(
        &[("plugin.allow.hosts", &addr.to_string())],
        &format!("http://{other}/greet"),
    )
    .await
    .expect_err("denied");
    assert_eq!(
        err,
        format!(
            "request denied: 127.0.0.1:{} is not in plugin.allow.hosts ({addr})",
            other.port()
        )
    );
}

#[tokio::test]
async fn without_a_grant_nothing_is_reachable() {
    let addr = server().await;
    let err = fetch(&[], &format!("http://{addr}/greet"))
        .await
        .expect_err("denied");
    assert!(err.contains("no HTTP grant"), "{err}");
    assert!(err.contains("plugin.allow.hosts"), "{err}");
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_needs_consent() {
    let addr = server().await;
    let host = format!("localhost:{}", addr.port());
    let url = format!("http://{host}/greet");
    let err = fetch(&[("plugin.allow.hosts", &host)], &url)
        .await
        .expect_err("loopback by name");
    assert!(
        err.starts_with("request denied: localhost resolves only to private addresses"),
        "{err}"
    );
    assert!(err.contains("plugin.allow.private.networks"), "{err}");
    let got = fetch(
        &[
            ("plugin.allow.hosts", &host),
            ("plugin.allow.private.networks", "true"),
        ],
        &url,
    )
    .await;
    assert_eq!(got, Ok(("200".into(), "hello".into())));
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let addr = server().await;
    let got = fetch(
        &[("plugin.allow.hosts", &addr.to_string())],
        &format!("http://{addr}/redirect"),
    )
    .await;
    assert_eq!(got, Ok(("302".into(), String::new())));
}

#[tokio::test]
async fn bad_requests_are_named() {
    let addr = server().await;
    let grant = [("plugin.allow.hosts", "127.0.0.1")];
    let err = fetch(&grant, "ftp://127.0.0.1/x")
        .await
        .expect_err("scheme");
    assert!(err.contains("ftp URLs are not supported"), "{err}");
    let err = fetch(&grant, "not a url").await.expect_err("url");
    assert!(
        err.starts_with("invalid request: \"not a url\" is not a URL"),
        "{err}"
    );
    let _ = addr;
}

#[tokio::test]
async fn a_plugin_path_component_must_request_the_capability() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = culvert_guests::test_guest("http-probe")
        .expect("embedded")
        .bytes;
    let manifest = |caps: &[&str]| {
        serde_json::json!({
            "name": "http-probe", "version": "0.1.0", "kind": "source",
            "sha256": sha256_hex(bytes), "capabilities": caps,
        })
        .to_string()
    };
    std::fs::write(dir.path().join("probe.wasm"), bytes).expect("write");
    std::fs::write(dir.path().join("probe.json"), manifest(&[])).expect("write");
    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let registry = PluginRegistry::load(&engine, &[], &[dir.path().to_path_buf()]).await;
    assert_eq!(registry.plugins().count(), 0);
    let err = registry.problems()[0].error.to_string();
    assert!(
        err.contains("imports the http-client capability, which its manifest does not request"),
        "{err}"
    );
    std::fs::write(dir.path().join("probe.json"), manifest(&["http-client"])).expect("write");
    let registry = PluginRegistry::load(&engine, &[], &[dir.path().to_path_buf()]).await;
    assert!(registry.problems().is_empty(), "{:?}", registry.problems());
    assert_eq!(registry.plugins().count(), 1);
}
