//! The sink's configuration, parsed once; every problem is reported against its key.

use culvert_connector_sdk::{Config, ConfigIssue};

use crate::template::UrlTemplate;

pub(crate) const URL: &str = "http.api.url";
pub(crate) const METHOD: &str = "request.method";
pub(crate) const HEADERS: &str = "headers";
pub(crate) const HEADER_SEPARATOR: &str = "header.separator";
pub(crate) const AUTH_TYPE: &str = "auth.type";
pub(crate) const USER: &str = "connection.user";
pub(crate) const PASSWORD: &str = "connection.password";
pub(crate) const BEARER_TOKEN: &str = "bearer.token";
pub(crate) const FORMAT: &str = "request.body.format";
pub(crate) const BATCH_MAX_SIZE: &str = "batch.max.size";
pub(crate) const BATCH_MAX_BYTES: &str = "batch.max.bytes";
pub(crate) const LINGER: &str = "batch.linger.ms";
pub(crate) const SUCCESS_CODES: &str = "success.codes";
pub(crate) const RETRY_CODES: &str = "retry.on.status.codes";
pub(crate) const MAX_RETRIES: &str = "max.retries";
pub(crate) const BACKOFF: &str = "retry.backoff.ms";
pub(crate) const BACKOFF_MAX: &str = "retry.backoff.max.ms";
pub(crate) const TIMEOUT: &str = "request.timeout.ms";
pub(crate) const MAX_BUFFERED: &str = "max.buffered.records";
pub(crate) const NULL_VALUES: &str = "behavior.on.null.values";

/// How records are put into request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `[v1, v2, ...]`.
    JsonArray,
    /// One JSON value per line.
    Ndjson,
    /// One request per record, the value as the body.
    Single,
}

/// Status code ranges, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Codes(Vec<(u16, u16)>);

impl Codes {
    /// Parses `200-299,304` (`500-` means 500 and above).
    fn parse(raw: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("{part:?} is not a status code or range like 500-599");
            let (lo, hi) = match part.split_once('-') {
                Some((lo, "")) => (lo.trim().parse().map_err(|_| bad())?, 599),
                Some((lo, hi)) => (
                    lo.trim().parse().map_err(|_| bad())?,
                    hi.trim().parse().map_err(|_| bad())?,
                ),
                None => {
                    let code = part.parse().map_err(|_| bad())?;
                    (code, code)
                }
            };
            if !(100..=599).contains(&lo) || hi < lo || hi > 599 {
                return Err(bad());
            }
            ranges.push((lo, hi));
        }
        Ok(Self(ranges))
    }

    pub(crate) fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }
}

/// Everything a task needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) url: UrlTemplate,
    pub(crate) method: String,
    /// Fixed headers, the `authorization` one included.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) format: Format,
    pub(crate) batch_max_size: usize,
    pub(crate) batch_max_bytes: usize,
    pub(crate) linger_ms: i64,
    pub(crate) success: Codes,
    pub(crate) retry: Codes,
    /// None: retry for as long as it takes.
    pub(crate) max_retries: Option<u32>,
    pub(crate) backoff_ms: i64,
    pub(crate) backoff_max_ms: i64,
    pub(crate) timeout_ms: u32,
    pub(crate) max_buffered: usize,
    /// Tombstones fail instead of being skipped.
    pub(crate) fail_on_null: bool,
}

fn issue(key: &str, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        key: key.to_string(),
        message: message.into(),
    }
}

impl Settings {
    pub(crate) fn parse(cfg: &Config) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let text = |key: &str| cfg.get(key).map(str::trim).filter(|v| !v.is_empty());
        let mut number =
            |key: &str, default: i64, min: i64| cfg.int_at_least(key, default, min, &mut issues);
        let batch_max_size = number(BATCH_MAX_SIZE, 100, 1) as usize;
        let batch_max_bytes = number(BATCH_MAX_BYTES, 1 << 20, 1) as usize;
        let linger_ms = number(LINGER, 0, 0);
        let max_retries = number(MAX_RETRIES, -1, -1);
        let backoff_ms = number(BACKOFF, 500, 1);
        let backoff_max_ms = number(BACKOFF_MAX, 30_000, 1);
        let timeout_ms = number(TIMEOUT, 30_000, 1).min(300_000) as u32;
        let max_buffered = number(MAX_BUFFERED, 100_000, 1) as usize;

