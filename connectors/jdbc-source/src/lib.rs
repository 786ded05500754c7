//! `jdbc-source`: a built-in source that polls PostgreSQL, MySQL/MariaDB or SQLite tables
//! into topics, configured and checkpointed like Confluent's JDBC source connector (alias
//! `io.confluent.connect.jdbc.JdbcSourceConnector`), through the host's `sql` capability.
//!
//! - [`settings`]: the configuration keys, parsed once.
//! - [`tables`]: table discovery, include/exclude lists, the split across tasks.
//! - [`querier`]: one table's queries per mode, its offset, and its queued rows.
//! - [`row`]: rows as Connect JSON envelopes with a schema derived from the columns.
//! - [`task`]: the task that ties them together.
//!
//! `task-configs` runs without database access, so it splits an include list's entries
//! round-robin across tasks; without a list every task discovers the tables and takes those
//! whose name hashes to it.

mod querier;
mod row;
mod settings;
mod tables;
mod task;

use culvert_connector_sdk::{
    Config, ConfigIssue, ConfigKeyBuilder, ConfigType, Connector, Importance, Plugin, PluginSpec,
    SourceConnector,
};
use settings::*;

/// The connector half.
pub struct JdbcSource;

fn key(name: &str, ty: ConfigType, doc: &str, group: &str) -> ConfigKeyBuilder {
    ConfigKeyBuilder::new(name, ty, doc).group(group)
}

impl Plugin for JdbcSource {
    fn spec() -> PluginSpec {
        let db = "Database";
        let mode = "Mode";
        let conn = "Connector";
        PluginSpec {
            name: "jdbc-source".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Polls PostgreSQL, MySQL/MariaDB or SQLite tables (or a query) into \
                          topics, in bulk or incrementally by an id and/or timestamp column"
                .to_string(),
            config_def: vec![
                key(
                    CONNECTION_URL,
                    ConfigType::String,
                    "JDBC URL (jdbc:postgresql://host:5432/db, jdbc:mysql://, jdbc:mariadb://, \
                     jdbc:sqlite:/path.db) or a native one (postgres://, mysql://, sqlite:). A \
                     JDBC URL here grants the connector that database.",
                    db,
                )
                .required()
                .importance(Importance::High)
                .build(),
                key(CONNECTION_USER, ConfigType::String, "Database user.", db)
                    .importance(Importance::High)
                    .build(),
                key(
                    CONNECTION_PASSWORD,
                    ConfigType::Password,
                    "Database password.",
                    db,
                )
                .importance(Importance::High)
                .build(),
                key(
                    WHITELIST,
                    ConfigType::List,
                    "Tables to read (name or schema.name); empty reads every table.",
                    db,
                )
                .default_value("")
                .build(),
                key(
                    INCLUDE_LIST,
                    ConfigType::List,
                    "Same as table.whitelist.",
                    db,
                )
                .default_value("")
                .build(),
                key(BLACKLIST, ConfigType::List, "Tables not to read.", db)
                    .default_value("")
                    .build(),
                key(
                    EXCLUDE_LIST,
                    ConfigType::List,
                    "Same as table.blacklist.",
                    db,
                )
                .default_value("")
                .build(),
                key(
                    SCHEMA_PATTERN,
                    ConfigType::String,
                    "Only tables in schemas matching this LIKE pattern (the database on MySQL).",
                    db,
                )
                .build(),
                key(
                    TABLE_POLL_INTERVAL,
                    ConfigType::Long,
                    "How often tasks look for new or dropped tables, in ms.",
                    db,
                )
                .default_value("60000")
                .importance(Importance::Low)
                .build(),
                key(
                    MODE,
                    ConfigType::String,
                    "bulk (whole table every poll), incrementing (rows with a larger id), \
                     timestamp (rows with a later timestamp), or timestamp+incrementing.",
                    mode,
                )
                .required()
                .importance(Importance::High)
                .build(),
                key(
                    INCREMENTING_COLUMN,
                    ConfigType::String,
                    "Strictly increasing integer column (incrementing modes).",
                    mode,
                )
                .build(),
                key(
                    TIMESTAMP_COLUMN,
                    ConfigType::List,
                    "Timestamp column(s), read as COALESCE in order (timestamp modes).",
                    mode,
                )
                .build(),
                key(
                    TIMESTAMP_INITIAL,
                    ConfigType::Long,
                    "Where timestamp modes start without an offset: ms since the epoch, or -1 \
                     for now. Unset starts at the epoch.",
                    mode,
                )
                .build(),
                key(
                    VALIDATE_NON_NULL,
                    ConfigType::Boolean,
                    "Refuse to start when the mode's columns may be NULL.",
                    mode,
                )
                .default_value("true")
                .build(),
                key(
                    QUERY,
                    ConfigType::String,
                    "Read this query instead of tables (one task; filters are applied around it).",
                    mode,
                )
                .build(),
                key(
                    NUMERIC_MAPPING,
                    ConfigType::String,
                    "none or precision_only: NUMERIC as exact Decimal; best_fit: int64 when \
                     whole, else float64.",
                    mode,
                )
                .default_value("none")
                .importance(Importance::Low)
                .build(),
                key(
                    TOPIC_PREFIX,
                    ConfigType::String,
                    "Prefix of the topic names (topic = prefix + table); in query mode the topic.",
                    conn,
                )
                .required()
                .importance(Importance::High)
                .build(),
                key(
                    POLL_INTERVAL,
                    ConfigType::Int,
                    "How often each table is polled for new rows, in ms.",
                    conn,
                )
                .default_value("5000")
                .build(),
                key(
                    BATCH_MAX_ROWS,
                    ConfigType::Int,
                    "Most rows read by one query.",
                    conn,
                )
                .default_value("100")
                .importance(Importance::Low)
                .build(),
                key(
                    DELAY,
                    ConfigType::Long,
                    "Rows are read only once their timestamp is this many ms older than the \
                     database clock: set it above your longest transaction so rows that commit \
                     late are not skipped.",
                    conn,
                )
                .default_value("0")
                .build(),
                key(
                    BULK_MAX_ROWS,
                    ConfigType::Long,
                    "Most rows bulk mode (or one timestamp group) reads at once; more is an \
                     error rather than a silent cut.",
                    conn,
                )
                .default_value("1000000")
                .importance(Importance::Low)
                .build(),
            ],
        }
    }

