//! The `metrics` capability: counters, gauges and histograms that plugins record, kept per
//! engine and rendered in Prometheus text format (`culvert_plugin_<name>`, with `connector`
//! and `task` labels added by the host). Cardinality is capped per connector so a plugin
//! cannot exhaust the worker's memory with label values.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::bindings::culvert::connector::metrics::{Host, MetricKind};
use crate::state::StoreState;

/// Most series one connector's plugins may create.
const MAX_SERIES_PER_CONNECTOR: usize = 1000;
/// Most labels a plugin may put on one series.
const MAX_LABELS: usize = 8;
/// Histogram bucket upper bounds.
const BUCKETS: [f64; 20] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0,
    1000.0, 2500.0, 5000.0, 10000.0,
];
/// Prefix of every exported metric name.
const PREFIX: &str = "culvert_plugin_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Clone)]
enum Series {
    Value(f64),
    Histogram {
        buckets: [u64; BUCKETS.len()],
        sum: f64,
        count: u64,
    },
}

/// `(name, sorted labels)`.
type SeriesKey = (String, Vec<(String, String)>);

#[derive(Debug, Default)]
struct State {
    kinds: BTreeMap<String, Kind>,
    series: BTreeMap<SeriesKey, Series>,
    per_connector: BTreeMap<String, usize>,
}

