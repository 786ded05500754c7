//! One table (or the configured query) being polled: the query its mode needs, its offset in
//! Connect's source-offset format, and the rows read but not yet handed out.
//!
//! Offsets: `{"incrementing": N}`, `{"timestamp": ms, "timestamp_nanos": ns}` or both, as
//! Connect's JDBC source writes them (`timestamp_nanos` is the nanosecond part of the second,
//! as `java.sql.Timestamp` keeps it). Partitions: `{"protocol":"1","table":"<fqn>"}` for a
//! table (`{"table":"<name>"}`, protocol 0, is read too) and `{"query":"query"}` for a query.
//!
//! No row is skipped because of how a batch ends: rows come in the mode's order, limited to
//! `batch.max.rows`; in `timestamp` mode a batch never ends inside a group of rows sharing a
//! timestamp (the group is read whole), and a checkpoint is only placed where resuming from
//! it re-reads nothing and misses nothing. Rows committed late (after rows with later
//! timestamps were read) are only safe when `timestamp.delay.interval.ms` covers how long
//! a transaction can stay open: only rows older than the database clock minus that delay
//! are read.

use std::collections::VecDeque;

use culvert_connector_sdk::sql::{Connection, Dialect, RowSet, Value};
use culvert_connector_sdk::{PluginError, Position};
use serde_json::json;

use crate::row::RowWriter;
use crate::settings::{Mode, Settings, mode_name};
use crate::tables::TableId;

/// What is polled.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Table(TableId),
    Query(String),
}

/// A position within a table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Offset {
    pub(crate) incrementing: Option<i64>,
    /// Microseconds since the epoch.
    pub(crate) timestamp_us: Option<i64>,
}

impl Offset {
    fn to_json(self) -> String {
        let mut map = serde_json::Map::new();
        if let Some(n) = self.incrementing {
            map.insert("incrementing".into(), json!(n));
        }
        if let Some(us) = self.timestamp_us {
            let ms = us.div_euclid(1000);
            let nanos = us.rem_euclid(1_000_000) * 1000;
            map.insert("timestamp".into(), json!(ms));
            map.insert("timestamp_nanos".into(), json!(nanos));
        }
        serde_json::Value::Object(map).to_string()
    }

    fn parse(text: &str) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("offset {text} is not JSON: {e}"))?;
        let incrementing = v.get("incrementing").and_then(serde_json::Value::as_i64);
        let timestamp_us = v
            .get("timestamp")
            .and_then(serde_json::Value::as_i64)
            .map(|ms| {
                let nanos = v
                    .get("timestamp_nanos")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(ms.rem_euclid(1000) * 1_000_000);
                ms.div_euclid(1000) * 1_000_000 + nanos.div_euclid(1000)
            });
        Ok(Self {
            incrementing,
            timestamp_us,
        })
    }
}

/// A row ready to send, with the offset that is safe to commit once it is written.
#[derive(Debug)]
struct Pending {
    row: Vec<Value>,
    checkpoint: Option<Offset>,
}

/// The rows of one result set waiting to be sent, and the writer that renders them
/// (straight into the batch, when they are sent).
#[derive(Debug)]
struct PendingRows {
    writer: RowWriter,
    rows: VecDeque<Pending>,
}

/// One polled table or query.
#[derive(Debug)]
pub(crate) struct Querier {
    source: Source,
    topic: String,
    partition: String,
    offset: Offset,
    /// When the next query may run (ms, guest clock).
    pub(crate) next_poll_ms: i64,
    pending: VecDeque<PendingRows>,
    /// Column nullability from `describe`, once checked.
    nullable: Option<Vec<(String, Option<bool>)>>,
}

fn sql_failed(what: &str, e: &culvert_connector_sdk::sql::SqlError) -> PluginError {
    let message = format!("{what}: {}", e.message());
    if e.is_retriable() {
        PluginError::Retriable(message)
    } else {
        PluginError::Fatal(message)
    }
}

