//! `/connector-plugins`: the plugins this worker can run, their configuration definitions,
//! and validation of a configuration against a plugin.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use culvert_plugin_host::{ConfigKeySpec, HostError, Plugin, PluginKind};
use serde_json::{Value, json};

use super::{RestError, RestState};

fn resolve<'a>(state: &'a RestState, class: &str) -> Result<&'a Plugin, RestError> {
    state
        .herder
        .registry()
        .resolve(class, None)
        .map_err(|e| match e {
            HostError::UnknownPlugin { .. } | HostError::UnknownVersion { .. } => {
                RestError::not_found(format!("Unknown plugin {class}: {e}"))
            }
            other => RestError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                other.to_string(),
            ),
        })
}

/// `GET /connector-plugins[?connectorsOnly=false]`: one entry per plugin version; with
/// `connectorsOnly=false` also the transform plugins and the worker's own converters,
/// transforms and predicates.
pub(crate) async fn list(
    State(state): State<Arc<RestState>>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    // Connect parses booleans case-insensitively; anything but "false" keeps the default.
    let connectors_only = !query
        .get("connectorsOnly")
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let mut entries: Vec<Value> = state
        .herder
        .registry()
        .plugins()
        .filter(|p| !connectors_only || p.kind() != PluginKind::Transform)
        .map(|p| json!({ "class": p.spec().name, "type": p.kind().as_str(), "version": p.spec().version }))
        .collect();
    if !connectors_only {
        // The worker's own: converters, transforms and predicates, by Connect class name.
        let version = env!("CARGO_PKG_VERSION");
        let builtin = [
            ("transformation", &culvert_smt::TRANSFORM_CLASSES[..]),
            ("predicate", &culvert_smt::PREDICATE_CLASSES[..]),
            ("converter", &crate::runtime::CONVERTER_CLASSES[..]),
            (
                "header_converter",
                &[crate::runtime::HEADER_CONVERTER_CLASS][..],
            ),
        ];
        for (kind, classes) in builtin {
            for class in classes {
                entries.push(json!({"class": class, "type": kind, "version": version}));
            }
        }
    }
    Json(Value::Array(entries))
}

fn key_info(key: &ConfigKeySpec, order: usize) -> Value {
    json!({
        "name": key.name,
        "type": key.type_name,
        "required": key.required,
        "default_value": key.default_value,
        "importance": key.importance,
        "documentation": key.documentation,
        "group": key.group,
        "order": order,
        "width": "NONE",
        "display_name": key.name,
        "dependents": [],
    })
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's configuration definition.
pub(crate) async fn config(
    State(state): State<Arc<RestState>>,
    Path(plugin): Path<String>,
) -> Result<Json<Value>, RestError> {
    let plugin = resolve(&state, &plugin)?;
    let keys = plugin
        .spec()
        .config_def
        .iter()
        .enumerate()
        .map(|(i, k)| key_info(k, i + 1))
        .collect();
    Ok(Json(Value::Array(keys)))
}

/// `PUT /connector-plugins/{plugin}/config/validate`: 200 with every field's errors, even
/// when the configuration is invalid (`error_count` says so).
pub(crate) async fn validate(
    State(state): State<Arc<RestState>>,
    Path(class): Path<String>,
    body: Result<Json<BTreeMap<String, Value>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, RestError> {
    let Json(body) = body.map_err(|e| RestError::bad_request(e.body_text()))?;
    let config: Vec<(String, String)> = body
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect();
    let plugin = resolve(&state, &class)?;
    if let Some((_, given)) = config.iter().find(|(k, _)| k == "connector.class") {
        let same = resolve(&state, given).is_ok_and(|p| p.spec().name == plugin.spec().name);
        if !same {
            return Err(RestError::bad_request(format!(
                "Included connector type {given} does not match request type {class}"
            )));
        }
    }
    let connector = config
        .iter()
        .find(|(k, _)| k == "name")
        .map_or(class.as_str(), |(_, v)| v.as_str());
    let issues = plugin.validate(connector, &config).await.map_err(|e| {
        RestError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    })?;
    let mut groups: Vec<String> = Vec::new();
    let mut configs = Vec::new();
    let mut error_count = 0;
    for (i, key) in plugin.spec().config_def.iter().enumerate() {
        if let Some(g) = &key.group
            && !groups.contains(g)
        {
            groups.push(g.clone());
        }
        let errors: Vec<&str> = issues
            .iter()
            .filter(|(k, _)| *k == key.name)
            .map(|(_, message)| message.as_str())
            .collect();
        error_count += errors.len();
        let value = config
            .iter()
            .find(|(k, _)| *k == key.name)
            .map(|(_, v)| v.clone())
            .or_else(|| key.default_value.clone());
        configs.push(json!({
            "definition": key_info(key, i + 1),
            "value": {
                "name": key.name,
                "value": value,
                "recommended_values": [],
                "errors": errors,
                "visible": true,
            },
        }));
    }
    // Problems with keys the definition does not declare still count.
    for (key, message) in issues
        .iter()
        .filter(|(k, _)| !plugin.spec().config_def.iter().any(|d| d.name == *k))
    {
        error_count += 1;
        configs.push(json!({
            "value": {
                "name": key,
                "value": config.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                "recommended_values": [],
                "errors": [message],
                "visible": true,
            },
        }));
    }
    Ok(Json(json!({
        "name": plugin.spec().name,
        "error_count": error_count,
        "groups": groups,
        "configs": configs,
    })))
}
