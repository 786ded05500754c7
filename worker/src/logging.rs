//! Log levels that change at runtime (`/admin/loggers`, Kafka Connect's KIP-495): a root
//! level plus levels set per namespace (a `tracing` target prefix such as
//! `culvert::herder` or `plugin`), applied by rebuilding the process's filter.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Applies a filter directive string (e.g. `info,culvert::herder=debug`) to the process.
pub type Apply = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// A namespace's level and when it was set at runtime (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerLevel {
    pub level: &'static str,
    pub last_modified: Option<i64>,
}

/// The worker's log levels.
pub struct Loggers {
    root: Mutex<LoggerLevel>,
    set: Mutex<BTreeMap<String, LoggerLevel>>,
    apply: Option<Apply>,
}

impl std::fmt::Debug for Loggers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loggers").finish_non_exhaustive()
    }
}

/// Connect's level names, mapped onto `tracing`'s (FATAL is ERROR; OFF silences).
pub fn parse_level(text: &str) -> Option<&'static str> {
    Some(match text.to_ascii_uppercase().as_str() {
        "TRACE" => "TRACE",
        "DEBUG" => "DEBUG",
        "INFO" => "INFO",
        "WARN" => "WARN",
        "ERROR" => "ERROR",
        "FATAL" => "FATAL",
        "OFF" => "OFF",
        _ => return None,
    })
}

/// Whether `name` can be a filter target: letters, digits, `_`, `-`, `.`, `:`.
pub fn valid_namespace(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

fn directive(level: &str) -> &'static str {
    match level {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "FATAL" | "ERROR" => "error",
        _ => "off",
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Loggers {
    /// Levels starting at `root`; `apply` installs a new filter (none in tests).
    pub fn new(root: &'static str, apply: Option<Apply>) -> Self {
        Self {
            root: Mutex::new(LoggerLevel {
                level: root,
                last_modified: None,
            }),
            set: Mutex::new(BTreeMap::new()),
            apply,
        }
    }

    /// Every namespace with its level, `root` included.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        let mut out = self.set.lock().unwrap_or_else(|p| p.into_inner()).clone();
        out.insert(
            "root".into(),
            self.root.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        );
        out
    }

    /// The effective level of `name`: its own, else its nearest parent namespace's, else
    /// the root's.
    pub fn level_of(&self, name: &str) -> LoggerLevel {
        if name == "root" {
            return self.root.lock().unwrap_or_else(|p| p.into_inner()).clone();
        }
        let set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        let mut candidate = name;
        loop {
            if let Some(l) = set.get(candidate) {
                return if candidate == name {
                    l.clone()
                } else {
                    LoggerLevel {
                        level: l.level,
                        last_modified: None,
                    }
                };
            }
            match candidate.rfind(['.', ':']) {
                Some(i) => candidate = candidate[..i].trim_end_matches(':'),
                None => break,
            }
        }
        drop(set);
        LoggerLevel {
            level: self.root.lock().unwrap_or_else(|p| p.into_inner()).level,
            last_modified: None,
        }
    }

    /// Sets `name` (or `root`) to `level` and every namespace under it too; returns the
    /// namespaces changed.
    pub fn set_level(&self, name: &str, level: &'static str) -> Result<Vec<String>, String> {
        if !valid_namespace(name) {
            return Err(format!(
                "Invalid logger name '{name}': use a module path such as culvert::herder or \
                 a dotted name (letters, digits, '_', '-', '.', ':')"
            ));
        }
        let at = now_ms();
        let changed = {
            let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
            let entry = LoggerLevel {
                level,
                last_modified: Some(at),
            };
            if name == "root" {
                *self.root.lock().unwrap_or_else(|p| p.into_inner()) = entry.clone();
            } else {
                set.insert(name.to_string(), entry.clone());
            }
            let mut changed = vec![name.to_string()];
            for (k, v) in set.iter_mut() {
                let under = name == "root"
                    || k.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("::"));
                if under && k != name {
                    *v = entry.clone();
                    changed.push(k.clone());
                }
            }
            changed
        };
        self.install()?;
        Ok(changed)
    }

    fn install(&self) -> Result<(), String> {
        let Some(apply) = &self.apply else {
            return Ok(());
        };
        let mut spec =
            directive(self.root.lock().unwrap_or_else(|p| p.into_inner()).level).to_string();
        for (name, l) in self.set.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            spec.push_str(&format!(",{name}={}", directive(l.level)));
        }
        EnvFilter::try_new(&spec).map_err(|e| format!("invalid filter {spec}: {e}"))?;
        apply(&spec)
    }
}

static GLOBAL: std::sync::OnceLock<std::sync::Arc<Loggers>> = std::sync::OnceLock::new();

/// Makes `loggers` the process's (the binary calls this once, at start).
pub fn install(loggers: Loggers) {
    let _ = GLOBAL.set(std::sync::Arc::new(loggers));
}

/// The process's loggers; without [`install`], levels are tracked but change nothing.
pub fn global() -> std::sync::Arc<Loggers> {
    std::sync::Arc::clone(GLOBAL.get_or_init(|| std::sync::Arc::new(Loggers::new("INFO", None))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_inherit_and_children_follow_their_parent() {
        let applied = std::sync::Arc::new(Mutex::new(String::new()));
        let seen = std::sync::Arc::clone(&applied);
        let loggers = Loggers::new(
            "INFO",
            Some(Box::new(move |spec| {
                *seen.lock().expect("lock") = spec.to_string();
                Ok(())
            })),
        );
        assert_eq!(loggers.level_of("culvert::herder").level, "INFO");
        loggers.set_level("culvert::herder", "DEBUG").expect("set");
        assert_eq!(loggers.level_of("culvert::herder::changes").level, "DEBUG");
        assert!(loggers.level_of("culvert::herder").last_modified.is_some());
        assert_eq!(*applied.lock().expect("lock"), "info,culvert::herder=debug");
        let changed = loggers.set_level("culvert", "WARN").expect("set");
        assert_eq!(changed, ["culvert", "culvert::herder"]);
        assert_eq!(loggers.level_of("culvert::herder").level, "WARN");
        assert_eq!(parse_level("fatal"), Some("FATAL"));
        assert_eq!(parse_level("LOUD"), None);
        assert!(loggers.set_level("?4RR", "WARN").is_err(), "not a target");
        assert_eq!(
            loggers.all().keys().collect::<Vec<_>>(),
            ["culvert", "culvert::herder", "root"]
        );
    }
}
