//! The worker's membership loop: joins the Connect group, computes the assignment when it
//! is the leader, applies its own assignment to the runtime (revoked work stopped before
//! new work starts, and a rejoin right after any revocation), heartbeats, extends the
//! lease, and publishes who leads for REST forwarding.
//!
//! Rejoins happen when the coordinator starts a rebalance, when the leader sees the set of
//! configured connectors and tasks change, after a delayed rebalance's delay, and after a
//! revocation. Losing the membership (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, a session that
//! cannot have survived) fences the worker: every task stops without writing anything.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_protocol::error::ResponseError;
use tokio::sync::{Notify, watch};

use super::assignor::{LeaderMemory, Member, assign};
use super::member::{GroupMember, Joined, MemberSettings};
use super::protocol::{
    Assignment, CONFIG_MISMATCH, CONNECTOR_TASK, NO_ERROR, SubProtocol, Work, WorkerMetadata,
};
use super::transport::Transport;
use super::{ClusterError, Lease};
use crate::config::WorkerConfig;
use crate::runtime::Runtime;
use crate::stores::{ConfigState, Store};

/// Leaves this much of the session unused by the lease: writes stop before the coordinator
/// could expire the member.
const LEASE_MARGIN: Duration = Duration::from_millis(500);
/// The leader rejoins once the configured work has not changed for this long...
const COALESCE: Duration = Duration::from_millis(250);
/// ...or this long after the first change, whichever comes first.
const COALESCE_MAX: Duration = Duration::from_secs(2);
/// First and last backoff between failed joins.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What REST needs to know about the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// This worker's member id ("" until it joined).
    pub member_id: String,
    /// The leader's REST URL, once an assignment named it.
    pub leader_url: Option<String>,
    pub is_leader: bool,
    /// A rebalance is under way (joined or joining, no assignment yet).
    pub rebalancing: bool,
    pub generation: i32,
    /// Work assigned to this worker.
    pub assigned: Work,
    /// On the leader: which worker (REST URL) runs each connector and task.
    pub owners: BTreeMap<(String, i32), String>,
    /// Rounds this worker completed (joined and synced).
    pub completed_rebalances: u64,
    /// When the last round completed.
    pub last_rebalance: Option<Instant>,
}

impl ClusterView {
    /// Connect's `connect-worker-rebalance-metrics` as Prometheus series.
    pub fn render_metrics(&self) -> String {
        let since = self
            .last_rebalance
            .map_or(-1.0, |t| t.elapsed().as_secs_f64());
        let leader = self
            .leader_url
            .as_deref()
            .unwrap_or_default()
            .replace(['\\', '"'], "");
        format!(
            "# HELP culvert_worker_rebalance_epoch The generation of the group this worker is in.\n\
             # TYPE culvert_worker_rebalance_epoch gauge\n\
             culvert_worker_rebalance_epoch {}\n\
             # HELP culvert_worker_rebalance_rebalancing Whether a rebalance is under way (1) or not (0).\n\
             # TYPE culvert_worker_rebalance_rebalancing gauge\n\
             culvert_worker_rebalance_rebalancing {}\n\
             # HELP culvert_worker_rebalance_completed_rebalances_total Rebalances this worker completed.\n\
             # TYPE culvert_worker_rebalance_completed_rebalances_total counter\n\
             culvert_worker_rebalance_completed_rebalances_total {}\n\
             # HELP culvert_worker_rebalance_time_since_last_rebalance_seconds Time since the last completed rebalance (-1 before the first).\n\
             # TYPE culvert_worker_rebalance_time_since_last_rebalance_seconds gauge\n\
             culvert_worker_rebalance_time_since_last_rebalance_seconds {since:.3}\n\
             # HELP culvert_worker_rebalance_leader_info The leader's REST URL (leader_name in Connect).\n\
             # TYPE culvert_worker_rebalance_leader_info gauge\n\
             culvert_worker_rebalance_leader_info{{leader=\"{leader}\",is_leader=\"{}\"}} 1\n",
            self.generation,
            u8::from(self.rebalancing),
            self.completed_rebalances,
            self.is_leader,
        )
    }
}

