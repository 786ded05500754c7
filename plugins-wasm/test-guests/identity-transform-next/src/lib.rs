//! `identity-transform` version 0.2.0: the same source as `../identity-transform`, built
//! with this crate's version, so the registry's tests have two versions of one plugin.

#[path = "../../identity-transform/src/lib.rs"]
mod identity;

pub use identity::{Identity, IdentityInstance};
