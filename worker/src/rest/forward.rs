//! Request forwarding in a cluster, as Connect does it: requests that change the cluster's
//! configuration run on the leader, a task restart on the worker that runs the task. A
//! worker that cannot serve one itself re-sends it (same method, path, body; only the
//! caller's `Authorization` header copied) with the hidden `forward` query parameter:
//! absent on the user's request → `forward=true`; a worker receiving `forward=true` that
//! must forward again sends `forward=false`; one receiving `forward=false` answers 409. So
//! a request makes at most two hops.
//!
//! While the group rebalances, such requests wait up to [`REBALANCE_WAIT`] for it to end,
//! then get Connect's 409 — never a 500 or a hang. Standalone workers serve everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{RestError, RestState};
use crate::cluster::ClusterView;

/// How long a request waits for a rebalance to end before its 409.
pub(crate) const REBALANCE_WAIT: Duration = Duration::from_secs(2);
/// How long a forwarded request may take (below the 90 s limit on the whole request).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(80);
/// The largest request body forwarded.
const MAX_BODY: usize = 16 * 1024 * 1024;

pub(crate) const CONFLICT: &str =
    "Cannot complete request because of a conflicting operation (e.g. worker rebalance)";
pub(crate) const NO_LEADER: &str = "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.";

/// Who must serve a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Anyone,
    Leader,
    /// The worker running task `task` of connector `connector`.
    Owner(String, i32),
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn target(method: &Method, path: &str) -> Target {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = method.as_str();
    match parts.as_slice() {
        ["connectors"] if m == "POST" => Target::Leader,
        ["connectors", _] if m == "DELETE" => Target::Leader,
        ["connectors", _, "config"] if m == "PUT" || m == "PATCH" => Target::Leader,
        ["connectors", _, "stop"] if m == "PUT" => Target::Leader,
        ["connectors", _, "restart"] if m == "POST" => Target::Leader,
        ["connectors", _, "offsets"] if m == "PATCH" || m == "DELETE" => Target::Leader,
        ["connectors", c, "tasks", t, "restart"] if m == "POST" => match t.parse::<i32>() {
            Ok(t) => Target::Owner(decode(c), t),
            // Not a task id: the handler answers it.
            Err(_) => Target::Anyone,
        },
        _ => Target::Anyone,
    }
}

/// The `forward` query parameter: `None` when absent.
fn forward_param(query: Option<&str>) -> Option<bool> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "forward")
        .map(|(_, v)| v.eq_ignore_ascii_case("true"))
}

/// The query with `forward` set to `value`.
fn with_forward(query: Option<&str>, value: bool) -> String {
    let mut pairs: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("forward="))
        .collect();
    let forward = format!("forward={value}");
    pairs.push(&forward);
    pairs.join("&")
}

fn owns(view: &ClusterView, connector: &str, task: i32) -> bool {
    view.assigned
        .get(connector)
        .is_some_and(|tasks| tasks.contains(&task))
}

/// Where the request goes: `None` to serve it here.
fn destination(view: &ClusterView, target: &Target) -> Result<Option<String>, RestError> {
    let conflict = |m: &str| RestError::new(StatusCode::CONFLICT, m);
    match target {
        Target::Anyone => Ok(None),
        Target::Leader if view.is_leader => Ok(None),
        Target::Leader => view
            .leader_url
            .clone()
            .map(Some)
            .ok_or_else(|| conflict(NO_LEADER)),
        Target::Owner(c, t) if owns(view, c, *t) => Ok(None),
        Target::Owner(c, t) if view.is_leader => view
            .owners
            .get(&(c.clone(), *t))
            .cloned()
            .map(Some)
            // Configured but unassigned right now, or unknown (the handler answers 404).
            .ok_or_else(|| conflict(CONFLICT)),
        Target::Owner(..) => view
            .leader_url
            .clone()
            .map(Some)
            .ok_or_else(|| conflict(NO_LEADER)),
    }
}

/// The middleware: serves, forwards, or answers 409.
pub(crate) async fn route(
    State(state): State<Arc<RestState>>,
    request: Request,
    next: Next,
) -> Response {
    let target = target(request.method(), request.uri().path());
    if target == Target::Anyone || state.herder.cluster().is_none() {
        return next.run(request).await;
    }
    // Wait out a rebalance, briefly.
    let started = Instant::now();
    let view = loop {
        let view = state.herder.cluster().unwrap_or_default();
        if !view.rebalancing {
            break view;
        }
        if started.elapsed() >= REBALANCE_WAIT {
            let message = if view.leader_url.is_none() {
                NO_LEADER
            } else {
                CONFLICT
            };
            return RestError::new(StatusCode::CONFLICT, message).into_response();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url = match destination(&view, &target) {
        Ok(None) => return next.run(request).await,
        Ok(Some(url)) => url,
        Err(e) => return e.into_response(),
    };
    let query = request.uri().query();
    let forward = match forward_param(query) {
        None => true,
        Some(true) => false,
        // Already forwarded twice: the cluster is changing under this request.
        Some(false) => return RestError::new(StatusCode::CONFLICT, CONFLICT).into_response(),
    };
    let path = request.uri().path().to_string();
    let target_url = format!(
        "{}{}?{}",
        url.trim_end_matches('/'),
        path,
        with_forward(query, forward)
    );
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return RestError::bad_request(format!("cannot read the request body: {e}"))
                .into_response();
        }
    };
    send(&parts.method, &target_url, &parts.headers, body).await
}

