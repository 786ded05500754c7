//! Config providers: `${provider:[path:]key}` placeholders in connector configurations,
//! resolved only when a plugin needs the values — the stored configuration, the REST API
//! and the logs keep the placeholder, so secrets stay out of the config topic.
//!
//! Kafka Connect's three built-in providers: `FileConfigProvider` (`${file:/etc/x.properties:
//! key}`, a key of a properties file), `DirectoryConfigProvider` (`${dir:/run/secrets:
//! db-password}`, a file's content) and `EnvVarConfigProvider` (`${env:DB_PASSWORD}`). A
//! placeholder naming no configured provider is left as written, as in Connect; one whose
//! file, key or variable is missing is an error naming the configuration key.

use std::collections::BTreeMap;
use std::path::Path;

use super::worker::{ConfigProvider, ProviderKind};

/// The worker's providers, by alias.
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, ProviderKind>,
}

/// One `${...}` placeholder found in a value.
struct Placeholder<'a> {
    start: usize,
    end: usize,
    alias: &'a str,
    path: Option<&'a str>,
    key: &'a str,
}

fn placeholders(value: &str) -> Vec<Placeholder<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = value[from..].find("${").map(|i| i + from) {
        let Some(close) = value[open..].find('}').map(|i| i + open) else {
            break;
        };
        let inner = &value[open + 2..close];
        if let Some((alias, rest)) = inner.split_once(':') {
            let (path, key) = match rest.rsplit_once(':') {
                Some((p, k)) => (Some(p), k),
                None => (None, rest),
            };
            found.push(Placeholder {
                start: open,
                end: close + 1,
                alias,
                path,
                key,
            });
        }
        from = close + 1;
    }
    found
}

/// Reads `key` from a Java-style properties file (`key=value` or `key: value`, `#` and
/// `!` comments).
fn properties_file(path: &Path, key: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let at = l.find(['=', ':'])?;
            Some((l[..at].trim(), l[at + 1..].trim()))
        })
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| format!("{} has no key {key}", path.display()))
}

