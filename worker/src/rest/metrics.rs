//! `GET /metrics`: the runtime's metrics (Connect's metric groups under `culvert_*` names),
//! in a cluster the rebalance metrics, and the plugins' own series, in Prometheus text exposition format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::RestState;

pub(crate) async fn metrics(State(state): State<Arc<RestState>>) -> impl IntoResponse {
    let mut body = state
        .herder
        .runtime()
        .map(|r| r.render_metrics())
        .unwrap_or_default();
    if let Some(cluster) = state.herder.cluster() {
        body.push_str(&cluster.render_metrics());
    }
    if let Some(plugins) = &state.plugin_metrics {
        body.push_str(&plugins.render_prometheus());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
