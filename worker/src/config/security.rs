//! Kafka client security from Kafka Connect's keys (`security.protocol`, `sasl.mechanism`,
//! `sasl.jaas.config`, `ssl.truststore.*`, `ssl.keystore.*`,
//! `ssl.endpoint.identification.algorithm`). One parse serves the worker's two kinds of
//! Kafka client: librdkafka gets the equivalent librdkafka keys, the membership client
//! gets the TLS material and SASL credentials. Certificates and keys are PEM (a file or
//! inline); JKS and PKCS#12 stores are refused with the command that converts them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The security keys this module reads; they never reach librdkafka untranslated.
const KEYS: [&str; 17] = [
    "security.protocol",
    "sasl.mechanism",
    "sasl.jaas.config",
    "sasl.username",
    "sasl.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "sasl.mechanisms",
];

/// Whether `key` is a security key (read here, not passed to librdkafka as is).
pub fn is_security_key(key: &str) -> bool {
    KEYS.contains(&key)
}

/// A SASL mechanism the worker's clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    /// The mechanism's name on the wire and in configs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL login: a mechanism and the credentials from `sasl.jaas.config`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// PEM text from a file (`path`) or given inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pem {
    pub path: Option<PathBuf>,
    pub text: String,
}

/// TLS settings: whom to trust, what to present, whether the host name is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// CA certificates; `None` trusts the system's roots.
    pub trust: Option<Pem>,
    /// The client's certificate chain and private key (mutual TLS), one PEM or two.
    pub identity: Option<(Pem, Pem)>,
    /// `ssl.endpoint.identification.algorithm=https` (the default): the broker's
    /// certificate must name the host connected to.
    pub verify_hostname: bool,
}

impl Tls {
    /// The trusted CA certificates (an empty list means the system's roots).
    pub fn trusted(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        match &self.trust {
            None => Ok(Vec::new()),
            Some(pem) => certificates(pem, "ssl.truststore"),
        }
    }

    /// The client certificate chain and key for mutual TLS, if configured.
    pub fn client_identity(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
        let Some((chain, key)) = &self.identity else {
            return Ok(None);
        };
        let certs = certificates(chain, "ssl.keystore")?;
        let key = PrivateKeyDer::from_pem_slice(key.text.as_bytes()).map_err(|e| {
            format!(
                "ssl.keystore: no usable private key in {} ({e}); keys must be unencrypted \
                 PKCS#8, PKCS#1 or SEC1 PEM",
                describe(key)
            )
        })?;
        Ok(Some((certs, key)))
    }
}

fn describe(pem: &Pem) -> String {
    pem.path
        .as_ref()
        .map_or_else(|| "the inline PEM".to_string(), |p| p.display().to_string())
}

fn certificates(pem: &Pem, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.text.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "{what}: cannot read the certificates in {}: {e}",
                describe(pem)
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{what}: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            describe(pem)
        ));
    }
    Ok(certs)
}

/// How a Kafka client connects: plain or TLS, with or without SASL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    pub tls: Option<Tls>,
    pub sasl: Option<Sasl>,
}

