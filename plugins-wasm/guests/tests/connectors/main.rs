//! The built-in connectors, run under the real plugin host by the connector test kit against
//! real servers (PostgreSQL, MariaDB, SQLite files) that the tests start.

mod jdbc_source;
