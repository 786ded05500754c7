//! One connection to a Kafka broker for the membership client: length-prefixed frames,
//! request headers and correlation ids, and API versions negotiated once with ApiVersions
//! so each request goes out at the newest version both sides speak (brokers differ: Kafka 4
//! dropped old versions, small brokers lack new ones). With SASL configured, the login
//! (SaslHandshake v1, then SaslAuthenticate rounds) follows ApiVersions, as in Kafka's
//! clients.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseHeader;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ClusterError;
use super::sasl::{Scram, plain_token};
use super::transport::{Stream, Transport};
use crate::config::{Mechanism, Sasl};

/// The largest response frame accepted (group payloads are small; this bounds a bad peer).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// A connection with negotiated versions. Requests run one at a time.
pub struct BrokerConnection {
    stream: Box<dyn Stream>,
    addr: String,
    client_id: StrBytes,
    correlation: i32,
    /// The broker's version range per API key.
    versions: HashMap<i16, (i16, i16)>,
}

impl std::fmt::Debug for BrokerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConnection")
            .field("addr", &self.addr)
            .field("correlation", &self.correlation)
            .finish_non_exhaustive()
    }
}

fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map_or_else(|_| format!("API {key}"), |k| format!("{k:?}"))
}

impl BrokerConnection {
    /// Connects to `addr` (`host:port`) over `transport` (TCP or TLS), asks which API
    /// versions it serves, and logs in when the transport has SASL configured.
    pub async fn open(
        addr: &str,
        client_id: &str,
        transport: &Transport,
        timeout: Duration,
    ) -> Result<Self, ClusterError> {
        let stream = transport.connect(addr, timeout).await?;
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
        if let Some(sasl) = transport.sasl() {
            conn.login(sasl, timeout).await?;
        }
        Ok(conn)
    }

    fn auth_error(&self, reason: impl Into<String>) -> ClusterError {
        ClusterError::Authentication {
            addr: self.addr.clone(),
            reason: reason.into(),
        }
    }

    /// SaslHandshake for the mechanism, then its SaslAuthenticate rounds.
    async fn login(&mut self, sasl: &Sasl, timeout: Duration) -> Result<(), ClusterError> {
        let name = sasl.mechanism.name();
        let (handshake, _) = self
            .send(
                |_| SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(name)),
                (1, 1),
                timeout,
            )
            .await?;
        if handshake.error_code != 0 {
            let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(self.auth_error(format!(
                "the broker does not enable {name} (it offers: {}); check sasl.mechanism",
                offered.join(", ")
            )));
        }
        match sasl.mechanism {
            Mechanism::Plain => {
                self.authenticate(plain_token(&sasl.username, &sasl.password), timeout)
                    .await?;
            }
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                let mut scram =
                    Scram::new(sasl.mechanism, &sasl.username).map_err(|e| self.auth_error(e))?;
                let challenge = self
                    .authenticate(scram.client_first().into_bytes(), timeout)
                    .await?;
                let answer = scram
                    .client_final(&challenge, &sasl.password)
                    .map_err(|e| self.auth_error(e))?;
                let last = self.authenticate(answer.into_bytes(), timeout).await?;
                scram
                    .verify_server_final(&last)
                    .map_err(|e| self.auth_error(e))?;
            }
        }
        Ok(())
    }

    /// One SaslAuthenticate round: sends `token`, returns the broker's answer.
    async fn authenticate(
        &mut self,
        token: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, ClusterError> {
        let (answer, _) = self
            .send(
                |_| SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
                (0, 1),
                timeout,
            )
            .await?;
        if answer.error_code != 0 {
            let message = answer
                .error_message
                .as_ref()
                .map_or_else(String::new, |m| m.to_string());
            return Err(self.auth_error(format!(
                "{} (error code {}); check the user name and password in sasl.jaas.config",
                if message.is_empty() {
                    "the broker refused the login"
                } else {
                    message.as_str()
                },
                answer.error_code
            )));
        }
        Ok(answer.auth_bytes)
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
