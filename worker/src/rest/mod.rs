//! The Kafka-Connect-compatible REST API on axum: one module per resource. Errors use
//! Connect's body, `{"error_code": <status>, "message": "..."}`, for every non-2xx answer
//! — including unknown paths, wrong methods and malformed JSON — so Connect's clients parse
//! them.

mod connectors;
mod error;
mod forward;
mod health;
mod loggers;
mod metrics;
mod plugins;
mod root;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use crate::herder::Herder;

pub use error::RestError;

/// What the handlers share.
#[derive(Debug)]
pub struct RestState {
    /// The connectors' lifecycle (and the plugins this worker can run).
    pub herder: Arc<Herder>,
    /// Runtime log levels (`/admin/loggers`).
    pub loggers: Arc<crate::logging::Loggers>,
    /// The cluster id of the Kafka cluster holding the internal topics (`GET /`).
    pub kafka_cluster_id: String,
    /// The plugins' own metrics (`GET /metrics`), when plugins run here.
    pub plugin_metrics: Option<Arc<culvert_plugin_host::PluginMetrics>>,
}

/// The API's routes.
pub fn router(state: Arc<RestState>) -> Router {
    Router::new()
        .route("/", get(root::info))
        .route("/health", get(health::health))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/connectors/{name}",
            get(connectors::get_info).delete(connectors::delete),
        )
        .route(
            "/connectors/{name}/config",
            get(connectors::get_config)
                .put(connectors::put_config)
                .patch(connectors::patch_config),
        )
        .route("/connectors/{name}/restart", post(connectors::restart))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(connectors::restart_task),
        )
        .route("/connectors/{name}/status", get(connectors::status))
        .route("/connectors/{name}/tasks", get(connectors::tasks))
        .route(
            "/connectors/{name}/tasks/{task}/status",
            get(connectors::task_status),
        )
        .route("/connectors/{name}/pause", put(connectors::pause))
        .route("/connectors/{name}/resume", put(connectors::resume))
        .route("/connectors/{name}/stop", put(connectors::stop))
        .route(
            "/connectors/{name}/offsets",
            get(connectors::offsets)
                .patch(connectors::alter_offsets)
                .delete(connectors::reset_offsets),
        )
        .route("/connectors/{name}/topics", get(connectors::topics))
        .route(
            "/connectors/{name}/topics/reset",
            put(connectors::reset_topics),
        )
        .route("/admin/loggers", get(loggers::list))
        .route("/admin/loggers/{name}", get(loggers::get).put(loggers::put))
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            forward::route,
        ))
        .layer(axum::middleware::from_fn(error::time_limit))
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}
