//! How the membership client reaches a broker: TCP, or TLS over TCP (rustls with the
//! `ring` provider) with the worker's truststore, client certificate and host name
//! policy. SASL runs on top, in `connection`, after ApiVersions.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
};

use super::ClusterError;
use crate::config::{Sasl, Security, Tls};

/// A byte stream to a broker, plain or encrypted.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// Connection settings shared by every connection of a worker.
#[derive(Clone)]
pub struct Transport {
    tls: Option<TlsConnector>,
    sasl: Option<Sasl>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl Default for Transport {
    /// Plaintext, no SASL.
    fn default() -> Self {
        Self {
            tls: None,
            sasl: None,
        }
    }
}

impl Transport {
    /// Prepares TLS (reading the certificates once) and SASL from the worker's security.
    pub fn new(security: &Security) -> Result<Self, String> {
        let tls = match &security.tls {
            None => None,
            Some(tls) => Some(TlsConnector::from(Arc::new(client_config(tls)?))),
        };
        Ok(Self {
            tls,
            sasl: security.sasl.clone(),
        })
    }

    /// The SASL login to perform after connecting, if any.
    pub fn sasl(&self) -> Option<&Sasl> {
        self.sasl.as_ref()
    }

    /// Opens a stream to `addr` (`host:port`), completing the TLS handshake if configured.
    pub async fn connect(
        &self,
        addr: &str,
        timeout: Duration,
    ) -> Result<Box<dyn Stream>, ClusterError> {
        let timed_out = |what: &str| ClusterError::Timeout {
            addr: addr.to_string(),
            what: what.to_string(),
        };
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out("connecting"))?
            .map_err(|source| ClusterError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let Some(connector) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let host = addr
            .rsplit_once(':')
            .map_or(addr, |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = ServerName::try_from(host.to_string()).map_err(|e| ClusterError::Protocol {
            addr: addr.to_string(),
            reason: format!("{host} is not a valid TLS server name: {e}"),
        })?;
        let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| timed_out("in the TLS handshake"))?
            .map_err(|e| ClusterError::Tls {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Box::new(tls))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The rustls client configuration for `tls`.
fn client_config(tls: &Tls) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let trusted = tls.trusted()?;
    if trusted.is_empty() {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // A system certificate rustls cannot use is skipped, as librdkafka would.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(
                "ssl.truststore.location is not set and the system has no CA certificates \
                 (install ca-certificates or set ssl.truststore.location to a PEM file)"
                    .into(),
            );
        }
    } else {
        for cert in trusted {
            roots
                .add(cert)
                .map_err(|e| format!("ssl.truststore: a certificate cannot be trusted: {e}"))?;
        }
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let builder = if tls.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| format!("ssl.truststore: {e}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName(inner)))
    };
    match tls.client_identity()? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("ssl.keystore: the certificate and key do not fit: {e}")),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// `ssl.endpoint.identification.algorithm=` (empty): the chain must verify against the
/// truststore, but the certificate need not name the host connected to.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