impl ConfigProviders {
    /// The providers of the worker configuration. Parameters Culvert does not implement
    /// (`allowlist.pattern`, `allowed.paths`) are refused rather than ignored.
    pub fn new(providers: &[ConfigProvider]) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for p in providers {
            if let Some(param) = p.params.keys().next() {
                return Err(format!(
                    "config.providers.{}.param.{param} is not supported yet; remove it",
                    p.alias
                ));
            }
            out.insert(p.alias.clone(), p.kind);
        }
        Ok(Self { providers: out })
    }

    fn lookup(&self, p: &Placeholder<'_>) -> Option<Result<String, String>> {
        let kind = self.providers.get(p.alias)?;
        Some(match kind {
            ProviderKind::Env => std::env::var(p.key)
                .map_err(|_| format!("the environment has no variable {}", p.key)),
            ProviderKind::File => match p.path {
                Some(path) => properties_file(Path::new(path), p.key),
                None => Err("a file placeholder needs a path: ${alias:/path/file:key}".into()),
            },
            ProviderKind::Directory => match p.path {
                Some(dir) if !p.key.contains('/') && p.key != ".." => {
                    let file = Path::new(dir).join(p.key);
                    std::fs::read_to_string(&file)
                        .map_err(|e| format!("cannot read {}: {e}", file.display()))
                }
                Some(_) => Err(format!("{} is not a file name", p.key)),
                None => Err("a directory placeholder needs a path: ${alias:/dir:file}".into()),
            },
        })
    }

    /// `config` with every placeholder of a configured provider replaced by its value.
    pub fn resolve(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        for (key, value) in config {
            let mut resolved = String::with_capacity(value.len());
            let mut at = 0;
            for p in placeholders(value) {
                resolved.push_str(&value[at..p.start]);
                match self.lookup(&p) {
                    None => resolved.push_str(&value[p.start..p.end]),
                    Some(Ok(v)) => resolved.push_str(&v),
                    Some(Err(why)) => {
                        return Err(format!(
                            "Invalid value {} for configuration {key}: {why}",
                            &value[p.start..p.end]
                        ));
                    }
                }
                at = p.end;
            }
            resolved.push_str(&value[at..]);
            out.insert(key.clone(), resolved);
        }
        Ok(out)
    }

    /// Puts the placeholders back into configurations a plugin derived from `resolved`
    /// (task configurations): a value equal to a resolved secret of the same key becomes
    /// the placeholder again, so secrets are not stored in the config topic.
    pub fn mask(
        raw: &BTreeMap<String, String>,
        resolved: &BTreeMap<String, String>,
        derived: &mut BTreeMap<String, String>,
    ) {
        for (key, value) in derived.iter_mut() {
            if let (Some(r), Some(s)) = (raw.get(key), resolved.get(key))
                && r != s
                && value == s
            {
                value.clone_from(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers() -> ConfigProviders {
        ConfigProviders::new(&[
            ConfigProvider {
                alias: "file".into(),
                kind: ProviderKind::File,
                params: BTreeMap::new(),
            },
            ConfigProvider {
                alias: "dir".into(),
                kind: ProviderKind::Directory,
                params: BTreeMap::new(),
            },
            ConfigProvider {
                alias: "env".into(),
                kind: ProviderKind::Env,
                params: BTreeMap::new(),
            },
        ])
        .expect("providers")
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_resolve_from_files_directories_and_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let props = dir.path().join("db.properties");
        std::fs::write(&props, "# secrets\nuser = app\npassword: s3cret\n").expect("write");
        std::fs::write(dir.path().join("token"), "tok").expect("write");
        let home = std::env::var("HOME").unwrap_or_default();
        let raw = map(&[
            (
                "connection.user",
                &format!("${{file:{}:user}}", props.display()),
            ),
            (
                "connection.url",
                &format!("postgres://db/${{dir:{}:token}}?x=1", dir.path().display()),
            ),
            ("home", "${env:HOME}"),
            ("literal", "${vault:secret/x:y} and ${not a placeholder}"),
        ]);
        let resolved = providers().resolve(&raw).expect("resolves");
        assert_eq!(resolved["connection.user"], "app");
        assert_eq!(resolved["connection.url"], "postgres://db/tok?x=1");
        assert_eq!(resolved["home"], home);
        assert_eq!(
            resolved["literal"], raw["literal"],
            "unknown providers stay as written"
        );

        let missing = map(&[(
            "connection.password",
            &format!("${{file:{}:nope}}", props.display()),
        )]);
        let err = providers().resolve(&missing).expect_err("missing key");
        assert!(
            err.contains("for configuration connection.password"),
            "{err}"
        );
        assert!(err.contains("has no key nope"), "{err}");
        let escape = map(&[("x", &format!("${{dir:{}:../etc}}", dir.path().display()))]);
        assert!(providers().resolve(&escape).is_err());
    }

    #[test]
    fn derived_configs_get_their_placeholders_back() {
        let raw = map(&[("password", "${env:PW}"), ("topic", "t")]);
        let resolved = map(&[("password", "hunter2"), ("topic", "t")]);
        let mut task = map(&[("password", "hunter2"), ("topic", "t"), ("task.id", "0")]);
        ConfigProviders::mask(&raw, &resolved, &mut task);
        assert_eq!(
            task,
            map(&[("password", "${env:PW}"), ("topic", "t"), ("task.id", "0")])
        );
    }

    #[test]
    fn unsupported_parameters_are_refused() {
        let err = ConfigProviders::new(&[ConfigProvider {
            alias: "env".into(),
            kind: ProviderKind::Env,
            params: map(&[("allowlist.pattern", "^APP_")]),
        }])
        .expect_err("refused");
        assert!(
            err.contains("config.providers.env.param.allowlist.pattern"),
            "{err}"
        );
    }
}
