//! The built-in connectors, run under the real plugin host by the connector test kit against
//! real servers (PostgreSQL, MariaDB, SQLite files, an HTTP server) that the tests start.

mod http_sink;
mod jdbc_source;
