//! Reading a plugin's configuration and declaring its definition.

use std::str::FromStr;

use crate::{ConfigIssue, ConfigKey, ConfigType, Importance};

/// A configuration as the host passed it: ordered key/value pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// Wraps key/value pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The value of `key`, if set (the last one wins when a key repeats).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` parsed as `T`, `Ok(None)` when unset, or an issue naming the key.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, ConfigIssue> {
        match self.get(key) {
            None => Ok(None),
            Some(raw) => raw.trim().parse::<T>().map(Some).map_err(|_| ConfigIssue {
                key: key.to_string(),
                message: format!(
                    "Invalid value {raw} for configuration {key}: expected {}",
                    std::any::type_name::<T>()
                ),
            }),
        }
    }

    /// The integer at `key` (`default` when unset); a value below `min` or not an integer
    /// is pushed to `issues` (naming the key) and `default` returned, so a parser can go
    /// on and report every problem at once.
    pub fn int_at_least(
        &self,
        key: &str,
        default: i64,
        min: i64,
        issues: &mut Vec<ConfigIssue>,
    ) -> i64 {
        match self.parse::<i64>(key) {
            Ok(Some(v)) if v >= min => v,
            Ok(Some(v)) => {
                issues.push(ConfigIssue {
                    key: key.to_string(),
                    message: format!("{key} must be at least {min}, got {v}"),
                });
                default
            }
            Ok(None) => default,
            Err(e) => {
                issues.push(e);
                default
            }
        }
    }

    /// Returns a copy with `key` set to `value` (replacing any earlier value).
    pub fn with(&self, key: &str, value: impl Into<String>) -> Config {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != key)
            .cloned()
            .collect();
        pairs.push((key.to_string(), value.into()));
        Config { pairs }
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Consumes the configuration into its pairs.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }
}

/// Declares one configuration key for [`crate::PluginSpec::config_def`].
#[derive(Debug, Clone)]
pub struct ConfigKeyBuilder {
    key: ConfigKey,
}

impl ConfigKeyBuilder {
    /// A key of type `ty` with the given documentation; optional, medium importance.
    pub fn new(name: &str, ty: ConfigType, documentation: &str) -> Self {
        Self {
            key: ConfigKey {
                name: name.to_string(),
                type_: ty,
                default_value: None,
                required: false,
                importance: Importance::Medium,
                documentation: documentation.to_string(),
                group: None,
            },
        }
    }

    /// The key must be set; it has no default.
    pub fn required(mut self) -> Self {
        self.key.required = true;
        self.key.default_value = None;
        self
    }

    /// The value used when the key is unset.
    pub fn default_value(mut self, value: &str) -> Self {
        self.key.default_value = Some(value.to_string());
        self.key.required = false;
        self
    }

    /// How much the key matters.
    pub fn importance(mut self, importance: Importance) -> Self {
        self.key.importance = importance;
        self
    }

    /// The group tools show the key under.
    pub fn group(mut self, group: &str) -> Self {
        self.key.group = Some(group.to_string());
        self
    }

    /// The finished key.
    pub fn build(self) -> ConfigKey {
        self.key
    }
}

/// Checks `cfg` against a definition: every required key is set and every value parses as
/// its declared type. Keys the definition does not know are accepted (the host owns them).
pub fn validate_against(def: &[ConfigKey], cfg: &Config) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    for key in def {
        let Some(raw) = cfg.get(&key.name) else {
            if key.required {
                issues.push(ConfigIssue {
                    key: key.name.clone(),
                    message: format!(
                        "Missing required configuration \"{}\" which has no default value.",
                        key.name
                    ),
                });
            }
            continue;
        };
        let raw = raw.trim();
        let ok = match key.type_ {
            ConfigType::Boolean => {
                raw.eq_ignore_ascii_case("true") || raw.eq_ignore_ascii_case("false")
            }
            ConfigType::Int => raw.parse::<i32>().is_ok(),
            ConfigType::Long => raw.parse::<i64>().is_ok(),
            ConfigType::Double => raw.parse::<f64>().is_ok(),
            ConfigType::String | ConfigType::Password | ConfigType::List => true,
        };
        if !ok {
            let expected = match key.type_ {
                ConfigType::Boolean => "a boolean (true or false)",
                ConfigType::Int => "a 32-bit integer",
                ConfigType::Long => "a 64-bit integer",
                _ => "a number",
            };
            issues.push(ConfigIssue {
                key: key.name.clone(),
                message: format!(
                    "Invalid value {raw} for configuration {}: expected {expected}",
                    key.name
                ),
            });
        }
    }
    issues
}

/// What `validate` usually answers: the problems `validate_against` finds in `cfg`, plus
/// those of the plugin's own parse (`parsed`) for keys not reported already.
pub fn validate_with<T>(
    def: &[ConfigKey],
    cfg: &Config,
    parsed: Result<T, Vec<ConfigIssue>>,
) -> Vec<ConfigIssue> {
    let mut issues = validate_against(def, cfg);
    if let Err(found) = parsed {
        for issue in found {
            if !issues.iter().any(|i| i.key == issue.key) {
                issues.push(issue);
            }
        }
    }
    issues
}

/// Problems as one message (`key: message; key: message`), for a task that cannot start.
pub fn describe_issues(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.key, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}
