//! The runtime's metrics: Kafka Connect's worker, connector, task, source-task, sink-task
//! and task-error groups as Prometheus series named `culvert_<group>_<metric>`, labelled
//! with `connector` and `task`; plus each sink partition's consumer lag. Counters are
//! atomics the task loops bump; [`render`] writes the text exposition format.
//!
//! Names follow Prometheus conventions where Connect's would fail `promtool check
//! metrics`: counters end in `_total` (`total-record-failures` →
//! `task_error_record_failures_total`), times are seconds, and `*-count` gauges are plural
//! nouns (`connector-count` → `worker_connectors`, `partition-count` →
//! `sink_task_partitions`, `source-record-active-count` → `source_records_active`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One task's counters and gauges. Times are in microseconds.
#[derive(Debug, Default)]
pub(super) struct TaskMetrics {
    /// Whether the task is a sink (set when its plugin is known).
    pub(super) sink: std::sync::atomic::AtomicBool,
    // connector-task-metrics
    pub(super) batches: AtomicU64,
    pub(super) batch_records: AtomicU64,
    pub(super) batch_size_max: AtomicU64,
    pub(super) offset_commits: AtomicU64,
    pub(super) offset_commit_failures: AtomicU64,
    pub(super) offset_commit_time_us: AtomicU64,
    pub(super) offset_commit_time_max_us: AtomicU64,
    pub(super) restarts: AtomicU64,
    // source-task-metrics
    pub(super) source_polled: AtomicU64,
    pub(super) source_written: AtomicU64,
    pub(super) poll_time_us: AtomicU64,
    pub(super) poll_time_max_us: AtomicU64,
    pub(super) source_active: AtomicI64,
    // sink-task-metrics
    pub(super) sink_read: AtomicU64,
    pub(super) sink_sent: AtomicU64,
    pub(super) put_time_us: AtomicU64,
    pub(super) put_time_max_us: AtomicU64,
    pub(super) partitions: AtomicI64,
    pub(super) commit_skips: AtomicU64,
    /// Consumer lag per (topic, partition), from librdkafka's statistics.
    pub(super) lag: Mutex<BTreeMap<(String, i32), i64>>,
    // task-error-metrics
    pub(super) record_failures: AtomicU64,
    pub(super) records_skipped: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) errors_logged: AtomicU64,
    pub(super) dlq_requests: AtomicU64,
    pub(super) dlq_failures: AtomicU64,
    /// Records parked in a retry topic (`errors.retry.topics`).
    pub(super) retry_parked: AtomicU64,
    pub(super) last_error_ms: AtomicI64,
}

/// Adds `n` to a counter.
pub(super) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Records one timed operation of `us` microseconds in a total and a maximum.
pub(super) fn time(total: &AtomicU64, max: &AtomicU64, us: u64) {
    total.fetch_add(us, Ordering::Relaxed);
    max.fetch_max(us, Ordering::Relaxed);
}

impl TaskMetrics {
    /// Records a batch of `n` records (for `batch-size-max/avg`).
    pub(super) fn batch(&self, n: usize) {
        add(&self.batches, 1);
        add(&self.batch_records, n as u64);
        self.batch_size_max.fetch_max(n as u64, Ordering::Relaxed);
    }

    /// Records a failed record (and when it happened).
    pub(super) fn failure(&self) {
        add(&self.record_failures, 1);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.last_error_ms.store(now, Ordering::Relaxed);
    }
}

/// Worker-wide counters (`connect-worker-metrics`).
#[derive(Debug, Default)]
pub(super) struct WorkerMetrics {
    pub(super) task_startup_attempts: AtomicU64,
    pub(super) task_startup_successes: AtomicU64,
    pub(super) task_startup_failures: AtomicU64,
}

/// A metric family: name, help, type, and how to read it from a task.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    read: fn(&TaskMetrics) -> f64,
}

fn u(a: &AtomicU64) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

fn i(a: &AtomicI64) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

fn ratio(total: &AtomicU64, count: &AtomicU64) -> f64 {
    let c = count.load(Ordering::Relaxed);
    if c == 0 { 0.0 } else { u(total) / c as f64 }
}

