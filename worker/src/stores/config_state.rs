//! The state the config topic describes, rebuilt by applying its records in order — what
//! every worker knows about connectors: their configurations, target states and committed
//! task configurations.
//!
//! Task configurations are written first and only take effect at the connector's
//! `commit-<name>` record, so a reader never sees half a set. If compaction removed some of
//! a commit's task records, the connector is marked inconsistent and the herder must ask the
//! connector for its task configurations again (as Connect does).

use std::collections::{BTreeMap, BTreeSet};

use super::config_records::{ConfigRecord, TargetState};

/// A connector's or task's configuration.
pub type Properties = BTreeMap<String, String>;

/// A restart asked for through the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartRequest {
    pub include_tasks: bool,
    pub only_failed: bool,
}

/// Everything the config topic says, up to `offset`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigState {
    /// The offset of the last record applied (-1 before any).
    pub offset: i64,
    connectors: BTreeMap<String, Properties>,
    target_states: BTreeMap<String, TargetState>,
    /// Committed task configurations, by connector, in task order.
    tasks: BTreeMap<String, Vec<Properties>>,
    /// Task configurations written but not yet committed.
    pending: BTreeMap<String, BTreeMap<u32, Properties>>,
    inconsistent: BTreeSet<String>,
    restarts: BTreeMap<String, RestartRequest>,
    logger_levels: BTreeMap<String, String>,
}

impl ConfigState {
    /// An empty state, before the topic's first record.
    pub fn new() -> Self {
        Self {
            offset: -1,
            ..Self::default()
        }
    }

    /// Applies the record at `offset`.
    pub fn apply(&mut self, offset: i64, record: ConfigRecord) {
        self.offset = offset;
        match record {
            ConfigRecord::Connector { name, properties } => match properties {
                Some(p) => {
                    self.connectors.insert(name, p);
                }
                None => {
                    self.connectors.remove(&name);
                    self.target_states.remove(&name);
                    self.tasks.remove(&name);
                    self.pending.remove(&name);
                    self.inconsistent.remove(&name);
                    self.restarts.remove(&name);
                }
            },
            ConfigRecord::Task {
                connector,
                task,
                properties,
            } => {
                // Connect never deletes single task records; a stray tombstone is ignored.
                if let Some(p) = properties {
                    self.pending.entry(connector).or_default().insert(task, p);
                }
            }
            ConfigRecord::Commit { connector, tasks } => {
                let pending = self.pending.remove(&connector).unwrap_or_default();
                let complete = (0..tasks).all(|t| pending.contains_key(&t));
                if complete {
                    let configs = pending
                        .into_iter()
                        .filter(|(t, _)| *t < tasks)
                        .map(|(_, p)| p)
                        .collect();
                    self.tasks.insert(connector.clone(), configs);
                    self.inconsistent.remove(&connector);
                } else {
                    self.inconsistent.insert(connector);
                }
            }
            ConfigRecord::TargetState { connector, state } => match state {
                Some(s) => {
                    self.target_states.insert(connector, s);
                }
                None => {
                    self.target_states.remove(&connector);
                }
            },
            ConfigRecord::Restart {
                connector,
                include_tasks,
                only_failed,
            } => {
                self.restarts.insert(
                    connector,
                    RestartRequest {
                        include_tasks,
                        only_failed,
                    },
                );
            }
            ConfigRecord::LoggerLevel { namespace, level } => {
                self.logger_levels.insert(namespace, level);
            }
            ConfigRecord::TasksFencing { .. } | ConfigRecord::SessionKey(_) => {}
        }
    }

    /// The connectors, by name.
    pub fn connectors(&self) -> impl Iterator<Item = (&str, &Properties)> {
        self.connectors.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A connector's configuration.
    pub fn connector(&self, name: &str) -> Option<&Properties> {
        self.connectors.get(name)
    }

    /// A connector's target state (STARTED when none was written, as in Connect).
    pub fn target_state(&self, name: &str) -> TargetState {
        self.target_states
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started)
    }

    /// A connector's committed task configurations (empty when none).
    pub fn tasks(&self, name: &str) -> &[Properties] {
        self.tasks.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// Whether compaction left the connector's task configurations incomplete.
    pub fn is_inconsistent(&self, name: &str) -> bool {
        self.inconsistent.contains(name)
    }

    /// Takes the pending restart request of `name`, if any.
    pub fn take_restart(&mut self, name: &str) -> Option<RestartRequest> {
        self.restarts.remove(name)
    }

    /// Cluster-wide logger levels by namespace.
    pub fn logger_levels(&self) -> &BTreeMap<String, String> {
        &self.logger_levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: &str) -> Properties {
        [("k".to_string(), v.to_string())].into()
    }

    fn task(connector: &str, task: u32, v: &str) -> ConfigRecord {
        ConfigRecord::Task {
            connector: connector.into(),
            task,
            properties: Some(props(v)),
        }
    }

    #[test]
    fn task_configs_apply_only_at_their_commit() {
        let mut s = ConfigState::new();
        s.apply(
            0,
            ConfigRecord::Connector {
                name: "c".into(),
                properties: Some(props("conn")),
            },
        );
        s.apply(1, task("c", 0, "a"));
        s.apply(2, task("c", 1, "b"));
        assert!(s.tasks("c").is_empty(), "not committed yet");
        s.apply(
            3,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 2,
            },
        );
        assert_eq!(s.tasks("c"), [props("a"), props("b")]);
        assert_eq!(s.offset, 3);
        // A new generation with fewer tasks replaces the old one entirely.
        s.apply(4, task("c", 0, "x"));
        s.apply(
            5,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 1,
            },
        );
        assert_eq!(s.tasks("c"), [props("x")]);
        assert_eq!(s.target_state("c"), TargetState::Started);
    }

    #[test]
    fn compaction_holes_mark_the_connector_inconsistent_until_recommitted() {
        let mut s = ConfigState::new();
        s.apply(0, task("c", 1, "b"));
        s.apply(
            1,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 2,
            },
        );
        assert!(s.is_inconsistent("c"));
        s.apply(2, task("c", 0, "a"));
        s.apply(3, task("c", 1, "b"));
        s.apply(
            4,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 2,
            },
        );
        assert!(!s.is_inconsistent("c"));
    }

    #[test]
    fn deletion_forgets_everything_about_the_connector() {
        let mut s = ConfigState::new();
        s.apply(
            0,
            ConfigRecord::Connector {
                name: "c".into(),
                properties: Some(props("conn")),
            },
        );
        s.apply(
            1,
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Paused),
            },
        );
        s.apply(
            2,
            ConfigRecord::Restart {
                connector: "c".into(),
                include_tasks: true,
                only_failed: true,
            },
        );
        assert_eq!(s.target_state("c"), TargetState::Paused);
        s.apply(
            3,
            ConfigRecord::Connector {
                name: "c".into(),
                properties: None,
            },
        );
        assert!(s.connector("c").is_none());
        assert_eq!(s.connectors().count(), 0);
        assert!(s.take_restart("c").is_none());
        assert_eq!(s.target_state("c"), TargetState::Started);
    }
}
