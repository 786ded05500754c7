//! The `sql` capability: PostgreSQL, MySQL/MariaDB and SQLite through sqlx, for plugins.
//!
//! A plugin opens a `connection` by URL; the host checks the URL against the connector's
//! [`SqlGrant`](crate::grants::SqlGrant), then lends it a connection from the engine-wide
//! pool for that database ([`SqlPools`]) until the plugin drops the handle. Statements run
//! prepared (cached per connection) with a timeout; results are capped in rows and bytes. A
//! connection whose statement timed out or whose link broke is closed, never returned to
//! the pool half-used.

mod bind;
mod decode;
pub(crate) mod jdbc_url;
mod pools;

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use sqlx::{Column as _, Executor as _, Statement as _, TypeInfo as _};
use wasmtime::component::Resource;

use crate::bindings::culvert::connector::sql::{
    Column, ColumnInfo, DatabaseError, Dialect, Host, HostConnection, RowSet, SqlError, Statement,
    Value,
};
use crate::grants::{ALLOW_SQL_URLS, DatabaseAddress, DbKind, SqlGrant};
use crate::state::StoreState;
use pools::Conn;
pub use pools::SqlPools;

/// Timeout of a statement that names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest timeout a plugin may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest result handed to a plugin in one call.
const MAX_RESULT_BYTES: usize = 64 << 20;

/// What one store may open, and the pools it opens from.
#[derive(Debug)]
pub(crate) struct SqlAccess {
    pub(crate) grant: SqlGrant,
    pub(crate) pools: Arc<SqlPools>,
}

/// The host side of a plugin's `connection` handle.
#[allow(unreachable_pub)] // public because the generated bindings re-export it
pub struct SqlConnection {
    conn: Option<Conn>,
    address: DatabaseAddress,
    /// Why the connection was closed, once it was.
    closed: Option<&'static str>,
}

impl std::fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnection")
            .field("address", &self.address.to_string())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

fn db_error(e: sqlx::Error) -> SqlError {
    match e {
        sqlx::Error::Database(d) => SqlError::Database(DatabaseError {
            code: d.code().map(|c| c.into_owned()),
            message: d.message().to_string(),
        }),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => SqlError::Connect(e.to_string()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            SqlError::Unsupported(e.to_string())
        }
        other => SqlError::Invalid(other.to_string()),
    }
}

fn timeout_of(ms: Option<u32>) -> Result<Duration, SqlError> {
    match ms {
        None => Ok(DEFAULT_TIMEOUT),
        Some(0) => Err(SqlError::Invalid("timeout-ms must be positive".into())),
        Some(ms) if Duration::from_millis(ms.into()) > MAX_TIMEOUT => {
            Err(SqlError::Invalid(format!(
                "timeout-ms {ms} is above the maximum of {}",
                MAX_TIMEOUT.as_millis()
            )))
        }
        Some(ms) => Ok(Duration::from_millis(ms.into())),
    }
}

/// Reads up to `max_rows` rows of `stream`, converting each column with `read`.
async fn collect<R>(
    mut stream: BoxStream<'_, Result<R, sqlx::Error>>,
    max_rows: u32,
    width: usize,
    read: impl Fn(&R, usize) -> Result<Value, String>,
) -> Result<(Vec<Vec<Value>>, bool), SqlError> {
    let mut rows = Vec::with_capacity((max_rows as usize).min(4096));
    let mut bytes = 0usize;
    while let Some(row) = stream.try_next().await.map_err(db_error)? {
        if rows.len() >= max_rows as usize {
            return Ok((rows, true));
        }
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            let value = read(&row, i).map_err(SqlError::Unsupported)?;
            bytes += decode::size(&value);
            values.push(value);
        }
        if bytes > MAX_RESULT_BYTES {
            return Err(SqlError::Unsupported(format!(
                "the result is larger than {MAX_RESULT_BYTES} bytes after {} rows; ask for \
                 fewer rows",
                rows.len()
            )));
        }
        rows.push(values);
    }
    Ok((rows, false))
}

fn columns<C: sqlx::Column>(cols: &[C]) -> Vec<Column> {
    cols.iter()
        .map(|c| Column {
            name: c.name().to_string(),
            type_name: c.type_info().name().to_string(),
        })
        .collect()
}

