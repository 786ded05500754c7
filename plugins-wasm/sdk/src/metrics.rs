//! Metrics through the host's `metrics` capability, exported by the worker in Prometheus
//! format as `culvert_plugin_<name>` with `connector` and `task` labels added. A refused
//! record (bad name, negative counter increment, kind change, too many series) returns the
//! reason and records nothing.

use crate::bindings::source::culvert::connector::metrics::{self as wit, MetricKind};

fn emit(kind: MetricKind, name: &str, value: f64, labels: &[(&str, &str)]) -> Result<(), String> {
    let labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    wit::emit(kind, name, value, &labels)
}

/// Adds `by` (not negative) to counter `name`.
pub fn counter(name: &str, by: f64, labels: &[(&str, &str)]) -> Result<(), String> {
    emit(MetricKind::Counter, name, by, labels)
}

/// Sets gauge `name` to `value`.
pub fn gauge(name: &str, value: f64, labels: &[(&str, &str)]) -> Result<(), String> {
    emit(MetricKind::Gauge, name, value, labels)
}

/// Observes `value` in histogram `name`.
pub fn histogram(name: &str, value: f64, labels: &[(&str, &str)]) -> Result<(), String> {
    emit(MetricKind::Histogram, name, value, labels)
}
