//! `culvert worker --config FILE [--data-dir DIR]`: one distributed worker. It joins the
//! Connect group named by `group.id` on the Kafka cluster at `bootstrap.servers` (any
//! Kafka, or `culvert broker`), runs the work the group's leader assigns it, and serves the
//! REST API until Ctrl-C or SIGTERM — then it stops its tasks and leaves the group so the
//! others take its work over at once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::broker::wait_for_signal;
use crate::cluster::connection::BrokerConnection;
use crate::cluster::transport::Transport;
use crate::cluster::{ClusterError, Lease, WorkerGroup};
use crate::config::{Mode, Security, WorkerConfig, load_properties};
use crate::herder::Herder;
use crate::rest::{RestState, router};

/// What `worker` was asked to do.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) config: PathBuf,
    pub(crate) data_dir: PathBuf,
}

/// What `start` brought up.
struct Started {
    group: WorkerGroup,
    herder: Arc<Herder>,
    rest: tokio::net::TcpListener,
    state: RestState,
}

/// With TLS or SASL configured, connects and logs in to a bootstrap server before anything
/// else, so a wrong password or an untrusted certificate stops the worker with that reason
/// (librdkafka would only report timeouts). An unreachable broker is left to the usual
/// path: it may come up later.
async fn check_login(config: &WorkerConfig) -> Result<(), String> {
    if config.security == Security::default() {
        return Ok(());
    }
    let transport = Transport::new(&config.security)?;
    for server in &config.bootstrap_servers {
        let opened = BrokerConnection::open(
            server,
            "culvert-login-check",
            &transport,
            Duration::from_secs(10),
        )
        .await;
        match opened {
            Ok(_) => return Ok(()),
            Err(e @ (ClusterError::Tls { .. } | ClusterError::Authentication { .. })) => {
                return Err(format!("cannot log in to the Kafka cluster: {e}"));
            }
            Err(e) => tracing::warn!(server = %server, error = %e, "login check failed"),
        }
    }
    Ok(())
}

async fn start(options: &Options) -> Result<Started, String> {
    let props = load_properties(Some(&options.config)).map_err(|e| e.to_string())?;
    let (config, warnings) =
        WorkerConfig::from_properties(&props, Mode::Distributed).map_err(|e| e.to_string())?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    check_login(&config).await?;
    let node = super::node::assemble(&config, &options.data_dir.join("plugin-cache")).await?;
    let kafka_cluster_id = super::node::kafka_cluster_id(&node.clients).await?;
    let lease = Lease::cluster();
    let worker_id = node.worker_id.clone();
    let runtime = node.runtime(&config, Arc::clone(&lease), true);
    let group = WorkerGroup::new(
        &config,
        format!("http://{worker_id}/"),
        &worker_id,
        Arc::clone(&node.configs),
        runtime.clone(),
        lease,
    )?;
    let herder = Arc::new(
        node.herder(&config, runtime)
            .with_cluster(group.view(), group.waker()),
    );
    let state = RestState {
        herder: Arc::clone(&herder),
        loggers: crate::logging::global(),
        kafka_cluster_id,
        plugin_metrics: Some(node.plugin_metrics),
    };
    Ok(Started {
        group,
        herder,
        rest: node.rest,
        state,
    })
}

pub(crate) async fn run(options: Options) -> ExitCode {
    let Started {
        group,
        herder,
        rest,
        state,
    } = match start(&options).await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("culvert worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = match rest.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("culvert worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let banner = format!(
        "culvert worker: REST API on http://{addr} (worker id {}, joining the cluster)\n",
        herder.worker_id()
    );
    super::node::banner(&banner);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let membership = tokio::spawn(group.run(stopping));
    let server =
        axum::serve(rest, router(Arc::new(state))).with_graceful_shutdown(wait_for_signal());
    let served = server.await;
    // Tasks stop (offsets committed, statuses written) while still a member, then it leaves.
    let _ = stop.send(true);
    if let Err(e) = membership.await {
        eprintln!("culvert worker: the membership loop failed: {e}");
        return ExitCode::FAILURE;
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("culvert worker: the REST server failed: {e}");
            ExitCode::FAILURE
        }
    }
}
