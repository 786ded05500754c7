//! Records of the status topic (`status.storage.topic`): `status-connector-<name>` and
//! `status-task-<name>-<n>` hold `{"state","trace","worker_id","generation"}`;
//! `status-topic-<topic>:connector-<name>` records a topic a connector used (KIP-558).

use serde_json::{Value, json};

use super::{FormatError, malformed, object};

const TOPIC: &str = "status";

/// A connector's or task's state, as the REST API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
    Destroyed,
}

impl State {
    /// Connect's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
            State::Destroyed => "DESTROYED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            State::Unassigned,
            State::Running,
            State::Paused,
            State::Stopped,
            State::Failed,
            State::Restarting,
            State::Destroyed,
        ]
        .into_iter()
        .find(|s| s.name() == text)
    }
}

/// Whose status a record holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusKey {
    Connector(String),
    Task(String, u32),
    /// A topic a connector used: (topic, connector).
    Topic(String, String),
}

/// A connector's or task's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    /// The failure's description, for FAILED.
    pub trace: Option<String>,
    /// `host:port` of the worker that runs it.
    pub worker_id: String,
    /// The cluster generation the writer was in; stale writers' records lose.
    pub generation: i32,
}

impl StatusKey {
    /// Parses a key; `Ok(None)` for keys Culvert does not use.
    pub fn parse(key: &str) -> Result<Option<Self>, FormatError> {
        if let Some(name) = key.strip_prefix("status-connector-") {
            return Ok(Some(StatusKey::Connector(name.to_string())));
        }
        if let Some(rest) = key.strip_prefix("status-task-") {
            let (name, n) = rest
                .rsplit_once('-')
                .and_then(|(name, n)| Some((name, n.parse::<u32>().ok()?)))
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| malformed(TOPIC, key, "the key does not end in -<task number>"))?;
            return Ok(Some(StatusKey::Task(name.to_string(), n)));
        }
        if let Some(rest) = key.strip_prefix("status-topic-") {
            let (topic, connector) = rest
                .split_once(":connector-")
                .ok_or_else(|| malformed(TOPIC, key, "the key lacks :connector-<name>"))?;
            return Ok(Some(StatusKey::Topic(
                topic.to_string(),
                connector.to_string(),
            )));
        }
        Ok(None)
    }

    /// The record key.
    pub fn encode(&self) -> String {
        match self {
            StatusKey::Connector(name) => format!("status-connector-{name}"),
            StatusKey::Task(name, n) => format!("status-task-{name}-{n}"),
            StatusKey::Topic(topic, connector) => {
                format!("status-topic-{topic}:connector-{connector}")
            }
        }
    }
}

impl Status {
    /// Parses a connector or task status value.
    pub fn parse(key: &str, value: &[u8]) -> Result<Self, FormatError> {
        let map = object(TOPIC, key, value)?;
        let text = map.get("state").and_then(Value::as_str).unwrap_or_default();
        let state = State::parse(text)
            .ok_or_else(|| malformed(TOPIC, key, format!("unknown state {text:?}")))?;
        Ok(Self {
            state,
            trace: map.get("trace").and_then(Value::as_str).map(str::to_string),
            worker_id: map
                .get("worker_id")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(TOPIC, key, "\"worker_id\" is missing"))?
                .to_string(),
            generation: map
                .get("generation")
                .and_then(Value::as_i64)
                .and_then(|g| i32::try_from(g).ok())
                .ok_or_else(|| malformed(TOPIC, key, "\"generation\" is missing"))?,
        })
    }

    /// The record value.
    pub fn encode(&self) -> Vec<u8> {
        json!({
            "state": self.state.name(),
            "trace": self.trace,
            "worker_id": self.worker_id,
            "generation": self.generation,
        })
        .to_string()
        .into_bytes()
    }

    /// Connect's "safe write" rule: a new status replaces `previous` only if it comes from
    /// the same worker or from a generation at least as new.
    pub fn may_replace(&self, previous: Option<&Status>) -> bool {
        previous.is_none_or(|p| p.worker_id == self.worker_id || self.generation >= p.generation)
    }
}

/// The value of a topic-tracking record.
pub fn encode_topic_status(topic: &str, connector: &str, task: u32, discovered_ms: i64) -> Vec<u8> {
    json!({ "topic": {
        "name": topic, "connector": connector, "task": task, "discoverTimestamp": discovered_ms,
    }})
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_match_connect() {
        for (key, parsed) in [
            ("status-connector-a-b", StatusKey::Connector("a-b".into())),
            ("status-task-a-b-3", StatusKey::Task("a-b".into(), 3)),
            (
                "status-topic-orders:connector-a",
                StatusKey::Topic("orders".into(), "a".into()),
            ),
        ] {
            assert_eq!(StatusKey::parse(key), Ok(Some(parsed.clone())));
            assert_eq!(parsed.encode(), key);
        }
        assert!(StatusKey::parse("status-task-a").is_err());
        assert_eq!(StatusKey::parse("other"), Ok(None));
        let s = Status {
            state: State::Failed,
            trace: Some("boom".into()),
            worker_id: "10.0.0.1:8083".into(),
            generation: 4,
        };
        let v = s.encode();
        assert_eq!(
            std::str::from_utf8(&v).expect("utf8"),
            r#"{"generation":4,"state":"FAILED","trace":"boom","worker_id":"10.0.0.1:8083"}"#
        );
        assert_eq!(Status::parse("k", &v), Ok(s));
        assert!(
            Status::parse(
                "k",
                br#"{"state":"NAPPING","worker_id":"w","generation":1}"#
            )
            .is_err()
        );
        assert_eq!(
            std::str::from_utf8(&encode_topic_status("t", "c", 0, 5)).expect("utf8"),
            r#"{"topic":{"connector":"c","discoverTimestamp":5,"name":"t","task":0}}"#
        );
    }

    #[test]
    fn stale_writers_do_not_overwrite() {
        let at = |worker: &str, generation| Status {
            state: State::Running,
            trace: None,
            worker_id: worker.into(),
            generation,
        };
        assert!(at("w1", 1).may_replace(None));
        assert!(at("w1", 1).may_replace(Some(&at("w1", 5))));
        assert!(at("w2", 5).may_replace(Some(&at("w1", 5))));
        assert!(!at("w2", 4).may_replace(Some(&at("w1", 5))));
    }
}
