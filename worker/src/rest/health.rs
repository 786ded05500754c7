//! `GET /health`: the REST API is served only once the worker has started (stores read,
//! plugins loaded), so answering at all means healthy.

use axum::Json;
use serde_json::{Value, json};

pub(crate) async fn health() -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "message": "Worker has completed startup and is ready to handle requests.",
    }))
}
