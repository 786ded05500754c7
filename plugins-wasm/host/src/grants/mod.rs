//! What a connector's configuration grants its plugin beyond the base sandbox. Grants come
//! from the connector configuration the user wrote — never from task configurations, which
//! the plugin itself produces. One submodule per capability.

mod http;
mod object_store;
mod sql;

pub(crate) use http::HttpGrant;
pub use http::{ALLOW_HOSTS, ALLOW_PRIVATE};
pub use object_store::ALLOW_BUCKETS;
pub(crate) use object_store::ObjectGrant;
pub use sql::ALLOW_SQL_URLS;
pub(crate) use sql::SqlGrant;
pub(crate) use sql::{DatabaseAddress, DbKind, redact};

/// Everything granted to one connector's plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub(crate) http: HttpGrant,
    pub(crate) sql: SqlGrant,
    pub(crate) objects: ObjectGrant,
}

impl Grants {
    /// Nothing beyond the base sandbox.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads the grants from a connector configuration; errors name the bad key.
    pub fn from_config(config: &[(String, String)]) -> Result<Self, String> {
        let get = |key: &str| {
            config
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        Ok(Self {
            http: HttpGrant::from_config(get)?,
            sql: SqlGrant::from_config(get)?,
            objects: ObjectGrant::from_config(get)?,
        })
    }
}
