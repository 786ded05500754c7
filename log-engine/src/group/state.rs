//! One consumer group's state machine (Kafka's classic protocol): members, generations,
//! the join and sync barriers, heartbeats and session expiry, and committed offsets.
//!
//! Everything here is synchronous and driven by a clock passed in, so it can be tested
//! without a network. Parked JoinGroup and SyncGroup requests are oneshot senders that the
//! state machine answers when the barrier completes. Protocol metadata and assignments are
//! opaque bytes: `consumer` and `connect` groups work alike.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;

/// Kafka's group states, with their DescribeGroups names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// What a JoinGroup request carries.
#[derive(Debug, Clone)]
pub(crate) struct JoinParams {
    pub(crate) version: i16,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
}

/// The answer to a JoinGroup request.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinResult {
    pub(crate) error: i16,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: String,
    pub(crate) member_id: String,
    /// Only for the leader: every member with its metadata for the chosen protocol.
    pub(crate) members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub(crate) fn error(code: ResponseError, member_id: &str) -> Self {
        Self {
            error: code.code(),
            generation: -1,
            member_id: member_id.to_string(),
            ..Self::default()
        }
    }
}

/// The answer to a SyncGroup request.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncResult {
    pub(crate) error: i16,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignment: Bytes,
}

impl SyncResult {
    fn error(code: ResponseError) -> Self {
        Self {
            error: code.code(),
            ..Self::default()
        }
    }
}

/// A JoinGroup or SyncGroup outcome: answered now, or parked until a barrier completes.
#[derive(Debug)]
pub(crate) enum Step<T> {
    Now(T),
    Parked(oneshot::Receiver<T>),
}

#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    last_seen: Instant,
    joining: Option<oneshot::Sender<JoinResult>>,
    syncing: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    /// The member's metadata for `protocol`.
    pub(crate) fn metadata(&self, protocol: Option<&str>) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| Some(name.as_str()) == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) commit_timestamp: i64,
}

/// Timing settings shared by every group.
#[derive(Debug, Clone)]
pub(crate) struct GroupSettings {
    pub(crate) min_session_timeout: Duration,
    pub(crate) max_session_timeout: Duration,
    pub(crate) initial_rebalance_delay: Duration,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) state: GroupState,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, valid until the given instant.
    pending: HashMap<String, Instant>,
    /// Static membership: group.instance.id → member id.
    static_ids: HashMap<String, String>,
    /// While preparing a rebalance: when to give up on members that did not rejoin.
    join_deadline: Option<Instant>,
    /// While preparing the first rebalance of an empty group: not before this instant.
    join_not_before: Option<Instant>,
    pub(crate) offsets: BTreeMap<(String, i32), Committed>,
}

/// Something the coordinator must persist after a transition.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Persist {
    Nothing,
    GroupMetadata,
}

