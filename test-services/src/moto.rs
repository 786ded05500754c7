//! A throwaway S3-compatible server: moto's server mode (`pip install 'moto[server]'`,
//! which scripts/deps puts in the repository's `.venv`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::ServiceError;
use crate::process::{free_port, stop, wait_ready};

const INSTALL: &str = "install moto's server: `pip install 'moto[server]'` (scripts/deps \
                       installs it into .venv)";

/// A running moto S3 server; stopped when dropped. It accepts any credentials.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
    _log: tempfile::NamedTempFile,
}

fn find() -> Result<PathBuf, ServiceError> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.exists() {
        return Ok(venv);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("moto_server"))
        .find(|p| p.exists())
        .ok_or_else(|| ServiceError(format!("moto_server is not installed; {INSTALL}")))
}

/// Sends one bodiless request; returns the status code and the body.
fn request(port: u16, method: &str, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    s.read_to_end(&mut response).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    Ok((status, body.to_string()))
}

impl Moto {
    /// Starts the server on a free port.
    pub fn start() -> Result<Self, ServiceError> {
        let program = find()?;
        let port = free_port()?;
        let log = tempfile::NamedTempFile::new()
            .map_err(|e| ServiceError(format!("cannot create a log file: {e}")))?;
        let out = log
            .reopen()
            .map_err(|e| ServiceError(format!("cannot open the log file: {e}")))?;
        let err = log
            .reopen()
            .map_err(|e| ServiceError(format!("cannot open the log file: {e}")))?;
        let mut child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| ServiceError(format!("cannot start moto_server: {e}")))?;
        let ready = wait_ready(
            &mut child,
            "moto_server",
            log.path(),
            Duration::from_secs(60),
            || request(port, "GET", "/").is_ok(),
        );
        let server = Self {
            child,
            port,
            _log: log,
        };
        ready.map(|()| server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates `bucket` (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) -> Result<(), ServiceError> {
        match request(self.port, "PUT", &format!("/{bucket}")) {
            Ok((200, _)) => Ok(()),
            Ok((status, _)) => Err(ServiceError(format!(
                "creating bucket {bucket} answered {status}"
            ))),
            Err(e) => Err(ServiceError(format!("creating bucket {bucket}: {e}"))),
        }
    }
}

impl Moto {
    /// Sends an unsigned `GET` for `path` (e.g. `/bucket?uploads`); returns status and body.
    pub fn get(&self, path: &str) -> Result<(u16, String), ServiceError> {
        request(self.port, "GET", path).map_err(|e| ServiceError(format!("GET {path}: {e}")))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}