impl Querier {
    /// A querier for `source` starting at its committed position among `committed`.
    pub(crate) fn new(source: Source, settings: &Settings, committed: &[Position]) -> Self {
        let (topic, partition, legacy) = match &source {
            Source::Table(t) => (
                format!("{}{}", settings.topic_prefix, t.name),
                json!({"protocol": "1", "table": t.fqn()}),
                Some(json!({"table": t.name})),
            ),
            Source::Query(_) => (
                settings.topic_prefix.clone(),
                json!({"query": "query"}),
                None,
            ),
        };
        let find = |wanted: &serde_json::Value| {
            committed.iter().rev().find(|p| {
                serde_json::from_str::<serde_json::Value>(&p.partition)
                    .ok()
                    .as_ref()
                    == Some(wanted)
            })
        };
        let found = find(&partition).or_else(|| legacy.as_ref().and_then(find));
        let mut offset = found
            .and_then(|p| Offset::parse(&p.offset).ok())
            .unwrap_or_default();
        if settings.mode.uses_incrementing() && offset.incrementing.is_none() {
            offset.incrementing = Some(-1);
        }
        if settings.mode.uses_timestamp() && offset.timestamp_us.is_none() {
            offset.timestamp_us = Some(settings.timestamp_initial_ms.unwrap_or(0) * 1000);
        }
        Self {
            source,
            topic,
            partition: partition.to_string(),
            offset,
            next_poll_ms: 0,
            pending: VecDeque::new(),
            nullable: None,
        }
    }

