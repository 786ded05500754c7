//! The worker's configuration: Kafka Connect's worker keys, typed, defaulted and validated
//! at start. Every problem is reported at once, naming the key; keys nothing reads produce
//! warnings (with the nearest known key), never errors, as in Connect.
//!
//! Culvert-specific decisions (recorded in ARCHITECTURE.md): `key.converter` and
//! `value.converter` default to `JsonConverter` (Connect requires them); standalone mode
//! fills `group.id` and the three internal topic names with defaults, and replication
//! factors default to 1 there (one embedded broker); failover defaults are fast:
//! `session.timeout.ms` 3 s and `heartbeat.interval.ms` 1 s (Connect: 10 s and 3 s), and
//! `scheduled.rebalance.max.delay.ms` 0 (Connect: 5 minutes), so a lost worker's tasks run
//! elsewhere within seconds; `group.instance.id` gives a restarting worker its work back.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::reader::Reader;
use super::security::{Security, is_security_key};

/// How the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One worker with the embedded broker (`culvert standalone`).
    Standalone,
    /// A member of a worker cluster (`group.id`).
    Distributed,
}

/// A REST listener from `listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub scheme: String,
    /// `None` listens on every interface (`http://:8083`).
    pub host: Option<String>,
    pub port: u16,
}

/// How an internal topic is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSettings {
    pub name: String,
    /// -1 means the broker's default.
    pub partitions: i32,
    /// -1 means the broker's default.
    pub replication_factor: i16,
    /// Extra topic configs from `<store>.storage.*` (compaction is always forced on).
    pub configs: BTreeMap<String, String>,
}

/// The kind of a config provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// `${alias:path:key}`: a key of a properties file.
    File,
    /// `${alias:dir:file}`: a file's content.
    Directory,
    /// `${alias:NAME}`: an environment variable.
    Env,
}

/// One entry of `config.providers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProvider {
    pub alias: String,
    pub kind: ProviderKind,
    pub params: BTreeMap<String, String>,
}

/// The typed worker configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    pub mode: Mode,
    pub bootstrap_servers: Vec<String>,
    pub group_id: String,
    pub config_topic: TopicSettings,
    pub offset_topic: TopicSettings,
    pub status_topic: TopicSettings,
    pub key_converter: String,
    pub value_converter: String,
    pub header_converter: String,
    /// Worker-wide converter options: `key.converter.*`, `value.converter.*`,
    /// `header.converter.*` (prefix removed).
    pub key_converter_props: BTreeMap<String, String>,
    pub value_converter_props: BTreeMap<String, String>,
    pub header_converter_props: BTreeMap<String, String>,
    pub heartbeat_interval_ms: i64,
    pub session_timeout_ms: i64,
    /// `session.timeout.ms` was not set: a broker's higher minimum may raise it.
    pub session_timeout_defaulted: bool,
    /// `group.instance.id`: static membership (a restart within the session keeps the
    /// work).
    pub group_instance_id: Option<String>,
    pub rebalance_timeout_ms: i64,
    pub worker_sync_timeout_ms: i64,
    pub worker_unsync_backoff_ms: i64,
    pub scheduled_rebalance_max_delay_ms: i64,
    pub connect_protocol: &'static str,
    pub offset_flush_interval_ms: i64,
    pub offset_flush_timeout_ms: i64,
    pub task_shutdown_graceful_timeout_ms: i64,
    pub plugin_path: Vec<PathBuf>,
    pub listeners: Vec<Listener>,
    pub rest_advertised_host_name: Option<String>,
    pub rest_advertised_port: Option<u16>,
    pub rest_advertised_listener: Option<String>,
    pub access_control_allow_origin: Option<String>,
    pub access_control_allow_methods: Option<String>,
    pub client_config_override_policy: &'static str,
    pub config_providers: Vec<ConfigProvider>,
    pub topic_creation_enable: bool,
    pub topic_tracking_enable: bool,
    pub topic_tracking_allow_reset: bool,
    pub exactly_once_source_support: &'static str,
    /// Worker-wide client settings: `producer.*`, `consumer.*`, `admin.*` (prefix removed).
    pub producer: BTreeMap<String, String>,
    pub consumer: BTreeMap<String, String>,
    pub admin: BTreeMap<String, String>,
    /// TLS and SASL for the worker's own Kafka clients (stores and group membership).
    pub security: Security,
    /// The security keys as given (Connect's names), the base of every client's settings.
    pub security_props: BTreeMap<String, String>,
}

