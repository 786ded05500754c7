//! JDBC URLs, as Kafka Connect users write them in `connection.url`, translated into the
//! native URLs the `sql` capability opens: `jdbc:postgresql://h:5432/db?user=u&password=p`
//! becomes `postgres://u:p@h:5432/db`, `jdbc:mysql://` and `jdbc:mariadb://` become
//! `mysql://`, `jdbc:sqlite:/path.db` becomes `sqlite:/path.db`.
//!
//! Parameters are translated when they have a native meaning (`user`, `password`, `ssl`,
//! `sslmode`, `useSSL`, `sslMode`), dropped when they only tune the Java driver
//! ([`DRIVER_ONLY`]: the host already fixes the session time zone to UTC, for example), and
//! refused otherwise, so a setting never silently stops meaning what the user wrote.

use std::borrow::Cow;

/// Parameters that only tune the Java driver; the host's connections do not need them.
const DRIVER_ONLY: &[&str] = &[
    "serverTimezone",
    "connectionTimeZone",
    "forceConnectionTimeZoneToSession",
    "useLegacyDatetimeCode",
    "useJDBCCompliantTimezoneShift",
    "useUnicode",
    "characterEncoding",
    "allowPublicKeyRetrieval",
    "zeroDateTimeBehavior",
    "tinyInt1isBit",
    "rewriteBatchedStatements",
    "useServerPrepStmts",
    "cachePrepStmts",
    "autoReconnect",
    "connectTimeout",
    "socketTimeout",
    "loginTimeout",
    "tcpKeepAlive",
    "ApplicationName",
    "prepareThreshold",
    "reWriteBatchedInserts",
    "stringtype",
    "permitMysqlScheme",
];

/// `url` as a native URL: unchanged unless it starts with `jdbc:`.
pub(crate) fn native(url: &str) -> Result<Cow<'_, str>, String> {
    let Some(rest) = strip_prefix_ignore_case(url, "jdbc:") else {
        return Ok(Cow::Borrowed(url));
    };
    if let Some(path) = strip_prefix_ignore_case(rest, "sqlite:") {
        return Ok(Cow::Owned(format!("sqlite:{path}")));
    }
    let (scheme, rest, postgres) = if let Some(r) = strip_prefix_ignore_case(rest, "postgresql:") {
        ("postgres", r, true)
    } else if let Some(r) = strip_prefix_ignore_case(rest, "mysql:") {
        ("mysql", r, false)
    } else if let Some(r) = strip_prefix_ignore_case(rest, "mariadb:") {
        ("mysql", r, false)
    } else {
        let kind = rest.split(':').next().unwrap_or_default();
        return Err(format!(
            "jdbc:{kind}: URLs are not supported; use jdbc:postgresql:, jdbc:mysql:, \
             jdbc:mariadb: or jdbc:sqlite: (or postgres://, mysql://, sqlite:)"
        ));
    };
    let parsed = url::Url::parse(&format!("{scheme}:{rest}"))
        .map_err(|e| format!("{:?} is not a JDBC URL: {e}", crate::grants::redact(url)))?;
    let mut out = parsed.clone();
    out.set_query(None);
    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in parsed.query_pairs() {
        match name.as_ref() {
            "user" => out
                .set_username(&value)
                .map_err(|()| format!("the JDBC URL's user {value:?} cannot be used"))?,
            "password" => out
                .set_password(Some(&value))
                .map_err(|()| "the JDBC URL's password cannot be used".to_string())?,
            "sslmode" if postgres => kept.push(("sslmode".into(), value.into_owned())),
            "ssl" if postgres => {
                let mode = if value.eq_ignore_ascii_case("true") {
                    "require"
                } else {
                    "disable"
                };
                kept.push(("sslmode".into(), mode.into()));
            }
            "sslMode" if !postgres => kept.push(("ssl-mode".into(), value.to_uppercase())),
            "useSSL" if !postgres => {
                let mode = if value.eq_ignore_ascii_case("true") {
                    "REQUIRED"
                } else {
                    "DISABLED"
                };
                kept.push(("ssl-mode".into(), mode.into()));
            }
            other if DRIVER_ONLY.iter().any(|d| d.eq_ignore_ascii_case(other)) => {}
            other => {
                return Err(format!(
                    "the JDBC URL parameter {other:?} is not supported (translated: user, \
                     password, {}; ignored: driver tuning such as serverTimezone)",
                    if postgres {
                        "ssl, sslmode"
                    } else {
                        "useSSL, sslMode"
                    }
                ));
            }
        }
    }
    if !kept.is_empty() {
        out.query_pairs_mut().extend_pairs(kept);
    }
    Ok(Cow::Owned(out.to_string()))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()))
        .then(|| s.split_at(prefix.len()))
        .filter(|(head, _)| head.eq_ignore_ascii_case(prefix))
        .map(|(_, tail)| tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(url: &str) -> String {
        native(url).expect(url).into_owned()
    }

    #[test]
    fn jdbc_urls_become_native_urls() {
        assert_eq!(
            n("jdbc:postgresql://db.internal:5432/shop?user=bob&password=s%40cret"),
            "postgres://bob:s%40cret@db.internal:5432/shop"
        );
        assert_eq!(
            n("jdbc:postgresql://db/shop?ssl=true&ApplicationName=x"),
            "postgres://db/shop?sslmode=require"
        );
        assert_eq!(
            n("JDBC:MySQL://10.0.0.7:3306/orders?useSSL=false&serverTimezone=UTC&user=root"),
            "mysql://root@10.0.0.7:3306/orders?ssl-mode=DISABLED"
        );
        assert_eq!(n("jdbc:mariadb://m/db"), "mysql://m/db");
        assert_eq!(n("jdbc:sqlite:/var/lib/app.db"), "sqlite:/var/lib/app.db");
        assert_eq!(n("jdbc:sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            n("postgres://u@h/d?sslmode=require"),
            "postgres://u@h/d?sslmode=require"
        );
    }

    #[test]
    fn unknown_drivers_and_parameters_are_refused_by_name() {
        let err = native("jdbc:oracle:thin:@db:1521/x").expect_err("oracle");
        assert!(err.contains("jdbc:oracle: URLs are not supported"), "{err}");
        let err = native("jdbc:postgresql://db/x?currentSchema=app").expect_err("param");
        assert!(err.contains("\"currentSchema\" is not supported"), "{err}");
        let err = native("jdbc:postgresql://u:secret@[bad/x").expect_err("bad");
        assert!(err.contains("not a JDBC URL"), "{err}");
    }
}
