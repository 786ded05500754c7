//! Records of the config topic (`config.storage.topic`), keyed `connector-<name>`,
//! `task-<name>-<n>`, `commit-<name>`, `target-state-<name>`, `restart-connector-<name>`,
//! `tasks-fencing-<name>`, `session-key` and `logger-cluster-<namespace>`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{FormatError, malformed, object};

const TOPIC: &str = "config";

/// A connector's target state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

impl TargetState {
    fn name(self) -> &'static str {
        match self {
            TargetState::Started => "STARTED",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "STARTED" => Some(TargetState::Started),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }
}

/// One record of the config topic. `None` properties or state mean a tombstone (deleted).
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigRecord {
    Connector {
        name: String,
        properties: Option<BTreeMap<String, String>>,
    },
    Task {
        connector: String,
        task: u32,
        properties: Option<BTreeMap<String, String>>,
    },
    /// Applies the connector's buffered task configs; `tasks` is the new task count.
    Commit {
        connector: String,
        tasks: u32,
    },
    TargetState {
        connector: String,
        state: Option<TargetState>,
    },
    Restart {
        connector: String,
        include_tasks: bool,
        only_failed: bool,
    },
    TasksFencing {
        connector: String,
        task_count: u32,
    },
    /// The cluster's request-signing key (kept verbatim).
    SessionKey(Value),
    LoggerLevel {
        namespace: String,
        level: String,
    },
}

fn properties(
    key: &str,
    map: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, String>, FormatError> {
    let Some(Value::Object(props)) = map.get("properties") else {
        return Err(malformed(
            TOPIC,
            key,
            "\"properties\" is missing or not an object",
        ));
    };
    Ok(props
        .iter()
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::String(s) => Some((k.clone(), s.clone())),
            other => Some((k.clone(), other.to_string())),
        })
        .collect())
}

fn count(key: &str, map: &serde_json::Map<String, Value>, field: &str) -> Result<u32, FormatError> {
    map.get(field)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| malformed(TOPIC, key, format!("\"{field}\" is missing or not a count")))
}

/// Splits `task-<name>-<n>` style suffixes at the last dash.
fn name_and_index(key: &str, rest: &str) -> Result<(String, u32), FormatError> {
    rest.rsplit_once('-')
        .and_then(|(name, n)| Some((name.to_string(), n.parse().ok()?)))
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| malformed(TOPIC, key, "the key does not end in -<task number>"))
}