/// The worker configuration could not be used; every problem is listed.
#[derive(Debug, thiserror::Error)]
#[error("invalid worker configuration:\n  {}", .problems.join("\n  "))]
pub struct WorkerConfigError {
    pub problems: Vec<String>,
}

const MAX_MS: i64 = i32::MAX as i64;

fn parse_listener(r: &mut Reader<'_>, entry: &str) -> Option<Listener> {
    let bad = |r: &mut Reader<'_>, why: &str| {
        r.invalid("listeners", entry, why);
        None
    };
    let Some((scheme, rest)) = entry.split_once("://") else {
        return bad(
            r,
            "a listener is a URL such as http://:8083 or http://0.0.0.0:8083",
        );
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "https" {
        return bad(
            r,
            "https listeners are not supported yet; terminate TLS in front of the worker",
        );
    }
    if scheme != "http" {
        return bad(r, "the scheme must be http");
    }
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p),
        None => return bad(r, "the listener must name a port"),
    };
    let Ok(port) = port.parse::<u16>() else {
        return bad(r, "the port must be a number between 0 and 65535");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(Listener {
        scheme,
        host: (!host.is_empty()).then(|| host.to_string()),
        port,
    })
}

fn parse_provider(r: &mut Reader<'_>, alias: &str) -> Option<ConfigProvider> {
    let key = format!("config.providers.{alias}.class");
    let Some(class) = r.optional(&key) else {
        r.invalid("config.providers", alias, &format!("{key} is not set"));
        return None;
    };
    let short = class.rsplit('.').next().unwrap_or_default();
    let kind = match short {
        "FileConfigProvider" => ProviderKind::File,
        "DirectoryConfigProvider" => ProviderKind::Directory,
        "EnvVarConfigProvider" => ProviderKind::Env,
        _ => {
            r.invalid(
                &key,
                &class,
                "Culvert provides FileConfigProvider, DirectoryConfigProvider and \
                 EnvVarConfigProvider (org.apache.kafka.common.config.provider)",
            );
            return None;
        }
    };
    let params = r.prefixed(&format!("config.providers.{alias}.param."));
    Some(ConfigProvider {
        alias: alias.to_string(),
        kind,
        params,
    })
}