/// Sends the request on and relays the answer.
async fn send(
    method: &Method,
    url: &str,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let client = reqwest::Client::new();
    let Ok(method) = reqwest::Method::from_bytes(method.as_str().as_bytes()) else {
        return RestError::bad_request("unsupported method").into_response();
    };
    let mut outgoing = client
        .request(method, url)
        .timeout(FORWARD_TIMEOUT)
        .body(body.to_vec());
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = headers.get(&name)
            && let Ok(value) = value.to_str()
        {
            outgoing = outgoing.header(name.as_str(), value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(a) => a,
        Err(e) => {
            // The leader or owner went away: the group is about to rebalance.
            tracing::info!(url, error = %e, "cannot forward a REST request");
            return RestError::new(StatusCode::CONFLICT, NO_LEADER).into_response();
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::builder().status(status);
    for name in [header::CONTENT_TYPE, header::LOCATION] {
        if let Some(value) = answer.headers().get(name.as_str())
            && let Ok(value) = value.to_str()
        {
            response = response.header(name, value);
        }
    }
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            tracing::info!(url, error = %e, "a forwarded REST request's answer broke off");
            return RestError::new(StatusCode::CONFLICT, CONFLICT).into_response();
        }
    };
    response
        .body(Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Restarts task `task` of `connector` on `owner` (a worker URL), as the leader does for
/// tasks a restart request selected that run elsewhere.
pub(crate) async fn restart_remote_task(owner: &str, connector: &str, task: i32) {
    let name = percent_encoding::utf8_percent_encode(connector, percent_encoding::NON_ALPHANUMERIC);
    let url = format!(
        "{}/connectors/{name}/tasks/{task}/restart?forward=false",
        owner.trim_end_matches('/')
    );
    let response = send(&Method::POST, &url, &HeaderMap::new(), Default::default()).await;
    if !response.status().is_success() {
        tracing::warn!(connector, task, owner, status = %response.status(),
            "the worker running the task did not restart it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed_as_connect_routes_them() {
        let post = Method::POST;
        assert_eq!(target(&post, "/connectors"), Target::Leader);
        assert_eq!(target(&Method::GET, "/connectors"), Target::Anyone);
        assert_eq!(target(&Method::PUT, "/connectors/a/config"), Target::Leader);
        assert_eq!(target(&Method::PUT, "/connectors/a/pause"), Target::Anyone);
        assert_eq!(target(&Method::DELETE, "/connectors/a"), Target::Leader);
        assert_eq!(target(&post, "/connectors/a/restart"), Target::Leader);
        assert_eq!(
            target(&post, "/connectors/a%2Fb/tasks/2/restart"),
            Target::Owner("a/b".into(), 2)
        );
        assert_eq!(
            target(&post, "/connectors/a/tasks/x/restart"),
            Target::Anyone
        );
    }

    #[test]
    fn the_forward_parameter_counts_hops() {
        assert_eq!(forward_param(None), None);
        assert_eq!(forward_param(Some("expand=status")), None);
        assert_eq!(forward_param(Some("forward=true")), Some(true));
        assert_eq!(forward_param(Some("a=1&forward=false")), Some(false));
        assert_eq!(
            with_forward(Some("includeTasks=true&forward=true"), false),
            "includeTasks=true&forward=false"
        );
        assert_eq!(with_forward(None, true), "forward=true");
    }

    #[test]
    fn destinations_follow_the_view() {
        let mut view = ClusterView::default();
        let leader = Target::Leader;
        assert_eq!(
            destination(&view, &leader).map_err(|e| e.status),
            Err(StatusCode::CONFLICT)
        );
        view.leader_url = Some("http://l:8083/".into());
        assert_eq!(
            destination(&view, &leader),
            Ok(Some("http://l:8083/".into()))
        );
        view.is_leader = true;
        assert_eq!(destination(&view, &leader), Ok(None));
        let task = Target::Owner("c".into(), 1);
        view.owners.insert(("c".into(), 1), "http://o:8083/".into());
        assert_eq!(destination(&view, &task), Ok(Some("http://o:8083/".into())));
        view.assigned.insert("c".into(), vec![1]);
        assert_eq!(destination(&view, &task), Ok(None));
    }
}
