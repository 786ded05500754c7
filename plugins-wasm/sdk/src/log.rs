//! Writing into the worker's log. Messages are tagged with the connector and task by the
//! host; `fields` add structured key/value pairs.

use crate::bindings::source::culvert::connector::logging::{self, Level};

fn emit(level: Level, msg: &str, fields: &[(&str, &str)]) {
    if !logging::enabled(level) {
        return;
    }
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    logging::log(level, msg, &fields);
}

/// Whether a debug message would be recorded (skip expensive formatting otherwise).
pub fn debug_enabled() -> bool {
    logging::enabled(Level::Debug)
}

/// Logs at debug level.
pub fn debug(msg: &str, fields: &[(&str, &str)]) {
    emit(Level::Debug, msg, fields);
}

/// Logs at info level.
pub fn info(msg: &str, fields: &[(&str, &str)]) {
    emit(Level::Info, msg, fields);
}

/// Logs at warn level.
pub fn warn(msg: &str, fields: &[(&str, &str)]) {
    emit(Level::Warn, msg, fields);
}

/// Logs at error level.
pub fn error(msg: &str, fields: &[(&str, &str)]) {
    emit(Level::Error, msg, fields);
}
