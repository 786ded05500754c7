//! `GET /`: the worker's version and the Kafka cluster it stores its state in.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::RestState;

/// The commit the binary was built from, when the build knew it.
const COMMIT: &str = match option_env!("CULVERT_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

pub(crate) async fn info(State(state): State<Arc<RestState>>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": COMMIT,
        "kafka_cluster_id": state.kafka_cluster_id,
    }))
}
