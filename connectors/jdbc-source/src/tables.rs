//! Which tables a task reads: discovery through the database's catalog, the include and
//! exclude lists, and the split of tables across tasks.
//!
//! A table's fully qualified name is what Connect's offset protocol 1 stores: `schema.table`
//! on PostgreSQL, `database.table` on MySQL/MariaDB, `table` on SQLite. List entries match
//! either that name or the bare table name.

use culvert_connector_sdk::sql::{Connection, Dialect, Value};

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TableId {
    /// Schema (PostgreSQL) or database (MySQL); none on SQLite.
    pub(crate) schema: Option<String>,
    pub(crate) name: String,
}

impl TableId {
    /// The unquoted fully qualified name.
    pub(crate) fn fqn(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The quoted name for SQL.
    pub(crate) fn quoted(&self, dialect: Dialect) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", dialect.quote(s), dialect.quote(&self.name)),
            None => dialect.quote(&self.name),
        }
    }

    /// Whether a list entry names this table (by its qualified or bare name).
    pub(crate) fn matches(&self, entry: &str) -> bool {
        entry == self.fqn() || entry == self.name
    }
}

/// Every base table the connection sees (in `schema_pattern`'s schema when set), sorted.
pub(crate) fn discover(
    db: &Connection,
    schema_pattern: Option<&str>,
) -> Result<Vec<TableId>, String> {
    let (sql, params): (&str, Vec<Value>) = match db.dialect() {
        Dialect::Postgres => (
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' \
             AND table_schema NOT IN ('pg_catalog', 'information_schema') \
             AND ($1::text IS NULL OR table_schema LIKE $1::text) ORDER BY 1, 2",
            vec![schema_pattern.into()],
        ),
        Dialect::Mysql => (
            "SELECT CAST(table_schema AS CHAR), CAST(table_name AS CHAR) \
             FROM information_schema.tables WHERE table_type = 'BASE TABLE' \
             AND table_schema = COALESCE(?, DATABASE()) ORDER BY 1, 2",
            vec![schema_pattern.into()],
        ),
        Dialect::Sqlite => (
            "SELECT NULL, name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY 2",
            Vec::new(),
        ),
    };
    let rows = db
        .query(sql, &params, 100_000)
        .map_err(|e| format!("listing the database's tables failed: {}", e.message()))?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|row| {
            let mut cells = row.into_iter();
            let schema = text_of(cells.next()?);
            let name = text_of(cells.next()?)?;
            Some(TableId { schema, name })
        })
        .collect())
}

/// A catalog value as text (MySQL may hand names over as binary strings).
fn text_of(value: Value) -> Option<String> {
    match value {
        Value::Text(s) => Some(s),
        Value::Bytes(b) => String::from_utf8(b).ok(),
        _ => None,
    }
}

/// Keeps the tables the include list names (all when it is empty) minus those the exclude
/// list names.
pub(crate) fn select(tables: Vec<TableId>, include: &[String], exclude: &[String]) -> Vec<TableId> {
    tables
        .into_iter()
        .filter(|t| include.is_empty() || include.iter().any(|e| t.matches(e)))
        .filter(|t| !exclude.iter().any(|e| t.matches(e)))
        .collect()
}

/// Whether task `index` of `count` owns `table` when tasks discover tables themselves: a
/// stable hash of the qualified name, so every task agrees without talking to the others.
pub(crate) fn owned_by(table: &TableId, index: u32, count: u32) -> bool {
    // FNV-1a: stable across builds and platforms.
    let hash = table.fqn().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash % u64::from(count.max(1)) == u64::from(index)
}
