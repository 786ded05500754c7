//! The `http-client` capability: requests made by the host for a plugin, with reqwest.
//!
//! Every request is checked against the connector's [`HttpGrant`]: scheme, host and port
//! against `plugin.allow.hosts` before anything is sent, and every address a name resolves
//! to by a resolver that drops private ones unless granted — so neither DNS rebinding nor a
//! public name pointing inside the network gets around the allowlist. Redirects are not
//! followed (a redirect could leave the allowlist); the plugin sees the 3xx. Each task's
//! store has its own pooled client; bodies are capped; every request has a timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::bindings::culvert::connector::http_client::{Host, HttpError, Request, Response};
use crate::grants::{ALLOW_HOSTS, ALLOW_PRIVATE, HttpGrant};
use crate::state::StoreState;

/// Timeout of a request that names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest timeout a plugin may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest response body handed to a plugin.
const MAX_RESPONSE_BYTES: u64 = 64 << 20;
/// Most requests of one `send-all` in flight at once.
const SEND_ALL_CONCURRENCY: usize = 32;

/// One task's HTTP client and the grant it enforces.
#[derive(Debug)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    grant: HttpGrant,
}

/// A name that resolved only to addresses the grant does not allow.
#[derive(Debug)]
struct AddressDenied(String);

impl std::fmt::Display for AddressDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressDenied {}

/// Resolves names and keeps only the addresses the grant allows.
struct GuardedResolver {
    grant: HttpGrant,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let grant = self.grant.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| grant.address_allowed(a.ip()))
                .collect();
            if allowed.is_empty() {
                let ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(AddressDenied(format!(
                    "{host} resolves only to private addresses ({}); set {ALLOW_PRIVATE}=true \
                     or name the address in {ALLOW_HOSTS}",
                    ips.join(", ")
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

fn classify(err: &reqwest::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(denied) = e.downcast_ref::<AddressDenied>() {
            return HttpError::Denied(denied.0.clone());
        }
        source = e.source();
    }
    if err.is_timeout() {
        HttpError::Timeout
    } else if err.is_connect() {
        HttpError::Connect(error_chain(err))
    } else if err.is_builder() {
        HttpError::Invalid(error_chain(err))
    } else {
        HttpError::Other(error_chain(err))
    }
}

impl HttpClient {
    pub(crate) fn new(grant: HttpGrant) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                grant: grant.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
        Ok(Self { client, grant })
    }

    /// Checks `req` against the grant and builds it.
    fn prepare(&self, req: Request) -> Result<reqwest::RequestBuilder, HttpError> {
        let url = reqwest::Url::parse(&req.url)
            .map_err(|e| HttpError::Invalid(format!("{:?} is not a URL: {e}", req.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::Invalid(format!(
                "{} URLs are not supported; use http or https",
                url.scheme()
            )));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| HttpError::Invalid(format!("{} has no port", req.url)))?;
        let (host, literal) = match url.host() {
            Some(url::Host::Domain(d)) => (d.to_ascii_lowercase(), None),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            None => return Err(HttpError::Invalid(format!("{} has no host", req.url))),
        };
        self.grant
            .check_host(&host, port)
            .map_err(HttpError::Denied)?;
        if let Some(ip) = literal
            && !self.grant.address_allowed(ip)
        {
            return Err(HttpError::Denied(format!(
                "{ip} is a private address; set {ALLOW_PRIVATE}=true or name it in {ALLOW_HOSTS}"
            )));
        }
        let method = match req.method.to_ascii_uppercase().as_str() {
            m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => {
                reqwest::Method::from_bytes(m.as_bytes())
                    .map_err(|e| HttpError::Invalid(e.to_string()))?
            }
            other => {
                return Err(HttpError::Invalid(format!(
                    "method {other:?} is not supported"
                )));
            }
        };
        let timeout = req
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(u64::from(ms)))
            .min(MAX_TIMEOUT);
        let mut builder = self.client.request(method, url).timeout(timeout);
        for (name, value) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("{name:?} is not a header name")))?;
            let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                HttpError::Invalid(format!("the value of header {name} is invalid"))
            })?;
            builder = builder.header(name, value);
        }
        Ok(builder.body(req.body))
    }

    pub(crate) async fn send(&self, req: Request) -> Result<Response, HttpError> {
        let builder = self.prepare(req)?;
        let mut resp = builder.send().await.map_err(|e| classify(&e))?;
        if let Some(len) = resp.content_length()
            && len > MAX_RESPONSE_BYTES
        {
            return Err(HttpError::TooLarge(len));
        }
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_RESPONSE_BYTES {
                return Err(HttpError::TooLarge(body.len() as u64));
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

fn not_granted() -> HttpError {
    HttpError::Denied(format!(
        "this plugin instance has no HTTP grant: the connector sets no {ALLOW_HOSTS}"
    ))
}

impl Host for StoreState {
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        Ok(match self.http.clone() {
            Some(client) => client.send(req).await,
            None => Err(not_granted()),
        })
    }

    async fn send_all(
        &mut self,
        reqs: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, HttpError>>> {
        let Some(client) = self.http.clone() else {
            return Ok(reqs.iter().map(|_| Err(not_granted())).collect());
        };
        let mut out = Vec::with_capacity(reqs.len());
        let mut reqs = reqs.into_iter().peekable();
        while reqs.peek().is_some() {
            let handles: Vec<_> = reqs
                .by_ref()
                .take(SEND_ALL_CONCURRENCY)
                .map(|req| {
                    let client = Arc::clone(&client);
                    tokio::spawn(async move { client.send(req).await })
                })
                .collect();
            for handle in handles {
                out.push(handle.await.unwrap_or_else(|e| {
                    Err(HttpError::Other(format!("the request task failed: {e}")))
                }));
            }
        }
        Ok(out)
    }
}
