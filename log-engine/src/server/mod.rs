//! The TCP side of the broker: listener, per-connection tasks, the interval flusher, and
//! orderly shutdown.

mod connection;
mod send_file;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::log::FlushPolicy;

/// A broker that is serving clients. Dropping it without [`RunningBroker::shutdown`] stops
/// serving but skips the final fsync.
#[derive(Debug)]
pub struct RunningBroker {
    broker: Arc<Broker>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RunningBroker {
    /// Binds the listener, opens the data directory (recovering partitions) and starts
    /// serving.
    pub async fn start(config: BrokerConfig) -> Result<Self, BrokerError> {
        let listener =
            TcpListener::bind(config.listener)
                .await
                .map_err(|source| BrokerError::Bind {
                    addr: config.listener,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| BrokerError::Bind {
            addr: config.listener,
            source,
        })?;
        let advertised = config
            .advertised
            .clone()
            .unwrap_or_else(|| (addr.ip().to_string(), addr.port()));
        let broker = tokio::task::spawn_blocking(move || {
            let broker = Broker::open(config, advertised)?;
            broker.start_coordinators()?;
            Ok::<_, BrokerError>(broker)
        })
        .await
        .map_err(|e| BrokerError::Metadata {
            path: "<startup>".into(),
            reason: e.to_string(),
        })??;
        let broker = Arc::new(broker);
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(Arc::clone(&broker), listener, stop_rx.clone()));
        tasks.spawn(interval_flusher(Arc::clone(&broker), stop_rx.clone()));
        tasks.spawn(group_ticker(Arc::clone(&broker), stop_rx.clone()));
        tasks.spawn(txn_ticker(Arc::clone(&broker), stop_rx.clone()));
        tasks.spawn(log_cleaner(Arc::clone(&broker), stop_rx));
        tracing::info!(%addr, node_id = broker.node_id(), cluster_id = broker.cluster_id(),
            "broker listening");
        Ok(Self {
            broker,
            addr,
            stop,
            tasks,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` for clients' `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        let (host, port) = self.broker.advertised();
        format!("{host}:{port}")
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Stops accepting, closes connections and fsyncs every partition.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        let broker = Arc::clone(&self.broker);
        tokio::task::spawn_blocking(move || broker.close())
            .await
            .map_err(|e| BrokerError::Metadata {
                path: "<shutdown>".into(),
                reason: e.to_string(),
            })??;
        tracing::info!("broker stopped");
        Ok(())
    }
}

async fn accept_loop(broker: Arc<Broker>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection::serve(Arc::clone(&broker), stream, peer));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Applies retention and compaction to every partition, one at a time, off the runtime,
/// and forgets idempotent producers silent for `producer.id.expiration.ms`.
async fn log_cleaner(broker: Arc<Broker>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(broker.config().cleaner_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let producer_expiration = broker.config().producer_id_expiration;
        for topic in broker.topics() {
            for p in topic.partitions.clone() {
                let topic = Arc::clone(&topic);
                let now_ms = crate::clock::now_ms();
                let result = tokio::task::spawn_blocking(move || {
                    p.expire_producers(producer_expiration);
                    p.clean(&topic.config, now_ms)
                })
                .await;
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "log cleaning failed"),
                    Err(e) => tracing::error!(error = %e, "log cleaning task failed"),
                }
            }
        }
    }
}

/// Drives session expiry and join deadlines of every group.
async fn group_ticker(broker: Arc<Broker>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(crate::group::TICK);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        if let Some(groups) = broker.groups() {
            groups.tick().await;
        }
    }
}

/// Aborts timed-out transactions and completes prepared ones.
async fn txn_ticker(broker: Arc<Broker>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(crate::txn::TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        if let Some(txns) = broker.txns() {
            txns.tick(&broker).await;
        }
    }
}

/// Fsyncs partitions under `FlushPolicy::Interval` whose oldest unsynced append is due.
async fn interval_flusher(broker: Arc<Broker>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(broker.config().flush_check_interval);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        for topic in broker.topics() {
            for p in &topic.partitions {
                let FlushPolicy::Interval(every) = p.flush_policy() else {
                    continue;
                };
                if p.dirty_for(now).is_some_and(|age| age >= every)
                    && let Err(e) = p.sync().await
                {
                    tracing::error!(topic = p.topic(), partition = p.index(), error = %e,
                        "interval fsync failed");
                }
            }
        }
    }
}
