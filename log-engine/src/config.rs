//! Broker configuration: where it listens, where it stores, and topic defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::log::FlushPolicy;

/// Settings of one broker. Field docs give the Kafka name where one exists.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node_id: i32,
    /// Address the listener binds (`listeners`), default 127.0.0.1:9092.
    pub listener: SocketAddr,
    /// Host and port clients are told to connect to (`advertised.listeners`); defaults to
    /// the bound address.
    pub advertised: Option<(String, u16)>,
    /// `log.dirs`: where topics and metadata live.
    pub data_dir: PathBuf,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `num.partitions`: partitions of auto-created topics and of CreateTopics with -1.
    pub default_partitions: i32,
    /// `log.segment.bytes` default for topics.
    pub segment_bytes: u64,
    /// Default durability policy for topics without their own `flush.*` settings.
    pub default_flush: FlushPolicy,
    /// `socket.request.max.bytes`: largest request frame accepted.
    pub max_request_bytes: usize,
    /// `message.max.bytes`: default `max.message.bytes` of topics.
    pub max_message_bytes: usize,
    /// How often partitions under `FlushPolicy::Interval` are checked.
    pub flush_check_interval: Duration,
    /// `log.cleaner.backoff.ms`: how often retention and compaction are checked.
    pub cleaner_interval: Duration,
    /// `group.min.session.timeout.ms`: 1 s by default (Kafka: 6 s), so Culvert workers'
    /// 3 s sessions are accepted and a lost worker is noticed quickly.
    pub group_min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout: Duration,
    /// `group.initial.rebalance.delay.ms`: how long a new group waits for more members
    /// before its first generation (Kafka: 3 s; here 0 by default, fast for embedded use).
    pub group_initial_rebalance_delay: Duration,
    /// `producer.id.expiration.ms`: a partition forgets an idempotent producer it has not
    /// heard from for this long (1 day, as Kafka), unless the producer has a transaction
    /// open there. Its next batch is taken at any sequence (as Kafka does), so a retry that
    /// arrives after this long is no longer recognised as a duplicate.
    pub producer_id_expiration: Duration,
    /// `transactional.id.expiration.ms`: a transactional id with no transaction open and no
    /// request for this long is deleted (7 days, as Kafka); its next InitProducerId gets a
    /// new producer id.
    pub transactional_id_expiration: Duration,
    /// SASL/PLAIN logins (`user name → password`) required on the listener when it is
    /// `SASL_PLAINTEXT://`; `None` for a `PLAINTEXT://` listener.
    pub sasl_plain_users: Option<std::collections::BTreeMap<String, String>>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            listener: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised: None,
            data_dir: PathBuf::from("./data"),
            auto_create_topics: true,
            default_partitions: 1,
            segment_bytes: 128 << 20,
            default_flush: FlushPolicy::Always,
            max_request_bytes: 100 << 20,
            max_message_bytes: 1_048_588,
            flush_check_interval: Duration::from_millis(50),
            cleaner_interval: Duration::from_millis(5000),
            group_min_session_timeout: Duration::from_millis(1000),
            group_max_session_timeout: Duration::from_millis(1_800_000),
            group_initial_rebalance_delay: Duration::ZERO,
            producer_id_expiration: Duration::from_millis(86_400_000),
            transactional_id_expiration: Duration::from_millis(604_800_000),
            sasl_plain_users: None,
        }
    }
}

