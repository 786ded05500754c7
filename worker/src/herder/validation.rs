//! Checks a connector configuration before it is stored: the keys every connector has
//! (`name`, `connector.class`, `tasks.max`) and the plugin's own `validate`, reported in
//! Connect's words.

use culvert_plugin_host::{Plugin, PluginKind, PluginRegistry};

use super::HerderError;
use crate::stores::Properties;

/// Every problem with `config` for connector `name`, and the plugin when it resolves.
pub(crate) async fn problems<'a>(
    registry: &'a PluginRegistry,
    runtime: Option<&crate::runtime::Runtime>,
    name: &str,
    config: &Properties,
) -> Result<(Vec<String>, Option<&'a Plugin>), HerderError> {
    let mut problems = Vec::new();
    if name.trim().is_empty() {
        problems.push("Connector name must not be empty".to_string());
    }
    if name.chars().any(char::is_control) {
        problems.push(format!(
            "Invalid value {name} for configuration name: Connector name must not contain \
             control characters"
        ));
    }
    match config.get("tasks.max").map(|v| v.trim().parse::<i64>()) {
        None => {}
        Some(Ok(n)) if n >= 1 && n <= i64::from(i32::MAX) => {}
        Some(Ok(n)) => problems.push(format!(
            "Invalid value {n} for configuration tasks.max: Value must be at least 1"
        )),
        Some(Err(_)) => problems.push(format!(
            "Invalid value {} for configuration tasks.max: Not a number of type INT",
            config
                .get("tasks.max")
                .map(String::as_str)
                .unwrap_or_default()
        )),
    }
    let Some(class) = config.get("connector.class") else {
        problems.push(
            "Missing required configuration \"connector.class\" which has no default value."
                .to_string(),
        );
        return Ok((problems, None));
    };
    let version = config.get("connector.plugin.version").map(String::as_str);
    let plugin = match registry.resolve(class, version) {
        Ok(p) if p.kind() == PluginKind::Transform => {
            problems.push(format!(
                "Invalid value {class} for configuration connector.class: {class} is a \
                 transformation, not a connector"
            ));
            return Ok((problems, None));
        }
        Ok(p) => p,
        Err(e) => {
            problems.push(format!(
                "Invalid value {class} for configuration connector.class: {e}"
            ));
            return Ok((problems, None));
        }
    };
    let pairs: Vec<(String, String)> = config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let issues = plugin
        .validate(name, &pairs)
        .await
        .map_err(|e| HerderError::Internal(e.to_string()))?;
    problems.extend(issues.into_iter().map(|(_, message)| message));
    // The framework's keys: converters, errors.*, transforms, sink topics.
    let sink = plugin.kind() == PluginKind::Sink;
    let worker = runtime.map(crate::runtime::Runtime::worker_config);
    problems.extend(crate::runtime::TaskSettings::problems(config, worker, sink));
    // `wasm:` transforms must name a loaded transform plugin.
    if let Ok(chain) = culvert_smt::Chain::from_config(config) {
        problems.extend(crate::runtime::check_wasm_transforms(&chain, registry));
    }
    Ok((problems, Some(plugin)))
}

/// Connect's 400 message for an invalid configuration.
pub(crate) fn invalid(class: &str, problems: &[String]) -> HerderError {
    HerderError::BadRequest(format!(
        "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou \
         can also find the above list of errors at the endpoint \
         `/connector-plugins/{class}/config/validate`",
        problems.len(),
        problems.join("\n")
    ))
}
