//! Process plumbing shared by the services: free ports, running helper commands (as the
//! service's own user when the tests run as root), waiting for readiness, stopping.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::ServiceError;

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> Result<u16, ServiceError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ServiceError(format!("cannot find a free port: {e}")))
}

/// Whether this process runs as root (servers then run as their own system user).
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args...`, run as `user` through `runuser` when given.
pub(crate) fn command(user: Option<&str>, program: &Path, args: &[&str]) -> Command {
    match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program).args(args);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    }
}

/// Runs `cmd` to completion; an error carries its output.
pub(crate) fn run(mut cmd: Command, what: &str) -> Result<Output, ServiceError> {
    let out = cmd
        .output()
        .map_err(|e| ServiceError(format!("cannot run {what}: {e}")))?;
    if !out.status.success() {
        return Err(ServiceError(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out)
}

/// Calls `ready` every 50 ms until it returns true, `child` exits, or `limit` passes.
pub(crate) fn wait_ready(
    child: &mut Child,
    what: &str,
    log: &Path,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), ServiceError> {
    let start = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        let log_text = || std::fs::read_to_string(log).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            return Err(ServiceError(format!(
                "{what} exited during start ({status}); its log:\n{}",
                log_text()
            )));
        }
        if start.elapsed() > limit {
            return Err(ServiceError(format!(
                "{what} was not ready after {limit:?}; its log:\n{}",
                log_text()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops `child` with `signal` (a fast, clean shutdown) and waits up to 10 s, then kills it.
pub(crate) fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Makes `path` owned by `user` (no-op without one).
pub(crate) fn chown(user: Option<&str>, path: &Path) -> Result<(), ServiceError> {
    if let Some(user) = user {
        let mut c = Command::new("chown");
        c.args(["-R", user]).arg(path);
        run(c, "chown")?;
    }
    Ok(())
}
