//! The `http-client` grant: which hosts a connector's plugin may reach.
//!
//! - `plugin.allow.hosts`: comma-separated hosts: `api.example.com`, `api.example.com:8443`,
//!   `*.example.com` (any subdomain), `10.0.0.5:9200`, `[::1]:8080`. Empty (the default): no
//!   host.
//! - `plugin.allow.private.networks`: `true` lets names resolve to private, loopback or
//!   link-local addresses (default `false`; an address named literally in the allowlist is
//!   always reachable).

use std::net::IpAddr;

/// Config key of the HTTP host allowlist.
pub const ALLOW_HOSTS: &str = "plugin.allow.hosts";
/// Config key allowing names to resolve to private addresses.
pub const ALLOW_PRIVATE: &str = "plugin.allow.private.networks";

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostRule {
    /// Lowercase host, without brackets for IPv6; a leading `*.` matches any subdomain.
    host: String,
    port: Option<u16>,
}

impl HostRule {
    fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim().to_ascii_lowercase();
        let bad = |why: &str| format!("{ALLOW_HOSTS} entry {entry:?} {why}");
        if entry.is_empty() || entry.contains('/') || entry.contains('@') {
            return Err(bad("must be a host or host:port, without scheme or path"));
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("has an unclosed '['"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("has text after ']'")),
            };
            (host.to_string(), port)
        } else {
            match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
                Some(_) => {
                    return Err(bad("is an IPv6 address; write it as [addr] or [addr]:port"));
                }
                None => (entry.clone(), None),
            }
        };
        let port = port
            .map(|p| p.parse::<u16>().map_err(|_| bad("has an invalid port")))
            .transpose()?;
        if host.is_empty()
            || host == "*"
            || host.matches('*').count() > usize::from(host.starts_with("*."))
        {
            return Err(bad(
                "must name a host; '*' is only allowed as a leading '*.'",
            ));
        }
        Ok(Self { host, port })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => self.host == host,
        }
    }

    /// Whether this rule names `ip` literally.
    fn names_ip(&self, ip: IpAddr) -> bool {
        self.host.parse::<IpAddr>().is_ok_and(|h| h == ip)
    }
}

impl std::fmt::Display for HostRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => write!(f, "{host}:{p}"),
            None => f.write_str(&host),
        }
    }
}

/// The HTTP part of a grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HttpGrant {
    pub(crate) hosts: Vec<HostRule>,
    pub(crate) allow_private: bool,
}

impl HttpGrant {
    /// Checks `host:port` (host lowercase, IPv6 without brackets) against the allowlist.
    pub(crate) fn check_host(&self, host: &str, port: u16) -> Result<(), String> {
        if self.hosts.iter().any(|r| r.matches(host, port)) {
            return Ok(());
        }
        if self.hosts.is_empty() {
            return Err(format!(
                "{host}:{port} is not reachable: the connector sets no {ALLOW_HOSTS}"
            ));
        }
        let allowed: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
        Err(format!(
            "{host}:{port} is not in {ALLOW_HOSTS} ({})",
            allowed.join(", ")
        ))
    }

    /// Whether a name may resolve to `ip`.
    pub(crate) fn address_allowed(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip) || self.hosts.iter().any(|r| r.names_ip(ip))
    }
}

/// Not private, loopback, link-local, unspecified, multicast or otherwise special.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

impl HttpGrant {
    /// Reads `plugin.allow.hosts` and `plugin.allow.private.networks`.
    pub(crate) fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let hosts = match get(ALLOW_HOSTS) {
            Some(list) => list
                .split(',')
                .filter(|e| !e.trim().is_empty())
                .map(HostRule::parse)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let allow_private = match get(ALLOW_PRIVATE).map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                return Err(format!(
                    "Invalid value {v} for configuration {ALLOW_PRIVATE}: expected true or false"
                ));
            }
        };
        Ok(Self {
            hosts,
            allow_private,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(hosts: &str) -> Result<HttpGrant, String> {
        HttpGrant::from_config(|k| (k == ALLOW_HOSTS).then(|| hosts.to_string()))
    }

    #[test]
    fn rules_match_hosts_ports_and_subdomains() {
        let g = grant("api.example.com, *.corp.net:443, 10.0.0.5:9200, [::1]:8080").expect("valid");
        assert!(g.check_host("api.example.com", 80).is_ok());
        assert!(g.check_host("api.example.com", 8443).is_ok());
        assert!(g.check_host("a.corp.net", 443).is_ok());
        assert!(g.check_host("x.y.corp.net", 443).is_ok());
        assert!(g.check_host("corp.net", 443).is_err());
        assert!(g.check_host("evilcorp.net", 443).is_err());
        assert!(g.check_host("a.corp.net", 80).is_err());
        assert!(g.check_host("10.0.0.5", 9200).is_ok());
        assert!(g.check_host("::1", 8080).is_ok());
        let err = g.check_host("other.org", 443).expect_err("denied");
        assert_eq!(
            err,
            "other.org:443 is not in plugin.allow.hosts (api.example.com, *.corp.net:443, \
             10.0.0.5:9200, [::1]:8080)"
        );
    }

    #[test]
    fn bad_entries_name_the_key() {
        for (entry, why) in [
            ("http://a.com", "without scheme or path"),
            ("a.com:http", "invalid port"),
            ("*", "must name a host"),
            ("a.*.com", "must name a host"),
            ("::1", "write it as [addr]"),
            ("[::1", "unclosed"),
        ] {
            let err = grant(entry).expect_err(entry);
            assert!(err.starts_with("plugin.allow.hosts entry"), "{err}");
            assert!(err.contains(why), "{entry}: {err}");
        }
        let err = HttpGrant::from_config(|k| (k == ALLOW_PRIVATE).then(|| "yes".to_string()))
            .expect_err("not a bool");
        assert!(err.contains(ALLOW_PRIVATE), "{err}");
    }

    #[test]
    fn private_addresses_need_consent() {
        let g = grant("db.internal, 192.168.1.10").expect("valid");
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert!(!g.address_allowed(ip.parse().expect("ip")), "{ip}");
        }
        assert!(
            g.address_allowed("192.168.1.10".parse().expect("ip")),
            "named literally"
        );
        assert!(g.address_allowed("93.184.216.34".parse().expect("ip")));
        let open = HttpGrant {
            allow_private: true,
            ..g
        };
        assert!(open.address_allowed("127.0.0.1".parse().expect("ip")));
    }
}
