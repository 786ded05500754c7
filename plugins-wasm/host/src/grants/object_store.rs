//! The `object-store` grant: which buckets, and which keys in them, a connector's plugin may
//! use.
//!
//! `plugin.allow.buckets` is a comma-separated list of `bucket` (any key) or `bucket/prefix`
//! (keys starting with `prefix`; listings must stay under it). A custom endpoint's host must
//! also be granted in `plugin.allow.hosts`. Empty (the default): no bucket.

/// Config key of the bucket allowlist.
pub const ALLOW_BUCKETS: &str = "plugin.allow.buckets";

#[derive(Debug, Clone, PartialEq, Eq)]
struct BucketRule {
    bucket: String,
    prefix: String,
}

impl std::fmt::Display for BucketRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            f.write_str(&self.bucket)
        } else {
            write!(f, "{}/{}", self.bucket, self.prefix)
        }
    }
}

/// The buckets one connector may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ObjectGrant {
    rules: Vec<BucketRule>,
}

impl ObjectGrant {
    /// Reads `plugin.allow.buckets`.
    pub(crate) fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let Some(list) = get(ALLOW_BUCKETS) else {
            return Ok(Self::default());
        };
        let rules = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                let (bucket, prefix) = entry.split_once('/').unwrap_or((entry, ""));
                let valid = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    });
                if !valid {
                    return Err(format!(
                        "{ALLOW_BUCKETS} entry {entry:?} must start with a bucket name (3-63 \
                         lowercase letters, digits, '-' or '.'), optionally followed by /prefix"
                    ));
                }
                Ok(BucketRule {
                    bucket: bucket.to_string(),
                    prefix: prefix.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { rules })
    }

    /// Whether no bucket is granted.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn deny(&self, what: String) -> String {
        if self.rules.is_empty() {
            return format!("{what} is not granted: the connector sets no {ALLOW_BUCKETS}");
        }
        let granted: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
        format!("{what} is not in {ALLOW_BUCKETS} ({})", granted.join(", "))
    }

    /// Checks access to `key` in `bucket`.
    pub(crate) fn check_key(&self, bucket: &str, key: &str) -> Result<(), String> {
        if self
            .rules
            .iter()
            .any(|r| r.bucket == bucket && key.starts_with(&r.prefix))
        {
            return Ok(());
        }
        Err(self.deny(format!("{bucket}/{key}")))
    }

    /// Checks a listing of `prefix` in `bucket`: it must stay within a granted prefix.
    pub(crate) fn check_listing(&self, bucket: &str, prefix: &str) -> Result<(), String> {
        if self
            .rules
            .iter()
            .any(|r| r.bucket == bucket && prefix.starts_with(&r.prefix))
        {
            return Ok(());
        }
        Err(self.deny(format!("listing {bucket}/{prefix}*")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(list: &str) -> Result<ObjectGrant, String> {
        ObjectGrant::from_config(|k| (k == ALLOW_BUCKETS).then(|| list.to_string()))
    }

    #[test]
    fn keys_and_listings_stay_inside_granted_prefixes() {
        let g = grant("data-lake, exports/culvert/").expect("valid");
        assert!(g.check_key("data-lake", "any/key").is_ok());
        assert!(g.check_key("exports", "culvert/a.json").is_ok());
        assert!(g.check_key("exports", "other/a.json").is_err());
        assert!(g.check_listing("exports", "culvert/2024/").is_ok());
        assert!(g.check_listing("exports", "").is_err());
        assert_eq!(
            g.check_key("secrets", "k").expect_err("denied"),
            "secrets/k is not in plugin.allow.buckets (data-lake, exports/culvert/)"
        );
        assert!(
            grant("")
                .expect("empty")
                .check_key("a", "b")
                .expect_err("none")
                .contains("sets no plugin.allow.buckets")
        );
    }

    #[test]
    fn bad_bucket_names_name_the_key() {
        for entry in ["Upper", "ab", "s3://bucket", "/prefix"] {
            let err = grant(entry).expect_err(entry);
            assert!(err.starts_with("plugin.allow.buckets entry"), "{err}");
        }
    }
}
