//! SQL databases — PostgreSQL, MySQL/MariaDB, SQLite — through the host's `sql` capability.
//! The host pools connections per database, enforces the connector's
//! `plugin.allow.sql.urls` grant (a denied open returns [`SqlError::Denied`]), runs every
//! statement prepared and with a timeout, and converts values both ways ([`Value`]).
//!
//! ```ignore
//! let db = Connection::open_as(&url, Some(&user), Some(&password))?;
//! let rows = db.query("SELECT id, name FROM customers WHERE id > $1 ORDER BY id", &[Value::Int(last)], 500)?;
//! ```

use crate::bindings::source::culvert::connector::sql as wit;

pub use wit::{Column, ColumnInfo, DatabaseError, Dialect, RowSet, SqlError, Statement, Value};

/// A connection lent by the host's pool until dropped. Statements run in order on it, so
/// `BEGIN` ... `COMMIT` form a transaction.
#[derive(Debug)]
pub struct Connection {
    inner: wit::Connection,
}

impl Connection {
    /// Opens `url` (`postgres://host:port/db`, `mysql://`, `mariadb://`,
    /// `sqlite:///path.db`), with the credentials the URL carries.
    pub fn open(url: &str) -> Result<Self, SqlError> {
        Self::open_as(url, None, None)
    }

    /// Opens `url` as `user` with `password` (each replaces the URL's when given).
    pub fn open_as(
        url: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, SqlError> {
        wit::Connection::open(url, user, password).map(|inner| Self { inner })
    }

    /// The connection's dialect (placeholders and identifier quoting).
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    /// Runs a query with the default timeout; returns at most `max_rows` rows.
    pub fn query(&self, sql: &str, params: &[Value], max_rows: u32) -> Result<RowSet, SqlError> {
        self.query_statement(&Statement::new(sql, params), max_rows)
    }

    /// Runs a query given as a [`Statement`] (to set its timeout).
    pub fn query_statement(&self, stmt: &Statement, max_rows: u32) -> Result<RowSet, SqlError> {
        self.inner.query(stmt, max_rows)
    }

    /// Runs a statement that returns no rows; returns how many rows it affected.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        self.execute_statement(&Statement::new(sql, params))
    }

    /// Runs a [`Statement`] that returns no rows.
    pub fn execute_statement(&self, stmt: &Statement) -> Result<u64, SqlError> {
        self.inner.execute(stmt)
    }

    /// The columns `sql` would return, with their nullability, without running it.
    pub fn describe(&self, sql: &str) -> Result<Vec<ColumnInfo>, SqlError> {
        self.inner.describe(sql)
    }
}

impl Statement {
    /// A statement with the host's default timeout (30 s).
    pub fn new(sql: &str, params: &[Value]) -> Self {
        Self {
            sql: sql.to_string(),
            params: params.to_vec(),
            timeout_ms: None,
        }
    }

    /// Sets the statement's timeout (at most 300 000 ms).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

impl Dialect {
    /// The placeholder for parameter `n` (1-based): `$n` for PostgreSQL, `?` otherwise.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Mysql | Dialect::Sqlite => "?".to_string(),
        }
    }

    /// `name` quoted as an identifier (embedded quote characters doubled).
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }
}

impl RowSet {
    /// The position of the column named `name` (exact match first, then ignoring case).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
    }
}

impl SqlError {
    /// The error as one readable sentence.
    pub fn message(&self) -> String {
        match self {
            SqlError::Denied(why) => format!("database denied: {why}"),
            SqlError::Invalid(why) => format!("invalid request: {why}"),
            SqlError::Connect(why) => format!("connection failed: {why}"),
            SqlError::Database(e) => match &e.code {
                Some(code) => format!("database error {code}: {}", e.message),
                None => format!("database error: {}", e.message),
            },
            SqlError::Timeout => "the statement timed out".to_string(),
            SqlError::Unsupported(why) => why.clone(),
        }
    }

    /// Whether trying again later may succeed (connection trouble, timeouts, serialization
    /// failures and deadlocks), as opposed to a statement or grant that will keep failing.
    pub fn is_retriable(&self) -> bool {
        match self {
            SqlError::Connect(_) | SqlError::Timeout => true,
            SqlError::Database(e) => matches!(e.code.as_deref(), Some("40001" | "40P01")),
            SqlError::Denied(_) | SqlError::Invalid(_) | SqlError::Unsupported(_) => false,
        }
    }
}

impl Value {
    /// The value as an integer, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The value's text (text and decimals), if it has some.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Decimal(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
