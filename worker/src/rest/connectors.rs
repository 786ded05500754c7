//! `/connectors`: create, list, read, reconfigure, pause, resume, stop and delete connectors,
//! and read their statuses, tasks and offsets — Connect's paths, bodies and status codes.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{RestError, RestState};
use crate::herder::{ConnectorInfo, ConnectorStatus, HerderError};
use crate::stores::{Properties, Status, TargetState};

impl From<HerderError> for RestError {
    fn from(e: HerderError) -> Self {
        let status = match &e {
            HerderError::NotFound(_) => StatusCode::NOT_FOUND,
            HerderError::AlreadyExists(_) => StatusCode::CONFLICT,
            HerderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HerderError::Forbidden(_) => StatusCode::FORBIDDEN,
            HerderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        RestError::new(status, e.to_string())
    }
}

fn body<T>(parsed: Result<Json<T>, JsonRejection>) -> Result<T, RestError> {
    parsed
        .map(|Json(v)| v)
        .map_err(|e| RestError::new(e.status(), e.body_text()))
}

/// A flat configuration map; numbers and booleans become text, nulls are dropped.
fn properties(map: Map<String, Value>) -> Result<Properties, RestError> {
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(_) | Value::Bool(_) => Ok((k, v.to_string())),
            _ => Err(RestError::bad_request(format!(
                "Configuration value of {k} must be a string"
            ))),
        })
        .collect()
}

fn info_json(info: &ConnectorInfo) -> Value {
    json!({
        "name": info.name,
        "config": info.config,
        "tasks": info.tasks.iter().map(|t| json!({"connector": info.name, "task": t})).collect::<Vec<_>>(),
        "type": info.kind,
    })
}

fn state_json(status: &Status) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("state".into(), status.state.name().into());
    m.insert("worker_id".into(), status.worker_id.clone().into());
    if let Some(trace) = status.trace.as_ref().filter(|t| !t.is_empty()) {
        m.insert("trace".into(), trace.clone().into());
    }
    m
}

fn status_json(status: &ConnectorStatus) -> Value {
    let tasks: Vec<Value> = status
        .tasks
        .iter()
        .map(|(id, s)| {
            let mut m = Map::new();
            m.insert("id".into(), (*id).into());
            m.extend(state_json(s));
            Value::Object(m)
        })
        .collect();
    json!({
        "name": status.name,
        "connector": state_json(&status.connector),
        "tasks": tasks,
        "type": status.kind,
    })
}

fn created(name: &str, body: Value) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/connectors/{name}")) {
        headers.insert(header::LOCATION, location);
    }
    (StatusCode::CREATED, headers, Json(body)).into_response()
}

/// `GET /connectors[?expand=status&expand=info]`.
pub(crate) async fn list(
    State(state): State<Arc<RestState>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Json<Value> {
    let expand: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.as_str())
        .collect();
    let names = state.herder.connectors();
    if !expand.iter().any(|e| *e == "status" || *e == "info") {
        return Json(json!(names));
    }
    let mut out = Map::new();
    for name in names {
        let mut entry = Map::new();
        if expand.contains(&"status") {
            match state.herder.status(&name) {
                Ok(s) => {
                    entry.insert("status".into(), status_json(&s));
                }
                Err(_) => continue,
            }
        }
        if expand.contains(&"info") {
            match state.herder.info(&name) {
                Ok(i) => {
                    entry.insert("info".into(), info_json(&i));
                }
                Err(_) => continue,
            }
        }
        out.insert(name, Value::Object(entry));
    }
    Json(Value::Object(out))
}

