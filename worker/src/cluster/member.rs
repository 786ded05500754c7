//! The group-membership client: finds the group coordinator, joins (protocol type
//! `connect`, MEMBER_ID_REQUIRED answered, static membership through `group.instance.id`),
//! syncs, heartbeats and leaves, over `BrokerConnection`. It knows nothing of Connect's
//! payloads: the caller supplies protocol metadata and, as leader, the assignments.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::{GroupId, HeartbeatRequest};
use kafka_protocol::protocol::StrBytes;

use super::ClusterError;
use super::connection::BrokerConnection;
use super::transport::Transport;

// The version ranges this client speaks: the newest non-flexible ones. They carry all it
// needs (MEMBER_ID_REQUIRED from JoinGroup v4, `group.instance.id` from v5), every broker
// since Kafka 2.3 serves them (Kafka 4 dropped only older ones), and librdkafka's mock
// cluster misreads the flexible group requests. LeaveGroup v0-v2 names one member id; only
// dynamic members leave (a static member keeps its identity across restarts).
const FIND_COORDINATOR: (i16, i16) = (0, 3);
const JOIN_GROUP: (i16, i16) = (0, 5);
const SYNC_GROUP: (i16, i16) = (0, 3);
const HEARTBEAT: (i16, i16) = (0, 3);
const LEAVE_GROUP: (i16, i16) = (0, 2);

/// How long a request other than JoinGroup may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of one group member.
#[derive(Debug, Clone)]
pub struct MemberSettings {
    pub bootstrap: Vec<String>,
    /// TCP or TLS, and the SASL login.
    pub transport: Transport,
    pub group_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub protocol_type: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
}

/// The outcome of a join.
#[derive(Debug, Clone)]
pub struct Joined {
    pub generation: i32,
    pub member_id: String,
    pub leader_id: String,
    pub protocol: String,
    /// Every member's id and metadata; filled only for the leader.
    pub members: Vec<(String, Bytes)>,
}

impl Joined {
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }
}