impl ConfigRecord {
    /// Reads a record; `Ok(None)` for keys Culvert does not use (kept for compatibility).
    pub fn parse(key: &str, value: Option<&[u8]>) -> Result<Option<Self>, FormatError> {
        let map = value.map(|v| object(TOPIC, key, v)).transpose()?;
        let need =
            |what: &str| malformed(TOPIC, key, format!("a {what} record cannot be a tombstone"));
        let record = if let Some(name) = key.strip_prefix("connector-") {
            ConfigRecord::Connector {
                name: name.to_string(),
                properties: map.as_ref().map(|m| properties(key, m)).transpose()?,
            }
        } else if let Some(rest) = key.strip_prefix("task-") {
            let (connector, task) = name_and_index(key, rest)?;
            ConfigRecord::Task {
                connector,
                task,
                properties: map.as_ref().map(|m| properties(key, m)).transpose()?,
            }
        } else if let Some(name) = key.strip_prefix("commit-") {
            let map = map.ok_or_else(|| need("commit"))?;
            ConfigRecord::Commit {
                connector: name.to_string(),
                tasks: count(key, &map, "tasks")?,
            }
        } else if let Some(name) = key.strip_prefix("target-state-") {
            let state = match map {
                None => None,
                Some(m) => {
                    let text = m
                        .get("state.v2")
                        .or_else(|| m.get("state"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    Some(TargetState::parse(text).ok_or_else(|| {
                        malformed(TOPIC, key, format!("unknown target state {text:?}"))
                    })?)
                }
            };
            ConfigRecord::TargetState {
                connector: name.to_string(),
                state,
            }
        } else if let Some(name) = key.strip_prefix("restart-connector-") {
            let map = map.ok_or_else(|| need("restart"))?;
            let flag = |f: &str| map.get(f).and_then(Value::as_bool).unwrap_or(false);
            ConfigRecord::Restart {
                connector: name.to_string(),
                include_tasks: flag("include-tasks"),
                only_failed: flag("only-failed"),
            }
        } else if let Some(name) = key.strip_prefix("tasks-fencing-") {
            let map = map.ok_or_else(|| need("tasks-fencing"))?;
            ConfigRecord::TasksFencing {
                connector: name.to_string(),
                task_count: count(key, &map, "task-count")?,
            }
        } else if key == "session-key" {
            ConfigRecord::SessionKey(Value::Object(map.ok_or_else(|| need("session-key"))?))
        } else if let Some(namespace) = key.strip_prefix("logger-cluster-") {
            let map = map.ok_or_else(|| need("logger"))?;
            ConfigRecord::LoggerLevel {
                namespace: namespace.to_string(),
                level: map
                    .get("level")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed(TOPIC, key, "\"level\" is missing"))?
                    .to_string(),
            }
        } else {
            return Ok(None);
        };
        Ok(Some(record))
    }

    /// The record's key and value (`None` = tombstone).
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        let props =
            |p: &Option<BTreeMap<String, String>>| p.as_ref().map(|p| json!({ "properties": p }));
        let (key, value) = match self {
            ConfigRecord::Connector { name, properties } => {
                (format!("connector-{name}"), props(properties))
            }
            ConfigRecord::Task {
                connector,
                task,
                properties,
            } => (format!("task-{connector}-{task}"), props(properties)),
            ConfigRecord::Commit { connector, tasks } => (
                format!("commit-{connector}"),
                Some(json!({ "tasks": tasks })),
            ),
            ConfigRecord::TargetState { connector, state } => (
                format!("target-state-{connector}"),
                state.map(|s| {
                    // `state` holds PAUSED for STOPPED so workers before Kafka 3.5 degrade
                    // to pausing; `state.v2` is the real state.
                    let v1 = if s == TargetState::Stopped {
                        "PAUSED"
                    } else {
                        s.name()
                    };
                    json!({ "state": v1, "state.v2": s.name() })
                }),
            ),
            ConfigRecord::Restart {
                connector,
                include_tasks,
                only_failed,
            } => (
                format!("restart-connector-{connector}"),
                Some(json!({ "include-tasks": include_tasks, "only-failed": only_failed })),
            ),
            ConfigRecord::TasksFencing {
                connector,
                task_count,
            } => (
                format!("tasks-fencing-{connector}"),
                Some(json!({ "task-count": task_count })),
            ),
            ConfigRecord::SessionKey(v) => ("session-key".to_string(), Some(v.clone())),
            ConfigRecord::LoggerLevel { namespace, level } => (
                format!("logger-cluster-{namespace}"),
                Some(json!({ "level": level })),
            ),
        };
        (key, value.map(|v| v.to_string().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(record: ConfigRecord, key: &str, value: Option<&str>) {
        let (k, v) = record.encode();
        assert_eq!(k, key);
        assert_eq!(
            v.as_deref().map(|v| std::str::from_utf8(v).expect("utf8")),
            value
        );
        let parsed = ConfigRecord::parse(&k, v.as_deref()).expect("parses");
        assert_eq!(parsed, Some(record));
    }

    #[test]
    fn records_use_connects_keys_and_values() {
        let props: BTreeMap<String, String> =
            [("connector.class".to_string(), "datagen".to_string())].into();
        round_trip(
            ConfigRecord::Connector {
                name: "my-conn".into(),
                properties: Some(props.clone()),
            },
            "connector-my-conn",
            Some(r#"{"properties":{"connector.class":"datagen"}}"#),
        );
        round_trip(
            ConfigRecord::Connector {
                name: "gone".into(),
                properties: None,
            },
            "connector-gone",
            None,
        );
        round_trip(
            ConfigRecord::Task {
                connector: "my-conn-2".into(),
                task: 11,
                properties: Some(props),
            },
            "task-my-conn-2-11",
            Some(r#"{"properties":{"connector.class":"datagen"}}"#),
        );
        round_trip(
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 3,
            },
            "commit-c",
            Some(r#"{"tasks":3}"#),
        );
        round_trip(
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Stopped),
            },
            "target-state-c",
            Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
        );
        round_trip(
            ConfigRecord::Restart {
                connector: "c".into(),
                include_tasks: true,
                only_failed: false,
            },
            "restart-connector-c",
            Some(r#"{"include-tasks":true,"only-failed":false}"#),
        );
        round_trip(
            ConfigRecord::LoggerLevel {
                namespace: "org.apache".into(),
                level: "DEBUG".into(),
            },
            "logger-cluster-org.apache",
            Some(r#"{"level":"DEBUG"}"#),
        );
    }

    #[test]
    fn old_workers_records_and_bad_records() {
        let old = ConfigRecord::parse("target-state-c", Some(br#"{"state":"PAUSED"}"#));
        assert_eq!(
            old,
            Ok(Some(ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Paused)
            }))
        );
        assert_eq!(ConfigRecord::parse("something-else", Some(b"{}")), Ok(None));
        let err = ConfigRecord::parse("task-c-x", Some(br#"{"properties":{}}"#)).expect_err("bad");
        assert_eq!(
            err.to_string(),
            "record \"task-c-x\" of the config topic is malformed: the key does not end in \
             -<task number>"
        );
        assert!(ConfigRecord::parse("commit-c", None).is_err());
        assert!(ConfigRecord::parse("commit-c", Some(b"{\"tasks\":-1}")).is_err());
        assert!(ConfigRecord::parse("connector-c", Some(b"[1]")).is_err());
        assert!(ConfigRecord::parse("connector-c", Some(b"{not json")).is_err());
    }
}
