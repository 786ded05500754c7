//! Per-endpoint delivery queues. Records wait in their endpoint's queue (FIFO, so order per
//! endpoint — and per key, when the URL comes from the record — is kept); each round sends
//! one batch per ready endpoint, all concurrently. An endpoint that fails with a retriable
//! answer (or cannot be reached) backs off on its own — `Retry-After` when the server
//! sends one, else exponentially — while the others keep receiving.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use culvert_connector_sdk::http::{self, HttpError, Request, Response};

use crate::settings::{Format, Settings};

/// One record waiting for delivery.
#[derive(Debug)]
pub(crate) struct Queued {
    /// The record's body bytes (a JSON value, or the raw value for `single`).
    pub(crate) body: Vec<u8>,
    /// Where it was consumed: offsets are kept by these coordinates.
    pub(crate) topic: Rc<str>,
    /// The record's own topic (what a transform made of it), to hand it back as given.
    pub(crate) record_topic: Rc<str>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    /// The record's key and value as given, to hand back if it fails after its `put`.
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    /// Its index in the `put` batch that is running, while that `put` runs.
    pub(crate) index: Option<u32>,
    /// Guest-clock ms when it was queued (for `batch.linger.ms`).
    pub(crate) queued_ms: i64,
}

/// Records that could not be delivered, with why.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) record: Queued,
    pub(crate) message: String,
}

#[derive(Debug, Default)]
struct Endpoint {
    queue: VecDeque<Queued>,
    /// No request before this time (backoff).
    retry_at_ms: i64,
    /// Consecutive retriable failures of the head batch.
    failures: u32,
}

/// Every endpoint's queue.
#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    by_url: BTreeMap<String, Endpoint>,
    queued: usize,
}

/// How one attempt went.
enum Outcome {
    Delivered,
    /// Retriable; wait this long (ms) when the server said so.
    Retry(String, Option<i64>),
    Permanent(String),
}

impl Endpoints {
    /// Records waiting, over all endpoints.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    pub(crate) fn push(&mut self, url: String, record: Queued) {
        let endpoint = self.by_url.entry(url).or_default();
        endpoint.queue.push_back(record);
        self.queued += 1;
    }

    /// The smallest queued offset per partition (of these and the `extra` records): where
    /// delivery is not yet complete.
    pub(crate) fn first_undelivered<'a>(
        &'a self,
        extra: impl Iterator<Item = &'a Queued>,
    ) -> BTreeMap<(String, i32), i64> {
        let mut first: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for record in self.by_url.values().flat_map(|e| &e.queue).chain(extra) {
            let at = first
                .entry((record.topic.to_string(), record.partition))
                .or_insert(record.offset);
            *at = (*at).min(record.offset);
        }
        first
    }

    /// Forgets records of partitions taken away (their offsets were not committed past
    /// them, so the next owner gets them again).
    pub(crate) fn drop_partitions(&mut self, gone: &[(String, i32)]) {
        for endpoint in self.by_url.values_mut() {
            let before = endpoint.queue.len();
            endpoint.queue.retain(|r| {
                !gone
                    .iter()
                    .any(|(t, p)| **t == *r.topic && *p == r.partition)
            });
            self.queued -= before - endpoint.queue.len();
        }
        self.by_url.retain(|_, e| !e.queue.is_empty());
    }

    /// Marks every queued record as coming from an earlier `put`.
    pub(crate) fn forget_indexes(&mut self) {
        for record in self.by_url.values_mut().flat_map(|e| &mut e.queue) {
            record.index = None;
        }
    }

    /// Sends rounds of batches until no endpoint is ready; returns the records that failed
    /// for good. `flushing` sends batches still lingering.
    pub(crate) fn deliver(&mut self, s: &Settings, now_ms: i64, flushing: bool) -> Vec<Failed> {
        let mut failed = Vec::new();
        loop {
            let ready: Vec<String> = self
                .by_url
                .iter()
                .filter(|(_, e)| {
                    !e.queue.is_empty()
                        && e.retry_at_ms <= now_ms
                        && (flushing
                            || s.linger_ms == 0
                            || e.queue.len() >= s.batch_max_size
                            || e.queue
                                .front()
                                .is_some_and(|r| now_ms - r.queued_ms >= s.linger_ms))
                })
                .map(|(url, _)| url.clone())
                .collect();
            if ready.is_empty() {
                break;
            }
            let mut sizes = Vec::with_capacity(ready.len());
            let requests: Vec<Request> = ready
                .iter()
                .map(|url| {
                    let endpoint = &self.by_url[url];
                    let n = batch_len(&endpoint.queue, s);
                    sizes.push(n);
                    request(url, endpoint.queue.iter().take(n), s)
                })
                .collect();
            let answers = http::send_all(&requests);
            let mut progress = false;
            for ((url, n), answer) in ready.iter().zip(sizes).zip(answers) {
                let Some(endpoint) = self.by_url.get_mut(url) else {
                    continue;
                };
                match outcome(answer, s) {
                    Outcome::Delivered => {
                        endpoint.queue.drain(..n);
                        self.queued -= n;
                        endpoint.failures = 0;
                        progress = true;
                    }
                    Outcome::Retry(why, wait)
                        if s.max_retries.is_none_or(|max| endpoint.failures < max) =>
                    {
                        endpoint.failures += 1;
                        let exp = s
                            .backoff_ms
                            .saturating_mul(1 << endpoint.failures.saturating_sub(1).min(20));
                        let wait = wait.unwrap_or(exp.min(s.backoff_max_ms));
                        endpoint.retry_at_ms = now_ms + wait;
                        culvert_connector_sdk::log::warn(
                            "endpoint failed; its records wait, the others go on",
                            &[
                                ("url", url),
                                ("reason", &why),
                                ("retry_in_ms", &wait.to_string()),
                                ("waiting", &endpoint.queue.len().to_string()),
                            ],
                        );
                    }
                    Outcome::Retry(why, _) | Outcome::Permanent(why) => {
                        let message = if endpoint.failures > 0 {
                            format!("{url}: {why} (after {} retries)", endpoint.failures)
                        } else {
                            format!("{url}: {why}")
                        };
                        endpoint.failures = 0;
                        self.queued -= n;
                        failed.extend(endpoint.queue.drain(..n).map(|record| Failed {
                            record,
                            message: message.clone(),
                        }));
                        progress = true;
                    }
                }
            }
            self.by_url.retain(|_, e| !e.queue.is_empty());
            if !progress {
                break;
            }
        }
        failed
    }
}

