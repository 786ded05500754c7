//! `sql-probe`: a source that exercises the host's `sql` capability for the host's tests.
//!
//! At start it opens `url` (as `user`/`password` when set) and runs `setup.1`, `setup.2`,
//! ... in order. Its first poll runs `query` with `params` and emits one record describing
//! the result columns (`describe` when `describe=true`, else the query's own), then one
//! record per row; later polls emit nothing. Values render as `name=kind:value` joined by
//! `|`, so tests can assert the exact conversions. `max.rows` (default 1000) and
//! `timeout.ms` apply to the query. Any SQL error fails the poll with the
//! error's message (retriable when the SDK says so).
//!
//! `params` is a `;`-separated list of `kind:value` (`int:5`, `text:abc`, `null:`,
//! `decimal:1.50`, `double:2.5`, `bool:true`, `bytes:<hex>`, `date:<days>`, `time:<micros>`,
//! `timestamp:<micros>`).

use culvert_connector_sdk::sql::{Connection, SqlError, Statement, Value};
use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Connector, Plugin, PluginError, PluginSpec, Position,
    SourceBatch, SourceBatchBuilder, SourceConnector, SourceTask,
};

/// The connector half.
pub struct SqlProbe;

impl Plugin for SqlProbe {
    fn spec() -> PluginSpec {
        PluginSpec {
            name: "sql-probe".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test guest that runs SQL through the host".to_string(),
            config_def: vec![
                ConfigKeyBuilder::new("url", ConfigType::String, "Database URL.")
                    .required()
                    .build(),
                ConfigKeyBuilder::new("query", ConfigType::String, "Query run at the first poll.")
                    .required()
                    .build(),
            ],
        }
    }
}

impl Connector for SqlProbe {
    fn task_configs(cfg: &Config, _max_tasks: u32) -> Result<Vec<Config>, String> {
        Ok(vec![cfg.clone()])
    }
}

impl SourceConnector for SqlProbe {
    type Task = ProbeTask;
}

/// One task.
pub struct ProbeTask {
    cfg: Config,
    db: Option<Connection>,
    done: bool,
}

fn fail(e: SqlError) -> PluginError {
    if e.is_retriable() {
        PluginError::Retriable(e.message())
    } else {
        PluginError::Fatal(e.message())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad hex {s:?}"))
        })
        .collect()
}

fn parse_param(p: &str) -> Result<Value, String> {
    let (kind, v) = p
        .split_once(':')
        .ok_or_else(|| format!("bad param {p:?}"))?;
    let num = |v: &str| v.parse::<i64>().map_err(|e| format!("{p:?}: {e}"));
    Ok(match kind {
        "null" => Value::Null,
        "bool" => Value::Boolean(v == "true"),
        "int" => Value::Int(num(v)?),
        "double" => Value::Double(v.parse().map_err(|e| format!("{p:?}: {e}"))?),
        "decimal" => Value::Decimal(v.to_string()),
        "text" => Value::Text(v.to_string()),
        "bytes" => Value::Bytes(unhex(v)?),
        "date" => Value::Date(num(v)? as i32),
        "time" => Value::Time(num(v)?),
        "timestamp" => Value::Timestamp(num(v)?),
        other => return Err(format!("unknown param kind {other:?}")),
    })
}

fn render(v: &Value) -> String {
    match v {
        Value::Null => "null:".to_string(),
        Value::Boolean(b) => format!("bool:{b}"),
        Value::Int(n) => format!("int:{n}"),
        Value::Double(f) => format!("double:{f}"),
        Value::Decimal(s) => format!("decimal:{s}"),
        Value::Text(s) => format!("text:{s}"),
        Value::Bytes(b) => format!("bytes:{}", hex(b)),
        Value::Date(d) => format!("date:{d}"),
        Value::Time(t) => format!("time:{t}"),
        Value::Timestamp(t) => format!("timestamp:{t}"),
    }
}

impl ProbeTask {
    fn run_query(&self, db: &Connection) -> Result<Vec<String>, PluginError> {
        let query = self.cfg.get("query").unwrap_or_default();
        let params = match self.cfg.get("params") {
            Some(p) if !p.is_empty() => p
                .split(';')
                .map(parse_param)
                .collect::<Result<Vec<_>, _>>()
                .map_err(PluginError::Fatal)?,
            _ => Vec::new(),
        };
        let max_rows = self
            .cfg
            .get("max.rows")
            .and_then(|m| m.parse().ok())
            .unwrap_or(1000);
        let mut stmt = Statement::new(query, &params);
        if let Some(ms) = self.cfg.get("timeout.ms").and_then(|t| t.parse().ok()) {
            stmt = stmt.timeout_ms(ms);
        }
        let rows = db.query_statement(&stmt, max_rows).map_err(fail)?;
        let header = if self.cfg.get("describe") == Some("true") {
            let cols = db.describe(query).map_err(fail)?;
            cols.iter()
                .map(|c| {
                    let null = match c.nullable {
                        Some(true) => "null",
                        Some(false) => "notnull",
                        None => "unknown",
                    };
                    format!("{}:{}:{null}", c.name, c.type_name)
                })
                .collect::<Vec<_>>()
        } else {
            rows.columns
                .iter()
                .map(|c| format!("{}:{}", c.name, c.type_name))
                .collect()
        };
        let mut out = vec![format!(
            "columns={} truncated={}",
            header.join(","),
            rows.truncated
        )];
        for row in &rows.rows {
            let cells: Vec<String> = rows
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| format!("{}={}", c.name, render(v)))
                .collect();
            out.push(cells.join("|"));
        }
        Ok(out)
    }
}

impl SourceTask for ProbeTask {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        Ok(Self {
            cfg,
            db: None,
            done: false,
        })
    }

    fn start(&mut self, _committed: Vec<Position>) -> Result<(), PluginError> {
        let url = self.cfg.get("url").unwrap_or_default();
        let db = Connection::open_as(url, self.cfg.get("user"), self.cfg.get("password"))
            .map_err(fail)?;
        for i in 1.. {
            let Some(stmt) = self.cfg.get(&format!("setup.{i}")) else {
                break;
            };
            db.execute(stmt, &[]).map_err(fail)?;
        }
        self.db = Some(db);
        Ok(())
    }

    fn poll(&mut self, _max_records: u32) -> Result<Option<SourceBatch>, PluginError> {
        if self.done {
            return Ok(None);
        }
        let db = self
            .db
            .as_ref()
            .ok_or_else(|| PluginError::Fatal("poll before start".into()))?;
        let lines = self.run_query(db)?;
        self.done = true;
        let mut batch = SourceBatchBuilder::new();
        for line in lines {
            batch
                .push("rows", None, Some(line.as_bytes()), &[], None)
                .map_err(PluginError::Fatal)?;
        }
        Ok(Some(batch.build()))
    }
}

culvert_connector_sdk::export_source_connector!(SqlProbe);