/// `POST /connectors`: `{"name", "config", "initial_state"}`.
pub(crate) async fn create(
    State(state): State<Arc<RestState>>,
    request: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Response, RestError> {
    let mut request = body(request)?;
    let name = match request.remove("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.trim().to_string(),
        _ => return Err(RestError::bad_request("Connector name must not be empty")),
    };
    let config = match request.remove("config") {
        Some(Value::Object(c)) => properties(c)?,
        Some(Value::Null) | None => {
            return Err(RestError::bad_request(
                "Connector config must be a JSON object",
            ));
        }
        Some(_) => {
            return Err(RestError::bad_request(
                "Connector config must be a JSON object",
            ));
        }
    };
    let initial = match request.remove("initial_state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.to_ascii_uppercase().as_str() {
            "RUNNING" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => {
                return Err(RestError::bad_request(format!(
                    "Invalid initial state {s}; expected RUNNING, PAUSED or STOPPED"
                )));
            }
        }),
        Some(_) => return Err(RestError::bad_request("initial_state must be a string")),
    };
    let (info, _) = state
        .herder
        .put_config(&name, config, initial, true)
        .await?;
    Ok(created(&name, info_json(&info)))
}

/// `GET /connectors/{name}`.
pub(crate) async fn get_info(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, RestError> {
    Ok(Json(info_json(&state.herder.info(&name)?)))
}

/// `DELETE /connectors/{name}`: 204.
pub(crate) async fn delete(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    state.herder.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/config`: the raw configuration.
pub(crate) async fn get_config(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<Json<Properties>, RestError> {
    Ok(Json(state.herder.config(&name)?))
}

/// `PUT /connectors/{name}/config`: 201 with Location when created, else 200.
pub(crate) async fn put_config(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
    request: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Response, RestError> {
    let config = properties(body(request)?)?;
    let (info, was_created) = state.herder.put_config(&name, config, None, false).await?;
    Ok(if was_created {
        created(&name, info_json(&info))
    } else {
        Json(info_json(&info)).into_response()
    })
}

/// `GET /connectors/{name}/status`.
pub(crate) async fn status(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, RestError> {
    Ok(Json(status_json(&state.herder.status(&name)?)))
}

/// `GET /connectors/{name}/tasks`: task ids with their configurations.
pub(crate) async fn tasks(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, RestError> {
    let tasks = state.herder.task_configs(&name)?;
    Ok(Json(Value::Array(
        tasks
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"id": {"connector": name, "task": i}, "config": c}))
            .collect(),
    )))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub(crate) async fn task_status(
    State(state): State<Arc<RestState>>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<Value>, RestError> {
    let status = state.herder.status(&name)?;
    let found = task
        .parse::<u32>()
        .ok()
        .and_then(|t| status.tasks.iter().find(|(id, _)| *id == t));
    let Some((id, s)) = found else {
        return Err(RestError::not_found(format!(
            "No status found for task {name}-{task}"
        )));
    };
    let mut m = Map::new();
    m.insert("id".into(), (*id).into());
    m.extend(state_json(s));
    Ok(Json(Value::Object(m)))
}

/// `PUT /connectors/{name}/pause`: 202.
pub(crate) async fn pause(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    state.herder.pause(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/resume`: 202.
pub(crate) async fn resume(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    state.herder.resume(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/stop`: 204.
pub(crate) async fn stop(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    state.herder.stop(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/offsets`.
pub(crate) async fn offsets(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, RestError> {
    let offsets: Vec<Value> = state
        .herder
        .offsets(&name)
        .await?
        .into_iter()
        .map(|(p, o)| json!({"partition": p, "offset": o}))
        .collect();
    Ok(Json(json!({ "offsets": offsets })))
}

/// Connect's lenient boolean query parameter: `true` in any case is true, anything else
/// (or absence) is false.
fn flag(query: &[(String, String)], name: &str) -> bool {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .is_some_and(|(_, v)| v.eq_ignore_ascii_case("true"))
}

/// `POST /connectors/{name}/restart[?includeTasks=..&onlyFailed=..]`: 204, or 202 with the
/// instances being restarted.
pub(crate) async fn restart(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let restarted = state
        .herder
        .restart(
            &name,
            flag(&query, "includeTasks"),
            flag(&query, "onlyFailed"),
        )
        .await?;
    Ok(match restarted {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(status) => {
            restart_elsewhere(&state, &status);
            (StatusCode::ACCEPTED, Json(status_json(&status))).into_response()
        }
    })
}

/// In a cluster, the leader restarted the selected tasks it runs itself; the others are
/// restarted by the workers running them, asked here (Connect answers 202 at once).
fn restart_elsewhere(state: &RestState, status: &ConnectorStatus) {
    let Some(view) = state.herder.cluster() else {
        return;
    };
    for (id, task) in &status.tasks {
        if task.state != crate::stores::State::Restarting {
            continue;
        }
        let id = i32::try_from(*id).unwrap_or(i32::MAX);
        let mine = view
            .assigned
            .get(&status.name)
            .is_some_and(|t| t.contains(&id));
        if let (false, Some(owner)) = (mine, view.owners.get(&(status.name.clone(), id))) {
            let (owner, name) = (owner.clone(), status.name.clone());
            tokio::spawn(async move {
                super::forward::restart_remote_task(&owner, &name, id).await;
            });
        }
    }
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204.
pub(crate) async fn restart_task(
    State(state): State<Arc<RestState>>,
    Path((name, task)): Path<(String, String)>,
) -> Result<StatusCode, RestError> {
    let task = task
        .parse::<u32>()
        .map_err(|_| RestError::not_found(format!("Unknown task: {name}-{task}")))?;
    state.herder.restart_task(&name, task).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /connectors/{name}/config`: merges the given keys into the configuration; a
/// `null` value removes a key.
pub(crate) async fn patch_config(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
    request: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<Value>, RestError> {
    let patch = body(request)?;
    let mut config = state.herder.config(&name)?;
    for (k, v) in patch {
        match v {
            Value::Null => {
                config.remove(&k);
            }
            Value::String(s) => {
                config.insert(k, s);
            }
            Value::Number(_) | Value::Bool(_) => {
                config.insert(k, v.to_string());
            }
            _ => {
                return Err(RestError::bad_request(format!(
                    "Configuration value of {k} must be a string"
                )));
            }
        }
    }
    let (info, _) = state.herder.put_config(&name, config, None, false).await?;
    Ok(Json(info_json(&info)))
}

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
pub(crate) async fn topics(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, RestError> {
    let topics = state.herder.topics(&name)?;
    Ok(Json(json!({ name: { "topics": topics } })))
}

/// `PUT /connectors/{name}/topics/reset`: 202.
pub(crate) async fn reset_topics(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, RestError> {
    state.herder.reset_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PATCH /connectors/{name}/offsets`: `{"offsets": [{"partition": {...}, "offset": {...} | null}]}`.
pub(crate) async fn alter_offsets(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
    request: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<Value>, RestError> {
    let mut request = body(request)?;
    let Some(Value::Array(entries)) = request.remove("offsets") else {
        return Err(RestError::bad_request(
            "The request body must hold \"offsets\": a list of partition/offset pairs",
        ));
    };
    let mut offsets = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Object(mut e) = entry else {
            return Err(RestError::bad_request(
                "Each offset entry must be a JSON object",
            ));
        };
        let partition = e.remove("partition").unwrap_or(Value::Null);
        let offset = match e.remove("offset") {
            None | Some(Value::Null) => None,
            Some(o @ Value::Object(_)) => Some(o),
            Some(other) => {
                return Err(RestError::bad_request(format!(
                    "An offset must be a JSON object or null, not {other}"
                )));
            }
        };
        offsets.push((partition, offset));
    }
    state.herder.alter_offsets(&name, offsets).await?;
    Ok(Json(json!({
        "message": "The offsets for this connector have been altered successfully"
    })))
}

/// `DELETE /connectors/{name}/offsets`.
pub(crate) async fn reset_offsets(
    State(state): State<Arc<RestState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, RestError> {
    state.herder.reset_offsets(&name).await?;
    Ok(Json(json!({
        "message": "The offsets for this connector have been reset successfully"
    })))
}
