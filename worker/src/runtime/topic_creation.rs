//! Topic creation for source connectors (KIP-158): `topic.creation.default.partitions` and
//! `.replication.factor` (both required; -1 means the broker's default) switch it on, named
//! groups (`topic.creation.groups`) pick topics by `include`/`exclude` regex lists, and any
//! other `topic.creation.<group>.<key>` becomes a topic config. A topic the task has not
//! written to before is created (if missing) with the first matching group's settings,
//! before its first record is sent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::stores::{ClientSettings, Properties};

/// One creation group's settings.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    include: Vec<regex::Regex>,
    exclude: Vec<regex::Regex>,
    partitions: i32,
    replication_factor: i32,
    configs: BTreeMap<String, String>,
}

/// A connector's topic creation rules.
#[derive(Debug, Clone)]
pub(super) struct TopicCreation {
    /// Named groups in `topic.creation.groups` order, then `default` (matches everything).
    groups: Vec<Group>,
}

fn regexes(key: &str, value: Option<&String>, problems: &mut Vec<String>) -> Vec<regex::Regex> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .filter_map(|p| match regex::Regex::new(&format!("^(?:{p})$")) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        problems.push(format!(
                            "Invalid value {p} for configuration {key}: Invalid regex: {e}"
                        ));
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn number(
    config: &Properties,
    key: &str,
    default: Option<i64>,
    problems: &mut Vec<String>,
) -> Option<i64> {
    match config.get(key).map(|v| v.trim()) {
        None | Some("") => {
            if default.is_none() {
                problems.push(format!(
                    "Missing required configuration \"{key}\" which has no default value."
                ));
            }
            default
        }
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n == -1 || n >= 1 => Some(n),
            _ => {
                problems.push(format!(
                    "Invalid value {v} for configuration {key}: Value must be -1 or at least 1"
                ));
                None
            }
        },
    }
}

fn group(
    config: &Properties,
    name: &str,
    defaults: Option<&Group>,
    problems: &mut Vec<String>,
) -> Group {
    let prefix = format!("topic.creation.{name}.");
    let key = |k: &str| format!("{prefix}{k}");
    let partitions = number(
        config,
        &key("partitions"),
        defaults.map(|d| i64::from(d.partitions)),
        problems,
    );
    let rf = number(
        config,
        &key("replication.factor"),
        defaults.map(|d| i64::from(d.replication_factor)),
        problems,
    );
    let mut configs = defaults.map(|d| d.configs.clone()).unwrap_or_default();
    for (k, v) in config {
        if let Some(rest) = k.strip_prefix(&prefix)
            && !["partitions", "replication.factor", "include", "exclude"].contains(&rest)
        {
            configs.insert(rest.to_string(), v.clone());
        }
    }
    Group {
        name: name.to_string(),
        include: regexes(&key("include"), config.get(&key("include")), problems),
        exclude: regexes(&key("exclude"), config.get(&key("exclude")), problems),
        partitions: partitions.and_then(|n| i32::try_from(n).ok()).unwrap_or(-1),
        replication_factor: rf.and_then(|n| i32::try_from(n).ok()).unwrap_or(-1),
        configs,
    }
}

