//! HTTP(S) requests through the host's `http-client` capability. The host makes the
//! request: connection pooling, a timeout on every request, and the connector's
//! `plugin.allow.hosts` grant enforced (a denied request returns [`HttpError::Denied`]).
//! Redirects are returned to the plugin, not followed.

use crate::bindings::source::culvert::connector::http_client as wit;

pub use wit::{HttpError, Request, Response};

/// Sends one request.
pub fn send(req: &Request) -> Result<Response, HttpError> {
    wit::send(req)
}

/// Sends several requests concurrently (the host fans them out); results in request order.
pub fn send_all(reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
    wit::send_all(reqs)
}

impl Request {
    /// A request with no headers, no body and the host's default timeout.
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request with `body`.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            ..Self::new("POST", url)
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the timeout of the whole request.
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl HttpError {
    /// The error as one readable sentence.
    pub fn message(&self) -> String {
        match self {
            HttpError::Denied(why) => format!("request denied: {why}"),
            HttpError::Timeout => "request timed out".to_string(),
            HttpError::Connect(why) => format!("cannot connect: {why}"),
            HttpError::Invalid(why) => format!("invalid request: {why}"),
            HttpError::TooLarge(n) => format!("response too large ({n} bytes)"),
            HttpError::Other(why) => why.clone(),
        }
    }
}
