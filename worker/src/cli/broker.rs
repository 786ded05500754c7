//! `culvert broker [--config FILE]`: the Kafka-compatible broker alone, until Ctrl-C or
//! SIGTERM, then a clean shutdown (every partition fsynced).

use std::path::Path;
use std::process::ExitCode;

use culvert_log_engine::{BrokerConfig, RunningBroker};

use crate::config::load_properties;

pub(crate) async fn run(config: Option<&Path>) -> ExitCode {
    let props = match load_properties(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("culvert broker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (broker_config, unknown) = match BrokerConfig::from_properties(&props) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("culvert broker: invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    for key in unknown {
        tracing::warn!(key, "unknown broker configuration key (ignored)");
    }
    let data_dir = broker_config.data_dir.clone();
    let broker = match RunningBroker::start(broker_config).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("culvert broker: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "culvert broker listening on {} (bootstrap.servers={}, data in {})",
        broker.local_addr(),
        broker.bootstrap(),
        data_dir.display()
    );
    wait_for_signal().await;
    match broker.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("culvert broker: shutdown failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Returns on Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
