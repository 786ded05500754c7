//! Kafka API dispatch: one file per API. This module checks the frame header, the API key
//! and version against what the broker advertises, decodes the request, calls its handler
//! and encodes the response.

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod alter_configs;
mod api_versions;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod describe_producers;
mod describe_transactions;
mod end_txn;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod list_transactions;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod produce;
mod sasl_authenticate;
mod sasl_handshake;
mod sync_group;
mod txn_offset_commit;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

pub(crate) use self::fetch::Chunk;
use crate::broker::Broker;

/// What the connection writes back for one request.
pub(crate) enum Reply {
    /// An encoded response frame.
    Ready(Bytes),
    /// A response that needs waiting (fsync, long poll); `None` means no response.
    Deferred(Pin<Box<dyn Future<Output = Option<Bytes>> + Send>>),
    /// Like `Deferred`, for a frame whose pieces include ranges of segment files (Fetch).
    Spliced(Pin<Box<dyn Future<Output = Option<Vec<Chunk>>> + Send>>),
    /// No response at all (produce with acks=0).
    None,
}

/// Where a connection stands with SASL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The listener does not ask for SASL.
    Open,
    /// SASL is required: only ApiVersions and SaslHandshake are served.
    AwaitingHandshake,
    /// The mechanism was accepted: SaslAuthenticate comes next.
    AwaitingToken,
    /// Logged in as this user.
    Done(String),
    /// The login failed: the connection closes once the answer is written.
    Failed,
}

impl Auth {
    /// The state a new connection starts in on `broker`'s listener.
    pub(crate) fn for_listener(broker: &Broker) -> Self {
        match broker.config().sasl_plain_users {
            Some(_) => Auth::AwaitingHandshake,
            None => Auth::Open,
        }
    }

    fn authenticated(&self) -> bool {
        matches!(self, Auth::Open | Auth::Done(_))
    }
}

/// The APIs and versions the broker advertises and serves: `(key, min, max)`.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 5),
    // Client versions only: v4+ of AddPartitionsToTxn is broker-to-broker, and v4+ of
    // EndTxn/AddOffsetsToTxn/TxnOffsetCommit brings KIP-890's epoch bump per transaction.
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
    // v1 only: after a v0 handshake, tokens would travel without Kafka framing.
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

fn supported(key: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|&(k, min, max)| k == key && (min..=max).contains(&version))
}

/// A decoded request header plus what the handler needs to answer.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) api_key: ApiKey,
    pub(crate) version: i16,
    pub(crate) correlation_id: i32,
    /// The request header's client id (empty when absent).
    pub(crate) client_id: String,
    /// The peer address, as Kafka shows it (`/127.0.0.1`).
    pub(crate) client_host: String,
}

impl Ctx {
    /// Encodes `body` as this request's response frame (size prefix, header, body).
    pub(crate) fn respond<R: Encodable>(&self, body: &R) -> Result<Bytes, String> {
        encode_frame(self.api_key, self.version, self.correlation_id, body)
    }

    /// Like [`Ctx::respond`], for replies built after the first phase; encoding failures
    /// are logged and the connection gets no response for this request.
    pub(crate) fn respond_or_log<R: Encodable>(&self, body: &R) -> Option<Bytes> {
        match self.respond(body) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::error!(api = ?self.api_key, version = self.version, error = %e,
                    "cannot encode response");
                None
            }
        }
    }
}

fn encode_frame<R: Encodable>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, String> {
    // Sized up front: a fetch response carries megabytes of records, and growing the
    // buffer while encoding would copy them again at every doubling.
    let body_size = body
        .compute_size(version)
        .map_err(|e| format!("sizing the {api_key:?} v{version} response: {e}"))?;
    let mut buf = BytesMut::with_capacity(4 + 8 + body_size);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, api_key.response_header_version(version))
        .map_err(|e| format!("encoding the response header: {e}"))?;
    body.encode(&mut buf, version)
        .map_err(|e| format!("encoding the {api_key:?} v{version} response: {e}"))?;
    let size =
        i32::try_from(buf.len() - 4).map_err(|_| "response larger than 2 GiB".to_string())?;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

fn decode<T: Decodable>(ctx: &Ctx, buf: &mut Bytes) -> Result<T, String> {
    T::decode(buf, ctx.version)
        .map_err(|e| format!("malformed {:?} v{} request: {e}", ctx.api_key, ctx.version))
}

