//! A throwaway PostgreSQL server (the Debian `postgresql` package's binaries).

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{chown, command, free_port, is_root, run, stop, wait_ready};
use crate::{PASSWORD, ServiceError};

const INSTALL: &str =
    "install PostgreSQL's server: `apt-get install -y postgresql` (scripts/deps does)";

/// A running PostgreSQL server: superuser `postgres` with password [`PASSWORD`] over TCP,
/// `wal_level=logical`, stopped when dropped.
#[derive(Debug)]
pub struct Postgres {
    _dir: TempDir,
    bin: PathBuf,
    child: Child,
    port: u16,
}

fn bin_dir() -> Result<PathBuf, ServiceError> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| ServiceError(format!("PostgreSQL is not installed; {INSTALL}")))?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("postgres").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| ServiceError(format!("no PostgreSQL server binaries found; {INSTALL}")))
}

impl Postgres {
    /// Initializes a cluster in a temporary directory and starts it.
    pub fn start() -> Result<Self, ServiceError> {
        let bin = bin_dir()?;
        let user = is_root().then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("culvert-pg-")
            .tempdir()
            .map_err(|e| ServiceError(format!("cannot create a temporary directory: {e}")))?;
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD)
            .map_err(|e| ServiceError(format!("cannot write {}: {e}", pwfile.display())))?;
        chown(user, dir.path())?;
        let initdb = command(
            user,
            &bin.join("initdb"),
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                &pwfile.to_string_lossy(),
            ],
        );
        run(initdb, "initdb")?;
        let port = free_port()?;
        let log = dir.path().join("postgres.log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| ServiceError(format!("cannot create {}: {e}", log.display())))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| ServiceError(format!("cannot reopen {}: {e}", log.display())))?;
        let port_text = port.to_string();
        let sock = dir.path().to_string_lossy().into_owned();
        let mut child = command(
            user,
            &bin.join("postgres"),
            &[
                "-D",
                &data.to_string_lossy(),
                "-p",
                &port_text,
                "-k",
                &sock,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "wal_level=logical",
                "-c",
                "max_replication_slots=10",
                "-c",
                "max_wal_senders=10",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ],
        )
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err_file)
        .spawn()
        .map_err(|e| ServiceError(format!("cannot start postgres: {e}")))?;
        let isready = bin.join("pg_isready");
        let ready = wait_ready(
            &mut child,
            "postgres",
            &log,
            Duration::from_secs(30),
            || {
                command(None, &isready, &["-q", "-h", "127.0.0.1", "-p", &port_text])
                    .status()
                    .is_ok_and(|s| s.success())
            },
        );
        let server = Self {
            _dir: dir,
            bin,
            child,
            port,
        };
        ready.map(|()| server)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Runs `sql` with `psql` against `database` and returns its unaligned, tuples-only
    /// output (`|`-separated columns, one row per line).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ServiceError> {
        let port = self.port.to_string();
        let mut cmd = command(
            None,
            &psql_path(&self.bin),
            &[
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
        );
        cmd.env("PGPASSWORD", PASSWORD);
        let out = run(cmd, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }
}

fn psql_path(bin: &Path) -> PathBuf {
    let local = bin.join("psql");
    if local.exists() {
        local
    } else {
        PathBuf::from("psql")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown.
        stop(&mut self.child, "-INT");
    }
}
