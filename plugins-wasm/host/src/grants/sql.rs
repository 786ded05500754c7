//! The `sql` grant: which databases a connector's plugin may open.
//!
//! `plugin.allow.sql.urls` is a comma-separated list of database URLs without credentials
//! or parameters: `postgres://db.internal:5432/shop`, `mysql://10.0.0.7/orders`,
//! `postgres://db.internal/*` (any database on that server), `sqlite:///var/lib/app.db`.
//! A plugin's URL is allowed when its kind, host, port (defaults 5432 and 3306) and database
//! (or SQLite path) match an entry; user, password and parameters do not take part. Empty
//! (the default): no database. Database servers usually live on private networks, so a
//! named server is reachable whatever its address.
//!
//! A JDBC URL in the connector's `connection.url` (`jdbc:postgresql://db:5432/shop`, the key
//! of Confluent's JDBC connectors) is granted as well: the user named that database in the
//! connector's own configuration, and configs copied from Connect then run unchanged.

use std::fmt;

/// Config key of the database allowlist.
pub const ALLOW_SQL_URLS: &str = "plugin.allow.sql.urls";

/// Kafka Connect's JDBC connectors' database key; a JDBC URL there is granted too.
const CONNECTION_URL: &str = "connection.url";

/// The kinds of database the `sql` capability speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DbKind {
    Postgres,
    Mysql,
    Sqlite,
}

/// Where a database URL points, without credentials or parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DatabaseAddress {
    pub(crate) kind: DbKind,
    /// Lowercase host; empty for SQLite.
    pub(crate) host: String,
    /// 0 for SQLite.
    pub(crate) port: u16,
    /// The database name, or the SQLite file path (`:memory:` for an in-memory database).
    pub(crate) database: String,
}

impl DatabaseAddress {
    /// Parses a `postgres://`, `postgresql://`, `mysql://`, `mariadb://` or `sqlite:` URL,
    /// or the JDBC form of one (`jdbc:postgresql://...`).
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let url = crate::sql::jdbc_url::native(url)?;
        let url = url.as_ref();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let path = rest.split('?').next().unwrap_or_default();
            let memory = path.is_empty() || path == ":memory:";
            return Ok(Self {
                kind: DbKind::Sqlite,
                host: String::new(),
                port: 0,
                database: if memory {
                    ":memory:".into()
                } else {
                    path.into()
                },
            });
        }
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let (kind, default_port) = match parsed.scheme() {
            "postgres" | "postgresql" => (DbKind::Postgres, 5432),
            "mysql" | "mariadb" => (DbKind::Mysql, 3306),
            other => {
                return Err(format!(
                    "{other}: URLs are not supported; use postgres://, mysql://, mariadb:// or \
                     sqlite:"
                ));
            }
        };
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err(format!("{} has no host", redact(url))),
        };
        let database = parsed.path().trim_start_matches('/');
        let database = url::form_urlencoded::parse(format!("d={database}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        Ok(Self {
            kind,
            host,
            port: parsed.port().unwrap_or(default_port),
            database,
        })
    }
}

impl fmt::Display for DatabaseAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DbKind::Sqlite => write!(f, "sqlite://{}", self.database),
            DbKind::Postgres => write!(
                f,
                "postgres://{}:{}/{}",
                self.host, self.port, self.database
            ),
            DbKind::Mysql => write!(f, "mysql://{}:{}/{}", self.host, self.port, self.database),
        }
    }
}

/// `url` with any password replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// The databases one connector may open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SqlGrant {
    rules: Vec<DatabaseAddress>,
}

impl SqlGrant {
    /// Reads `plugin.allow.sql.urls`.
    pub(crate) fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut rules = Self::jdbc_connection_url(&get)?;
        let Some(list) = get(ALLOW_SQL_URLS) else {
            return Ok(Self { rules });
        };
        let listed = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                let bad = |why: String| format!("{ALLOW_SQL_URLS} entry {entry:?} {why}");
                if entry.contains('?') {
                    return Err(bad("must not carry parameters".into()));
                }
                if let Ok(u) = url::Url::parse(entry)
                    && (!u.username().is_empty() || u.password().is_some())
                {
                    return Err(bad(
                        "must not carry credentials; give only the address".into()
                    ));
                }
                DatabaseAddress::parse(entry).map_err(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
        rules.extend(listed);
        Ok(Self { rules })
    }

