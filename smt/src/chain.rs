//! A connector's transform chain, built from `transforms` and `predicates` as Connect reads
//! them, and applied record by record.
//!
//! Steps whose type starts with [`EXTERNAL_PREFIX`] (`wasm:<plugin>`) are not built here:
//! the chain keeps their alias, plugin name, settings and predicate, and [`Chain::segments`]
//! tells a caller that runs such steps (the worker, batch by batch) where they stand.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{Settings, split_list};
use crate::{Predicate, Record, SmtError, Transform, predicates, transforms};

/// The type prefix of a transform the caller runs itself: `wasm:<plugin name>`.
pub const EXTERNAL_PREFIX: &str = "wasm:";

#[derive(Debug)]
enum Action {
    Native(Box<dyn Transform>),
    /// A `wasm:` step: the plugin name and its settings (`transforms.<alias>.*` without the
    /// prefix, `type`, `predicate` and `negate`).
    External {
        plugin: String,
        config: Vec<(String, String)>,
    },
}

#[derive(Debug)]
struct Step {
    alias: String,
    action: Action,
    /// Applied only when the predicate's result differs from `negate`.
    condition: Option<(Arc<dyn Predicate>, bool)>,
}

/// A run of the chain: native steps (applied with [`Chain::apply_steps`]) or one external
/// step (see [`Chain::external`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Native(std::ops::Range<usize>),
    External(usize),
}

/// An external step as configured.
#[derive(Debug, Clone, Copy)]
pub struct ExternalStep<'a> {
    pub alias: &'a str,
    /// The plugin name (the type without `wasm:`).
    pub plugin: &'a str,
    pub config: &'a [(String, String)],
}

/// The configured transforms, in order.
#[derive(Debug, Default)]
pub struct Chain {
    steps: Vec<Step>,
}

fn aliases(config: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    config.get(key).map(|v| split_list(v)).unwrap_or_default()
}

impl Chain {
    /// Builds the chain of a connector configuration; every problem is listed.
    pub fn from_config(config: &BTreeMap<String, String>) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut preds: BTreeMap<String, Arc<dyn Predicate>> = BTreeMap::new();
        for alias in aliases(config, "predicates") {
            let s = Settings::new(format!("predicates.{alias}."), config);
            let built = s.required("type").and_then(|class| {
                predicates::build(class, &s)?.ok_or_else(|| {
                    s.invalid("type", class, format!("Class {class} could not be found."))
                })
            });
            match built {
                Ok(p) => {
                    preds.insert(alias, Arc::from(p));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        let mut steps = Vec::new();
        for alias in aliases(config, "transforms") {
            let s = Settings::new(format!("transforms.{alias}."), config);
            let built = s.required("type").and_then(|class| {
                if let Some(plugin) = class.trim().strip_prefix(EXTERNAL_PREFIX) {
                    if plugin.is_empty() {
                        return Err(s.invalid("type", class, "name the plugin: wasm:<name>"));
                    }
                    let prefix = format!("transforms.{alias}.");
                    let config = config
                        .iter()
                        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?, v)))
                        .filter(|(k, _)| !["type", "predicate", "negate"].contains(k))
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect();
                    return Ok(Action::External {
                        plugin: plugin.to_string(),
                        config,
                    });
                }
                transforms::build(class, &s)?
                    .map(Action::Native)
                    .ok_or_else(|| {
                        s.invalid("type", class, format!("Class {class} could not be found."))
                    })
            });
            let negate = match s.get("negate").map(str::trim) {
                None => Ok(false),
                Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
                Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
                Some(v) => Err(s.invalid("negate", v, "Expected value to be either true or false")),
            };
            let condition = match s.get("predicate") {
                None => Ok(None),
                Some(p) => match preds.get(p.trim()) {
                    Some(pred) => negate.clone().map(|n| Some((Arc::clone(pred), n))),
                    None => Err(s.invalid(
                        "predicate",
                        p,
                        "the predicate is not listed in the connector's predicates",
                    )),
                },
            };
            if s.get("predicate").is_none()
                && let Ok(true) = negate
            {
                problems.push(
                    s.invalid("negate", "true", "negate needs a predicate")
                        .to_string(),
                );
            }
            match (built, condition, negate) {
                (Ok(action), Ok(condition), Ok(_)) => steps.push(Step {
                    alias,
                    action,
                    condition,
                }),
                (b, c, n) => {
                    for e in [b.err(), c.err(), n.err()].into_iter().flatten() {
                        problems.push(e.to_string());
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(Self { steps })
        } else {
            Err(problems)
        }
    }

    /// Whether the chain has no transform (records pass untouched and unparsed).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether some step is external (`wasm:`): then the chain runs segment by segment.
    pub fn has_external(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.action, Action::External { .. }))
    }

