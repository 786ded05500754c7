//! The Kafka-Connect-compatible REST API on axum: one module per resource. Errors use
//! Connect's body, `{"error_code": <status>, "message": "..."}`, for every non-2xx answer
//! — including unknown paths, wrong methods and malformed JSON — so Connect's clients parse
//! them.

mod error;
mod plugins;
mod root;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, put};
use culvert_plugin_host::PluginRegistry;

pub use error::RestError;

/// What the handlers share.
#[derive(Debug)]
pub struct RestState {
    /// The plugins this worker can run.
    pub registry: Arc<PluginRegistry>,
    /// The cluster id of the Kafka cluster holding the internal topics (`GET /`).
    pub kafka_cluster_id: String,
}

/// The API's routes.
pub fn router(state: Arc<RestState>) -> Router {
    Router::new()
        .route("/", get(root::info))
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}
