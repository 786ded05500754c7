//! The connector's configuration: Kafka Connect JDBC source keys, parsed and checked once.
//! Every problem is reported against the key that causes it.

use culvert_connector_sdk::{Config, ConfigIssue};

pub(crate) const CONNECTION_URL: &str = "connection.url";
pub(crate) const CONNECTION_USER: &str = "connection.user";
pub(crate) const CONNECTION_PASSWORD: &str = "connection.password";
pub(crate) const MODE: &str = "mode";
pub(crate) const INCREMENTING_COLUMN: &str = "incrementing.column.name";
pub(crate) const TIMESTAMP_COLUMN: &str = "timestamp.column.name";
pub(crate) const TIMESTAMP_INITIAL: &str = "timestamp.initial";
pub(crate) const WHITELIST: &str = "table.whitelist";
pub(crate) const INCLUDE_LIST: &str = "table.include.list";
pub(crate) const BLACKLIST: &str = "table.blacklist";
pub(crate) const EXCLUDE_LIST: &str = "table.exclude.list";
pub(crate) const SCHEMA_PATTERN: &str = "schema.pattern";
pub(crate) const QUERY: &str = "query";
pub(crate) const TOPIC_PREFIX: &str = "topic.prefix";
pub(crate) const POLL_INTERVAL: &str = "poll.interval.ms";
pub(crate) const BATCH_MAX_ROWS: &str = "batch.max.rows";
pub(crate) const DELAY: &str = "timestamp.delay.interval.ms";
pub(crate) const VALIDATE_NON_NULL: &str = "validate.non.null";
pub(crate) const NUMERIC_MAPPING: &str = "numeric.mapping";
pub(crate) const TABLE_POLL_INTERVAL: &str = "table.poll.interval.ms";
pub(crate) const BULK_MAX_ROWS: &str = "bulk.max.rows";

/// Task-only keys, written by `task-configs`.
pub(crate) const TASK_TABLES: &str = "culvert.jdbc.tables";
pub(crate) const TASK_INDEX: &str = "culvert.jdbc.task.index";
pub(crate) const TASK_COUNT: &str = "culvert.jdbc.task.count";

/// How rows are found, as Connect's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    pub(crate) fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    pub(crate) fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

/// `numeric.mapping`: how NUMERIC/DECIMAL columns are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumericMapping {
    /// Connect's Decimal logical type (exact), for `none` and `precision_only`.
    Decimal,
    /// Whole numbers as int64, others as float64 (`best_fit`).
    BestFit,
}

/// Everything a task needs, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) url: String,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) mode: Mode,
    pub(crate) incrementing_column: Option<String>,
    /// One or more columns; several are read as `COALESCE(a, b, ...)`, as Connect does.
    pub(crate) timestamp_columns: Vec<String>,
    /// Starting timestamp (ms) when a table has no offset; `None` = the epoch.
    pub(crate) timestamp_initial_ms: Option<i64>,
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) schema_pattern: Option<String>,
    pub(crate) query: Option<String>,
    pub(crate) topic_prefix: String,
    pub(crate) poll_interval_ms: u64,
    pub(crate) batch_max_rows: u32,
    pub(crate) delay_ms: i64,
    pub(crate) validate_non_null: bool,
    pub(crate) numeric: NumericMapping,
    pub(crate) table_poll_interval_ms: u64,
    pub(crate) bulk_max_rows: u32,
}

fn issue(key: &str, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        key: key.to_string(),
        message: message.into(),
    }
}