impl BrokerConfig {
    /// Builds a configuration from Kafka-style keys (`node.id`, `listeners`,
    /// `advertised.listeners`, `log.dirs`, `auto.create.topics.enable`, `num.partitions`,
    /// `log.segment.bytes`, `log.flush.policy`, `log.flush.interval.ms`, `message.max.bytes`,
    /// `socket.request.max.bytes`, `producer.id.expiration.ms`,
    /// `transactional.id.expiration.ms`, ...). Returns the config and the keys it did not know.
    pub fn from_properties(
        props: &std::collections::BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), String> {
        let mut c = Self::default();
        let mut unknown = Vec::new();
        let mut flush_policy = None;
        let mut flush_ms = 1000u64;
        let mut sasl_listener = false;
        let mut mechanisms = None;
        let mut jaas = None;
        for (key, value) in props {
            let v = value.trim();
            let num = |what: &str| -> Result<i64, String> {
                v.parse::<i64>()
                    .map_err(|_| format!("{key} = {v:?} is not {what}"))
            };
            match key.as_str() {
                "node.id" | "broker.id" => {
                    c.node_id = i32::try_from(num("an integer")?)
                        .map_err(|_| format!("{key} = {v} is out of range"))?;
                }
                "listeners" => {
                    c.listener = parse_listener(key, v)?;
                    sasl_listener = listener_needs_sasl(key, v)?;
                }
                "sasl.enabled.mechanisms" => mechanisms = Some(v.to_string()),
                "listener.name.sasl_plaintext.plain.sasl.jaas.config"
                | "plain.sasl.jaas.config" => jaas = Some((key.clone(), v.to_string())),
                "advertised.listeners" => {
                    let addr = strip_scheme(v);
                    let (host, port) = addr
                        .rsplit_once(':')
                        .ok_or_else(|| format!("{key} = {v:?} is not host:port"))?;
                    let port = port
                        .parse::<u16>()
                        .map_err(|_| format!("{key} = {v:?} has an invalid port"))?;
                    c.advertised = Some((host.trim_matches(['[', ']']).to_string(), port));
                }
                "log.dirs" | "log.dir" | "data.dir" => {
                    let first = v.split(',').next().unwrap_or(v).trim();
                    if first.is_empty() {
                        return Err(format!("{key} is empty"));
                    }
                    c.data_dir = PathBuf::from(first);
                }
                "auto.create.topics.enable" => {
                    c.auto_create_topics = match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(format!("{key} = {v:?} is not true or false")),
                    };
                }
                "num.partitions" => {
                    c.default_partitions = i32::try_from(num("an integer")?)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("{key} = {v} must be a positive integer"))?;
                }
                "log.segment.bytes" => {
                    c.segment_bytes = u64::try_from(num("a size in bytes")?)
                        .ok()
                        .filter(|n| *n >= 14 && *n <= crate::log::MAX_SEGMENT_BYTES)
                        .ok_or_else(|| {
                            format!(
                                "{key} = {v} must be between 14 and {}",
                                crate::log::MAX_SEGMENT_BYTES
                            )
                        })?;
                }
                "log.flush.policy" => flush_policy = Some(v.to_string()),
                "log.flush.interval.ms" => {
                    flush_ms = u64::try_from(num("milliseconds")?)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("{key} = {v} must be positive"))?;
                }
                "message.max.bytes" => {
                    c.max_message_bytes = usize::try_from(num("a size in bytes")?)
                        .map_err(|_| format!("{key} = {v} must not be negative"))?;
                }
                "socket.request.max.bytes" => {
                    c.max_request_bytes = usize::try_from(num("a size in bytes")?)
                        .ok()
                        .filter(|n| *n >= 1024)
                        .ok_or_else(|| format!("{key} = {v} must be at least 1024"))?;
                }
                "log.cleaner.backoff.ms" | "log.retention.check.interval.ms" => {
                    c.cleaner_interval = u64::try_from(num("milliseconds")?)
                        .ok()
                        .filter(|n| *n > 0)
                        .map(Duration::from_millis)
                        .ok_or_else(|| format!("{key} = {v} must be positive"))?;
                }
                "group.min.session.timeout.ms"
                | "group.max.session.timeout.ms"
                | "group.initial.rebalance.delay.ms" => {
                    let ms = u64::try_from(num("milliseconds")?)
                        .map_err(|_| format!("{key} = {v} must not be negative"))?;
                    let d = Duration::from_millis(ms);
                    match key.as_str() {
                        "group.min.session.timeout.ms" => c.group_min_session_timeout = d,
                        "group.max.session.timeout.ms" => c.group_max_session_timeout = d,
                        _ => c.group_initial_rebalance_delay = d,
                    }
                }
                "producer.id.expiration.ms" | "transactional.id.expiration.ms" => {
                    let d = u64::try_from(num("milliseconds")?)
                        .ok()
                        .filter(|n| *n > 0)
                        .map(Duration::from_millis)
                        .ok_or_else(|| format!("{key} = {v} must be positive"))?;
                    if key == "producer.id.expiration.ms" {
                        c.producer_id_expiration = d;
                    } else {
                        c.transactional_id_expiration = d;
                    }
                }
                _ => unknown.push(key.clone()),
            }
        }
        c.sasl_plain_users = sasl_users(sasl_listener, mechanisms.as_deref(), jaas)?;
        if let Some(policy) = flush_policy {
            c.default_flush = match policy.as_str() {
                "always" => FlushPolicy::Always,
                "interval" => FlushPolicy::Interval(Duration::from_millis(flush_ms)),
                "os" => FlushPolicy::Os,
                other => {
                    return Err(format!(
                        "log.flush.policy = {other:?} must be always, interval or os"
                    ));
                }
            };
        }
        Ok((c, unknown))
    }
}

