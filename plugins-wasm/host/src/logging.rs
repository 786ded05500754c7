//! The `logging` capability: plugin log lines go into `tracing`, tagged with the plugin,
//! connector and task, at the level the plugin chose.

use crate::bindings::culvert::connector::logging::{Host, Level};
use crate::bindings::culvert::connector::types;
use crate::state::StoreState;

impl types::Host for StoreState {}

/// Longest message or field list kept from one plugin log call; the rest is cut so a plugin
/// cannot flood the worker's log with one giant line.
const MAX_LOG_CHARS: usize = 8 * 1024;

fn clip(s: &str) -> &str {
    if s.len() <= MAX_LOG_CHARS {
        return s;
    }
    let mut end = MAX_LOG_CHARS;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Host for StoreState {
    async fn enabled(&mut self, lvl: Level) -> wasmtime::Result<bool> {
        Ok(match lvl {
            Level::Trace => tracing::enabled!(target: "plugin", tracing::Level::TRACE),
            Level::Debug => tracing::enabled!(target: "plugin", tracing::Level::DEBUG),
            Level::Info => tracing::enabled!(target: "plugin", tracing::Level::INFO),
            Level::Warn => tracing::enabled!(target: "plugin", tracing::Level::WARN),
            Level::Error => tracing::enabled!(target: "plugin", tracing::Level::ERROR),
        })
    }

    async fn log(
        &mut self,
        lvl: Level,
        msg: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let ctx = &self.log;
        let task = ctx.task.map(i64::from).unwrap_or(-1);
        let fields = fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let (msg, fields) = (clip(&msg), clip(&fields));
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(target: "plugin", $level, plugin = %ctx.plugin,
                    connector = %ctx.connector, task, fields, "{msg}")
            };
        }
        match lvl {
            Level::Trace => emit!(tracing::Level::TRACE),
            Level::Debug => emit!(tracing::Level::DEBUG),
            Level::Info => emit!(tracing::Level::INFO),
            Level::Warn => emit!(tracing::Level::WARN),
            Level::Error => emit!(tracing::Level::ERROR),
        }
        Ok(())
    }
}