    /// The source this querier reads.
    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    /// Whether rows read earlier are still waiting to be sent.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    fn name(&self) -> String {
        match &self.source {
            Source::Table(t) => format!("table {}", t.fqn()),
            Source::Query(_) => "the query".to_string(),
        }
    }

    fn select(&self, dialect: Dialect) -> String {
        match &self.source {
            Source::Table(t) => format!("SELECT * FROM {}", t.quoted(dialect)),
            Source::Query(q) => q.clone(),
        }
    }

    /// The rows to filter on: the table, or the query as a derived table.
    fn filterable(&self, dialect: Dialect) -> String {
        match &self.source {
            Source::Table(t) => format!("SELECT * FROM {}", t.quoted(dialect)),
            Source::Query(q) => format!("SELECT * FROM ({q}) culvert_query"),
        }
    }

    /// Describes the columns once: nullability for the schema, and the check that the
    /// mode's columns cannot be NULL (`validate.non.null`).
    fn describe(&mut self, db: &Connection, settings: &Settings) -> Result<(), PluginError> {
        if self.nullable.is_some() {
            return Ok(());
        }
        let columns = db
            .describe(&self.select(db.dialect()))
            .map_err(|e| sql_failed(&format!("reading the columns of {}", self.name()), &e))?;
        let nullable_of = |name: &str| {
            columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.nullable)
        };
        let mut wanted: Vec<&String> = Vec::new();
        if settings.mode.uses_incrementing() {
            wanted.extend(settings.incrementing_column.as_ref());
        }
        if settings.mode.uses_timestamp() {
            wanted.extend(&settings.timestamp_columns);
        }
        for col in &wanted {
            if nullable_of(col).is_none() {
                return Err(PluginError::Fatal(format!(
                    "{} has no column {col:?} (mode {} reads it)",
                    self.name(),
                    mode_name(settings.mode)
                )));
            }
        }
        if settings.validate_non_null {
            let nullable = |col: &String| nullable_of(col).flatten() == Some(true);
            let inc_nullable = settings.mode.uses_incrementing()
                && settings.incrementing_column.as_ref().is_some_and(nullable);
            let ts_nullable =
                settings.mode.uses_timestamp() && settings.timestamp_columns.iter().all(nullable);
            if inc_nullable || ts_nullable {
                return Err(PluginError::Fatal(format!(
                    "cannot read {} incrementally: its {} column may be NULL, so rows could be \
                     missed; declare it NOT NULL or set validate.non.null=false",
                    self.name(),
                    if inc_nullable {
                        "incrementing"
                    } else {
                        "timestamp"
                    }
                )));
            }
        }
        self.nullable = Some(columns.into_iter().map(|c| (c.name, c.nullable)).collect());
        Ok(())
    }

    /// Runs the mode's query and queues its rows; true when more rows were left behind
    /// (poll again at once).
    pub(crate) fn query(
        &mut self,
        db: &Connection,
        settings: &Settings,
    ) -> Result<bool, PluginError> {
        self.describe(db, settings)?;
        let dialect = db.dialect();
        let q = |c: &str| dialect.quote(c);
        let inc = settings.incrementing_column.as_deref().map(q);
        let ts = match settings.timestamp_columns.as_slice() {
            [one] => q(one),
            many => format!(
                "COALESCE({})",
                many.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
            ),
        };
        let p = |n: usize| dialect.placeholder(n);
        let from = self.filterable(dialect);
        let upper = || -> Result<Value, PluginError> {
            let now = db_now_us(db)?;
            Ok(Value::Timestamp(now - settings.delay_ms * 1000))
        };
        let last_ts = Value::Timestamp(self.offset.timestamp_us.unwrap_or(0));
        let last_inc = Value::Int(self.offset.incrementing.unwrap_or(-1));
        let inc = inc.unwrap_or_default();
        let (sql, params, limit) = match settings.mode {
            Mode::Bulk => (self.select(dialect), Vec::new(), settings.bulk_max_rows),
            Mode::Incrementing => (
                format!("{from} WHERE {inc} > {} ORDER BY {inc} ASC", p(1)),
                vec![last_inc],
                settings.batch_max_rows,
            ),
            Mode::Timestamp => (
                format!(
                    "{from} WHERE {ts} > {} AND {ts} < {} ORDER BY {ts} ASC",
                    p(1),
                    p(2)
                ),
                vec![last_ts, upper()?],
                settings.batch_max_rows,
            ),
            Mode::TimestampIncrementing => (
                format!(
                    "{from} WHERE (({ts} = {} AND {inc} > {}) OR {ts} > {}) AND {ts} < {} \
                     ORDER BY {ts} ASC, {inc} ASC",
                    p(1),
                    p(2),
                    p(3),
                    p(4)
                ),
                vec![last_ts.clone(), last_inc, last_ts, upper()?],
                settings.batch_max_rows,
            ),
        };
        // The database stops after the rows asked for (one more tells the batch was cut):
        // without it, every poll would have the server sort and send the rest of the table.
        let sql = format!("{sql} LIMIT {}", u64::from(limit) + 1);
        let mut rows = db
            .query(&sql, &params, limit)
            .map_err(|e| sql_failed(&format!("polling {}", self.name()), &e))?;
        if settings.mode == Mode::Bulk && rows.truncated {
            return Err(PluginError::Fatal(format!(
                "{} has more than bulk.max.rows ({}) rows; bulk mode reads a table whole, so \
                 raise bulk.max.rows or use an incremental mode",
                self.name(),
                settings.bulk_max_rows
            )));
        }
        let more = rows.truncated;
        if settings.mode == Mode::Timestamp && rows.truncated {
            rows = self.whole_timestamp_groups(db, settings, rows, &from, &ts)?;
        }
        self.queue(rows, settings)?;
        Ok(more)
    }

    /// A truncated `timestamp`-mode batch without its last, possibly partial, group of rows
    /// sharing a timestamp — or, when the batch is one group, that whole group.
    fn whole_timestamp_groups(
        &self,
        db: &Connection,
        settings: &Settings,
        mut rows: RowSet,
        from: &str,
        ts: &str,
    ) -> Result<RowSet, PluginError> {
        let cols = self.column_indexes(&rows, settings)?;
        let last = rows.rows.last().and_then(|r| row_timestamp(r, &cols.1));
        let first = rows.rows.first().and_then(|r| row_timestamp(r, &cols.1));
        if first != last {
            while rows.rows.last().and_then(|r| row_timestamp(r, &cols.1)) == last {
                rows.rows.pop();
            }
            return Ok(rows);
        }
        let Some(group_ts) = last else {
            return Ok(rows);
        };
        let sql = format!("{from} WHERE {ts} = {}", db.dialect().placeholder(1));
        let group = db
            .query(&sql, &[Value::Timestamp(group_ts)], settings.bulk_max_rows)
            .map_err(|e| sql_failed(&format!("polling {}", self.name()), &e))?;
        if group.truncated {
            return Err(PluginError::Fatal(format!(
                "{} has more than bulk.max.rows ({}) rows with the same timestamp; timestamp \
                 mode must read them together, so raise bulk.max.rows or use \
                 timestamp+incrementing mode",
                self.name(),
                settings.bulk_max_rows
            )));
        }
        Ok(group)
    }

    /// Positions of the incrementing column and the timestamp columns in `rows`.
    fn column_indexes(
        &self,
        rows: &RowSet,
        settings: &Settings,
    ) -> Result<(Option<usize>, Vec<usize>), PluginError> {
        let find = |name: &str| {
            rows.column_index(name).ok_or_else(|| {
                PluginError::Fatal(format!("{} returned no column {name:?}", self.name()))
            })
        };
        let inc = if settings.mode.uses_incrementing() {
            settings
                .incrementing_column
                .as_deref()
                .map(find)
                .transpose()?
        } else {
            None
        };
        let ts = if settings.mode.uses_timestamp() {
            settings
                .timestamp_columns
                .iter()
                .map(|c| find(c))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        Ok((inc, ts))
    }

    /// Renders `rows` and queues them with their checkpoints.
    fn queue(&mut self, rows: RowSet, settings: &Settings) -> Result<(), PluginError> {
        if rows.rows.is_empty() {
            return Ok(());
        }
        let (inc_col, ts_cols) = self.column_indexes(&rows, settings)?;
        let nullable: Vec<Option<bool>> = rows
            .columns
            .iter()
            .map(|c| {
                self.nullable
                    .as_ref()
                    .and_then(|n| n.iter().find(|(name, _)| *name == c.name))
                    .and_then(|(_, n)| *n)
            })
            .collect();
        let name = match &self.source {
            Source::Table(t) => Some(t.name.as_str()),
            Source::Query(_) => None,
        };
        let writer = RowWriter::new(&rows.columns, &nullable, &rows.rows, name, settings.numeric);
        let count = rows.rows.len();
        let mut offset = self.offset;
        let mut timestamps = Vec::with_capacity(count);
        let mut offsets = Vec::with_capacity(count);
        for row in &rows.rows {
            if let Some(i) = inc_col {
                let n = match row.get(i) {
                    Some(Value::Int(n)) => *n,
                    Some(Value::Decimal(t)) => t.parse::<i64>().map_err(|_| {
                        PluginError::Fatal(format!(
                            "{}: incrementing value {t} is not a 64-bit integer",
                            self.name()
                        ))
                    })?,
                    other => {
                        return Err(PluginError::Fatal(format!(
                            "{}: the incrementing column holds {other:?}, not an integer",
                            self.name()
                        )));
                    }
                };
                offset.incrementing = Some(n);
            }
            if !ts_cols.is_empty() {
                let ts = row_timestamp(row, &ts_cols).ok_or_else(|| {
                    PluginError::Fatal(format!(
                        "{}: a row's timestamp column is NULL or not a timestamp",
                        self.name()
                    ))
                })?;
                offset.timestamp_us = Some(ts);
                timestamps.push(ts);
            }
            offsets.push(offset);
        }
        let mut queued = VecDeque::with_capacity(count);
        for (i, row) in rows.rows.into_iter().enumerate() {
            // In timestamp mode, resuming after row i skips rows with its timestamp: only
            // the last row of a timestamp group is a safe checkpoint.
            let safe = settings.mode != Mode::Timestamp
                || i + 1 == count
                || timestamps.get(i) != timestamps.get(i + 1);
            let checkpoint = (settings.mode != Mode::Bulk && safe).then_some(offsets[i]);
            queued.push_back(Pending { row, checkpoint });
        }
        self.pending.push_back(PendingRows {
            writer,
            rows: queued,
        });
        self.offset = offset;
        Ok(())
    }

    /// Moves up to `max` queued rows into `batch`; returns how many.
    pub(crate) fn drain_into(
        &mut self,
        batch: &mut culvert_connector_sdk::SourceBatchBuilder,
        max: usize,
    ) -> Result<usize, PluginError> {
        let mut checkpoint = None;
        let mut n = 0;
        if let Some(set) = self.pending.front() {
            let rows = set.rows.len().min(max);
            batch.reserve(rows, rows * set.writer.row_size_hint());
        }
        while n < max {
            let Some(set) = self.pending.front_mut() else {
                break;
            };
            let Some(pending) = set.rows.pop_front() else {
                self.pending.pop_front();
                continue;
            };
            let writer = &set.writer;
            batch
                .push_writing(
                    &self.topic,
                    None,
                    |out| writer.write(&pending.row, out),
                    None,
                )
                .map_err(PluginError::Fatal)?;
            checkpoint = pending.checkpoint.or(checkpoint);
            n += 1;
        }
        if self.pending.front().is_some_and(|set| set.rows.is_empty()) {
            self.pending.pop_front();
        }
        if let Some(offset) = checkpoint {
            batch.checkpoint(Position {
                partition: self.partition.clone(),
                offset: offset.to_json(),
            });
        }
        Ok(n)
    }
}

/// The first non-null timestamp among `cols` (COALESCE order), in microseconds.
fn row_timestamp(row: &[Value], cols: &[usize]) -> Option<i64> {
    cols.iter().find_map(|i| match row.get(*i) {
        Some(Value::Timestamp(us)) => Some(*us),
        _ => None,
    })
}

/// The database's clock, in microseconds since the epoch (Connect compares against the
/// database's time, not the worker's, so clock skew cannot skip rows).
fn db_now_us(db: &Connection) -> Result<i64, PluginError> {
    let sql = match db.dialect() {
        Dialect::Postgres => "SELECT CURRENT_TIMESTAMP",
        Dialect::Mysql => "SELECT CURRENT_TIMESTAMP(6)",
        Dialect::Sqlite => "SELECT CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
    };
    let rows = db
        .query(sql, &[], 1)
        .map_err(|e| sql_failed("reading the database's clock", &e))?;
    match rows.rows.first().and_then(|r| r.first()) {
        Some(Value::Timestamp(us)) | Some(Value::Int(us)) => Ok(*us),
        other => Err(PluginError::Fatal(format!(
            "the database's clock came back as {other:?}, not a timestamp"
        ))),
    }
}