/// Reads one Connect security configuration, collecting problems.
struct Parse<'a> {
    props: &'a BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Parse<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.props
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn invalid(&mut self, key: &str, value: &str, reason: &str) {
        self.problems.push(format!(
            "Invalid value {value} for configuration {key}: {reason}"
        ));
    }

    /// A PEM store: inline text under `inline` or a file under `location` of `type`.
    fn store(&mut self, prefix: &str, inline: &str) -> Option<Pem> {
        let inline_key = format!("{prefix}.{inline}");
        if let Some(text) = self.get(&inline_key) {
            return Some(Pem {
                path: None,
                text: text.to_string(),
            });
        }
        let location_key = format!("{prefix}.location");
        let location = self.get(&location_key)?.to_string();
        let type_key = format!("{prefix}.type");
        let kind = self.get(&type_key).map(str::to_ascii_uppercase);
        let text = match std::fs::read(&location) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.invalid(&location_key, &location, &format!("cannot read it: {e}"));
                return None;
            }
        };
        let is_pem =
            text.starts_with(b"-----BEGIN") || text.windows(10).any(|w| w == b"-----BEGIN");
        match kind.as_deref() {
            Some("PEM") | None if is_pem => Some(Pem {
                path: Some(PathBuf::from(&location)),
                text: String::from_utf8_lossy(&text).into_owned(),
            }),
            Some("PEM") => {
                self.invalid(&location_key, &location, "the file is not PEM");
                None
            }
            other => {
                let hint = if prefix == "ssl.truststore" {
                    "keytool -exportcert -rfc -keystore STORE -alias ALIAS > ca.pem"
                } else {
                    "openssl pkcs12 -in STORE.p12 -nodes > client.pem"
                };
                self.invalid(
                    &type_key,
                    other.unwrap_or("JKS"),
                    &format!(
                        "only PEM stores are supported (librdkafka and the membership client \
                         read PEM); convert the store, e.g. `{hint}`, and set {type_key}=PEM"
                    ),
                );
                None
            }
        }
    }

    fn tls(&mut self) -> Tls {
        let trust = self.store("ssl.truststore", "certificates");
        let identity = if let Some(chain) = self.get("ssl.keystore.certificate.chain") {
            match self.get("ssl.keystore.key") {
                Some(key) => Some((
                    Pem {
                        path: None,
                        text: chain.to_string(),
                    },
                    Pem {
                        path: None,
                        text: key.to_string(),
                    },
                )),
                None => {
                    self.invalid(
                        "ssl.keystore.key",
                        "",
                        "ssl.keystore.certificate.chain needs the private key in ssl.keystore.key",
                    );
                    None
                }
            }
        } else {
            // One PEM file holding the chain and the key, as Kafka's PEM keystore.
            self.store("ssl.keystore", "certificate.chain")
                .map(|pem| (pem.clone(), pem))
        };
        if let Some((_, key)) = &identity
            && key.text.contains("ENCRYPTED PRIVATE KEY")
        {
            self.invalid(
                "ssl.key.password",
                "[hidden]",
                "encrypted private keys are not supported; decrypt it with \
                 `openssl pkey -in key.pem -out plain-key.pem` and protect the file instead",
            );
        }
        let verify_hostname = match self.get("ssl.endpoint.identification.algorithm") {
            None if self
                .props
                .contains_key("ssl.endpoint.identification.algorithm") =>
            {
                false
            }
            None => true,
            Some(a) if a.eq_ignore_ascii_case("https") => true,
            Some(a) if a.eq_ignore_ascii_case("none") => false,
            Some(other) => {
                let other = other.to_string();
                self.invalid(
                    "ssl.endpoint.identification.algorithm",
                    &other,
                    "must be https or empty (no host name check)",
                );
                true
            }
        };
        let tls = Tls {
            trust,
            identity,
            verify_hostname,
        };
        if let Err(e) = tls.trusted().and_then(|_| tls.client_identity()) {
            self.problems.push(e);
        }
        tls
    }

    fn sasl(&mut self) -> Option<Sasl> {
        let mechanism = match self.get("sasl.mechanism").or(self.get("sasl.mechanisms")) {
            Some(m) if m.eq_ignore_ascii_case("PLAIN") => Mechanism::Plain,
            Some(m) if m.eq_ignore_ascii_case("SCRAM-SHA-256") => Mechanism::ScramSha256,
            Some(m) if m.eq_ignore_ascii_case("SCRAM-SHA-512") => Mechanism::ScramSha512,
            other => {
                let value = other.unwrap_or("GSSAPI").to_string();
                self.invalid(
                    "sasl.mechanism",
                    &value,
                    "supported mechanisms are PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 \
                     (GSSAPI, Kafka's default, and OAUTHBEARER are not)",
                );
                return None;
            }
        };
        let (username, password) = if let Some(jaas) = self.get("sasl.jaas.config") {
            match jaas_credentials(jaas) {
                Ok(pair) => pair,
                Err(reason) => {
                    self.invalid("sasl.jaas.config", "[hidden]", &reason);
                    return None;
                }
            }
        } else {
            match (self.get("sasl.username"), self.get("sasl.password")) {
                (Some(u), Some(p)) => (u.to_string(), p.to_string()),
                _ => {
                    self.invalid(
                        "sasl.jaas.config",
                        "",
                        "SASL needs credentials: set sasl.jaas.config (e.g. \
                         org.apache.kafka.common.security.scram.ScramLoginModule required \
                         username=\"u\" password=\"p\";)",
                    );
                    return None;
                }
            }
        };
        Some(Sasl {
            mechanism,
            username,
            password,
        })
    }
}