fn strip_scheme(v: &str) -> &str {
    v.split(',')
        .next()
        .unwrap_or(v)
        .trim()
        .rsplit_once("://")
        .map_or(v.trim(), |(_, rest)| rest)
}

/// Whether the listener's scheme asks for SASL: `SASL_PLAINTEXT` does, `PLAINTEXT` (or none)
/// does not; TLS listeners are refused (not served).
fn listener_needs_sasl(key: &str, v: &str) -> Result<bool, String> {
    let first = v.split(',').next().unwrap_or(v).trim();
    match first
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_uppercase())
    {
        None => Ok(false),
        Some(s) if s == "PLAINTEXT" => Ok(false),
        Some(s) if s == "SASL_PLAINTEXT" => Ok(true),
        Some(s) => Err(format!(
            "{key} = {v:?}: the {s} listener is not supported (culvert broker serves \
             PLAINTEXT and SASL_PLAINTEXT)"
        )),
    }
}

/// The PLAIN logins of a `SASL_PLAINTEXT` listener, from Kafka's JAAS form:
/// `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="secret";`.
fn sasl_users(
    sasl_listener: bool,
    mechanisms: Option<&str>,
    jaas: Option<(String, String)>,
) -> Result<Option<std::collections::BTreeMap<String, String>>, String> {
    if !sasl_listener {
        return match (mechanisms, jaas) {
            (None, None) => Ok(None),
            _ => Err("SASL settings are given but the listener is not SASL_PLAINTEXT://".into()),
        };
    }
    for m in mechanisms.unwrap_or("PLAIN").split(',').map(str::trim) {
        if m != "PLAIN" {
            return Err(format!(
                "sasl.enabled.mechanisms: {m} is not supported (culvert broker serves PLAIN)"
            ));
        }
    }
    let Some((key, text)) = jaas else {
        return Err("a SASL_PLAINTEXT listener needs its logins in \
                    listener.name.sasl_plaintext.plain.sasl.jaas.config \
                    (PlainLoginModule required user_<name>=\"<password>\";)"
            .into());
    };
    let mut users = std::collections::BTreeMap::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("user_") {
        let after = &rest[at + 5..];
        let Some((name, value)) = after.split_once('=') else {
            return Err(format!("{key}: user_{after} has no =\"password\""));
        };
        let value = value.trim_start();
        let Some(quoted) = value.strip_prefix('"') else {
            return Err(format!("{key}: the password of user_{name} is not quoted"));
        };
        let Some((password, tail)) = quoted.split_once('"') else {
            return Err(format!(
                "{key}: the password of user_{name} has no closing quote"
            ));
        };
        users.insert(name.trim().to_string(), password.to_string());
        rest = tail;
    }
    if users.is_empty() {
        return Err(format!("{key} names no user_<name>=\"<password>\" logins"));
    }
    Ok(Some(users))
}

