//! One connection to a Kafka broker for the membership client: length-prefixed frames,
//! request headers and correlation ids, and API versions negotiated once with ApiVersions
//! so each request goes out at the newest version both sides speak (brokers differ: Kafka 4
//! dropped old versions, small brokers lack new ones).

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseHeader;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ClusterError;

/// The largest response frame accepted (group payloads are small; this bounds a bad peer).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// A connection with negotiated versions. Requests run one at a time.
#[derive(Debug)]
pub struct BrokerConnection {
    stream: TcpStream,
    addr: String,
    client_id: StrBytes,
    correlation: i32,
    /// The broker's version range per API key.
    versions: HashMap<i16, (i16, i16)>,
}

fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map_or_else(|_| format!("API {key}"), |k| format!("{k:?}"))
}

impl BrokerConnection {
    /// Connects to `addr` (`host:port`) and asks which API versions it serves.
    pub async fn open(
        addr: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Self, ClusterError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClusterError::Timeout {
                addr: addr.to_string(),
                what: "connecting".into(),
            })?
            .map_err(|source| ClusterError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Self {
            stream,
            addr: addr.to_string(),
            client_id: StrBytes::from_string(client_id.to_string()),
            correlation: 0,
            versions: HashMap::new(),
        };
        // v0 is the version every broker answers; its body lists every API.
        let answer: ApiVersionsResponse = conn
            .exchange(&ApiVersionsRequest::default(), 0, timeout)
            .await?;
        if answer.error_code != 0 {
            return Err(ClusterError::broker(addr, "ApiVersions", answer.error_code));
        }
        conn.versions = answer
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(conn)
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The version to send `R` at: the newest in both our `supported` range and the
    /// broker's.
    fn version_of<R: Request>(&self, supported: (i16, i16)) -> Result<i16, ClusterError> {
        let theirs = self.versions.get(&R::KEY).copied();
        let ours = (
            supported.0.max(R::VERSIONS.min),
            supported.1.min(R::VERSIONS.max),
        );
        match theirs {
            Some((min, max)) if min.max(ours.0) <= max.min(ours.1) => Ok(max.min(ours.1)),
            _ => Err(ClusterError::Unsupported {
                addr: self.addr.clone(),
                api: api_name(R::KEY),
                ours,
                theirs,
            }),
        }
    }

    /// Sends the request `build` makes for the newest common version within `supported`
    /// (fields a version lacks must be left at their defaults) and returns the response
    /// with the version it was decoded at.
    pub async fn send<R>(
        &mut self,
        build: impl FnOnce(i16) -> R,
        supported: (i16, i16),
        timeout: Duration,
    ) -> Result<(R::Response, i16), ClusterError>
    where
        R: Request,
        R::Response: Decodable + HeaderVersion,
    {
        let version = self.version_of::<R>(supported)?;
        let response = self.exchange(&build(version), version, timeout).await?;
        Ok((response, version))
    }

    async fn exchange<R>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ClusterError>
    where
        R: Request,
    {
        self.correlation = self.correlation.wrapping_add(1);
        let correlation = self.correlation;
        let mut buf = BytesMut::with_capacity(256);
        buf.put_i32(0);
        let encoded = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(self.client_id.clone()))
            .encode(&mut buf, R::header_version(version))
            .and_then(|()| request.encode(&mut buf, version));
        if let Err(e) = encoded {
            return Err(ClusterError::Protocol {
                addr: self.addr.clone(),
                reason: format!("cannot encode {} v{version}: {e}", api_name(R::KEY)),
            });
        }
        let size = i32::try_from(buf.len() - 4).unwrap_or(i32::MAX);
        buf[..4].copy_from_slice(&size.to_be_bytes());
        let what = api_name(R::KEY);
        let mut frame = tokio::time::timeout(timeout, async {
            self.stream.write_all(&buf).await?;
            self.read_frame().await
        })
        .await
        .map_err(|_| ClusterError::Timeout {
            addr: self.addr.clone(),
            what: format!("waiting for the {what} response"),
        })?
        .map_err(|source| ClusterError::Io {
            addr: self.addr.clone(),
            source,
        })?;
        let bad = |reason: String| ClusterError::Protocol {
            addr: self.addr.clone(),
            reason,
        };
        let header = ResponseHeader::decode(&mut frame, R::Response::header_version(version))
            .map_err(|e| bad(format!("malformed {what} response header: {e}")))?;
        if header.correlation_id != correlation {
            return Err(bad(format!(
                "{what} response carries correlation id {} (expected {correlation})",
                header.correlation_id
            )));
        }
        let body = frame.clone();
        R::Response::decode(&mut frame, version).map_err(|e| {
            let start: Vec<String> = body.iter().take(16).map(|b| format!("{b:02x}")).collect();
            bad(format!(
                "malformed {what} v{version} response: {e} (body starts {})",
                start.join(" ")
            ))
        })
    }

    async fn read_frame(&mut self) -> std::io::Result<Bytes> {
        let size = self.stream.read_i32().await?;
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= MAX_FRAME)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("response frame of {size} bytes (at most {MAX_FRAME} accepted)"),
                )
            })?;
        let mut body = vec![0u8; size];
        self.stream.read_exact(&mut body).await?;
        Ok(Bytes::from(body))
    }
}
