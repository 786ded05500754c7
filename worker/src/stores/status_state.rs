//! The state the status topic describes: the latest status of every connector and task,
//! and the topics each connector used. The latest record for a key wins; a tombstone
//! removes it. (Writers apply Connect's safe-write rule before writing: see
//! [`Status::may_replace`].)

use std::collections::{BTreeMap, BTreeSet};

use super::FormatError;
use super::status_records::{Status, StatusKey};

/// Statuses by connector and task, and active topics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusState {
    connectors: BTreeMap<String, Status>,
    tasks: BTreeMap<(String, u32), Status>,
    /// (connector, topic) pairs.
    topics: BTreeSet<(String, String)>,
}

impl StatusState {
    /// Applies one record; keys Culvert does not use are ignored.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), FormatError> {
        let Some(parsed) = StatusKey::parse(key)? else {
            return Ok(());
        };
        match parsed {
            StatusKey::Connector(name) => match value {
                Some(v) => {
                    self.connectors.insert(name, Status::parse(key, v)?);
                }
                None => {
                    self.connectors.remove(&name);
                }
            },
            StatusKey::Task(name, n) => match value {
                Some(v) => {
                    self.tasks.insert((name, n), Status::parse(key, v)?);
                }
                None => {
                    self.tasks.remove(&(name, n));
                }
            },
            StatusKey::Topic(topic, connector) => {
                if value.is_some() {
                    self.topics.insert((connector, topic));
                } else {
                    self.topics.remove(&(connector, topic));
                }
            }
        }
        Ok(())
    }

    /// A connector's status.
    pub fn connector(&self, name: &str) -> Option<&Status> {
        self.connectors.get(name)
    }

    /// A task's status.
    pub fn task(&self, connector: &str, task: u32) -> Option<&Status> {
        self.tasks.get(&(connector.to_string(), task))
    }

    /// A connector's task statuses, in task order.
    pub fn tasks(&self, connector: &str) -> impl Iterator<Item = (u32, &Status)> {
        self.tasks
            .range((connector.to_string(), 0)..=(connector.to_string(), u32::MAX))
            .map(|((_, n), s)| (*n, s))
    }

    /// The topics a connector used, sorted.
    pub fn topics(&self, connector: &str) -> impl Iterator<Item = &str> {
        self.topics
            .range((connector.to_string(), String::new())..)
            .take_while(move |(c, _)| c == connector)
            .map(|(_, t)| t.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::{State, encode_topic_status};

    fn status(state: State) -> Vec<u8> {
        Status {
            state,
            trace: None,
            worker_id: "w:8083".into(),
            generation: 1,
        }
        .encode()
    }

    #[test]
    fn latest_status_wins_and_tombstones_remove() {
        let mut s = StatusState::default();
        s.apply("status-connector-c", Some(&status(State::Running)))
            .expect("ok");
        s.apply("status-task-c-1", Some(&status(State::Failed)))
            .expect("ok");
        s.apply("status-task-c-0", Some(&status(State::Running)))
            .expect("ok");
        s.apply("status-task-cc-0", Some(&status(State::Paused)))
            .expect("ok");
        s.apply(
            "status-topic-orders:connector-c",
            Some(&encode_topic_status("orders", "c", 0, 1)),
        )
        .expect("ok");
        s.apply(
            "status-topic-audit:connector-c",
            Some(&encode_topic_status("audit", "c", 1, 2)),
        )
        .expect("ok");
        assert_eq!(s.connector("c").map(|x| x.state), Some(State::Running));
        let tasks: Vec<(u32, State)> = s.tasks("c").map(|(n, x)| (n, x.state)).collect();
        assert_eq!(tasks, [(0, State::Running), (1, State::Failed)]);
        assert_eq!(s.topics("c").collect::<Vec<_>>(), ["audit", "orders"]);
        s.apply("status-task-c-1", None).expect("ok");
        s.apply("status-topic-audit:connector-c", None).expect("ok");
        assert!(s.task("c", 1).is_none());
        assert_eq!(s.topics("c").collect::<Vec<_>>(), ["orders"]);
        assert!(s.apply("status-connector-c", Some(b"{}")).is_err());
        assert!(s.apply("something-else", Some(b"x")).is_ok());
    }
}