const COMMON: &[Family] = &[
    Family {
        name: "task_batch_size_max",
        help: "Largest batch handled.",
        kind: "gauge",
        read: |m| u(&m.batch_size_max),
    },
    Family {
        name: "task_batch_size_avg",
        help: "Average batch size.",
        kind: "gauge",
        read: |m| ratio(&m.batch_records, &m.batches),
    },
    Family {
        name: "task_offset_commit_success_total",
        help: "Offset commits that succeeded.",
        kind: "counter",
        read: |m| u(&m.offset_commits),
    },
    Family {
        name: "task_offset_commit_failure_total",
        help: "Offset commits that failed.",
        kind: "counter",
        read: |m| u(&m.offset_commit_failures),
    },
    Family {
        name: "task_offset_commit_max_time_seconds",
        help: "Longest offset commit.",
        kind: "gauge",
        read: |m| u(&m.offset_commit_time_max_us) / 1e6,
    },
    Family {
        name: "task_offset_commit_avg_time_seconds",
        help: "Average offset commit time.",
        kind: "gauge",
        read: |m| ratio(&m.offset_commit_time_us, &m.offset_commits) / 1e6,
    },
    Family {
        name: "task_restarts_total",
        help: "Automatic restarts after failures.",
        kind: "counter",
        read: |m| u(&m.restarts),
    },
    Family {
        name: "task_error_record_failures_total",
        help: "Record processing failures.",
        kind: "counter",
        read: |m| u(&m.record_failures),
    },
    Family {
        name: "task_error_records_skipped_total",
        help: "Records skipped by errors.tolerance=all.",
        kind: "counter",
        read: |m| u(&m.records_skipped),
    },
    Family {
        name: "task_error_retries_total",
        help: "Retries of retriable failures.",
        kind: "counter",
        read: |m| u(&m.retries),
    },
    Family {
        name: "task_error_errors_logged_total",
        help: "Errors logged (errors.log.enable).",
        kind: "counter",
        read: |m| u(&m.errors_logged),
    },
    Family {
        name: "task_error_deadletterqueue_produce_requests_total",
        help: "Records written to the dead letter queue.",
        kind: "counter",
        read: |m| u(&m.dlq_requests),
    },
    Family {
        name: "task_error_deadletterqueue_produce_failures_total",
        help: "Failed writes to the dead letter queue.",
        kind: "counter",
        read: |m| u(&m.dlq_failures),
    },
    Family {
        name: "task_error_retry_topic_produce_requests_total",
        help: "Records parked in a retry topic (errors.retry.topics).",
        kind: "counter",
        read: |m| u(&m.retry_parked),
    },
    Family {
        name: "task_error_last_error_timestamp_seconds",
        help: "When the last record failed (0: never).",
        kind: "gauge",
        read: |m| i(&m.last_error_ms) / 1e3,
    },
];

const SOURCE: &[Family] = &[
    Family {
        name: "source_task_source_record_poll_total",
        help: "Records polled from the plugin (before transforms).",
        kind: "counter",
        read: |m| u(&m.source_polled),
    },
    Family {
        name: "source_task_source_record_write_total",
        help: "Records written to Kafka and acked.",
        kind: "counter",
        read: |m| u(&m.source_written),
    },
    Family {
        name: "source_task_poll_batch_max_time_seconds",
        help: "Longest poll.",
        kind: "gauge",
        read: |m| u(&m.poll_time_max_us) / 1e6,
    },
    Family {
        name: "source_task_poll_batch_avg_time_seconds",
        help: "Average poll time.",
        kind: "gauge",
        read: |m| ratio(&m.poll_time_us, &m.batches) / 1e6,
    },
    Family {
        name: "source_task_source_records_active",
        help: "Records sent and not yet acked.",
        kind: "gauge",
        read: |m| i(&m.source_active),
    },
];

const SINK: &[Family] = &[
    Family {
        name: "sink_task_sink_record_read_total",
        help: "Records read from Kafka (before transforms).",
        kind: "counter",
        read: |m| u(&m.sink_read),
    },
    Family {
        name: "sink_task_sink_record_send_total",
        help: "Records handed to put.",
        kind: "counter",
        read: |m| u(&m.sink_sent),
    },
    Family {
        name: "sink_task_put_batch_max_time_seconds",
        help: "Longest put.",
        kind: "gauge",
        read: |m| u(&m.put_time_max_us) / 1e6,
    },
    Family {
        name: "sink_task_put_batch_avg_time_seconds",
        help: "Average put time.",
        kind: "gauge",
        read: |m| ratio(&m.put_time_us, &m.batches) / 1e6,
    },
    Family {
        name: "sink_task_partitions",
        help: "Partitions assigned to the task.",
        kind: "gauge",
        read: |m| i(&m.partitions),
    },
    Family {
        name: "sink_task_offset_commit_completion_total",
        help: "Consumer offset commits made.",
        kind: "counter",
        read: |m| u(&m.offset_commits),
    },
    Family {
        name: "sink_task_offset_commit_skip_total",
        help: "Flushes that had nothing durable to commit.",
        kind: "counter",
        read: |m| u(&m.commit_skips),
    },
];

