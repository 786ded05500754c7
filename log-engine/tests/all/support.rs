//! A broker on a free loopback port with its own runtime thread, so tests can use blocking
//! clients freely.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use culvert_log_engine::{BrokerConfig, RunningBroker};
use rdkafka::ClientConfig;

pub(crate) struct TestBroker {
    pub(crate) bootstrap: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestBroker {
    /// Starts a broker on `data_dir` (kept by the caller so a restart finds it).
    pub(crate) fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, |_| {})
    }

    pub(crate) fn start_with(data_dir: &Path, tweak: impl FnOnce(&mut BrokerConfig)) -> Self {
        let mut config = BrokerConfig {
            listener: "127.0.0.1:0".parse().expect("addr"),
            data_dir: data_dir.to_path_buf(),
            ..BrokerConfig::default()
        };
        tweak(&mut config);
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let broker = RunningBroker::start(config).await.expect("broker starts");
                ready_tx.send(broker.bootstrap()).expect("report address");
                let _ = stop_rx.await;
                broker.shutdown().await.expect("clean shutdown");
            });
        });
        let bootstrap = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("broker ready");
        Self {
            bootstrap,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Client settings pointing at this broker.
    pub(crate) fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap)
            .set("broker.address.family", "v4")
            .set("socket.timeout.ms", "10000");
        c
    }

    /// Stops the broker cleanly (final fsync).
    pub(crate) fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("broker thread");
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The codec of `topic`-0's stored batches, read from its segment file: the one codec
/// other than none that they use, or 0 when none is compressed. A producer sends a batch
/// uncompressed when compressing would not make it smaller (a lone small record), so
/// uncompressed batches may sit beside compressed ones; two different codecs fail the test.
pub(crate) fn stored_codec(data_dir: &Path, topic: &str) -> u8 {
    let seg = data_dir
        .join(format!("{topic}-0"))
        .join(format!("{:020}.log", 0));
    let bytes = std::fs::read(&seg).expect("segment");
    let mut codecs = std::collections::BTreeSet::new();
    let mut at = 0;
    // Batch header: base offset (8 bytes), length (4), ...; attributes' low byte at 22.
    while at + 23 <= bytes.len() {
        let len =
            i32::from_be_bytes([bytes[at + 8], bytes[at + 9], bytes[at + 10], bytes[at + 11]]);
        codecs.insert(bytes[at + 22] & 0x07);
        at += 12 + usize::try_from(len).expect("a batch length");
    }
    codecs.remove(&0);
    assert!(
        codecs.len() <= 1,
        "batches of {topic} use several codecs: {codecs:?}"
    );
    codecs.first().copied().unwrap_or(0)
}
