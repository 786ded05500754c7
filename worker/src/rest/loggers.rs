//! `/admin/loggers`: read and change log levels at runtime (KIP-495), for this worker
//! (`scope=worker`, the default) or every worker (`scope=cluster`, stored in the config
//! topic as `logger-cluster-<name>`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{RestError, RestState};
use crate::logging::{LoggerLevel, parse_level, valid_namespace};

fn level_json(l: &LoggerLevel) -> Value {
    json!({ "level": l.level, "last_modified": l.last_modified })
}

/// `GET /admin/loggers`.
pub(crate) async fn list(State(state): State<Arc<RestState>>) -> Json<Value> {
    let all: Map<String, Value> = state
        .loggers
        .all()
        .iter()
        .map(|(k, v)| (k.clone(), level_json(v)))
        .collect();
    Json(Value::Object(all))
}

/// `GET /admin/loggers/{name}`: the effective level.
pub(crate) async fn get(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Json<Value> {
    Json(level_json(&state.loggers.level_of(&name)))
}

/// `PUT /admin/loggers/{name}[?scope=worker|cluster]` with `{"level": "DEBUG"}`.
pub(crate) async fn put(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    request: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Response, RestError> {
    let body = request
        .map(|Json(b)| b)
        .map_err(|e| RestError::new(e.status(), e.body_text()))?;
    let Some(text) = body.get("level").and_then(Value::as_str) else {
        return Err(RestError::bad_request(
            "Desired 'level' parameter was not specified in the request.",
        ));
    };
    // Connect answers an unknown level with 404; clients rely on it.
    let level = parse_level(text)
        .ok_or_else(|| RestError::not_found(format!("Invalid log level '{text}'.")))?;
    if !valid_namespace(&name) {
        return Err(RestError::bad_request(format!(
            "Invalid logger name '{name}': use a module path such as culvert::herder or a \
             dotted name (letters, digits, '_', '-', '.', ':')"
        )));
    }
    let scope = query
        .iter()
        .rev()
        .find(|(k, _)| k == "scope")
        .map_or("worker", |(_, v)| v.as_str());
    if scope.eq_ignore_ascii_case("cluster") {
        state.herder.set_cluster_log_level(&name, level).await?;
        state
            .loggers
            .set_level(&name, level)
            .map_err(|e| RestError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let changed = state
        .loggers
        .set_level(&name, level)
        .map_err(|e| RestError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(Json(json!(changed)).into_response())
}