/// Handles one request frame. `Err` means the connection must be closed (unknown API,
/// unsupported version, undecodable request, a request before SASL authentication), with
/// the reason to log.
pub(crate) async fn handle(
    broker: &Arc<Broker>,
    frame: Bytes,
    peer: std::net::SocketAddr,
    auth: &mut Auth,
) -> Result<Reply, String> {
    if frame.len() < 8 {
        return Err(format!(
            "request of {} bytes is shorter than a header",
            frame.len()
        ));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| format!("unknown API key {raw_key}"))?;
    if api_key == ApiKey::ApiVersions && !supported(api_key, version) {
        // KIP-511: answer in v0 format with UNSUPPORTED_VERSION so the client downgrades.
        return api_versions::unsupported_version(correlation_id).map(Reply::Ready);
    }
    if !supported(api_key, version) {
        return Err(format!("{api_key:?} v{version} is not supported"));
    }
    let sasl_api = matches!(
        api_key,
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
    );
    if !auth.authenticated() && !sasl_api {
        return Err(format!(
            "{api_key:?} request before SASL authentication (the listener requires SASL_PLAINTEXT)"
        ));
    }
    let mut buf = frame;
    let header = RequestHeader::decode(&mut buf, api_key.request_header_version(version))
        .map_err(|e| format!("malformed request header: {e}"))?;
    let ctx = Ctx {
        api_key,
        version,
        correlation_id,
        client_id: header.client_id.map(|c| c.to_string()).unwrap_or_default(),
        client_host: format!("/{}", peer.ip()),
    };
    let reply = match api_key {
        ApiKey::ApiVersions => Reply::Ready(api_versions::handle(&ctx, decode(&ctx, &mut buf)?)?),
        ApiKey::Metadata => Reply::Ready(metadata::handle(broker, &ctx, decode(&ctx, &mut buf)?)?),
        ApiKey::Produce => produce::handle(broker, &ctx, decode(&ctx, &mut buf)?)?,
        ApiKey::Fetch => fetch::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::ListOffsets => {
            Reply::Ready(list_offsets::handle(broker, &ctx, decode(&ctx, &mut buf)?)?)
        }
        ApiKey::CreateTopics => Reply::Ready(create_topics::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::DeleteTopics => Reply::Ready(delete_topics::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::FindCoordinator => Reply::Ready(find_coordinator::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::DescribeConfigs => Reply::Ready(describe_configs::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::AlterConfigs => Reply::Ready(alter_configs::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::CreatePartitions => Reply::Ready(create_partitions::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::IncrementalAlterConfigs => Reply::Ready(incremental_alter_configs::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::DeleteRecords => Reply::Ready(delete_records::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::DescribeCluster => Reply::Ready(describe_cluster::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
        )?),
        ApiKey::InitProducerId => init_producer_id::handle(broker, &ctx, decode(&ctx, &mut buf)?)?,
        ApiKey::AddPartitionsToTxn => {
            add_partitions_to_txn::handle(broker, &ctx, decode(&ctx, &mut buf)?)
        }
        ApiKey::AddOffsetsToTxn => {
            add_offsets_to_txn::handle(broker, &ctx, decode(&ctx, &mut buf)?)
        }
        ApiKey::EndTxn => end_txn::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::TxnOffsetCommit => txn_offset_commit::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::DescribeProducers => {
            describe_producers::handle(broker, &ctx, decode(&ctx, &mut buf)?)?
        }
        ApiKey::DescribeTransactions => {
            describe_transactions::handle(broker, &ctx, decode(&ctx, &mut buf)?)
        }
        ApiKey::ListTransactions => {
            list_transactions::handle(broker, &ctx, decode(&ctx, &mut buf)?)
        }
        ApiKey::JoinGroup => join_group::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::SyncGroup => sync_group::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::Heartbeat => heartbeat::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::LeaveGroup => leave_group::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::OffsetCommit => offset_commit::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::OffsetFetch => offset_fetch::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::DescribeGroups => describe_groups::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::ListGroups => list_groups::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::DeleteGroups => delete_groups::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::OffsetDelete => offset_delete::handle(broker, &ctx, decode(&ctx, &mut buf)?),
        ApiKey::SaslHandshake => {
            Reply::Ready(sasl_handshake::handle(&ctx, decode(&ctx, &mut buf)?, auth)?)
        }
        ApiKey::SaslAuthenticate => Reply::Ready(sasl_authenticate::handle(
            broker,
            &ctx,
            decode(&ctx, &mut buf)?,
            auth,
        )?),
        other => return Err(format!("{other:?} is advertised but has no handler")),
    };
    Ok(reply)
}

/// `(error code, error message)` of an operation's outcome, for per-resource results.
pub(crate) fn outcome_parts(
    outcome: Result<(), crate::broker::ApiError>,
) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err(e) => (e.code.code(), Some(str_bytes(e.message))),
    }
}

/// Config changes are accepted for topics only (`resource_type` 2).
pub(crate) fn topic_resource(resource_type: i8) -> Result<(), crate::broker::ApiError> {
    if resource_type == 2 {
        return Ok(());
    }
    Err(crate::broker::ApiError::new(
        kafka_protocol::ResponseError::InvalidRequest,
        "only topic configs can be altered; broker settings come from its config file",
    ))
}

/// `(topic, item)` pairs grouped into runs of the same topic, in order: responses list a
/// topic once per run of its partitions, as the request did.
pub(crate) fn by_topic<T>(items: impl IntoIterator<Item = (String, T)>) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for (topic, item) in items {
        match out.last_mut() {
            Some((t, run)) if *t == topic => run.push(item),
            _ => out.push((topic, vec![item])),
        }
    }
    out
}

/// Builds a `StrBytes` from an owned string.
pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
