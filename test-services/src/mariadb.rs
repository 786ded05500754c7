//! A throwaway MariaDB server (the Debian `mariadb-server` package).

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{chown, command, free_port, is_root, run, stop, wait_ready};
use crate::{PASSWORD, ServiceError};

const INSTALL: &str = "install MariaDB: `apt-get install -y mariadb-server` (scripts/deps does)";

/// A running MariaDB server with a database `culvert` and a user `culvert` (password
/// [`PASSWORD`]) that may do anything; row-based binlog on; stopped when dropped.
#[derive(Debug)]
pub struct MariaDb {
    _dir: TempDir,
    socket: PathBuf,
    child: Child,
    port: u16,
}

fn find(name: &str) -> Result<PathBuf, ServiceError> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.exists())
        .ok_or_else(|| ServiceError(format!("{name} is not installed; {INSTALL}")))
}

impl MariaDb {
    /// Creates a data directory and starts the server.
    pub fn start() -> Result<Self, ServiceError> {
        let server = find("mariadbd")?;
        let install = find("mariadb-install-db")?;
        let client = find("mariadb")?;
        // As root, run as root (`--user=root`): a temporary directory is private to root.
        let user_arg = if is_root() { Some("--user=root") } else { None };
        let dir = tempfile::Builder::new()
            .prefix("culvert-mariadb-")
            .tempdir()
            .map_err(|e| ServiceError(format!("cannot create a temporary directory: {e}")))?;
        chown(None, dir.path())?;
        let data = dir.path().join("data");
        let data_arg = format!("--datadir={}", data.display());
        let mut args = vec![
            "--no-defaults",
            data_arg.as_str(),
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ];
        args.extend(user_arg);
        run(command(None, &install, &args), "mariadb-install-db")?;
        let port = free_port()?;
        let socket = dir.path().join("mysqld.sock");
        let log = dir.path().join("mariadb.log");
        let port_arg = format!("--port={port}");
        let socket_arg = format!("--socket={}", socket.display());
        let log_arg = format!("--log-error={}", log.display());
        let pid_arg = format!("--pid-file={}", dir.path().join("mysqld.pid").display());
        let mut args = vec![
            "--no-defaults",
            data_arg.as_str(),
            port_arg.as_str(),
            socket_arg.as_str(),
            log_arg.as_str(),
            pid_arg.as_str(),
            "--bind-address=127.0.0.1",
            "--log-bin",
            "--binlog-format=ROW",
            "--server-id=1",
            "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0",
            "--skip-name-resolve",
        ];
        args.extend(user_arg);
        let mut child = command(None, &server, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ServiceError(format!("cannot start mariadbd: {e}")))?;
        let sock = socket.to_string_lossy().into_owned();
        let ready = wait_ready(
            &mut child,
            "mariadbd",
            &log,
            Duration::from_secs(60),
            || {
                command(
                    None,
                    &client,
                    &["--no-defaults", "-S", &sock, "-u", "root", "-e", "SELECT 1"],
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            },
        );
        let db = Self {
            _dir: dir,
            socket,
            child,
            port,
        };
        ready?;
        db.sql(&format!(
            "CREATE DATABASE culvert; CREATE USER 'culvert'@'%' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON *.* TO 'culvert'@'%' WITH GRANT OPTION;"
        ))?;
        Ok(db)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mysql://culvert:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "mysql://culvert:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Runs `sql` as root over the socket; returns tab-separated rows without headers.
    pub fn sql(&self, sql: &str) -> Result<String, ServiceError> {
        let client = find("mariadb")?;
        let sock = self.socket.to_string_lossy().into_owned();
        let cmd = command(
            None,
            &client,
            &[
                "--no-defaults",
                "-S",
                &sock,
                "-u",
                "root",
                "-N",
                "-B",
                "-e",
                sql,
            ],
        );
        let out = run(cmd, "mariadb")?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}