        let url = match text(URL).map(UrlTemplate::parse) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                issues.push(issue(URL, e));
                None
            }
            None => {
                issues.push(issue(
                    URL,
                    "Missing required configuration \"http.api.url\" which has no default value.",
                ));
                None
            }
        };
        let method = text(METHOD).unwrap_or("POST").to_ascii_uppercase();
        if !["POST", "PUT", "PATCH"].contains(&method.as_str()) {
            issues.push(issue(
                METHOD,
                format!("{METHOD} must be POST, PUT or PATCH, got {method}"),
            ));
        }
        let separator = cfg
            .get(HEADER_SEPARATOR)
            .filter(|s| !s.is_empty())
            .unwrap_or("|");
        let mut headers = Vec::new();
        for pair in cfg.get(HEADERS).unwrap_or_default().split(separator) {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            match pair.split_once(':') {
                Some((name, value)) if !name.trim().is_empty() => {
                    headers.push((name.trim().to_string(), value.trim().to_string()));
                }
                _ => issues.push(issue(
                    HEADERS,
                    format!(
                        "header {pair:?} is not Name:Value (headers are separated by {separator:?})"
                    ),
                )),
            }
        }
        match text(AUTH_TYPE).map(str::to_ascii_uppercase).as_deref() {
            None | Some("NONE") => {}
            Some("BASIC") => match (text(USER), cfg.get(PASSWORD)) {
                (Some(user), password) => {
                    let credentials = format!("{user}:{}", password.unwrap_or_default());
                    headers.push((
                        "authorization".into(),
                        format!(
                            "Basic {}",
                            culvert_connector_sdk::encoding::base64(credentials.as_bytes())
                        ),
                    ));
                }
                (None, _) => issues.push(issue(USER, "auth.type BASIC needs connection.user")),
            },
            Some("BEARER") => match text(BEARER_TOKEN) {
                Some(token) => headers.push(("authorization".into(), format!("Bearer {token}"))),
                None => issues.push(issue(BEARER_TOKEN, "auth.type BEARER needs bearer.token")),
            },
            Some(other) => issues.push(issue(
                AUTH_TYPE,
                format!("{AUTH_TYPE} must be NONE, BASIC or BEARER, got {other}"),
            )),
        }
        let format = match text(FORMAT) {
            None | Some("json_array") | Some("json") => Format::JsonArray,
            Some("ndjson") => Format::Ndjson,
            Some("single") => Format::Single,
            Some(other) => {
                issues.push(issue(
                    FORMAT,
                    format!("{FORMAT} must be json_array, ndjson or single, got {other}"),
                ));
                Format::JsonArray
            }
        };
        let mut codes = |key: &str, default: &str| match Codes::parse(text(key).unwrap_or(default))
        {
            Ok(c) => c,
            Err(e) => {
                issues.push(issue(key, e));
                Codes(Vec::new())
            }
        };
        let success = codes(SUCCESS_CODES, "200-299");
        let retry = codes(RETRY_CODES, "408,429,500-599");
        let fail_on_null = match text(NULL_VALUES) {
            None | Some("ignore") => false,
            Some("fail") => true,
            Some(other) => {
                issues.push(issue(
                    NULL_VALUES,
                    format!("{NULL_VALUES} must be ignore or fail, got {other}"),
                ));
                false
            }
        };
        match url {
            Some(url) if issues.is_empty() => Ok(Self {
                url,
                method,
                headers,
                format,
                batch_max_size: if format == Format::Single {
                    1
                } else {
                    batch_max_size
                },
                batch_max_bytes,
                linger_ms,
                success,
                retry,
                max_retries: u32::try_from(max_retries).ok(),
                backoff_ms,
                backoff_max_ms: backoff_max_ms.max(backoff_ms),
                timeout_ms,
                max_buffered,
                fail_on_null,
            }),
            _ => Err(issues),
        }
    }
}