/// Escapes a label value for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A running task as the exposition sees it.
#[derive(Debug)]
pub(super) struct TaskView<'a> {
    pub(super) connector: &'a str,
    pub(super) task: u32,
    pub(super) sink: bool,
    pub(super) metrics: &'a TaskMetrics,
}

/// Writes the worker's and every task's metrics. `states` counts tasks per (connector,
/// state) and `connectors` lists (name, type, class, state).
pub(super) fn render(
    worker: &WorkerMetrics,
    tasks: &[TaskView<'_>],
    states: &BTreeMap<(String, &'static str), u64>,
    connectors: &[(String, &'static str, String, &'static str)],
) -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP culvert_{name} {help}\n# TYPE culvert_{name} gauge\nculvert_{name} {value}"
        );
    };
    gauge(
        &mut out,
        "worker_connectors",
        "Connectors on this worker.",
        connectors.len() as f64,
    );
    gauge(
        &mut out,
        "worker_tasks",
        "Tasks running on this worker.",
        tasks.len() as f64,
    );
    for (name, help, counter) in [
        (
            "worker_task_startup_attempts_total",
            "Task starts attempted.",
            &worker.task_startup_attempts,
        ),
        (
            "worker_task_startup_success_total",
            "Task starts that succeeded.",
            &worker.task_startup_successes,
        ),
        (
            "worker_task_startup_failure_total",
            "Task starts that failed.",
            &worker.task_startup_failures,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP culvert_{name} {help}\n# TYPE culvert_{name} counter\nculvert_{name} {}",
            u(counter)
        );
    }
    let _ = writeln!(
        out,
        "# HELP culvert_worker_connector_tasks Tasks per connector and state.\n# TYPE culvert_worker_connector_tasks gauge"
    );
    for ((connector, state), n) in states {
        let _ = writeln!(
            out,
            "culvert_worker_connector_tasks{{connector=\"{}\",state=\"{state}\"}} {n}",
            escape(connector)
        );
    }
    let _ = writeln!(
        out,
        "# HELP culvert_connector_info A connector's type, class and state (always 1).\n# TYPE culvert_connector_info gauge"
    );
    for (name, kind, class, state) in connectors {
        let _ = writeln!(
            out,
            "culvert_connector_info{{connector=\"{}\",type=\"{kind}\",class=\"{}\",state=\"{state}\"}} 1",
            escape(name),
            escape(class)
        );
    }
    let families = COMMON
        .iter()
        .map(|f| (f, None))
        .chain(SOURCE.iter().map(|f| (f, Some(false))))
        .chain(SINK.iter().map(|f| (f, Some(true))));
    for (family, only) in families {
        let _ = writeln!(
            out,
            "# HELP culvert_{} {}\n# TYPE culvert_{} {}",
            family.name, family.help, family.name, family.kind
        );
        for t in tasks
            .iter()
            .filter(|t| only.is_none_or(|sink| sink == t.sink))
        {
            let _ = writeln!(
                out,
                "culvert_{}{{connector=\"{}\",task=\"{}\"}} {}",
                family.name,
                escape(t.connector),
                t.task,
                (family.read)(t.metrics)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP culvert_sink_task_record_lag Consumer lag per partition (records).\n# TYPE culvert_sink_task_record_lag gauge"
    );
    for t in tasks.iter().filter(|t| t.sink) {
        let lag = t.metrics.lag.lock().unwrap_or_else(|p| p.into_inner());
        for ((topic, partition), n) in lag.iter() {
            let _ = writeln!(
                out,
                "culvert_sink_task_record_lag{{connector=\"{}\",task=\"{}\",topic=\"{}\",partition=\"{partition}\"}} {n}",
                escape(t.connector),
                t.task,
                escape(topic)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_once_with_escaped_labels() {
        let m = TaskMetrics::default();
        add(&m.sink_read, 5);
        m.batch(3);
        m.batch(1);
        m.lag.lock().expect("lock").insert(("t\"x".into(), 2), 7);
        let tasks = [TaskView {
            connector: "a\\b",
            task: 0,
            sink: true,
            metrics: &m,
        }];
        let out = render(&WorkerMetrics::default(), &tasks, &BTreeMap::new(), &[]);
        assert!(out.contains(
            "culvert_sink_task_sink_record_read_total{connector=\"a\\\\b\",task=\"0\"} 5\n"
        ));
        assert!(out.contains("culvert_task_batch_size_avg{connector=\"a\\\\b\",task=\"0\"} 2\n"));
        assert!(out.contains("topic=\"t\\\"x\",partition=\"2\"} 7\n"));
        assert!(
            !out.contains("source_record_poll_total{"),
            "no source series for a sink"
        );
        assert_eq!(
            out.matches("# TYPE culvert_task_restarts_total counter")
                .count(),
            1
        );
    }
}