impl Group {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            static_ids: HashMap::new(),
            join_deadline: None,
            join_not_before: None,
            offsets: BTreeMap::new(),
        }
    }

    /// Restores a group from its persisted metadata: Empty, with its generation.
    pub(crate) fn restore(
        &mut self,
        generation: i32,
        protocol_type: Option<String>,
        protocol: Option<String>,
    ) {
        self.generation = generation;
        self.protocol_type = protocol_type;
        self.protocol_name = protocol;
        self.state = GroupState::Empty;
    }

    fn new_member_id(client_id: &str) -> String {
        format!("{client_id}-{}", uuid::Uuid::new_v4())
    }

    /// Resolves the member a request speaks for, checking static membership.
    fn resolve(&self, member_id: &str, instance_id: Option<&str>) -> Result<String, ResponseError> {
        if let Some(inst) = instance_id
            && let Some(mapped) = self.static_ids.get(inst)
        {
            if !member_id.is_empty() && mapped != member_id {
                return Err(ResponseError::FencedInstanceId);
            }
            return Ok(mapped.clone());
        }
        if self.members.contains_key(member_id) {
            Ok(member_id.to_string())
        } else {
            Err(ResponseError::UnknownMemberId)
        }
    }

    /// Whether a new member's protocols are compatible with the group.
    fn compatible(&self, p: &JoinParams) -> bool {
        if p.protocol_type.is_empty() || p.protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(p.protocol_type.as_str()) {
            return false;
        }
        p.protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .filter(|m| m.id != p.member_id)
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    /// Handles JoinGroup.
    pub(crate) fn join(
        &mut self,
        p: JoinParams,
        now: Instant,
        settings: &GroupSettings,
    ) -> Step<JoinResult> {
        if self.state == GroupState::Dead {
            return Step::Now(JoinResult::error(
                ResponseError::CoordinatorNotAvailable,
                &p.member_id,
            ));
        }
        if p.session_timeout < settings.min_session_timeout
            || p.session_timeout > settings.max_session_timeout
        {
            return Step::Now(JoinResult::error(
                ResponseError::InvalidSessionTimeout,
                &p.member_id,
            ));
        }
        if !self.compatible(&p) {
            return Step::Now(JoinResult::error(
                ResponseError::InconsistentGroupProtocol,
                &p.member_id,
            ));
        }
        let mut is_new = false;
        let member_id = if p.member_id.is_empty() {
            let id = Self::new_member_id(&p.client_id);
            match &p.instance_id {
                Some(inst) => {
                    if let Some(old) = self.static_ids.insert(inst.clone(), id.clone()) {
                        // The instance restarted: the new id replaces (and fences) the old one.
                        if let Some(mut member) = self.members.remove(&old) {
                            member.id = id.clone();
                            if let Some(tx) = member.joining.take() {
                                let _ = tx
                                    .send(JoinResult::error(ResponseError::FencedInstanceId, &old));
                            }
                            if self.leader.as_deref() == Some(old.as_str()) {
                                self.leader = Some(id.clone());
                            }
                            self.members.insert(id.clone(), member);
                        } else {
                            is_new = true;
                        }
                    } else {
                        is_new = true;
                    }
                    id
                }
                None if p.version >= 4 => {
                    // KIP-394: hand out an id and make the member come back with it.
                    self.pending.insert(id.clone(), now + p.session_timeout);
                    return Step::Now(JoinResult::error(ResponseError::MemberIdRequired, &id));
                }
                None => {
                    is_new = true;
                    id
                }
            }
        } else if self.pending.remove(&p.member_id).is_some() {
            is_new = true;
            p.member_id.clone()
        } else {
            match self.resolve(&p.member_id, p.instance_id.as_deref()) {
                Ok(id) => id,
                Err(code) => return Step::Now(JoinResult::error(code, &p.member_id)),
            }
        };
        if is_new {
            self.members.insert(
                member_id.clone(),
                Member {
                    id: member_id.clone(),
                    instance_id: p.instance_id.clone(),
                    client_id: p.client_id.clone(),
                    client_host: p.client_host.clone(),
                    session_timeout: p.session_timeout,
                    rebalance_timeout: p.rebalance_timeout,
                    protocols: Vec::new(),
                    assignment: Bytes::new(),
                    last_seen: now,
                    joining: None,
                    syncing: None,
                },
            );
        }
        let Some(member) = self.members.get_mut(&member_id) else {
            return Step::Now(JoinResult::error(
                ResponseError::UnknownMemberId,
                &member_id,
            ));
        };
        let changed = member.protocols != p.protocols;
        member.protocols = p.protocols.clone();
        member.session_timeout = p.session_timeout;
        member.rebalance_timeout = p.rebalance_timeout;
        member.last_seen = now;
        if self.protocol_type.is_none() || self.members.len() == 1 {
            self.protocol_type = Some(p.protocol_type.clone());
        }
        let is_leader = self.leader.as_deref() == Some(member_id.as_str());
        // A known member rejoining with the same metadata keeps the current generation,
        // unless it is the leader of a stable group (it rejoins to reassign).
        let leader_of_stable = is_leader && self.state == GroupState::Stable;
        let keep_generation = !(is_new || changed || leader_of_stable);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance if keep_generation => {
                // Nothing changed for this member: hand back the current generation.
                return Step::Now(self.join_result(&member_id));
            }
            GroupState::Empty => {
                self.prepare_rebalance(now);
                self.join_not_before = Some(now + settings.initial_rebalance_delay);
            }
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now),
            GroupState::PreparingRebalance | GroupState::Dead => {}
        }
        let (tx, rx) = oneshot::channel();
        if let Some(member) = self.members.get_mut(&member_id)
            && let Some(old) = member.joining.replace(tx)
        {
            let _ = old.send(JoinResult::error(
                ResponseError::RebalanceInProgress,
                &member_id,
            ));
        }
        self.extend_join_deadline(now);
        self.maybe_complete_join(now);
        Step::Parked(rx)
    }

    fn extend_join_deadline(&mut self, now: Instant) {
        let longest = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        let deadline = now + longest;
        if self.join_deadline.is_none_or(|d| d < deadline)
            && self.state == GroupState::PreparingRebalance
        {
            self.join_deadline = Some(deadline);
        }
    }

    /// Enters PreparingRebalance: parked syncs are told a rebalance is in progress.
    fn prepare_rebalance(&mut self, now: Instant) {
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.join_deadline = None;
            return;
        }
        for m in self.members.values_mut() {
            if let Some(tx) = m.syncing.take() {
                let _ = tx.send(SyncResult::error(ResponseError::RebalanceInProgress));
            }
        }
        self.state = GroupState::PreparingRebalance;
        self.join_deadline = None;
        self.join_not_before = None;
        self.extend_join_deadline(now);
    }

    /// Completes the join barrier if every member rejoined (and the initial delay passed)
    /// or the deadline expired. Returns whether it completed.
    fn maybe_complete_join(&mut self, now: Instant) -> bool {
        if self.state != GroupState::PreparingRebalance {
            return false;
        }
        let all_joined = self.members.values().all(|m| m.joining.is_some());
        let delay_over = self.join_not_before.is_none_or(|t| now >= t);
        let expired = self.join_deadline.is_some_and(|d| now >= d);
        if !((all_joined && delay_over) || expired) {
            return false;
        }
        self.complete_join(now);
        true
    }

    fn complete_join(&mut self, now: Instant) {
        // Members that did not rejoin in time leave the group.
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.joining.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        self.join_deadline = None;
        self.join_not_before = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.leader = None;
            self.protocol_name = None;
            return;
        }
        self.protocol_name = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.state = GroupState::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result(&id);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_seen = now;
                if let Some(tx) = m.joining.take() {
                    let _ = tx.send(result);
                }
            }
        }
    }

    /// The protocol every member supports that most members prefer.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == *n))
            })
            .collect();
        let mut votes: Vec<(usize, &String)> = candidates.iter().map(|c| (0, *c)).collect();
        for m in self.members.values() {
            if let Some(choice) = m
                .protocols
                .iter()
                .map(|(n, _)| n)
                .find(|n| candidates.contains(n))
                && let Some(v) = votes.iter_mut().find(|(_, c)| *c == choice)
            {
                v.0 += 1;
            }
        }
        // Highest vote count; ties go to the first member's preference order.
        let best = votes.iter().map(|(n, _)| *n).max()?;
        votes
            .iter()
            .find(|(n, _)| *n == best)
            .map(|(_, c)| (*c).clone())
    }

    fn join_result(&self, member_id: &str) -> JoinResult {
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| {
                    (
                        m.id.clone(),
                        m.instance_id.clone(),
                        m.metadata(self.protocol_name.as_deref()),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: 0,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
        }
    }

    fn remove_member(&mut self, id: &str) {
        if let Some(mut m) = self.members.remove(id) {
            if let Some(inst) = &m.instance_id
                && self.static_ids.get(inst).map(String::as_str) == Some(id)
            {
                self.static_ids.remove(inst);
            }
            if let Some(tx) = m.joining.take() {
                let _ = tx.send(JoinResult::error(ResponseError::UnknownMemberId, id));
            }
            if let Some(tx) = m.syncing.take() {
                let _ = tx.send(SyncResult::error(ResponseError::UnknownMemberId));
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
    }

    /// Checks that a request speaks for a current member of this generation.
    fn check_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<String, ResponseError> {
        match self.state {
            GroupState::Dead => return Err(ResponseError::CoordinatorNotAvailable),
            GroupState::Empty => return Err(ResponseError::UnknownMemberId),
            _ => {}
        }
        let id = self.resolve(member_id, instance_id)?;
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(id)
    }

    /// Handles SyncGroup. `Persist::GroupMetadata` when the group just became Stable.
    pub(crate) fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol: (Option<&str>, Option<&str>),
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> (Step<SyncResult>, Persist) {
        let id = match self.check_member(member_id, instance_id, generation) {
            Ok(id) => id,
            Err(code) => return (Step::Now(SyncResult::error(code)), Persist::Nothing),
        };
        let (ptype, pname) = protocol;
        if ptype.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || pname.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            return (
                Step::Now(SyncResult::error(ResponseError::InconsistentGroupProtocol)),
                Persist::Nothing,
            );
        }
        match self.state {
            GroupState::PreparingRebalance => (
                Step::Now(SyncResult::error(ResponseError::RebalanceInProgress)),
                Persist::Nothing,
            ),
            GroupState::Stable => {
                if let Some(m) = self.members.get_mut(&id) {
                    m.last_seen = now;
                }
                (Step::Now(self.sync_result(&id)), Persist::Nothing)
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = self.members.get_mut(&id) {
                    m.last_seen = now;
                }
                if self.leader.as_deref() != Some(id.as_str()) {
                    let (tx, rx) = oneshot::channel();
                    if let Some(m) = self.members.get_mut(&id) {
                        m.syncing = Some(tx);
                    }
                    return (Step::Parked(rx), Persist::Nothing);
                }
                let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
                let ids: Vec<String> = self.members.keys().cloned().collect();
                for mid in &ids {
                    if let Some(m) = self.members.get_mut(mid) {
                        m.assignment = given.remove(mid).unwrap_or_default();
                    }
                }
                self.state = GroupState::Stable;
                for mid in &ids {
                    let result = self.sync_result(mid);
                    if let Some(m) = self.members.get_mut(mid)
                        && let Some(tx) = m.syncing.take()
                    {
                        let _ = tx.send(result);
                    }
                }
                (Step::Now(self.sync_result(&id)), Persist::GroupMetadata)
            }
            GroupState::Empty | GroupState::Dead => (
                Step::Now(SyncResult::error(ResponseError::UnknownMemberId)),
                Persist::Nothing,
            ),
        }
    }

    fn sync_result(&self, member_id: &str) -> SyncResult {
        SyncResult {
            error: 0,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment: self
                .members
                .get(member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
        }
    }

    /// Handles Heartbeat; returns the error code.
    pub(crate) fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        let id = match self.check_member(member_id, instance_id, generation) {
            Ok(id) => id,
            Err(code) => return code.code(),
        };
        if let Some(m) = self.members.get_mut(&id) {
            m.last_seen = now;
        }
        match self.state {
            GroupState::PreparingRebalance => ResponseError::RebalanceInProgress.code(),
            _ => 0,
        }
    }

    /// Handles LeaveGroup for each `(member id, instance id)`; returns per-member codes.
    pub(crate) fn leave(
        &mut self,
        members: &[(String, Option<String>)],
        now: Instant,
    ) -> (Vec<i16>, Persist) {
        let mut codes = Vec::with_capacity(members.len());
        let mut removed = false;
        for (member_id, instance) in members {
            match self.resolve(member_id, instance.as_deref()) {
                Ok(id) => {
                    self.remove_member(&id);
                    removed = true;
                    codes.push(0);
                }
                Err(code) => codes.push(code.code()),
            }
        }
        if !removed {
            return (codes, Persist::Nothing);
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now),
            GroupState::PreparingRebalance => {
                if self.members.is_empty() {
                    self.state = GroupState::Empty;
                } else {
                    self.maybe_complete_join(now);
                }
            }
            GroupState::Empty | GroupState::Dead => {}
        }
        let persist = if self.state == GroupState::Empty {
            Persist::GroupMetadata
        } else {
            Persist::Nothing
        };
        (codes, persist)
    }

    /// Periodic work: expire pending ids and silent members, complete due join barriers.
    /// Returns `Persist::GroupMetadata` when the group became Empty.
    pub(crate) fn tick(&mut self, now: Instant) -> Persist {
        self.pending.retain(|_, until| *until > now);
        let before = self.state;
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.joining.is_none() && m.last_seen + m.session_timeout <= now)
            .map(|m| m.id.clone())
            .collect();
        if !expired.is_empty() {
            for id in &expired {
                tracing::info!(group = %self.id, member = %id, "session timeout: removing member");
                self.remove_member(id);
            }
            if matches!(
                self.state,
                GroupState::Stable | GroupState::CompletingRebalance
            ) {
                self.prepare_rebalance(now);
            }
        }
        self.maybe_complete_join(now);
        if self.state == GroupState::Empty && before != GroupState::Empty {
            Persist::GroupMetadata
        } else {
            Persist::Nothing
        }
    }

    /// Checks an OffsetCommit: a member of the current generation, or a "simple" commit
    /// (generation -1, no member id) to a group without members.
    pub(crate) fn check_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        if generation < 0 && member_id.is_empty() && instance_id.is_none() {
            return if self.members.is_empty() {
                Ok(())
            } else {
                Err(ResponseError::UnknownMemberId)
            };
        }
        if self.state == GroupState::CompletingRebalance {
            self.resolve(member_id, instance_id)?;
            return Err(ResponseError::RebalanceInProgress);
        }
        let id = self.check_member(member_id, instance_id, generation)?;
        if let Some(m) = self.members.get_mut(&id) {
            m.last_seen = now;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GroupSettings {
        GroupSettings {
            min_session_timeout: Duration::from_millis(100),
            max_session_timeout: Duration::from_secs(300),
            initial_rebalance_delay: Duration::ZERO,
        }
    }

    fn params(member: &str, proto: &[&str]) -> JoinParams {
        JoinParams {
            version: 5,
            member_id: member.into(),
            instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(5),
            protocol_type: "consumer".into(),
            protocols: proto
                .iter()
                .map(|p| (p.to_string(), Bytes::from_static(b"meta")))
                .collect(),
        }
    }

    fn now_result<T>(step: Step<T>) -> T {
        match step {
            Step::Now(r) => r,
            Step::Parked(_) => panic!("expected an immediate answer"),
        }
    }

    fn parked<T: std::fmt::Debug>(step: Step<T>) -> oneshot::Receiver<T> {
        match step {
            Step::Parked(rx) => rx,
            Step::Now(r) => panic!("expected to park, got {r:?}"),
        }
    }

    /// A dynamic member joins: MEMBER_ID_REQUIRED, then a parked join.
    fn join_new(
        g: &mut Group,
        t: Instant,
        proto: &[&str],
    ) -> (String, oneshot::Receiver<JoinResult>) {
        let first = now_result(g.join(params("", proto), t, &settings()));
        assert_eq!(first.error, ResponseError::MemberIdRequired.code());
        let id = first.member_id.clone();
        (
            id.clone(),
            parked(g.join(params(&id, proto), t, &settings())),
        )
    }

    #[test]
    fn two_members_rebalance_sync_and_heartbeat() {
        let t = Instant::now();
        let mut g = Group::new("g");
        let (a, mut rx_a) = join_new(&mut g, t, &["range"]);
        let ja = rx_a.try_recv().expect("alone: completes at once");
        assert_eq!(
            (ja.generation, ja.leader.as_str(), ja.members.len()),
            (1, a.as_str(), 1)
        );
        let (sync, persist) = g.sync(
            &a,
            None,
            1,
            (None, None),
            vec![(a.clone(), Bytes::from_static(b"A"))],
            t,
        );
        assert_eq!(now_result(sync).assignment, Bytes::from_static(b"A"));
        assert_eq!(
            (g.state, persist),
            (GroupState::Stable, Persist::GroupMetadata)
        );

        // B joins: A must rejoin; until then B waits.
        let (b, mut rx_b) = join_new(&mut g, t, &["range"]);
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert!(rx_b.try_recv().is_err());
        assert_eq!(
            g.heartbeat(&a, None, 1, t),
            ResponseError::RebalanceInProgress.code()
        );
        let mut rx_a = parked(g.join(params(&a, &["range"]), t, &settings()));
        let ja = rx_a.try_recv().expect("A");
        let jb = rx_b.try_recv().expect("B");
        assert_eq!((ja.generation, jb.generation), (2, 2));
        assert_eq!(ja.members.len(), 2, "the leader sees every member");
        assert!(jb.members.is_empty());
        // B syncs first and waits for the leader.
        let (sync_b, _) = g.sync(&b, None, 2, (None, None), vec![], t);
        let mut rx_sb = parked(sync_b);
        let (sync_a, _) = g.sync(
            &a,
            None,
            2,
            (Some("consumer"), Some("range")),
            vec![
                (a.clone(), Bytes::from_static(b"A2")),
                (b.clone(), Bytes::from_static(b"B2")),
            ],
            t,
        );
        assert_eq!(now_result(sync_a).assignment, Bytes::from_static(b"A2"));
        assert_eq!(
            rx_sb.try_recv().expect("B assignment").assignment,
            Bytes::from_static(b"B2")
        );
        assert_eq!(g.heartbeat(&b, None, 2, t), 0);
        assert_eq!(
            g.heartbeat(&b, None, 1, t),
            ResponseError::IllegalGeneration.code()
        );
        assert_eq!(
            g.heartbeat("nobody", None, 2, t),
            ResponseError::UnknownMemberId.code()
        );
    }

    #[test]
    fn silent_members_expire_and_the_rest_rebalance() {
        let t = Instant::now();
        let mut g = Group::new("g");
        let (a, mut rx) = join_new(&mut g, t, &["range"]);
        rx.try_recv().expect("joined");
        let _ = g.sync(&a, None, 1, (None, None), vec![], t);
        assert_eq!(g.tick(t + Duration::from_secs(5)), Persist::Nothing);
        assert_eq!(g.tick(t + Duration::from_secs(11)), Persist::GroupMetadata);
        assert_eq!(g.state, GroupState::Empty);
        assert!(g.members.is_empty());
    }

    #[test]
    fn members_that_do_not_rejoin_are_dropped_at_the_deadline() {
        let t = Instant::now();
        let mut g = Group::new("g");
        let (a, mut rx_a) = join_new(&mut g, t, &["range"]);
        rx_a.try_recv().expect("joined");
        let _ = g.sync(&a, None, 1, (None, None), vec![], t);
        let (b, mut rx_b) = join_new(&mut g, t, &["range"]);
        // A never rejoins; after the rebalance timeout (5 s) B completes alone.
        g.tick(t + Duration::from_secs(4));
        assert!(rx_b.try_recv().is_err());
        g.tick(t + Duration::from_secs(6));
        let jb = rx_b.try_recv().expect("completed");
        assert_eq!((jb.leader.as_str(), jb.generation), (b.as_str(), 2));
        assert!(!g.members.contains_key(&a));
    }

    #[test]
    fn incompatible_protocols_and_bad_timeouts_are_refused() {
        let t = Instant::now();
        let mut g = Group::new("g");
        let (_, mut rx) = join_new(&mut g, t, &["range"]);
        rx.try_recv().expect("joined");
        let mut other = params("", &["roundrobin"]);
        other.version = 3;
        assert_eq!(
            now_result(g.join(other, t, &settings())).error,
            ResponseError::InconsistentGroupProtocol.code()
        );
        let mut connect = params("", &["range"]);
        connect.protocol_type = "connect".into();
        assert_eq!(
            now_result(g.join(connect, t, &settings())).error,
            ResponseError::InconsistentGroupProtocol.code()
        );
        let mut short = params("", &["range"]);
        short.session_timeout = Duration::from_millis(1);
        assert_eq!(
            now_result(g.join(short, t, &settings())).error,
            ResponseError::InvalidSessionTimeout.code()
        );
    }

    #[test]
    fn a_static_member_rejoining_with_a_new_id_fences_the_old_one() {
        let t = Instant::now();
        let mut g = Group::new("g");
        let mut p = params("", &["range"]);
        p.instance_id = Some("worker-1".into());
        let mut rx = parked(g.join(p.clone(), t, &settings()));
        let first = rx.try_recv().expect("joined without MEMBER_ID_REQUIRED");
        let _ = g.sync(
            &first.member_id,
            Some("worker-1"),
            1,
            (None, None),
            vec![],
            t,
        );
        // Restart: same instance, empty member id.
        let mut rx = parked(g.join(p, t, &settings()));
        let second = rx.try_recv().expect("rejoined");
        assert_ne!(first.member_id, second.member_id);
        assert_eq!(
            g.heartbeat(&first.member_id, Some("worker-1"), second.generation, t),
            ResponseError::FencedInstanceId.code()
        );
    }

    #[test]
    fn simple_commits_only_to_groups_without_members() {
        let t = Instant::now();
        let mut g = Group::new("g");
        assert_eq!(g.check_commit("", None, -1, t), Ok(()));
        let (a, mut rx) = join_new(&mut g, t, &["range"]);
        rx.try_recv().expect("joined");
        assert_eq!(
            g.check_commit("", None, -1, t),
            Err(ResponseError::UnknownMemberId)
        );
        assert_eq!(
            g.check_commit(&a, None, 1, t),
            Err(ResponseError::RebalanceInProgress)
        );
        let _ = g.sync(&a, None, 1, (None, None), vec![], t);
        assert_eq!(g.check_commit(&a, None, 1, t), Ok(()));
        assert_eq!(
            g.check_commit(&a, None, 0, t),
            Err(ResponseError::IllegalGeneration)
        );
    }
}