/// The parts the loop drives.
#[derive(Debug)]
pub struct WorkerGroup {
    member: GroupMember,
    url: String,
    protocols: Vec<SubProtocol>,
    configs: Arc<Store<ConfigState>>,
    runtime: Runtime,
    lease: Arc<Lease>,
    view: Arc<RwLock<ClusterView>>,
    /// Woken by the herder after config writes, so the leader notices new work at once.
    wake: Arc<Notify>,
    /// The owners the leader computed in the round under way.
    owners: BTreeMap<(String, i32), String>,
    /// The configured work the leader assigned in the round under way.
    assigned_from: Work,
    heartbeat_interval: Duration,
    session_timeout: Duration,
    max_delay_ms: i64,
    sync_timeout: Duration,
    unsync_backoff: Duration,
    /// The session timeout was left at its default, so a broker's minimum may raise it.
    session_defaulted: bool,
}

/// The work every configured connector stands for: the connector instance and its tasks.
pub fn configured_work(state: &ConfigState) -> Work {
    state
        .connectors()
        .map(|(name, _)| {
            let n = i32::try_from(state.tasks(name).len()).unwrap_or(i32::MAX);
            let mut ids = vec![CONNECTOR_TASK];
            ids.extend(0..n);
            (name.to_string(), ids)
        })
        .collect()
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms(value: i64) -> Duration {
    Duration::from_millis(u64::try_from(value).unwrap_or(0))
}

fn remove_work(from: &mut Work, items: &Work) {
    for (connector, tasks) in items {
        if let Some(mine) = from.get_mut(connector) {
            mine.retain(|t| !tasks.contains(t));
            if mine.is_empty() {
                from.remove(connector);
            }
        }
    }
}

fn add_work(to: &mut Work, items: &Work) {
    for (connector, tasks) in items {
        let mine = to.entry(connector.clone()).or_default();
        for t in tasks {
            if !mine.contains(t) {
                mine.push(*t);
            }
        }
        mine.sort_unstable();
    }
}

/// How one round ended.
enum Round {
    /// Rejoin now.
    Rejoin,
    /// Rejoin after a pause (a failure).
    RetryAfter(Duration),
    /// Shut down.
    Stop,
}

impl WorkerGroup {
    /// A group for the worker advertised at `url` (`http://host:port/`).
    pub fn new(
        config: &WorkerConfig,
        url: String,
        worker_id: &str,
        configs: Arc<Store<ConfigState>>,
        runtime: Runtime,
        lease: Arc<Lease>,
    ) -> Result<Self, String> {
        let settings = MemberSettings {
            transport: Transport::new(&config.security)?,
            bootstrap: config.bootstrap_servers.clone(),
            group_id: config.group_id.clone(),
            group_instance_id: config.group_instance_id.clone(),
            client_id: format!("connect-{worker_id}"),
            protocol_type: "connect".into(),
            session_timeout: ms(config.session_timeout_ms),
            rebalance_timeout: ms(config.rebalance_timeout_ms),
        };
        Ok(Self {
            member: GroupMember::new(settings),
            url,
            protocols: SubProtocol::offered(config.connect_protocol),
            configs,
            runtime,
            lease,
            view: Arc::new(RwLock::new(ClusterView {
                rebalancing: true,
                ..ClusterView::default()
            })),
            wake: Arc::new(Notify::new()),
            owners: BTreeMap::new(),
            assigned_from: Work::new(),
            heartbeat_interval: ms(config.heartbeat_interval_ms),
            session_timeout: ms(config.session_timeout_ms),
            max_delay_ms: config.scheduled_rebalance_max_delay_ms,
            sync_timeout: ms(config.worker_sync_timeout_ms),
            unsync_backoff: ms(config.worker_unsync_backoff_ms),
            session_defaulted: config.session_timeout_defaulted,
        })
    }

    /// The view REST reads.
    pub fn view(&self) -> Arc<RwLock<ClusterView>> {
        Arc::clone(&self.view)
    }

    /// Wakes the loop (after a config write).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    fn publish(&self, change: impl FnOnce(&mut ClusterView)) {
        let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
        change(&mut view);
    }

    fn lease_length(&self) -> Duration {
        self.member
            .settings()
            .session_timeout
            .saturating_sub(LEASE_MARGIN)
    }

    /// Runs until `shutdown` turns true, then stops the work and leaves the group.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut current = Work::new();
        let mut memory = LeaderMemory::default();
        let mut retry = RETRY_MIN;
        let mut last_ok = Instant::now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let round = self
                .round(&mut current, &mut memory, &mut last_ok, &mut shutdown)
                .await;
            match round {
                Round::Stop => break,
                Round::Rejoin => retry = RETRY_MIN,
                Round::RetryAfter(pause) => {
                    let pause = pause.max(retry);
                    retry = (retry * 2).min(RETRY_MAX);
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
        self.publish(|v| v.rebalancing = true);
        // Stop the work while still a member (statuses and offsets are written), then leave
        // so the others take it over at once. A static member keeps its identity.
        self.runtime.shutdown().await;
        if self.member.settings().group_instance_id.is_none()
            && let Err(e) = self.member.leave().await
        {
            tracing::warn!(error = %e, "cannot leave the group; the others wait for the session timeout");
        }
    }

    /// Stops every task without writing: the work may already run elsewhere.
    async fn fence(&mut self, current: &mut Work, why: &str) {
        tracing::warn!("{why}; stopping every task without writing (fenced)");
        self.lease.fence();
        current.clear();
        self.runtime
            .assign(Some(current), self.member.generation())
            .await;
        self.publish(|v| {
            v.assigned.clear();
            v.rebalancing = true;
        });
    }

    /// The membership was probably lost once the session has passed since the last
    /// confirmed request.
    async fn maybe_fence(&mut self, current: &mut Work, last_ok: Instant, why: &ClusterError) {
        if !current.is_empty() && last_ok.elapsed() >= self.session_timeout {
            self.fence(
                current,
                &format!("no contact with the group coordinator ({why})"),
            )
            .await;
            self.member.reset();
        }
    }

    fn metadata(&self, current: &Work) -> Vec<(String, Vec<u8>)> {
        let config_offset = self.configs.read().offset;
        self.protocols
            .iter()
            .map(|p| {
                let allocation = (*p != SubProtocol::Default).then(|| Assignment {
                    version: *p,
                    error: NO_ERROR,
                    leader: String::new(),
                    leader_url: String::new(),
                    config_offset,
                    assigned: current.clone(),
                    revoked: Work::new(),
                    delay_ms: 0,
                });
                let metadata = WorkerMetadata {
                    version: *p,
                    url: self.url.clone(),
                    config_offset,
                    allocation,
                };
                (p.name().to_string(), metadata.encode())
            })
            .collect()
    }

    async fn round(
        &mut self,
        current: &mut Work,
        memory: &mut LeaderMemory,
        last_ok: &mut Instant,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Round {
        self.publish(|v| v.rebalancing = true);
        if self.protocols == [SubProtocol::Default] && !current.is_empty() {
            // Eager: everything stops before every rebalance.
            current.clear();
            self.runtime
                .assign(Some(current), self.member.generation())
                .await;
        }
        let protocols = self.metadata(current);
        let joined = tokio::select! {
            joined = self.member.join(&protocols) => joined,
            _ = shutdown.changed() => return Round::Stop,
        };
        let joined = match joined {
            Ok(j) => j,
            Err(e) => return self.join_failed(current, *last_ok, e).await,
        };
        let protocol = SubProtocol::from_name(&joined.protocol).unwrap_or(SubProtocol::Default);
        self.owners.clear();
        self.assigned_from.clear();
        let assignments = if joined.is_leader() {
            self.lead(&joined, protocol, memory).await
        } else {
            Vec::new()
        };
        let sent = self.lease.sent();
        let bytes = match self.member.sync(assignments).await {
            Ok(b) => b,
            Err(e) => return self.join_failed(current, *last_ok, e).await,
        };
        let assignment = match Assignment::decode(&bytes) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "the leader's assignment cannot be read; rejoining");
                return Round::RetryAfter(RETRY_MIN);
            }
        };
        if assignment.error == CONFIG_MISMATCH {
            tracing::info!(
                "the leader had not read the config topic as far as a member; rejoining"
            );
            let _ = self.configs.sync().await;
            return Round::RetryAfter(RETRY_MIN);
        }
        // Work starts only once this worker has read the configs the leader assigned from.
        if self.configs.read().offset < assignment.config_offset {
            let caught_up = tokio::time::timeout(self.sync_timeout, async {
                while self.configs.read().offset < assignment.config_offset {
                    if self.configs.sync().await.is_err() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
            .await;
            if caught_up.is_err() {
                tracing::warn!(
                    "cannot read the config topic up to offset {} within worker.sync.timeout.ms; \
                     leaving the group for worker.unsync.backoff.ms",
                    assignment.config_offset
                );
                self.fence(current, "behind the config topic").await;
                let _ = self.member.leave().await;
                return Round::RetryAfter(self.unsync_backoff);
            }
        }
        *last_ok = Instant::now();
        self.lease.extend(sent, self.lease_length());
        let generation = joined.generation;
        remove_work(current, &assignment.revoked);
        if !assignment.revoked.is_empty() {
            self.runtime.assign(Some(current), generation).await;
        }
        add_work(current, &assignment.assigned);
        self.runtime.assign(Some(current), generation).await;
        tracing::info!(
            generation,
            leader = %assignment.leader_url,
            assigned = ?assignment.assigned,
            revoked = ?assignment.revoked,
            "joined the group"
        );
        let leader_url = (!assignment.leader_url.is_empty()).then(|| assignment.leader_url.clone());
        let owners = std::mem::take(&mut self.owners);
        self.publish(|v| {
            v.member_id = joined.member_id.clone();
            v.leader_url = leader_url;
            v.is_leader = joined.is_leader();
            v.generation = generation;
            v.assigned = current.clone();
            v.owners = owners;
            v.rebalancing = false;
            v.completed_rebalances += 1;
            v.last_rebalance = Some(Instant::now());
        });
        if !assignment.revoked.is_empty() {
            return Round::Rejoin;
        }
        let rejoin_at =
            (assignment.delay_ms > 0).then(|| Instant::now() + ms(i64::from(assignment.delay_ms)));
        // The leader watches for changes against what it assigned from, not against the
        // configs as they are now (they may have changed since).
        let assigned_from = std::mem::take(&mut self.assigned_from);
        self.steady(
            current,
            last_ok,
            shutdown,
            joined.is_leader(),
            &assigned_from,
            rejoin_at,
        )
        .await
    }

    async fn join_failed(
        &mut self,
        current: &mut Work,
        last_ok: Instant,
        e: ClusterError,
    ) -> Round {
        match e.response_error() {
            Some(ResponseError::InvalidSessionTimeout) if self.session_defaulted => {
                // Kafka's group.min.session.timeout.ms defaults to 6 s, above Culvert's 3 s.
                let raised = Duration::from_millis(6000);
                tracing::warn!(
                    "the broker refuses session.timeout.ms={} ms; using {} ms (set \
                     session.timeout.ms to choose)",
                    self.session_timeout.as_millis(),
                    raised.as_millis()
                );
                self.session_timeout = raised;
                self.member.set_session_timeout(raised);
                self.session_defaulted = false;
                Round::Rejoin
            }
            Some(ResponseError::RebalanceInProgress) => Round::Rejoin,
            Some(ResponseError::FencedInstanceId) => {
                self.fence(current, "another worker uses this group.instance.id")
                    .await;
                Round::RetryAfter(RETRY_MAX)
            }
            _ => {
                tracing::warn!(error = %e, "cannot join the group; retrying");
                self.maybe_fence(current, last_ok, &e).await;
                Round::RetryAfter(RETRY_MIN)
            }
        }
    }

    /// The leader's part: read the configs to the end, then assign.
    async fn lead(
        &mut self,
        joined: &Joined,
        protocol: SubProtocol,
        memory: &mut LeaderMemory,
    ) -> Vec<(String, Vec<u8>)> {
        let mut members = Vec::with_capacity(joined.members.len());
        let mut urls = BTreeMap::new();
        let mut max_offset = -1;
        for (id, bytes) in &joined.members {
            match WorkerMetadata::decode(bytes) {
                Ok(m) => {
                    max_offset = max_offset.max(m.config_offset);
                    urls.insert(id.clone(), m.url.clone());
                    let running = if protocol == SubProtocol::Default {
                        Work::new()
                    } else {
                        m.allocation.map(|a| a.assigned).unwrap_or_default()
                    };
                    members.push(Member {
                        id: id.clone(),
                        running,
                    });
                }
                Err(e) => {
                    tracing::warn!(member = %id, error = %e,
                        "a member's metadata cannot be read; treating it as running nothing");
                    members.push(Member {
                        id: id.clone(),
                        running: Work::new(),
                    });
                }
            }
        }
        if protocol == SubProtocol::Default {
            *memory = LeaderMemory::default();
        }
        if let Err(e) = self.configs.sync().await {
            tracing::warn!(error = %e, "the leader cannot read the config topic");
        }
        let (offset, configured) = {
            let state = self.configs.read();
            (state.offset, configured_work(&state))
        };
        let base = Assignment {
            version: protocol,
            error: NO_ERROR,
            leader: joined.member_id.clone(),
            leader_url: self.url.clone(),
            config_offset: offset,
            assigned: Work::new(),
            revoked: Work::new(),
            delay_ms: 0,
        };
        if offset < max_offset {
            tracing::warn!(
                "was selected to perform assignments, but do not have latest config found in \
                 sync request (at {offset}, a member at {max_offset})"
            );
            let mismatch = Assignment {
                error: CONFIG_MISMATCH,
                ..base
            };
            return members
                .iter()
                .map(|m| (m.id.clone(), mismatch.encode()))
                .collect();
        }
        let round = assign(&configured, &members, memory, epoch_ms(), self.max_delay_ms);
        self.assigned_from = configured.clone();
        for m in &members {
            let Some(url) = urls.get(&m.id) else {
                continue;
            };
            let mut owned = m.running.clone();
            if let Some(i) = round.get(&m.id) {
                remove_work(&mut owned, &i.revoked);
                add_work(&mut owned, &i.assigned);
            }
            for (connector, tasks) in owned {
                for t in tasks {
                    self.owners.insert((connector.clone(), t), url.clone());
                }
            }
        }
        round
            .into_iter()
            .map(|(id, i)| {
                let a = Assignment {
                    assigned: i.assigned,
                    revoked: i.revoked,
                    delay_ms: i.delay_ms,
                    ..base.clone()
                };
                (id, a.encode())
            })
            .collect()
    }

    /// Heartbeats until something calls for a rejoin.
    async fn steady(
        &mut self,
        current: &mut Work,
        last_ok: &mut Instant,
        shutdown: &mut watch::Receiver<bool>,
        leader: bool,
        assigned_from: &Work,
        rejoin_at: Option<Instant>,
    ) -> Round {
        let mut next = Instant::now() + self.heartbeat_interval;
        let mut changed: Option<Instant> = None;
        let mut last_seen: Option<Work> = None;
        let mut quiet_since = Instant::now();
        loop {
            let wake = Arc::clone(&self.wake);
            // While a change is being coalesced, look again soon.
            let until = match changed {
                Some(_) => next.min(Instant::now() + COALESCE / 2),
                None => next,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = wake.notified() => {}
                _ = shutdown.changed() => return Round::Stop,
            }
            if *shutdown.borrow() {
                return Round::Stop;
            }
            if leader {
                let configured = configured_work(&self.configs.read());
                if configured != *assigned_from {
                    // Coalesce a burst of changes (many connectors created at once) into one
                    // rebalance: rejoin once the work has been stable for a moment.
                    let first = *changed.get_or_insert_with(Instant::now);
                    if last_seen.as_ref() != Some(&configured) {
                        last_seen = Some(configured);
                        quiet_since = Instant::now();
                    }
                    if quiet_since.elapsed() >= COALESCE || first.elapsed() >= COALESCE_MAX {
                        return Round::Rejoin;
                    }
                } else {
                    changed = None;
                    last_seen = None;
                }
            }
            if rejoin_at.is_some_and(|at| Instant::now() >= at) {
                return Round::Rejoin;
            }
            if Instant::now() < next {
                continue;
            }
            let sent = self.lease.sent();
            match self.member.heartbeat().await {
                Ok(()) => {
                    *last_ok = Instant::now();
                    self.lease.extend(sent, self.lease_length());
                    next = Instant::now() + self.heartbeat_interval;
                }
                Err(e) => match e.response_error() {
                    Some(ResponseError::RebalanceInProgress) => {
                        // The coordinator still counts this member (the heartbeat refreshed
                        // its session); the work goes on while it rejoins.
                        *last_ok = Instant::now();
                        self.lease.extend(sent, self.lease_length());
                        return Round::Rejoin;
                    }
                    Some(
                        ResponseError::UnknownMemberId
                        | ResponseError::IllegalGeneration
                        | ResponseError::FencedInstanceId,
                    ) => {
                        self.fence(current, &format!("the group dropped this member ({e})"))
                            .await;
                        self.member.reset();
                        return Round::Rejoin;
                    }
                    _ => {
                        tracing::warn!(error = %e, "heartbeat failed; retrying");
                        self.maybe_fence(current, *last_ok, &e).await;
                        if current.is_empty() && last_ok.elapsed() >= self.session_timeout {
                            return Round::RetryAfter(RETRY_MIN);
                        }
                        next = Instant::now() + Duration::from_millis(200);
                    }
                },
            }
        }
    }
}