/// PostgreSQL caches prepared statements by their text, with the parameter types of the
/// first preparation; a prefix naming the types keeps differently typed uses apart.
fn pg_text(sql: &str, params: &[Value]) -> String {
    if params.is_empty() {
        sql.to_string()
    } else {
        format!("/* culvert:{} */ {sql}", bind::pg_signature(params))
    }
}

async fn query_on(conn: &mut Conn, stmt: Statement, max_rows: u32) -> Result<RowSet, SqlError> {
    let (columns, (rows, truncated)) = match conn {
        Conn::Pg(c) => {
            let text = pg_text(&stmt.sql, &stmt.params);
            let (args, types) = bind::pg(stmt.params).map_err(SqlError::Invalid)?;
            let prepared = c.prepare_with(&text, &types).await.map_err(db_error)?;
            let cols = columns(prepared.columns());
            let kinds: Vec<decode::PgKind> = prepared
                .columns()
                .iter()
                .map(|c| decode::pg_kind(c.type_info()))
                .collect();
            let rows = prepared.query_with(args).fetch(&mut **c);
            let read = |row: &sqlx::postgres::PgRow, i: usize| decode::pg(row, i, kinds[i]);
            (cols, collect(rows, max_rows, kinds.len(), read).await?)
        }
        Conn::My(c) => {
            let args = bind::mysql(stmt.params).map_err(SqlError::Invalid)?;
            let prepared = c.prepare(&stmt.sql).await.map_err(db_error)?;
            let cols = columns(prepared.columns());
            let width = cols.len();
            let rows = prepared.query_with(args).fetch(&mut **c);
            (cols, collect(rows, max_rows, width, decode::mysql).await?)
        }
        Conn::Lite(c) => {
            let args = bind::sqlite(stmt.params).map_err(SqlError::Invalid)?;
            let prepared = c.prepare(&stmt.sql).await.map_err(db_error)?;
            let cols = columns(prepared.columns());
            let width = cols.len();
            let rows = prepared.query_with(args).fetch(&mut **c);
            (cols, collect(rows, max_rows, width, decode::sqlite).await?)
        }
    };
    Ok(RowSet {
        columns,
        rows,
        truncated,
    })
}

async fn execute_on(conn: &mut Conn, stmt: Statement) -> Result<u64, SqlError> {
    Ok(match conn {
        Conn::Pg(c) => {
            let text = pg_text(&stmt.sql, &stmt.params);
            let (args, types) = bind::pg(stmt.params).map_err(SqlError::Invalid)?;
            let prepared = c.prepare_with(&text, &types).await.map_err(db_error)?;
            let done = prepared.query_with(args).execute(&mut **c).await;
            done.map_err(db_error)?.rows_affected()
        }
        Conn::My(c) => {
            let args = bind::mysql(stmt.params).map_err(SqlError::Invalid)?;
            let done = sqlx::query_with(&stmt.sql, args).execute(&mut **c).await;
            done.map_err(db_error)?.rows_affected()
        }
        Conn::Lite(c) => {
            let args = bind::sqlite(stmt.params).map_err(SqlError::Invalid)?;
            let done = sqlx::query_with(&stmt.sql, args).execute(&mut **c).await;
            done.map_err(db_error)?.rows_affected()
        }
    })
}

async fn describe_on(conn: &mut Conn, sql: &str) -> Result<Vec<ColumnInfo>, SqlError> {
    macro_rules! describe {
        ($c:expr) => {{
            let d = $c.describe(sql).await.map_err(db_error)?;
            d.columns()
                .iter()
                .enumerate()
                .map(|(i, c)| ColumnInfo {
                    name: c.name().to_string(),
                    type_name: c.type_info().name().to_string(),
                    nullable: d.nullable(i),
                })
                .collect()
        }};
    }
    Ok(match conn {
        Conn::Pg(c) => describe!(&mut **c),
        Conn::My(c) => describe!(&mut **c),
        Conn::Lite(c) => describe!(&mut **c),
    })
}

impl SqlConnection {
    fn live(&mut self) -> Result<&mut Conn, SqlError> {
        match (&mut self.conn, self.closed) {
            (Some(conn), None) => Ok(conn),
            (_, why) => Err(SqlError::Connect(format!(
                "the connection to {} was closed {}; open a new one",
                self.address,
                why.unwrap_or("")
            ))),
        }
    }