impl WorkerConfig {
    /// Types and validates `props`; returns the configuration and the warnings (unknown
    /// keys), or every problem found.
    pub fn from_properties(
        props: &BTreeMap<String, String>,
        mode: Mode,
    ) -> Result<(Self, Vec<String>), WorkerConfigError> {
        let mut r = Reader::new(props);
        let standalone = mode == Mode::Standalone;
        let bootstrap_servers = r.list("bootstrap.servers", &["localhost:9092"]);
        for server in &bootstrap_servers {
            let ok = server
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                r.invalid("bootstrap.servers", server, "each entry must be host:port");
            }
        }
        if bootstrap_servers.is_empty() {
            r.invalid("bootstrap.servers", "", "at least one host:port is needed");
        }
        let named = |r: &mut Reader<'_>, key: &str, default: &str| {
            if standalone {
                r.string(key, default)
            } else {
                r.required(key)
            }
        };
        let group_id = named(&mut r, "group.id", "culvert-standalone");
        let default_rf = if standalone { 1 } else { 3 };
        let rf = |r: &mut Reader<'_>, key: &str| {
            let v = r.int(key, default_rf, -1, i64::from(i16::MAX));
            if v == 0 {
                r.invalid(
                    key,
                    "0",
                    "Replication factor must be positive, or -1 for the broker default",
                );
            }
            v as i16
        };
        let config_topic = TopicSettings {
            name: named(&mut r, "config.storage.topic", "connect-configs"),
            partitions: 1,
            replication_factor: rf(&mut r, "config.storage.replication.factor"),
            configs: r.prefixed("config.storage."),
        };
        let partitions = |r: &mut Reader<'_>, key: &str, default: i64| {
            let v = r.int(key, default, -1, i64::from(i32::MAX));
            if v == 0 {
                r.invalid(
                    key,
                    "0",
                    "Number of partitions must be positive, or -1 for the broker default",
                );
            }
            v as i32
        };
        let offset_topic = TopicSettings {
            name: named(&mut r, "offset.storage.topic", "connect-offsets"),
            partitions: partitions(&mut r, "offset.storage.partitions", 25),
            replication_factor: rf(&mut r, "offset.storage.replication.factor"),
            configs: r.prefixed("offset.storage."),
        };
        let status_topic = TopicSettings {
            name: named(&mut r, "status.storage.topic", "connect-status"),
            partitions: partitions(&mut r, "status.storage.partitions", 5),
            replication_factor: rf(&mut r, "status.storage.replication.factor"),
            configs: r.prefixed("status.storage."),
        };
        // The prefixed maps above also caught the typed keys; keep only topic configs.
        let strip = |t: &mut TopicSettings| {
            for k in ["topic", "replication.factor", "partitions"] {
                t.configs.remove(k);
            }
        };
        let (mut config_topic, mut offset_topic, mut status_topic) =
            (config_topic, offset_topic, status_topic);
        strip(&mut config_topic);
        strip(&mut offset_topic);
        strip(&mut status_topic);
        let names = [&config_topic.name, &offset_topic.name, &status_topic.name];
        let all_named = names.iter().all(|n| !n.is_empty());
        if all_named && (names[0] == names[1] || names[0] == names[2] || names[1] == names[2]) {
            r.invalid(
                "config.storage.topic",
                names[0],
                "the config, offset and status topics must be three different topics",
            );
        }

        let json = "org.apache.kafka.connect.json.JsonConverter";
        let key_converter = r.string("key.converter", json);
        let value_converter = r.string("value.converter", json);
        let header_converter = r.string(
            "header.converter",
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        );
        let key_converter_props = r.prefixed("key.converter.");
        let value_converter_props = r.prefixed("value.converter.");
        let header_converter_props = r.prefixed("header.converter.");
        let heartbeat_interval_ms = r.int("heartbeat.interval.ms", 1000, 1, MAX_MS);
        let session_timeout_ms = r.int("session.timeout.ms", 3000, 1, MAX_MS);
        let session_timeout_defaulted = !props.contains_key("session.timeout.ms");
        let group_instance_id = r.optional("group.instance.id").filter(|s| !s.is_empty());
        if heartbeat_interval_ms >= session_timeout_ms {
            r.invalid(
                "heartbeat.interval.ms",
                &heartbeat_interval_ms.to_string(),
                "must be lower than session.timeout.ms",
            );
        }
        // Security keys apply to every Kafka client of the worker (stores, membership,
        // tasks); `producer.`/`consumer.`/`admin.` prefixed keys override them per client.
        let security_props: BTreeMap<String, String> = props
            .iter()
            .filter(|(k, _)| is_security_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for key in security_props.keys() {
            r.raw(key);
        }
        let security = match Security::parse(&security_props) {
            Ok(s) => s,
            Err(problems) => {
                for problem in problems {
                    r.problem(problem);
                }
                Security::default()
            }
        };
        if standalone && security != Security::default() {
            let protocol = security_props
                .get("security.protocol")
                .map_or("", String::as_str);
            r.invalid(
                "security.protocol",
                protocol,
                "standalone mode runs its own plaintext broker; TLS and SASL settings are for \
                 distributed workers (culvert worker) reaching an external Kafka",
            );
        }
        let rebalance_timeout_ms = r.int("rebalance.timeout.ms", 60_000, 1, MAX_MS);
        let worker_sync_timeout_ms = r.int("worker.sync.timeout.ms", 3000, 1, MAX_MS);
        let worker_unsync_backoff_ms = r.int("worker.unsync.backoff.ms", 300_000, 0, MAX_MS);
        let scheduled_rebalance_max_delay_ms =
            r.int("scheduled.rebalance.max.delay.ms", 0, 0, MAX_MS);
        let connect_protocol = r.choice(
            "connect.protocol",
            "sessioned",
            &["eager", "compatible", "sessioned"],
        );
        let offset_flush_interval_ms = r.int("offset.flush.interval.ms", 60_000, 1, i64::MAX);
        let offset_flush_timeout_ms = r.int("offset.flush.timeout.ms", 5000, 1, i64::MAX);
        let task_shutdown_graceful_timeout_ms =
            r.int("task.shutdown.graceful.timeout.ms", 5000, 0, i64::MAX);
        let plugin_path = r
            .list("plugin.path", &[])
            .into_iter()
            .map(PathBuf::from)
            .collect();
        let listener_entries = r.list("listeners", &["http://:8083"]);
        let listeners: Vec<Listener> = listener_entries
            .iter()
            .filter_map(|e| parse_listener(&mut r, e))
            .collect();
        if listener_entries.is_empty() {
            r.invalid("listeners", "", "at least one listener is needed");
        }
        let rest_advertised_host_name = r.optional("rest.advertised.host.name");
        let rest_advertised_port = match r.raw("rest.advertised.port") {
            None | Some("") => None,
            Some(p) => match p.parse::<u16>() {
                Ok(p) => Some(p),
                Err(_) => {
                    r.invalid("rest.advertised.port", p, "Not a port number");
                    None
                }
            },
        };
        let rest_advertised_listener = r.optional("rest.advertised.listener");
        let access_control_allow_origin = r.optional("access.control.allow.origin");
        let access_control_allow_methods = r.optional("access.control.allow.methods");
        let client_config_override_policy = r.choice(
            "connector.client.config.override.policy",
            "All",
            &["All", "None", "Principal"],
        );
        // The aliases: `config.providers`, or — since nested file formats cannot hold both
        // `config.providers = "env"` and `config.providers.env.class` — every alias that
        // has a `config.providers.<alias>.class`.
        let mut aliases = r.list("config.providers", &[]);
        if aliases.is_empty() {
            aliases = props
                .keys()
                .filter_map(|k| k.strip_prefix("config.providers.")?.strip_suffix(".class"))
                .filter(|alias| !alias.is_empty() && !alias.contains('.'))
                .map(str::to_string)
                .collect();
        }
        let config_providers = aliases
            .iter()
            .filter_map(|alias| parse_provider(&mut r, alias))
            .collect();
        let topic_creation_enable = r.boolean("topic.creation.enable", true);
        let topic_tracking_enable = r.boolean("topic.tracking.enable", true);
        let topic_tracking_allow_reset = r.boolean("topic.tracking.allow.reset", true);
        let exactly_once_source_support = r.choice(
            "exactly.once.source.support",
            "disabled",
            &["disabled", "preparing", "enabled"],
        );
        if exactly_once_source_support != "disabled" {
            r.invalid(
                "exactly.once.source.support",
                exactly_once_source_support,
                "exactly-once source support is not available yet; use disabled",
            );
        }
        let producer = r.prefixed("producer.");
        let consumer = r.prefixed("consumer.");
        let admin = r.prefixed("admin.");
        for (prefix, client) in [
            ("producer.", &producer),
            ("consumer.", &consumer),
            ("admin.", &admin),
        ] {
            for problem in Security::override_problems(&security_props, client) {
                r.problem(format!("with the {prefix}* overrides: {problem}"));
            }
        }

        let (errors, warnings) = r.finish();
        if !errors.is_empty() {
            return Err(WorkerConfigError { problems: errors });
        }
        Ok((
            Self {
                mode,
                bootstrap_servers,
                group_id,
                config_topic,
                offset_topic,
                status_topic,
                key_converter,
                value_converter,
                header_converter,
                key_converter_props,
                value_converter_props,
                header_converter_props,
                heartbeat_interval_ms,
                session_timeout_ms,
                session_timeout_defaulted,
                group_instance_id,
                rebalance_timeout_ms,
                worker_sync_timeout_ms,
                worker_unsync_backoff_ms,
                scheduled_rebalance_max_delay_ms,
                connect_protocol,
                offset_flush_interval_ms,
                offset_flush_timeout_ms,
                task_shutdown_graceful_timeout_ms,
                plugin_path,
                listeners,
                rest_advertised_host_name,
                rest_advertised_port,
                rest_advertised_listener,
                access_control_allow_origin,
                access_control_allow_methods,
                client_config_override_policy,
                config_providers,
                topic_creation_enable,
                topic_tracking_enable,
                topic_tracking_allow_reset,
                exactly_once_source_support,
                producer,
                consumer,
                admin,
                security,
                security_props,
            },
            warnings,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_distributed_example_is_a_valid_config_with_the_documented_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/worker-distributed.toml");
        let mut example = crate::config::load_properties(Some(&path)).expect("the example loads");
        // Only the file counts: CULVERT_* variables of the test's environment are overrides.
        for (name, _) in std::env::vars() {
            if let Some(rest) = name.strip_prefix("CULVERT_") {
                example.remove(&rest.to_ascii_lowercase().replace('_', "."));
            }
        }
        let (c, warnings) = WorkerConfig::from_properties(&example, Mode::Distributed)
            .expect("the example is valid");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.group_id, "culvert-cluster");
        assert_eq!(
            (
                c.session_timeout_ms,
                c.heartbeat_interval_ms,
                c.scheduled_rebalance_max_delay_ms
            ),
            (3000, 1000, 0)
        );
        assert!(
            !c.session_timeout_defaulted,
            "the example sets it explicitly"
        );
        let (d, _) = WorkerConfig::from_properties(&props(&[]), Mode::Standalone).expect("valid");
        assert_eq!(
            (
                d.session_timeout_ms,
                d.heartbeat_interval_ms,
                d.scheduled_rebalance_max_delay_ms
            ),
            (3000, 1000, 0),
            "the example shows the defaults"
        );
        assert!(d.session_timeout_defaulted && d.group_instance_id.is_none());
    }

    #[test]
    fn standalone_needs_nothing_and_gets_connects_defaults() {
        let (c, warnings) =
            WorkerConfig::from_properties(&BTreeMap::new(), Mode::Standalone).expect("valid");
        assert!(warnings.is_empty());
        assert_eq!(c.bootstrap_servers, ["localhost:9092"]);
        assert_eq!(c.group_id, "culvert-standalone");
        assert_eq!(c.config_topic.name, "connect-configs");
        assert_eq!(c.config_topic.partitions, 1);
        assert_eq!(c.offset_topic.partitions, 25);
        assert_eq!(c.status_topic.partitions, 5);
        assert_eq!(c.offset_topic.replication_factor, 1);
        assert_eq!(
            c.listeners,
            [Listener {
                scheme: "http".into(),
                host: None,
                port: 8083
            }]
        );
        assert_eq!(c.offset_flush_interval_ms, 60_000);
        assert_eq!(c.connect_protocol, "sessioned");
        assert_eq!(
            c.key_converter,
            "org.apache.kafka.connect.json.JsonConverter"
        );
    }

    #[test]
    fn distributed_mode_requires_the_cluster_keys_and_reads_prefixes() {
        let secured: BTreeMap<String, String> = [
            ("security.protocol".to_string(), "SASL_SSL".to_string()),
            (
                "producer.sasl.mechanism".to_string(),
                "OAUTHBEARER".to_string(),
            ),
        ]
        .into();
        let err = WorkerConfig::from_properties(&secured, Mode::Distributed)
            .expect_err("SASL without a supported mechanism is refused");
        let text = err.to_string();
        assert!(
            text.contains("Invalid value GSSAPI for configuration sasl.mechanism"),
            "{text}"
        );
        assert!(
            text.contains(
                "with the producer.* overrides: Invalid value OAUTHBEARER for configuration \
                 sasl.mechanism"
            ),
            "{text}"
        );
        let err = WorkerConfig::from_properties(&BTreeMap::new(), Mode::Distributed)
            .expect_err("missing keys");
        assert_eq!(
            err.problems,
            [
                "Missing required configuration \"group.id\" which has no default value.",
                "Missing required configuration \"config.storage.topic\" which has no default value.",
                "Missing required configuration \"offset.storage.topic\" which has no default value.",
                "Missing required configuration \"status.storage.topic\" which has no default value.",
            ]
        );
        let (c, warnings) = WorkerConfig::from_properties(
            &props(&[
                ("group.id", "connect-cluster"),
                ("config.storage.topic", "c"),
                ("offset.storage.topic", "o"),
                ("status.storage.topic", "s"),
                ("offset.storage.partitions", "-1"),
                ("status.storage.min.insync.replicas", "2"),
                ("producer.compression.type", "zstd"),
                ("config.providers", "file,env"),
                (
                    "config.providers.file.class",
                    "org.apache.kafka.common.config.provider.FileConfigProvider",
                ),
                ("config.providers.env.class", "EnvVarConfigProvider"),
                ("config.providers.env.param.allowlist.pattern", "^APP_"),
                ("listeners", "http://127.0.0.1:8084, http://[::1]:8085"),
                ("offset.flush.intervall.ms", "5"),
            ]),
            Mode::Distributed,
        )
        .expect("valid");
        assert_eq!(c.offset_topic.partitions, -1);
        assert_eq!(c.offset_topic.replication_factor, 3);
        assert_eq!(
            c.status_topic.configs,
            props(&[("min.insync.replicas", "2")])
        );
        assert_eq!(c.producer, props(&[("compression.type", "zstd")]));
        assert_eq!(c.config_providers.len(), 2);
        assert_eq!(c.config_providers[1].kind, ProviderKind::Env);
        assert_eq!(
            c.config_providers[1].params,
            props(&[("allowlist.pattern", "^APP_")])
        );
        assert_eq!(c.listeners[0].host.as_deref(), Some("127.0.0.1"));
        assert_eq!(c.listeners[1].host.as_deref(), Some("::1"));
        assert_eq!(
            warnings,
            [
                "unknown configuration key offset.flush.intervall.ms is ignored (did you mean \
              offset.flush.interval.ms?)"
            ]
        );
    }

    #[test]
    fn provider_aliases_are_inferred_from_their_class_keys() {
        let (c, warnings) = WorkerConfig::from_properties(
            &props(&[
                ("config.providers.file.class", "FileConfigProvider"),
                ("config.providers.env.class", "EnvVarConfigProvider"),
            ]),
            Mode::Standalone,
        )
        .expect("valid");
        assert!(warnings.is_empty(), "{warnings:?}");
        let aliases: Vec<&str> = c
            .config_providers
            .iter()
            .map(|p| p.alias.as_str())
            .collect();
        assert_eq!(aliases, ["env", "file"]);
    }

    #[test]
    fn every_bad_value_is_reported_with_its_key() {
        let err = WorkerConfig::from_properties(
            &props(&[
                ("bootstrap.servers", "broker1"),
                ("offset.flush.interval.ms", "soon"),
                ("heartbeat.interval.ms", "20000"),
                ("connect.protocol", "v2"),
                ("listeners", "https://:8443"),
                ("topic.creation.enable", "yes"),
                ("config.providers", "vault"),
                ("status.storage.topic", "connect-configs"),
                ("offset.storage.replication.factor", "0"),
            ]),
            Mode::Standalone,
        )
        .expect_err("invalid");
        let text = err.to_string();
        for key in [
            "configuration bootstrap.servers: each entry must be host:port",
            "configuration offset.flush.interval.ms: Not a number",
            "configuration heartbeat.interval.ms: must be lower than session.timeout.ms",
            "configuration connect.protocol: String must be one of: eager, compatible, sessioned",
            "configuration listeners: https listeners are not supported yet",
            "configuration topic.creation.enable: Expected value to be either true or false",
            "configuration config.providers: config.providers.vault.class is not set",
            "configuration config.storage.topic: the config, offset and status topics must be",
            "configuration offset.storage.replication.factor: Replication factor must be positive",
        ] {
            assert!(text.contains(key), "missing {key:?} in:\n{text}");
        }
        assert_eq!(err.problems.len(), 9, "{text}");
    }
}