/// The username and password of a `PlainLoginModule` or `ScramLoginModule` JAAS line.
fn jaas_credentials(jaas: &str) -> Result<(String, String), String> {
    let text = jaas.trim().trim_end_matches(';').trim();
    let (module, rest) = text
        .split_once(char::is_whitespace)
        .ok_or("expected `<LoginModule class> required key=\"value\" ...;`")?;
    let known = [
        "org.apache.kafka.common.security.plain.PlainLoginModule",
        "org.apache.kafka.common.security.scram.ScramLoginModule",
    ];
    if !known.contains(&module) {
        return Err(format!(
            "the login module {module} is not supported; use PlainLoginModule or \
             ScramLoginModule"
        ));
    }
    let rest = rest.trim_start();
    let rest = ["required", "requisite", "sufficient", "optional"]
        .iter()
        .find_map(|flag| rest.strip_prefix(flag))
        .ok_or("the login module must be followed by a flag such as `required`")?;
    let options = jaas_options(rest)?;
    let take = |name: &str| {
        options
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the login module needs a {name}=\"...\" option"))
    };
    Ok((take("username")?, take("password")?))
}

/// `key="value"` (or unquoted `key=value`) options, with `\"` and `\\` escapes.
fn jaas_options(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut options = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(options);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if chars.next() != Some('=') {
            return Err(format!("the option {key} has no `=value`"));
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of {key} has no closing quote")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        options.insert(key, value);
    }
}

impl Security {
    /// Parses the security keys of a client configuration (other keys are ignored); every
    /// problem is listed, named by key.
    pub fn parse(props: &BTreeMap<String, String>) -> Result<Self, Vec<String>> {
        let mut p = Parse {
            props,
            problems: Vec::new(),
        };
        let protocol = p
            .get("security.protocol")
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        let (tls, sasl) = match protocol.as_str() {
            "PLAINTEXT" => (false, false),
            "SSL" => (true, false),
            "SASL_PLAINTEXT" => (false, true),
            "SASL_SSL" => (true, true),
            _ => {
                p.invalid(
                    "security.protocol",
                    &protocol,
                    "String must be one of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
                );
                (false, false)
            }
        };
        let security = Self {
            tls: tls.then(|| p.tls()),
            sasl: if sasl { p.sasl() } else { None },
        };
        if p.problems.is_empty() {
            Ok(security)
        } else {
            Err(p.problems)
        }
    }