    fn validate(cfg: &Config) -> Vec<ConfigIssue> {
        culvert_connector_sdk::validate_with(&Self::spec().config_def, cfg, Settings::parse(cfg))
    }
}

impl Connector for JdbcSource {
    fn task_configs(cfg: &Config, max_tasks: u32) -> Result<Vec<Config>, String> {
        let settings =
            Settings::parse(cfg).map_err(|i| culvert_connector_sdk::describe_issues(&i))?;
        let max_tasks = max_tasks.max(1);
        if settings.query.is_some() {
            return Ok(vec![cfg.clone()]);
        }
        if !settings.include.is_empty() {
            let count = (settings.include.len() as u32).min(max_tasks) as usize;
            let mut shares: Vec<Vec<&String>> = vec![Vec::new(); count];
            for (i, entry) in settings.include.iter().enumerate() {
                shares[i % count].push(entry);
            }
            return shares
                .into_iter()
                .map(|share| {
                    serde_json::to_string(&share)
                        .map(|list| cfg.with(TASK_TABLES, list))
                        .map_err(|e| e.to_string())
                })
                .collect();
        }
        Ok((0..max_tasks)
            .map(|i| {
                cfg.with(TASK_INDEX, i.to_string())
                    .with(TASK_COUNT, max_tasks.to_string())
            })
            .collect())
    }
}

impl SourceConnector for JdbcSource {
    type Task = task::JdbcSourceTask;
}

culvert_connector_sdk::export_source_connector!(JdbcSource);