    /// Closes the connection for good (it is not returned to the pool).
    fn close(&mut self, why: &'static str) {
        self.closed = Some(why);
        if let Some(conn) = self.conn.take() {
            match conn {
                Conn::Pg(c) => drop(c.detach()),
                Conn::My(c) => drop(c.detach()),
                Conn::Lite(c) => drop(c.detach()),
            }
        }
    }

    /// Runs `op` on the connection under `timeout`; closes the connection when the statement
    /// timed out or the link broke.
    async fn run<T>(
        &mut self,
        timeout: Duration,
        op: impl AsyncFnOnce(&mut Conn) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        let conn = self.live()?;
        match tokio::time::timeout(timeout, op(conn)).await {
            Err(_) => {
                self.close("after a statement timed out");
                Err(SqlError::Timeout)
            }
            Ok(Err(SqlError::Connect(why))) => {
                self.close("after its link failed");
                Err(SqlError::Connect(why))
            }
            Ok(result) => result,
        }
    }
}

fn dialect(kind: DbKind) -> Dialect {
    match kind {
        DbKind::Postgres => Dialect::Postgres,
        DbKind::Mysql => Dialect::Mysql,
        DbKind::Sqlite => Dialect::Sqlite,
    }
}

impl Host for StoreState {}

impl HostConnection for StoreState {
    async fn open(
        &mut self,
        url: String,
        user: Option<String>,
        password: Option<String>,
    ) -> wasmtime::Result<Result<Resource<SqlConnection>, SqlError>> {
        let Some(access) = self.sql.clone() else {
            return Ok(Err(SqlError::Denied(format!(
                "this plugin instance has no SQL grant: the connector sets no {ALLOW_SQL_URLS}"
            ))));
        };
        let url = match jdbc_url::native(&url) {
            Ok(native) => native.into_owned(),
            Err(e) => return Ok(Err(SqlError::Invalid(e))),
        };
        let address = match DatabaseAddress::parse(&url) {
            Ok(a) => a,
            Err(e) => return Ok(Err(SqlError::Invalid(e))),
        };
        if let Err(e) = access.grant.check(&address) {
            return Ok(Err(SqlError::Denied(e)));
        }
        let conn = access
            .pools
            .acquire(&url, &address, user.as_deref(), password.as_deref())
            .await;
        Ok(match conn {
            Ok(conn) => Ok(self.table().push(SqlConnection {
                conn: Some(conn),
                address,
                closed: None,
            })?),
            Err(e) => Err(e),
        })
    }

    async fn dialect(&mut self, conn: Resource<SqlConnection>) -> wasmtime::Result<Dialect> {
        Ok(dialect(self.table().get(&conn)?.address.kind))
    }

    async fn query(
        &mut self,
        conn: Resource<SqlConnection>,
        stmt: Statement,
        max_rows: u32,
    ) -> wasmtime::Result<Result<RowSet, SqlError>> {
        let timeout = match timeout_of(stmt.timeout_ms) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let conn = self.table().get_mut(&conn)?;
        Ok(conn
            .run(timeout, async |c| query_on(c, stmt, max_rows).await)
            .await)
    }

    async fn execute(
        &mut self,
        conn: Resource<SqlConnection>,
        stmt: Statement,
    ) -> wasmtime::Result<Result<u64, SqlError>> {
        let timeout = match timeout_of(stmt.timeout_ms) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let conn = self.table().get_mut(&conn)?;
        Ok(conn.run(timeout, async |c| execute_on(c, stmt).await).await)
    }

    async fn describe(
        &mut self,
        conn: Resource<SqlConnection>,
        sql: String,
    ) -> wasmtime::Result<Result<Vec<ColumnInfo>, SqlError>> {
        let conn = self.table().get_mut(&conn)?;
        Ok(conn
            .run(DEFAULT_TIMEOUT, async |c| describe_on(c, &sql).await)
            .await)
    }

    async fn drop(&mut self, conn: Resource<SqlConnection>) -> wasmtime::Result<()> {
        self.table().delete(conn)?;
        Ok(())
    }
}
