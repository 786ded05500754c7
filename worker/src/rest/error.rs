//! Connect's error body and the status codes it maps errors to.

use std::time::Duration;

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A non-2xx answer: `{"error_code": <status>, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: StatusCode,
    pub message: String,
}

impl RestError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = json!({ "error_code": self.status.as_u16(), "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// Unknown paths (Jersey's wording, which Connect returns).
pub(crate) async fn not_found() -> RestError {
    RestError::not_found("HTTP 404 Not Found")
}

/// A known path with a method it does not take.
pub(crate) async fn method_not_allowed() -> RestError {
    RestError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

/// How long a request may take before it is answered with Connect's timeout error (a
/// plugin call inside it is interrupted by its own, shorter deadline).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Answers `500 Request timed out` when a request takes longer than [`REQUEST_TIMEOUT`].
pub(crate) async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            RestError::new(StatusCode::INTERNAL_SERVER_ERROR, "Request timed out").into_response()
        }
    }
}