    /// The database a JDBC `connection.url` names: the user wrote it into the connector's
    /// own configuration, so it is granted as if listed (Confluent's JDBC configs carry no
    /// Culvert keys). Only the `jdbc:` form counts; other uses of the key grant nothing.
    fn jdbc_connection_url(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<DatabaseAddress>, String> {
        let Some(url) = get(CONNECTION_URL) else {
            return Ok(Vec::new());
        };
        if !url
            .trim_start()
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("jdbc:"))
        {
            return Ok(Vec::new());
        }
        DatabaseAddress::parse(url.trim())
            .map(|a| vec![a])
            .map_err(|e| format!("{CONNECTION_URL}: {e}"))
    }

    /// Whether no database is granted.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks `address` against the allowlist.
    pub(crate) fn check(&self, address: &DatabaseAddress) -> Result<(), String> {
        let allowed = |r: &DatabaseAddress| {
            r.kind == address.kind
                && r.host == address.host
                && r.port == address.port
                && (r.database == address.database
                    || (r.database == "*" && r.kind != DbKind::Sqlite))
        };
        if self.rules.iter().any(allowed) {
            return Ok(());
        }
        if self.rules.is_empty() {
            return Err(format!(
                "{address} may not be opened: the connector sets no {ALLOW_SQL_URLS}"
            ));
        }
        let granted: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
        Err(format!(
            "{address} is not in {ALLOW_SQL_URLS} ({})",
            granted.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(urls: &str) -> Result<SqlGrant, String> {
        SqlGrant::from_config(|k| (k == ALLOW_SQL_URLS).then(|| urls.to_string()))
    }

    fn check(g: &SqlGrant, url: &str) -> Result<(), String> {
        g.check(&DatabaseAddress::parse(url)?)
    }

    #[test]
    fn urls_match_on_kind_host_port_and_database() {
        let g = grant(
            "postgres://DB.internal/shop, mysql://10.0.0.7:3307/orders, \
             postgresql://pg2:6432/*, sqlite:///var/lib/app.db",
        )
        .expect("valid");
        assert!(check(&g, "postgres://u:pw@db.internal:5432/shop?sslmode=require").is_ok());
        assert!(check(&g, "postgresql://db.internal/shop").is_ok());
        assert!(check(&g, "postgres://db.internal/other").is_err());
        assert!(check(&g, "postgres://db.internal:5433/shop").is_err());
        assert!(
            check(&g, "mysql://10.0.0.7/orders").is_err(),
            "port differs"
        );
        assert!(check(&g, "mariadb://root@10.0.0.7:3307/orders").is_ok());
        assert!(check(&g, "postgres://pg2:6432/anything").is_ok());
        assert!(
            check(&g, "mysql://pg2:6432/anything").is_err(),
            "kind differs"
        );
        assert!(check(&g, "sqlite:///var/lib/app.db?mode=ro").is_ok());
        assert!(check(&g, "sqlite:///var/lib/other.db").is_err());
        let err = check(&g, "postgres://evil/shop").expect_err("denied");
        assert_eq!(
            err,
            "postgres://evil:5432/shop is not in plugin.allow.sql.urls (postgres://db.internal:\
             5432/shop, mysql://10.0.0.7:3307/orders, postgres://pg2:6432/*, \
             sqlite:///var/lib/app.db)"
        );
        let none = grant("").expect("empty");
        assert!(none.is_empty());
        assert!(
            check(&none, "sqlite::memory:")
                .expect_err("none")
                .contains("sets no")
        );
    }

    #[test]
    fn a_jdbc_connection_url_grants_its_database() {
        let config =
            |url: &'static str| move |k: &str| (k == CONNECTION_URL).then(|| url.to_string());
        let g = SqlGrant::from_config(config("jdbc:postgresql://db:5432/shop?user=u&password=p"))
            .expect("valid");
        assert!(check(&g, "postgres://db/shop").is_ok());
        assert!(check(&g, "jdbc:postgresql://db:5432/shop?user=other").is_ok());
        assert!(check(&g, "postgres://db/other").is_err());
        let plain = SqlGrant::from_config(config("postgres://db/shop")).expect("valid");
        assert!(plain.is_empty(), "only the JDBC form grants");
        let err = SqlGrant::from_config(config("jdbc:oracle:thin:@x")).expect_err("oracle");
        assert!(err.starts_with("connection.url: jdbc:oracle:"), "{err}");
    }

    #[test]
    fn bad_entries_name_the_key() {
        for (entry, why) in [
            ("postgres://u:p@db/shop", "credentials"),
            ("postgres://db/shop?sslmode=disable", "parameters"),
            ("oracle://db/x", "not supported"),
            ("db.internal:5432", "not supported"),
            ("postgres:///shop", "no host"),
        ] {
            let err = grant(entry).expect_err(entry);
            assert!(err.starts_with("plugin.allow.sql.urls entry"), "{err}");
            assert!(err.contains(why), "{entry}: {err}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
    }
}