/// A member of one group.
#[derive(Debug)]
pub struct GroupMember {
    settings: MemberSettings,
    coordinator: Option<BrokerConnection>,
    member_id: String,
    generation: i32,
    protocol: Option<String>,
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl GroupMember {
    pub fn new(settings: MemberSettings) -> Self {
        Self {
            settings,
            coordinator: None,
            member_id: String::new(),
            generation: -1,
            protocol: None,
        }
    }

    pub fn settings(&self) -> &MemberSettings {
        &self.settings
    }

    /// The member id the coordinator gave this member ("" before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation of the last successful join, or -1.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Forgets the membership (after UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION): the next
    /// join starts afresh.
    pub fn reset(&mut self) {
        self.member_id.clear();
        self.generation = -1;
    }

    /// Changes the session timeout sent with the next join.
    pub fn set_session_timeout(&mut self, timeout: Duration) {
        self.settings.session_timeout = timeout;
    }

    /// Drops the coordinator connection; the next request looks the coordinator up again.
    pub fn disconnect(&mut self) {
        self.coordinator = None;
    }

    /// The coordinator connection, found through a bootstrap server when there is none.
    async fn coordinator(&mut self) -> Result<&mut BrokerConnection, ClusterError> {
        if self.coordinator.is_none() {
            let found = self.find_coordinator().await?;
            self.coordinator = Some(found);
        }
        self.coordinator.as_mut().ok_or(ClusterError::NoCoordinator)
    }

    async fn find_coordinator(&self) -> Result<BrokerConnection, ClusterError> {
        let mut last = ClusterError::NoCoordinator;
        for server in &self.settings.bootstrap {
            let mut conn = match BrokerConnection::open(
                server,
                &self.settings.client_id,
                &self.settings.transport,
                REQUEST_TIMEOUT,
            )
            .await
            {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let group = text(&self.settings.group_id);
            let request = |v: i16| {
                let r = FindCoordinatorRequest::default();
                if v >= 4 {
                    r.with_coordinator_keys(vec![group.clone()])
                } else {
                    r.with_key(group.clone())
                }
            };
            let (resp, version) = conn
                .send(request, FIND_COORDINATOR, REQUEST_TIMEOUT)
                .await?;
            let (error, host, port) = if version >= 4 {
                match resp.coordinators.first() {
                    Some(c) => (c.error_code, c.host.to_string(), c.port),
                    None => {
                        last = ClusterError::Protocol {
                            addr: conn.addr().to_string(),
                            reason: "FindCoordinator answered without a coordinator".into(),
                        };
                        continue;
                    }
                }
            } else {
                (resp.error_code, resp.host.to_string(), resp.port)
            };
            if error != 0 {
                last = ClusterError::broker(conn.addr(), "FindCoordinator", error);
                continue;
            }
            let addr = format!("{host}:{port}");
            if addr == conn.addr() {
                return Ok(conn);
            }
            return BrokerConnection::open(
                &addr,
                &self.settings.client_id,
                &self.settings.transport,
                REQUEST_TIMEOUT,
            )
            .await;
        }
        Err(last)
    }

    /// Runs a request against the coordinator; a connection failure or a coordinator error
    /// drops the connection so the next call looks the coordinator up again.
    fn on_error(&mut self, e: &ClusterError) {
        if e.coordinator_lost() {
            self.coordinator = None;
        }
    }

    /// Joins the group offering `protocols` (name, metadata) in preference order. Blocks
    /// until the coordinator completes the round (up to the rebalance timeout).
    pub async fn join(&mut self, protocols: &[(String, Vec<u8>)]) -> Result<Joined, ClusterError> {
        // At most two attempts: the second answers MEMBER_ID_REQUIRED.
        for _ in 0..2 {
            let s = self.settings.clone();
            let member_id = self.member_id.clone();
            let request = |v: i16| {
                let r = JoinGroupRequest::default()
                    .with_group_id(GroupId(text(&s.group_id)))
                    .with_session_timeout_ms(millis(s.session_timeout))
                    .with_member_id(text(&member_id))
                    .with_protocol_type(text(&s.protocol_type))
                    .with_protocols(
                        protocols
                            .iter()
                            .map(|(name, metadata)| {
                                JoinGroupRequestProtocol::default()
                                    .with_name(text(name))
                                    .with_metadata(Bytes::from(metadata.clone()))
                            })
                            .collect(),
                    );
                let r = if v >= 1 {
                    r.with_rebalance_timeout_ms(millis(s.rebalance_timeout))
                } else {
                    r
                };
                if v >= 5 {
                    r.with_group_instance_id(s.group_instance_id.as_deref().map(text))
                } else {
                    r
                }
            };
            let timeout = s.rebalance_timeout + REQUEST_TIMEOUT;
            let result = match self.coordinator().await {
                Ok(conn) => conn.send(request, JOIN_GROUP, timeout).await,
                Err(e) => Err(e),
            };
            let (resp, _) = match result {
                Ok(r) => r,
                Err(e) => {
                    self.on_error(&e);
                    return Err(e);
                }
            };
            let error = ResponseError::try_from_code(resp.error_code);
            if error == Some(ResponseError::MemberIdRequired) {
                self.member_id = resp.member_id.to_string();
                continue;
            }
            if let Some(err) = error {
                if matches!(
                    err,
                    ResponseError::UnknownMemberId | ResponseError::IllegalGeneration
                ) {
                    self.reset();
                }
                let e = ClusterError::broker(&self.addr(), "JoinGroup", resp.error_code);
                self.on_error(&e);
                return Err(e);
            }
            self.member_id = resp.member_id.to_string();
            self.generation = resp.generation_id;
            let protocol = resp
                .protocol_name
                .as_ref()
                .map(|p| p.to_string())
                .or_else(|| protocols.first().map(|p| p.0.clone()))
                .unwrap_or_default();
            self.protocol = Some(protocol.clone());
            return Ok(Joined {
                generation: resp.generation_id,
                member_id: self.member_id.clone(),
                leader_id: resp.leader.to_string(),
                protocol,
                members: resp
                    .members
                    .iter()
                    .map(|m| (m.member_id.to_string(), m.metadata.clone()))
                    .collect(),
            });
        }
        Err(ClusterError::Protocol {
            addr: self.addr(),
            reason: "JoinGroup asked for a member id twice".into(),
        })
    }

    fn addr(&self) -> String {
        self.coordinator
            .as_ref()
            .map_or_else(|| "the coordinator".to_string(), |c| c.addr().to_string())
    }

    /// Completes the round: the leader passes every member's assignment, the others none.
    /// Returns this member's assignment.
    pub async fn sync(
        &mut self,
        assignments: Vec<(String, Vec<u8>)>,
    ) -> Result<Bytes, ClusterError> {
        let s = self.settings.clone();
        let (generation, member_id) = (self.generation, self.member_id.clone());
        let protocol = self.protocol.clone();
        let request = |v: i16| {
            let r = SyncGroupRequest::default()
                .with_group_id(GroupId(text(&s.group_id)))
                .with_generation_id(generation)
                .with_member_id(text(&member_id))
                .with_assignments(
                    assignments
                        .into_iter()
                        .map(|(id, bytes)| {
                            SyncGroupRequestAssignment::default()
                                .with_member_id(text(&id))
                                .with_assignment(Bytes::from(bytes))
                        })
                        .collect(),
                );
            let r = if v >= 3 {
                r.with_group_instance_id(s.group_instance_id.as_deref().map(text))
            } else {
                r
            };
            if v >= 5 {
                r.with_protocol_type(Some(text(&s.protocol_type)))
                    .with_protocol_name(protocol.as_deref().map(text))
            } else {
                r
            }
        };
        let timeout = s.rebalance_timeout + REQUEST_TIMEOUT;
        let result = match self.coordinator().await {
            Ok(conn) => conn.send(request, SYNC_GROUP, timeout).await,
            Err(e) => Err(e),
        };
        let (resp, _) = result.inspect_err(|e| self.on_error(e))?;
        if resp.error_code != 0 {
            self.after_error(resp.error_code);
            let e = ClusterError::broker(&self.addr(), "SyncGroup", resp.error_code);
            self.on_error(&e);
            return Err(e);
        }
        Ok(resp.assignment)
    }

    fn after_error(&mut self, code: i16) {
        if matches!(
            ResponseError::try_from_code(code),
            Some(ResponseError::UnknownMemberId | ResponseError::FencedInstanceId)
        ) {
            self.reset();
        }
    }

    /// One heartbeat. REBALANCE_IN_PROGRESS means: rejoin (keeping the work);
    /// UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and FENCED_INSTANCE_ID mean this member's work
    /// may already run elsewhere.
    pub async fn heartbeat(&mut self) -> Result<(), ClusterError> {
        let s = self.settings.clone();
        let (generation, member_id) = (self.generation, self.member_id.clone());
        let request = |v: i16| {
            let r = HeartbeatRequest::default()
                .with_group_id(GroupId(text(&s.group_id)))
                .with_generation_id(generation)
                .with_member_id(text(&member_id));
            if v >= 3 {
                r.with_group_instance_id(s.group_instance_id.as_deref().map(text))
            } else {
                r
            }
        };
        let result = match self.coordinator().await {
            Ok(conn) => conn.send(request, HEARTBEAT, REQUEST_TIMEOUT).await,
            Err(e) => Err(e),
        };
        let (resp, _) = result.inspect_err(|e| self.on_error(e))?;
        if resp.error_code != 0 {
            self.after_error(resp.error_code);
            let e = ClusterError::broker(&self.addr(), "Heartbeat", resp.error_code);
            self.on_error(&e);
            return Err(e);
        }
        Ok(())
    }

    /// Leaves the group so the others rebalance at once (not after the session timeout).
    /// A static member leaves only when asked to, since its identity outlives restarts.
    pub async fn leave(&mut self) -> Result<(), ClusterError> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let s = self.settings.clone();
        let member_id = self.member_id.clone();
        let request = |v: i16| {
            let r = LeaveGroupRequest::default().with_group_id(GroupId(text(&s.group_id)));
            if v >= 3 {
                r.with_members(vec![
                    MemberIdentity::default()
                        .with_member_id(text(&member_id))
                        .with_group_instance_id(s.group_instance_id.as_deref().map(text)),
                ])
            } else {
                r.with_member_id(text(&member_id))
            }
        };
        let result = match self.coordinator().await {
            Ok(conn) => conn.send(request, LEAVE_GROUP, REQUEST_TIMEOUT).await,
            Err(e) => Err(e),
        };
        let (resp, _) = result?;
        self.reset();
        let code = if resp.error_code != 0 {
            resp.error_code
        } else {
            resp.members.first().map_or(0, |m| m.error_code)
        };
        if code != 0 {
            return Err(ClusterError::broker(&self.addr(), "LeaveGroup", code));
        }
        Ok(())
    }
}