fn parse_listener(key: &str, v: &str) -> Result<SocketAddr, String> {
    let addr = strip_scheme(v);
    let addr = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    let addr = addr.replacen("localhost:", "127.0.0.1:", 1);
    addr.parse::<SocketAddr>()
        .map_err(|_| format!("{key} = {v:?} is not an ip:port listener (e.g. 127.0.0.1:9092)"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kafka_keys_are_understood() {
        let (c, unknown) = BrokerConfig::from_properties(&props(&[
            ("node.id", "3"),
            ("listeners", "PLAINTEXT://127.0.0.1:19092"),
            ("advertised.listeners", "PLAINTEXT://broker.local:19092"),
            ("log.dirs", "/tmp/a,/tmp/b"),
            ("num.partitions", "4"),
            ("log.flush.policy", "interval"),
            ("log.flush.interval.ms", "200"),
            ("log.cleaner.backoff.ms", "250"),
            ("group.initial.rebalance.delay.ms", "3000"),
            ("producer.id.expiration.ms", "60000"),
            ("transactional.id.expiration.ms", "120000"),
            ("zookeeper.connect", "nowhere:2181"),
        ]))
        .expect("valid");
        assert_eq!(c.node_id, 3);
        assert_eq!(c.listener, "127.0.0.1:19092".parse().expect("addr"));
        assert_eq!(c.advertised, Some(("broker.local".into(), 19092)));
        assert_eq!(c.data_dir, PathBuf::from("/tmp/a"));
        assert_eq!(c.default_partitions, 4);
        assert_eq!(
            c.default_flush,
            FlushPolicy::Interval(Duration::from_millis(200))
        );
        assert_eq!(c.cleaner_interval, Duration::from_millis(250));
        assert_eq!(c.group_initial_rebalance_delay, Duration::from_millis(3000));
        assert_eq!(c.producer_id_expiration, Duration::from_secs(60));
        assert_eq!(c.transactional_id_expiration, Duration::from_secs(120));
        assert_eq!(unknown, ["zookeeper.connect"]);
    }

    #[test]
    fn a_sasl_plaintext_listener_takes_plain_logins_in_kafkas_jaas_form() {
        let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                    username=\"admin\" password=\"admin-secret\" \
                    user_admin=\"admin-secret\" user_alice=\"a=b c\";";
        let (c, unknown) = BrokerConfig::from_properties(&props(&[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:19093"),
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas),
        ]))
        .expect("valid");
        assert!(unknown.is_empty());
        let users = c.sasl_plain_users.expect("SASL on");
        assert_eq!(users.get("alice").map(String::as_str), Some("a=b c"));
        assert_eq!(users.get("admin").map(String::as_str), Some("admin-secret"));
        assert_eq!(users.len(), 2);
        for (pairs, says) in [
            (
                vec![("listeners", "SASL_PLAINTEXT://127.0.0.1:1")],
                "needs its logins",
            ),
            (vec![("listeners", "SSL://127.0.0.1:1")], "not supported"),
            (
                vec![
                    ("listeners", "SASL_PLAINTEXT://127.0.0.1:1"),
                    ("sasl.enabled.mechanisms", "SCRAM-SHA-256"),
                ],
                "SCRAM-SHA-256 is not supported",
            ),
            (vec![("plain.sasl.jaas.config", jaas)], "not SASL_PLAINTEXT"),
        ] {
            let e = BrokerConfig::from_properties(&props(&pairs)).expect_err(says);
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v) in [
            ("node.id", "one"),
            ("listeners", "nowhere"),
            ("num.partitions", "0"),
            ("auto.create.topics.enable", "yes"),
            ("transactional.id.expiration.ms", "0"),
            ("log.flush.policy", "sometimes"),
            ("log.segment.bytes", "5"),
        ] {
            let err = BrokerConfig::from_properties(&props(&[(k, v)])).expect_err("invalid");
            assert!(err.contains(k), "{k}: {err}");
        }
    }
}