/// Every metric the plugins of one engine recorded.
#[derive(Debug, Default)]
pub struct PluginMetrics {
    state: Mutex<State>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_labels(labels: &[(String, String)], extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

impl PluginMetrics {
    /// Records one value; `connector` and `task` become labels.
    pub(crate) fn record(
        &self,
        kind: Kind,
        name: &str,
        value: f64,
        labels: Vec<(String, String)>,
        connector: &str,
        task: Option<u32>,
    ) -> Result<(), String> {
        if !valid_name(name) {
            return Err(format!(
                "metric name {name:?} must match [a-zA-Z_][a-zA-Z0-9_]*"
            ));
        }
        if labels.len() > MAX_LABELS {
            return Err(format!(
                "metric {name} has {} labels; at most {MAX_LABELS}",
                labels.len()
            ));
        }
        for (k, _) in &labels {
            if !valid_name(k) || k == "connector" || k == "task" || k == "le" {
                return Err(format!(
                    "label {k:?} of metric {name} is invalid or reserved (connector, task, le)"
                ));
            }
        }
        if !value.is_finite() {
            return Err(format!("metric {name}: {value} is not a finite number"));
        }
        if kind == Kind::Counter && value < 0.0 {
            return Err(format!("counter {name} cannot decrease (got {value})"));
        }
        let mut labels = labels;
        labels.push(("connector".to_string(), connector.to_string()));
        if let Some(task) = task {
            labels.push(("task".to_string(), task.to_string()));
        }
        labels.sort();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.kinds.get(name) {
            Some(k) if *k != kind => {
                return Err(format!(
                    "metric {name} is a {}, not a {}",
                    k.as_str(),
                    kind.as_str()
                ));
            }
            _ => {}
        }
        let key = (name.to_string(), labels);
        if !state.series.contains_key(&key) {
            let count = state.per_connector.get(connector).copied().unwrap_or(0);
            if count >= MAX_SERIES_PER_CONNECTOR {
                return Err(format!(
                    "connector {connector} already has {MAX_SERIES_PER_CONNECTOR} metric series"
                ));
            }
            state.per_connector.insert(connector.to_string(), count + 1);
            state.kinds.insert(name.to_string(), kind);
        }
        let series = state.series.entry(key).or_insert_with(|| match kind {
            Kind::Histogram => Series::Histogram {
                buckets: [0; BUCKETS.len()],
                sum: 0.0,
                count: 0,
            },
            _ => Series::Value(0.0),
        });
        match (series, kind) {
            (Series::Value(v), Kind::Counter) => *v += value,
            (Series::Value(v), _) => *v = value,
            (
                Series::Histogram {
                    buckets,
                    sum,
                    count,
                },
                _,
            ) => {
                for (bucket, bound) in buckets.iter_mut().zip(BUCKETS) {
                    if value <= bound {
                        *bucket += 1;
                    }
                }
                *sum += value;
                *count += 1;
            }
        }
        Ok(())
    }

    /// Every series in Prometheus text exposition format.
    pub fn render_prometheus(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let mut last_name = "";
        for ((name, labels), series) in &state.series {
            let full = format!("{PREFIX}{name}");
            if name != last_name {
                let kind = state.kinds.get(name).map_or("untyped", |k| k.as_str());
                let _ = writeln!(out, "# TYPE {full} {kind}");
                last_name = name;
            }
            match series {
                Series::Value(v) => {
                    let _ = writeln!(out, "{full}{} {v}", render_labels(labels, None));
                }
                Series::Histogram {
                    buckets,
                    sum,
                    count,
                } => {
                    for (n, bound) in buckets.iter().zip(BUCKETS) {
                        let l = render_labels(labels, Some(("le", bound.to_string())));
                        let _ = writeln!(out, "{full}_bucket{l} {n}");
                    }
                    let l = render_labels(labels, Some(("le", "+Inf".to_string())));
                    let _ = writeln!(out, "{full}_bucket{l} {count}");
                    let l = render_labels(labels, None);
                    let _ = writeln!(out, "{full}_sum{l} {sum}");
                    let _ = writeln!(out, "{full}_count{l} {count}");
                }
            }
        }
        out
    }
}

impl Host for StoreState {
    async fn emit(
        &mut self,
        kind: MetricKind,
        name: String,
        value: f64,
        labels: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<(), String>> {
        let kind = match kind {
            MetricKind::Counter => Kind::Counter,
            MetricKind::Gauge => Kind::Gauge,
            MetricKind::Histogram => Kind::Histogram,
        };
        Ok(self.metrics.record(
            kind,
            &name,
            value,
            labels,
            &self.log.connector,
            self.log.task,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_render_with_connector_labels() {
        let m = PluginMetrics::default();
        let l = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        m.record(
            Kind::Counter,
            "rows_total",
            2.0,
            l("table", "a\"b"),
            "jdbc",
            Some(0),
        )
        .expect("counter");
        m.record(
            Kind::Counter,
            "rows_total",
            3.0,
            l("table", "a\"b"),
            "jdbc",
            Some(0),
        )
        .expect("counter");
        m.record(Kind::Gauge, "lag", 7.0, vec![], "jdbc", None)
            .expect("gauge");
        m.record(Kind::Gauge, "lag", 4.0, vec![], "jdbc", None)
            .expect("gauge");
        m.record(Kind::Histogram, "latency", 0.3, vec![], "jdbc", Some(1))
            .expect("histogram");
        let text = m.render_prometheus();
        assert!(
            text.contains("# TYPE culvert_plugin_rows_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "culvert_plugin_rows_total{connector=\"jdbc\",table=\"a\\\"b\",task=\"0\"} 5\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("culvert_plugin_lag{connector=\"jdbc\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "culvert_plugin_latency_bucket{connector=\"jdbc\",task=\"1\",le=\"0.25\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "culvert_plugin_latency_bucket{connector=\"jdbc\",task=\"1\",le=\"0.5\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("culvert_plugin_latency_count{connector=\"jdbc\",task=\"1\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn bad_records_are_refused_with_a_reason() {
        let m = PluginMetrics::default();
        let task_label = || vec![("task".to_string(), "7".to_string())];
        let cases = [
            (Kind::Counter, "9lives", 1.0, false, "must match"),
            (Kind::Counter, "x", -1.0, false, "cannot decrease"),
            (Kind::Gauge, "x", f64::NAN, false, "not a finite number"),
            (Kind::Gauge, "x", 1.0, true, "reserved"),
        ];
        for (kind, name, value, with_task_label, why) in cases {
            let labels = if with_task_label {
                task_label()
            } else {
                vec![]
            };
            let err = m
                .record(kind, name, value, labels, "c", None)
                .expect_err(name);
            assert!(err.contains(why), "{name}: {err}");
        }
        m.record(Kind::Counter, "n", 1.0, vec![], "c", None)
            .expect("ok");
        let err = m
            .record(Kind::Gauge, "n", 1.0, vec![], "c", None)
            .expect_err("kind");
        assert_eq!(err, "metric n is a counter, not a gauge");
        for i in 1..MAX_SERIES_PER_CONNECTOR {
            m.record(
                Kind::Gauge,
                "g",
                1.0,
                vec![("i".into(), i.to_string())],
                "c",
                None,
            )
            .expect("under the cap");
        }
        let err = m
            .record(
                Kind::Gauge,
                "g",
                1.0,
                vec![("i".into(), "over".into())],
                "c",
                None,
            )
            .expect_err("cap");
        assert!(err.contains("already has 1000 metric series"), "{err}");
        m.record(Kind::Gauge, "g", 1.0, vec![], "other", None)
            .expect("another connector has its own cap");
    }
}