/// How many records from the head of `queue` go into the next request.
fn batch_len(queue: &VecDeque<Queued>, s: &Settings) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for record in queue.iter().take(s.batch_max_size) {
        bytes += record.body.len() + 1;
        if n > 0 && bytes > s.batch_max_bytes {
            break;
        }
        n += 1;
    }
    n.max(1)
}

fn request<'a>(url: &str, records: impl Iterator<Item = &'a Queued>, s: &Settings) -> Request {
    let (body, content_type) = match s.format {
        Format::JsonArray => {
            let mut body = vec![b'['];
            for (i, r) in records.enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&r.body);
            }
            body.push(b']');
            (body, "application/json")
        }
        Format::Ndjson => {
            let mut body = Vec::new();
            for r in records {
                body.extend_from_slice(&r.body);
                body.push(b'\n');
            }
            (body, "application/x-ndjson")
        }
        Format::Single => (
            records.map(|r| r.body.clone()).next().unwrap_or_default(),
            "application/json",
        ),
    };
    let mut req = Request::new(&s.method, url).timeout_ms(s.timeout_ms);
    req.body = body;
    let mut req = req.header("content-type", content_type);
    for (name, value) in &s.headers {
        req = req.header(name, value);
    }
    req
}

fn outcome(answer: Result<Response, HttpError>, s: &Settings) -> Outcome {
    match answer {
        Ok(resp) if s.success.contains(resp.status) => Outcome::Delivered,
        Ok(resp) => {
            let snippet: String = String::from_utf8_lossy(&resp.body)
                .chars()
                .take(200)
                .collect();
            let why = format!("the server answered {}: {snippet}", resp.status);
            if s.retry.contains(resp.status) {
                let wait = resp
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map(|secs| secs.clamp(0, 3600) * 1000);
                Outcome::Retry(why, wait)
            } else {
                Outcome::Permanent(why)
            }
        }
        Err(e @ (HttpError::Timeout | HttpError::Connect(_) | HttpError::Other(_))) => {
            Outcome::Retry(e.message(), None)
        }
        Err(e) => Outcome::Permanent(e.message()),
    }
}