/// A comma-separated list, trimmed, without empty entries.
pub(crate) fn list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Settings {
    /// Parses `cfg`; every problem found, by key.
    pub(crate) fn parse(cfg: &Config) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let text = |key: &str| cfg.get(key).map(str::trim).filter(|v| !v.is_empty());
        let mut number =
            |key: &str, default: i64, min: i64| cfg.int_at_least(key, default, min, &mut issues);
        let poll_interval_ms = number(POLL_INTERVAL, 5000, 1) as u64;
        let batch_max_rows = number(BATCH_MAX_ROWS, 100, 1).min(i64::from(u32::MAX)) as u32;
        let delay_ms = number(DELAY, 0, 0);
        let table_poll_interval_ms = number(TABLE_POLL_INTERVAL, 60_000, 1) as u64;
        let bulk_max_rows = number(BULK_MAX_ROWS, 1_000_000, 1).min(i64::from(u32::MAX)) as u32;
        let timestamp_initial_ms = match cfg.parse::<i64>(TIMESTAMP_INITIAL) {
            Ok(Some(-1)) => Some(now_ms()),
            Ok(Some(v)) if v >= 0 => Some(v),
            Ok(Some(v)) => {
                issues.push(issue(
                    TIMESTAMP_INITIAL,
                    format!("{TIMESTAMP_INITIAL} must be -1 (now) or milliseconds since the epoch, got {v}"),
                ));
                None
            }
            Ok(None) => None,
            Err(e) => {
                issues.push(e);
                None
            }
        };

        let url = text(CONNECTION_URL).map(str::to_string);
        if url.is_none() {
            issues.push(issue(
                CONNECTION_URL,
                "Missing required configuration \"connection.url\" which has no default value.",
            ));
        }
        let mode = match text(MODE) {
            Some("bulk") => Some(Mode::Bulk),
            Some("incrementing") => Some(Mode::Incrementing),
            Some("timestamp") => Some(Mode::Timestamp),
            Some("timestamp+incrementing") => Some(Mode::TimestampIncrementing),
            other => {
                issues.push(issue(
                    MODE,
                    format!(
                        "Invalid value {} for configuration mode: must be one of bulk, \
                         incrementing, timestamp, timestamp+incrementing",
                        other.unwrap_or("(unset)")
                    ),
                ));
                None
            }
        };
        let incrementing_column = text(INCREMENTING_COLUMN).map(str::to_string);
        let timestamp_columns = list(cfg.get(TIMESTAMP_COLUMN));
        if let Some(mode) = mode {
            if mode.uses_incrementing() && incrementing_column.is_none() {
                issues.push(issue(
                    INCREMENTING_COLUMN,
                    format!("mode {} needs {INCREMENTING_COLUMN}", mode_name(mode)),
                ));
            }
            if mode.uses_timestamp() && timestamp_columns.is_empty() {
                issues.push(issue(
                    TIMESTAMP_COLUMN,
                    format!("mode {} needs {TIMESTAMP_COLUMN}", mode_name(mode)),
                ));
            }
        }
        let mut include = list(cfg.get(WHITELIST));
        include.extend(list(cfg.get(INCLUDE_LIST)));
        let mut exclude = list(cfg.get(BLACKLIST));
        exclude.extend(list(cfg.get(EXCLUDE_LIST)));
        if !include.is_empty() && !exclude.is_empty() {
            issues.push(issue(
                BLACKLIST,
                "table.whitelist/table.include.list and table.blacklist/table.exclude.list \
                 cannot both be set",
            ));
        }
        let query = text(QUERY).map(str::to_string);
        if query.is_some() && !(include.is_empty() && exclude.is_empty()) {
            issues.push(issue(
                QUERY,
                "query mode reads one query; remove table.whitelist/table.blacklist",
            ));
        }
        let topic_prefix = cfg.get(TOPIC_PREFIX).unwrap_or_default().trim().to_string();
        if cfg.get(TOPIC_PREFIX).is_none() {
            issues.push(issue(
                TOPIC_PREFIX,
                "Missing required configuration \"topic.prefix\" which has no default value.",
            ));
        } else if query.is_some() && topic_prefix.is_empty() {
            issues.push(issue(
                TOPIC_PREFIX,
                "in query mode topic.prefix is the whole topic name and must not be empty",
            ));
        }
        let validate_non_null = match text(VALIDATE_NON_NULL) {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                issues.push(issue(
                    VALIDATE_NON_NULL,
                    format!("Invalid value {v} for configuration {VALIDATE_NON_NULL}: expected true or false"),
                ));
                true
            }
        };
        let numeric = match text(NUMERIC_MAPPING) {
            None | Some("none") | Some("precision_only") => NumericMapping::Decimal,
            Some("best_fit") | Some("best_fit_eager_double") => NumericMapping::BestFit,
            Some(v) => {
                issues.push(issue(
                    NUMERIC_MAPPING,
                    format!(
                        "Invalid value {v} for configuration {NUMERIC_MAPPING}: must be one of \
                         none, precision_only, best_fit, best_fit_eager_double"
                    ),
                ));
                NumericMapping::Decimal
            }
        };
        match (url, mode) {
            (Some(url), Some(mode)) if issues.is_empty() => Ok(Self {
                url,
                user: cfg.get(CONNECTION_USER).map(str::to_string),
                password: cfg.get(CONNECTION_PASSWORD).map(str::to_string),
                mode,
                incrementing_column,
                timestamp_columns,
                timestamp_initial_ms,
                include,
                exclude,
                schema_pattern: text(SCHEMA_PATTERN).map(str::to_string),
                query,
                topic_prefix,
                poll_interval_ms,
                batch_max_rows,
                delay_ms,
                validate_non_null,
                numeric,
                table_poll_interval_ms,
                bulk_max_rows,
            }),
            _ => Err(issues),
        }
    }
}

pub(crate) fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Bulk => "bulk",
        Mode::Incrementing => "incrementing",
        Mode::Timestamp => "timestamp",
        Mode::TimestampIncrementing => "timestamp+incrementing",
    }
}

/// The guest's wall clock in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