    /// The chain as runs of native steps and single external steps, in order.
    pub fn segments(&self) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, step) in self.steps.iter().enumerate() {
            if matches!(step.action, Action::External { .. }) {
                if start < i {
                    out.push(Segment::Native(start..i));
                }
                out.push(Segment::External(i));
                start = i + 1;
            }
        }
        if start < self.steps.len() {
            out.push(Segment::Native(start..self.steps.len()));
        }
        out
    }

    /// Step `i` when it is external.
    pub fn external(&self, i: usize) -> Option<ExternalStep<'_>> {
        let step = self.steps.get(i)?;
        match &step.action {
            Action::External { plugin, config } => Some(ExternalStep {
                alias: &step.alias,
                plugin,
                config,
            }),
            Action::Native(_) => None,
        }
    }

    /// Whether step `i` has a predicate (else it applies to every record).
    pub fn has_predicate(&self, i: usize) -> bool {
        self.steps.get(i).is_some_and(|s| s.condition.is_some())
    }

    /// Whether step `i`'s predicate (if any) lets it apply to `record`.
    pub fn applies_to(&self, i: usize, record: &Record) -> bool {
        match self.steps.get(i).and_then(|s| s.condition.as_ref()) {
            Some((predicate, negate)) => predicate.test(record) != *negate,
            None => true,
        }
    }

    /// Applies every transform in order; `Ok(None)` when one dropped the record. An error
    /// names the transform's alias.
    pub fn apply(&self, record: Record) -> Result<Option<Record>, SmtError> {
        self.apply_steps(0..self.steps.len(), record)
    }

    /// Applies the native steps in `range` in order (an external one among them is an
    /// error: the caller runs those).
    pub fn apply_steps(
        &self,
        range: std::ops::Range<usize>,
        mut record: Record,
    ) -> Result<Option<Record>, SmtError> {
        for step in self.steps.get(range).unwrap_or_default() {
            if let Some((predicate, negate)) = &step.condition
                && predicate.test(&record) == *negate
            {
                continue;
            }
            let transform = match &step.action {
                Action::Native(t) => t,
                Action::External { .. } => {
                    return Err(SmtError::Data(format!(
                        "transform {} is a WASM transform; it runs batch by batch in the worker",
                        step.alias
                    )));
                }
            };
            match transform.apply(record) {
                Ok(Some(r)) => record = r,
                Ok(None) => return Ok(None),
                Err(SmtError::Data(why)) => {
                    return Err(SmtError::Data(format!("transform {}: {why}", step.alias)));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Data;
    use serde_json::json;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn record(topic: &str, value: serde_json::Value) -> Record {
        Record {
            topic: topic.into(),
            partition: None,
            offset: None,
            key: None,
            value: Some(Data::plain(value)),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    #[test]
    fn wasm_steps_are_kept_for_the_caller_with_their_settings_and_predicate() {
        let chain = Chain::from_config(&config(&[
            ("predicates", "orders"),
            ("predicates.orders.type", "TopicNameMatches"),
            ("predicates.orders.pattern", "orders"),
            ("transforms", "a,w,b,c"),
            ("transforms.a.type", "HoistField$Value"),
            ("transforms.a.field", "x"),
            ("transforms.w.type", "wasm:my-plugin"),
            ("transforms.w.mode", "fast"),
            ("transforms.w.predicate", "orders"),
            ("transforms.b.type", "RegexRouter"),
            ("transforms.b.regex", "(.*)"),
            ("transforms.b.replacement", "$1-out"),
            ("transforms.c.type", "DropHeaders"),
            ("transforms.c.headers", "h"),
        ]))
        .expect("valid");
        assert!(chain.has_external());
        assert_eq!(
            chain.segments(),
            vec![
                Segment::Native(0..1),
                Segment::External(1),
                Segment::Native(2..4)
            ]
        );
        let step = chain.external(1).expect("external");
        assert_eq!((step.alias, step.plugin), ("w", "my-plugin"));
        assert_eq!(step.config, &[("mode".to_string(), "fast".to_string())]);
        assert!(chain.external(0).is_none());
        assert!(chain.has_predicate(1) && !chain.has_predicate(0));
        assert!(chain.applies_to(1, &record("orders", json!(1))));
        assert!(!chain.applies_to(1, &record("other", json!(1))));
        let out = chain
            .apply_steps(2..4, record("t", json!(1)))
            .expect("native steps")
            .expect("kept");
        assert_eq!(out.topic, "t-out");
        let err = chain
            .apply(record("orders", json!(1)))
            .expect_err("external in the way");
        assert!(
            err.to_string().contains("transform w is a WASM transform"),
            "{err}"
        );
        let err = Chain::from_config(&config(&[
            ("transforms", "w"),
            ("transforms.w.type", "wasm:"),
        ]))
        .expect_err("no plugin");
        assert!(err[0].contains("wasm:<name>"), "{err:?}");
    }

    #[test]
    fn regex_router_renames_whole_matches_only() {
        // Connect's documented example: prefix the topic.
        let chain = Chain::from_config(&config(&[
            ("transforms", "route"),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.route.regex", "(.*)-raw"),
            ("transforms.route.replacement", "clean-$1"),
        ]))
        .expect("valid");
        let out = chain
            .apply(record("orders-raw", json!(1)))
            .expect("ok")
            .expect("kept");
        assert_eq!(out.topic, "clean-orders");
        let out = chain
            .apply(record("orders-raw2", json!(1)))
            .expect("ok")
            .expect("kept");
        assert_eq!(out.topic, "orders-raw2", "a partial match leaves the topic");
    }

    #[test]
    fn hoist_field_wraps_values_and_schemas() {
        let chain = Chain::from_config(&config(&[
            ("transforms", "h"),
            ("transforms.h.type", "HoistField$Value"),
            ("transforms.h.field", "line"),
        ]))
        .expect("valid");
        let out = chain
            .apply(record("t", json!(42)))
            .expect("ok")
            .expect("kept");
        assert_eq!(out.value, Some(Data::plain(json!({"line": 42}))));
        let mut with_schema = record("t", json!(42));
        with_schema.value = Some(Data {
            payload: json!(42),
            schema: Some(json!({"type": "int32", "optional": false})),
        });
        let out = chain.apply(with_schema).expect("ok").expect("kept");
        let value = out.value.expect("value");
        assert_eq!(value.payload, json!({"line": 42}));
        assert_eq!(
            value.schema,
            Some(json!({"type": "struct", "optional": false,
                "fields": [{"type": "int32", "optional": false, "field": "line"}]}))
        );
    }

    #[test]
    fn predicates_select_records_and_negate_inverts() {
        let chain = Chain::from_config(&config(&[
            ("predicates", "isOrders"),
            (
                "predicates.isOrders.type",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ),
            ("predicates.isOrders.pattern", "orders.*"),
            ("transforms", "h,r"),
            ("transforms.h.type", "HoistField$Value"),
            ("transforms.h.field", "v"),
            ("transforms.h.predicate", "isOrders"),
            ("transforms.r.type", "RegexRouter"),
            ("transforms.r.regex", ".*"),
            ("transforms.r.replacement", "other"),
            ("transforms.r.predicate", "isOrders"),
            ("transforms.r.negate", "true"),
        ]))
        .expect("valid");
        let orders = chain
            .apply(record("orders-1", json!(1)))
            .expect("ok")
            .expect("kept");
        assert_eq!(
            (orders.topic.as_str(), orders.value),
            ("orders-1", Some(Data::plain(json!({"v": 1}))))
        );
        let users = chain
            .apply(record("users", json!(1)))
            .expect("ok")
            .expect("kept");
        assert_eq!(
            (users.topic.as_str(), users.value),
            ("other", Some(Data::plain(json!(1))))
        );
    }

    #[test]
    fn bad_configurations_name_the_alias_and_key() {
        let problems = Chain::from_config(&config(&[
            ("transforms", "a,b,c"),
            ("transforms.a.type", "com.example.Nope"),
            ("transforms.b.type", "RegexRouter"),
            ("transforms.b.regex", "(unclosed"),
            ("transforms.c.type", "HoistField$Key"),
            ("transforms.c.field", "k"),
            ("transforms.c.predicate", "missing"),
        ]))
        .expect_err("invalid");
        // One problem per alias: the first one its transform meets.
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(
            problems[0],
            "Invalid value com.example.Nope for configuration transforms.a.type: Class \
             com.example.Nope could not be found."
        );
        assert!(
            problems[1].starts_with("Invalid value (unclosed for configuration transforms.b.regex")
        );
        assert!(problems[2].contains("transforms.c.predicate"));
        let missing = Chain::from_config(&config(&[
            ("transforms", "b"),
            ("transforms.b.type", "RegexRouter"),
            ("transforms.b.regex", "x"),
        ]))
        .expect_err("invalid");
        assert_eq!(
            missing,
            [
                "Missing required configuration \"transforms.b.replacement\" which has no default value."
            ]
        );
        let empty = Chain::from_config(&config(&[("transforms", " ")])).expect("valid");
        assert!(empty.is_empty());
    }
}
