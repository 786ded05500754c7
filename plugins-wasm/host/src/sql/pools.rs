//! Connection pools shared by every plugin of one engine: one pool per database URL and
//! credentials, created on first use, so the tasks of a worker that read the same database
//! share its connections.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{ConnectOptions, Pool};

use crate::bindings::culvert::connector::sql::SqlError;
use crate::grants::{DatabaseAddress, DbKind, redact};

/// Most connections one pool opens to one database.
pub(crate) const MAX_CONNECTIONS: u32 = 32;
/// How long `open` waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a diagnostic connect attempt may take after the pool gave up.
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle pooled connections are closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// One checked-out connection.
pub(crate) enum Conn {
    Pg(PoolConnection<Postgres>),
    My(PoolConnection<MySql>),
    Lite(PoolConnection<Sqlite>),
}

#[derive(Clone)]
enum AnyPool {
    Pg(Pool<Postgres>, PgConnectOptions),
    My(Pool<MySql>, MySqlConnectOptions),
    Lite(Pool<Sqlite>, SqliteConnectOptions),
}

/// The pools of one engine. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct SqlPools {
    pools: Mutex<HashMap<String, AnyPool>>,
}

impl std::fmt::Debug for SqlPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.pools.lock().map(|p| p.len()).unwrap_or_default();
        f.debug_struct("SqlPools").field("pools", &count).finish()
    }
}

fn invalid(url: &str, e: impl std::fmt::Display) -> SqlError {
    SqlError::Invalid(format!("{}: {e}", redact(url)))
}

fn build(
    url: &str,
    kind: DbKind,
    user: Option<&str>,
    password: Option<&str>,
) -> Result<AnyPool, SqlError> {
    Ok(match kind {
        DbKind::Postgres => {
            let mut opts = PgConnectOptions::from_str(url).map_err(|e| invalid(url, e))?;
            if let Some(u) = user {
                opts = opts.username(u);
            }
            if let Some(p) = password {
                opts = opts.password(p);
            }
            let opts = opts
                .options([("TimeZone", "UTC")])
                .application_name("culvert")
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .idle_timeout(IDLE_TIMEOUT)
                .connect_lazy_with(opts.clone());
            AnyPool::Pg(pool, opts)
        }
        DbKind::Mysql => {
            let url = match url.strip_prefix("mariadb://") {
                Some(rest) => format!("mysql://{rest}"),
                None => url.to_string(),
            };
            let mut opts = MySqlConnectOptions::from_str(&url).map_err(|e| invalid(&url, e))?;
            if let Some(u) = user {
                opts = opts.username(u);
            }
            if let Some(p) = password {
                opts = opts.password(p);
            }
            let opts = opts
                .timezone(Some("+00:00".to_string()))
                .disable_statement_logging();
            let pool = MySqlPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .idle_timeout(IDLE_TIMEOUT)
                .connect_lazy_with(opts.clone());
            AnyPool::My(pool, opts)
        }
        DbKind::Sqlite => {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| invalid(url, e))?
                .disable_statement_logging();
            let pool = SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .idle_timeout(IDLE_TIMEOUT)
                .connect_lazy_with(opts.clone());
            AnyPool::Lite(pool, opts)
        }
    })
}

/// Describes a connect failure for the plugin.
pub(crate) fn connect_error(address: &DatabaseAddress, e: &sqlx::Error) -> SqlError {
    match e {
        sqlx::Error::PoolTimedOut => SqlError::Timeout,
        e => SqlError::Connect(format!("cannot connect to {address}: {e}")),
    }
}

impl SqlPools {
    /// Takes a connection to `url` (already checked against the grant) from its pool.
    pub(crate) async fn acquire(
        &self,
        url: &str,
        address: &DatabaseAddress,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Conn, SqlError> {
        let key = format!(
            "{url}\u{0}{}\u{0}{}",
            user.unwrap_or_default(),
            password.unwrap_or_default()
        );
        let pool = {
            let mut pools = self
                .pools
                .lock()
                .map_err(|_| SqlError::Connect("the connection pools are poisoned".into()))?;
            match pools.get(&key) {
                Some(p) => p.clone(),
                None => {
                    let p = build(url, address.kind, user, password)?;
                    pools.insert(key, p.clone());
                    p
                }
            }
        };
        // A pool retries refused connections until its acquire timeout and then reports only
        // that it timed out; when it holds no connection at all, one direct attempt tells the
        // plugin why.
        macro_rules! take {
            ($pool:expr, $opts:expr, $variant:ident) => {
                match $pool.acquire().await {
                    Ok(c) => Ok(Conn::$variant(c)),
                    Err(sqlx::Error::PoolTimedOut) if $pool.size() == 0 => {
                        match tokio::time::timeout(DIAGNOSE_TIMEOUT, $opts.connect()).await {
                            Ok(Err(e)) => Err(connect_error(address, &e)),
                            _ => Err(SqlError::Timeout),
                        }
                    }
                    Err(e) => Err(connect_error(address, &e)),
                }
            };
        }
        match pool {
            AnyPool::Pg(p, o) => take!(p, o, Pg),
            AnyPool::My(p, o) => take!(p, o, My),
            AnyPool::Lite(p, o) => take!(p, o, Lite),
        }
    }
}
