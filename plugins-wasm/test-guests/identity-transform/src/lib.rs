//! `identity-transform`: a transform for the host's tests and benchmarks. It passes every
//! record through unchanged, except that records whose value contains `drop.containing` are
//! dropped and those containing `fail.containing` are reported as failed. By default it
//! reuses the input (nothing is copied back); `copy=true` makes it copy every byte into its
//! output instead; `key=<text>` replaces every key and reuses value and headers;
//! `also.key=<text>` keeps each record and adds a copy with that key after it; `twice=true`
//! keeps each record twice.

use culvert_connector_sdk::{
    Config, ConfigKeyBuilder, ConfigType, Part, Plugin, PluginError, PluginSpec, RecordFailure,
    Transform, TransformBatchBuilder, TransformRecords, Transformer,
};

/// The plugin.
pub struct Identity;

impl Plugin for Identity {
    fn spec() -> PluginSpec {
        let key =
            |name: &str, doc: &str| ConfigKeyBuilder::new(name, ConfigType::String, doc).build();
        PluginSpec {
            name: "identity-transform".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Test transform that copies records".to_string(),
            config_def: vec![
                key(
                    "drop.containing",
                    "Drop records whose value contains this text.",
                ),
                key(
                    "fail.containing",
                    "Fail records whose value contains this text.",
                ),
                key(
                    "copy",
                    "true: copy every record into the output instead of reusing it.",
                ),
                key(
                    "key",
                    "Replace every key with this text (value and headers reused).",
                ),
                key(
                    "also.key",
                    "Keep each record and add a copy with this key after it.",
                ),
                key("twice", "true: keep each record twice."),
            ],
        }
    }
}

impl Transform for Identity {
    type Instance = IdentityInstance;
}

/// One configured transform.
pub struct IdentityInstance {
    drop_containing: Option<Vec<u8>>,
    fail_containing: Option<Vec<u8>>,
    copy: bool,
    key: Option<Vec<u8>>,
    also_key: Option<Vec<u8>>,
    twice: bool,
}

fn marker(cfg: &Config, key: &str) -> Option<Vec<u8>> {
    cfg.get(key)
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
}

fn contains(haystack: Option<&[u8]>, needle: &Option<Vec<u8>>) -> bool {
    match (haystack, needle) {
        (Some(h), Some(n)) => h.windows(n.len()).any(|w| w == n.as_slice()),
        _ => false,
    }
}

impl Transformer for IdentityInstance {
    fn new(cfg: Config) -> Result<Self, PluginError> {
        Ok(Self {
            drop_containing: marker(&cfg, "drop.containing"),
            fail_containing: marker(&cfg, "fail.containing"),
            copy: cfg.get("copy") == Some("true"),
            key: marker(&cfg, "key"),
            also_key: marker(&cfg, "also.key"),
            twice: cfg.get("twice") == Some("true"),
        })
    }

    fn apply(
        &mut self,
        records: TransformRecords<'_>,
        out: &mut TransformBatchBuilder,
    ) -> Result<Vec<RecordFailure>, PluginError> {
        let mut failures = Vec::new();
        let mut headers = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let i = i as u32;
            if contains(r.value, &self.fail_containing) {
                failures.push(RecordFailure::new(
                    i as usize,
                    "the value contains the failure marker",
                ));
                continue;
            }
            if contains(r.value, &self.drop_containing) {
                continue;
            }
            if self.twice || self.also_key.is_some() {
                out.keep(i, &r).map_err(PluginError::Fatal)?;
            }
            if let Some(key) = self.also_key.as_ref().or(self.key.as_ref()) {
                out.push_parts(
                    i,
                    r.topic,
                    Part::New(Some(key.as_slice())),
                    Part::Origin,
                    Part::Origin,
                    r.timestamp_ms,
                )
            } else if self.copy {
                headers.clear();
                headers.extend(r.headers);
                out.push(i, r.topic, r.key, r.value, &headers, r.timestamp_ms)
            } else {
                out.keep(i, &r)
            }
            .map_err(PluginError::Fatal)?;
        }
        Ok(failures)
    }
}

culvert_connector_sdk::export_transform!(Identity);