    /// The problems of one client's settings (`client`, whose security keys override
    /// `base`'s); empty when the client sets no security key.
    pub fn override_problems(
        base: &BTreeMap<String, String>,
        client: &BTreeMap<String, String>,
    ) -> Vec<String> {
        if !client.keys().any(|k| is_security_key(k)) {
            return Vec::new();
        }
        let mut merged = base.clone();
        merged.extend(
            client
                .iter()
                .filter(|(k, _)| is_security_key(k))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        Self::parse(&merged).err().unwrap_or_default()
    }

    /// The equivalent librdkafka settings.
    pub fn librdkafka(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let protocol = match (&self.tls, &self.sasl) {
            (None, None) => "plaintext",
            (Some(_), None) => "ssl",
            (None, Some(_)) => "sasl_plaintext",
            (Some(_), Some(_)) => "sasl_ssl",
        };
        out.insert("security.protocol".into(), protocol.into());
        if let Some(tls) = &self.tls {
            if let Some(trust) = &tls.trust {
                match &trust.path {
                    Some(path) => out.insert("ssl.ca.location".into(), path_text(path)),
                    None => out.insert("ssl.ca.pem".into(), trust.text.clone()),
                };
            }
            if let Some((chain, key)) = &tls.identity {
                match &chain.path {
                    Some(path) => out.insert("ssl.certificate.location".into(), path_text(path)),
                    None => out.insert("ssl.certificate.pem".into(), chain.text.clone()),
                };
                match &key.path {
                    Some(path) => out.insert("ssl.key.location".into(), path_text(path)),
                    None => out.insert("ssl.key.pem".into(), key.text.clone()),
                };
            }
            let check = if tls.verify_hostname { "https" } else { "none" };
            out.insert("ssl.endpoint.identification.algorithm".into(), check.into());
        }
        if let Some(sasl) = &self.sasl {
            out.insert("sasl.mechanisms".into(), sasl.mechanism.name().into());
            out.insert("sasl.username".into(), sasl.username.clone());
            out.insert("sasl.password".into(), sasl.password.clone());
        }
        out
    }
}

fn path_text(path: &std::path::Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn plaintext_is_the_default() {
        let s = Security::parse(&props(&[])).expect("plaintext");
        assert_eq!(s, Security::default());
        assert_eq!(s.librdkafka()["security.protocol"], "plaintext");
    }

    #[test]
    fn jaas_lines_give_their_credentials() {
        let line = r#"org.apache.kafka.common.security.scram.ScramLoginModule required
            username="alice" password="p\"w d";"#;
        assert_eq!(
            jaas_credentials(line),
            Ok(("alice".to_string(), "p\"w d".to_string()))
        );
        let plain = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                     username=bob password=secret;";
        assert_eq!(
            jaas_credentials(plain),
            Ok(("bob".to_string(), "secret".to_string()))
        );
        for (bad, expect) in [
            (
                "com.sun.security.auth.module.Krb5LoginModule required;",
                "not supported",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule username=\"a\";",
                "flag",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\";",
                "password",
            ),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a",
                "closing quote",
            ),
        ] {
            let e = jaas_credentials(bad).expect_err(bad);
            assert!(e.contains(expect), "{bad}: {e}");
        }
    }

    #[test]
    fn sasl_ssl_with_a_pem_truststore_translates_for_librdkafka() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = dir.path().join("ca.pem");
        // Any well-formed certificate will do for parsing: a fixed self-signed one.
        std::fs::write(&ca, TEST_CERT).expect("write");
        let s = Security::parse(&props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"alice\" password=\"secret\";",
            ),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", ca.to_str().expect("utf8")),
            ("ssl.endpoint.identification.algorithm", ""),
        ]))
        .expect("valid");
        let tls = s.tls.as_ref().expect("tls");
        assert!(!tls.verify_hostname);
        assert_eq!(tls.trusted().expect("certs").len(), 1);
        let k = s.librdkafka();
        assert_eq!(k["security.protocol"], "sasl_ssl");
        assert_eq!(k["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(k["sasl.username"], "alice");
        assert_eq!(k["ssl.ca.location"], ca.display().to_string());
        assert_eq!(k["ssl.endpoint.identification.algorithm"], "none");
        assert!(
            !format!("{s:?}").contains("secret"),
            "passwords stay out of logs"
        );
    }

    #[test]
    fn unsupported_settings_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let jks = dir.path().join("truststore.jks");
        std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).expect("write");
        let problems = Security::parse(&props(&[
            ("security.protocol", "SASL_SSL"),
            ("ssl.truststore.location", jks.to_str().expect("utf8")),
        ]))
        .expect_err("refused");
        let all = problems.join("\n");
        assert!(all.contains("configuration ssl.truststore.type"), "{all}");
        assert!(all.contains("keytool"), "{all}");
        assert!(
            all.contains("Invalid value GSSAPI for configuration sasl.mechanism"),
            "{all}"
        );
        let problems =
            Security::parse(&props(&[("security.protocol", "TLS")])).expect_err("refused");
        assert!(problems[0].contains("configuration security.protocol"));
        let problems = Security::parse(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/nonexistent/ca.pem"),
        ]))
        .expect_err("refused");
        assert!(problems[0].contains("cannot read it"), "{problems:?}");
    }

    /// A self-signed certificate (CN=culvert-test), for parsing only.
    const TEST_CERT: &str = include_str!("../../tests/data/test-cert.pem");
}