impl TopicCreation {
    /// The rules of a source connector's configuration, or `None` when topic creation is
    /// off for it (the worker's `topic.creation.enable=false`, or no default group).
    pub(super) fn parse(
        config: &Properties,
        worker_enabled: bool,
    ) -> Result<Option<Self>, Vec<String>> {
        let active = config.contains_key("topic.creation.default.partitions")
            || config.contains_key("topic.creation.default.replication.factor");
        if !worker_enabled || !active {
            return Ok(None);
        }
        let mut problems = Vec::new();
        let default = group(config, "default", None, &mut problems);
        let mut groups = Vec::new();
        let mut seen = BTreeSet::new();
        for name in config
            .get("topic.creation.groups")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            if name == "default" || !seen.insert(name.to_string()) {
                continue;
            }
            let g = group(config, name, Some(&default), &mut problems);
            if g.include.is_empty() {
                problems.push(format!(
                    "Missing required configuration \"topic.creation.{name}.include\" which has \
                     no default value."
                ));
            }
            groups.push(g);
        }
        groups.push(default);
        if problems.is_empty() {
            Ok(Some(Self { groups }))
        } else {
            Err(problems)
        }
    }

    fn group_for(&self, topic: &str) -> Option<&Group> {
        self.groups.iter().find(|g| {
            (g.name == "default" || g.include.iter().any(|r| r.is_match(topic)))
                && !g.exclude.iter().any(|r| r.is_match(topic))
        })
    }

    /// Creates `topic` with its group's settings unless it exists (or an `exclude` keeps
    /// every group from it).
    pub(super) async fn ensure(&self, clients: &ClientSettings, topic: &str) -> Result<(), String> {
        let Some(g) = self.group_for(topic) else {
            return Ok(());
        };
        let admin: AdminClient<DefaultClientContext> = clients
            .config(&clients.admin)
            .map_err(|e| format!("cannot create an admin client: {e}"))?
            .create()
            .map_err(|e| format!("cannot create an admin client: {e}"))?;
        let mut new = NewTopic::new(
            topic,
            g.partitions,
            TopicReplication::Fixed(g.replication_factor),
        );
        for (k, v) in &g.configs {
            new = new.set(k, v);
        }
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let created = admin
            .create_topics([&new], &options)
            .await
            .map_err(|e| format!("cannot create topic {topic}: {e}"))?;
        for r in created {
            match r {
                Ok(_) => tracing::info!(topic, group = %g.name, "created topic (topic.creation)"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(format!("cannot create topic {topic}: {code}")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Properties {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn off_without_defaults_or_when_the_worker_disables_it() {
        assert!(matches!(TopicCreation::parse(&config(&[]), true), Ok(None)));
        let c = config(&[
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "1"),
        ]);
        assert!(matches!(TopicCreation::parse(&c, false), Ok(None)));
        assert!(matches!(TopicCreation::parse(&c, true), Ok(Some(_))));
    }

    #[test]
    fn groups_match_in_order_and_inherit_the_defaults() {
        let c = config(&[
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.cleanup.policy", "delete"),
            ("topic.creation.groups", "compacted, big"),
            ("topic.creation.compacted.include", "state-.*"),
            ("topic.creation.compacted.exclude", "state-tmp"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.big.include", "big-.*,state-tmp"),
            ("topic.creation.big.partitions", "12"),
        ]);
        let tc = TopicCreation::parse(&c, true).expect("valid").expect("on");
        let g = tc.group_for("state-users").expect("group");
        assert_eq!((g.name.as_str(), g.partitions), ("compacted", 3));
        assert_eq!(
            g.configs.get("cleanup.policy").map(String::as_str),
            Some("compact")
        );
        let g = tc.group_for("state-tmp").expect("group");
        assert_eq!((g.name.as_str(), g.partitions), ("big", 12));
        assert_eq!(
            g.configs.get("cleanup.policy").map(String::as_str),
            Some("delete")
        );
        let g = tc.group_for("other").expect("group");
        assert_eq!((g.name.as_str(), g.replication_factor), ("default", -1));
    }

    #[test]
    fn problems_name_the_keys() {
        let c = config(&[
            ("topic.creation.default.partitions", "0"),
            ("topic.creation.groups", "g"),
            ("topic.creation.g.exclude", "(bad"),
        ]);
        let problems = TopicCreation::parse(&c, true).expect_err("invalid");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("topic.creation.default.partitions"));
        assert!(problems[1].contains("\"topic.creation.default.replication.factor\""));
        assert!(problems[2].contains("topic.creation.g.exclude"));
        assert!(problems[3].contains("\"topic.creation.g.include\""));
    }
}
