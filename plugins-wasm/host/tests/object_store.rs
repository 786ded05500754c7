//! The `object-store` capability against a real S3-compatible server (moto, started by the
//! test) through the `object-probe` guest: put, get, ranges, head, paged listings with
//! delimiters, delete, multipart uploads streamed in parts (and aborted when dropped), and
//! clear errors for missing objects, ungranted buckets and endpoints, and dead servers.

mod common;

use common::owned;
use culvert_plugin_host::{Grants, Plugin, SourceTaskInstance};
use culvert_test_services::Moto;

async fn probe_plugin() -> Plugin {
    common::load_probe("object-probe", &["object-store"]).await
}

/// Runs the probe's `ops` script with `grants` and `endpoint`; returns one line per op.
async fn run(
    plugin: &Plugin,
    grants: &[(&str, &str)],
    endpoint: &str,
    ops: &[&str],
) -> Vec<String> {
    let grants = Grants::from_config(&owned(grants)).expect("grants");
    let ops = ops.join(";");
    let config = owned(&[
        ("endpoint", endpoint),
        ("access.key", "AKIDEXAMPLE"),
        ("secret.key", "secret"),
        ("ops", &ops),
    ]);
    let mut task = SourceTaskInstance::start(plugin, "c", 0, &grants, &config, &[])
        .await
        .expect("start");
    let batch = task.poll(100).await.expect("poll").expect("a batch");
    batch
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.unwrap_or_default()).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_through_an_s3_compatible_store() {
    let moto = Moto::start().expect("moto");
    moto.create_bucket("lake").expect("bucket");
    moto.create_bucket("secret").expect("bucket");
    let plugin = probe_plugin().await;
    let host = format!("127.0.0.1:{}", moto.port());
    let grants = [
        ("plugin.allow.buckets", "lake"),
        ("plugin.allow.hosts", host.as_str()),
    ];
    let lines = run(
        &plugin,
        &grants,
        &moto.endpoint(),
        &[
            "put:lake/a/1.txt:hello",
            "get:lake/a/1.txt",
            "range:lake/a/1.txt:1:3",
            "head:lake/a/1.txt",
            "put:lake/a/2.txt:x",
            "put:lake/b/3.txt:y",
            "list:lake/a/::1",
            "list:lake/:/:1000",
            "get:lake/missing",
            "delete:lake/a/2.txt",
            "list:lake/a/::1000",
            "upload:lake/big.bin:20971520",
            "size:lake/big.bin",
            "upload:lake/empty.bin:0",
            "size:lake/empty.bin",
            "upload-drop:lake/dropped.bin:9437184",
            "head:lake/dropped.bin",
            "get:secret/x",
            "list:lake/a/::0",
        ],
    )
    .await;
    assert_eq!(
        lines,
        [
            "put:lake/a/1.txt:hello => etag true",
            "get:lake/a/1.txt => hello",
            "range:lake/a/1.txt:1:3 => ell",
            "head:lake/a/1.txt => a/1.txt 5 etag=true modified=true",
            "put:lake/a/2.txt:x => etag true",
            "put:lake/b/3.txt:y => etag true",
            "list:lake/a/::1 => pages=2 keys=[a/1.txt(5),a/2.txt(1)] prefixes=[]",
            "list:lake/:/:1000 => pages=1 keys=[] prefixes=[a/,b/]",
            "get:lake/missing => error: no such object",
            "delete:lake/a/2.txt => deleted",
            "list:lake/a/::1000 => pages=1 keys=[a/1.txt(5)] prefixes=[]",
            "upload:lake/big.bin:20971520 => etag true",
            "size:lake/big.bin => 20971520 bytes, pattern true",
            "upload:lake/empty.bin:0 => etag true",
            "size:lake/empty.bin => 0 bytes, pattern true",
            "upload-drop:lake/dropped.bin:9437184 => dropped",
            "head:lake/dropped.bin => error: no such object",
            "get:secret/x => error: object store denied: secret/x is not in \
             plugin.allow.buckets (lake)",
            "list:lake/a/::0 => error: invalid request: max-keys must be between 1 and 1000, \
             not 0",
        ]
    );
    // The dropped upload was aborted: no multipart upload is left in the bucket.
    let (status, body) = moto.get("/lake?uploads").expect("list uploads");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("<UploadId>"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_and_buckets_need_grants_and_dead_servers_are_reported() {
    let plugin = probe_plugin().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let endpoint = format!("http://127.0.0.1:{port}");
    let host = format!("127.0.0.1:{port}");

    let lines = run(
        &plugin,
        &[("plugin.allow.buckets", "lake")],
        &endpoint,
        &["get:lake/k"],
    )
    .await;
    assert_eq!(
        lines,
        [format!(
            "open => error: object store denied: endpoint 127.0.0.1:{port} is not reachable: \
             the connector sets no plugin.allow.hosts"
        )]
    );
    let lines = run(
        &plugin,
        &[("plugin.allow.hosts", &host)],
        &endpoint,
        &["get:lake/k"],
    )
    .await;
    assert_eq!(
        lines,
        [
            "open => error: object store denied: this plugin instance has no object-store \
          grant: the connector sets no plugin.allow.buckets"
        ]
    );
    let lines = run(
        &plugin,
        &[
            ("plugin.allow.buckets", "lake"),
            ("plugin.allow.hosts", &host),
        ],
        &endpoint,
        &["get:lake/k"],
    )
    .await;
    assert!(
        lines[0].starts_with("get:lake/k => error: connection failed: "),
        "{lines:?}"
    );
}
