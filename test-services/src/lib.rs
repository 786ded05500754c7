//! Real servers for tests: each type starts a throwaway instance in a temporary directory
//! on a free loopback port, waits until it accepts clients, and stops it when dropped.
//!
//! - [`Postgres`]: PostgreSQL (logical WAL on, ready for CDC), password auth over TCP.
//! - [`MariaDb`]: MariaDB with row-based binlog, a `culvert` user and database.
//! - [`Moto`]: moto's S3-compatible server (from the repository's `.venv`).
//!
//! A missing server binary is an error that says how to install it (`scripts/deps` does);
//! tests call `expect` on it, so they fail loudly instead of skipping.

mod mariadb;
mod moto;
mod postgres;
mod process;

pub use mariadb::MariaDb;
pub use moto::Moto;
pub use postgres::Postgres;

/// What went wrong starting a server, in one sentence with the remedy.
#[derive(Debug)]
pub struct ServiceError(pub String);

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServiceError {}

/// The password of the accounts the services create.
pub const PASSWORD: &str = "culvert-test";
