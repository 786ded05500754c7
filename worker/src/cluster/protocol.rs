//! Kafka Connect's group-protocol payloads, byte-compatible with Java workers: the worker
//! metadata a member sends in JoinGroup and the assignment the leader sends back in
//! SyncGroup, for sub-protocols `default` (V0), `compatible` (V1) and `sessioned` (V2, the
//! same bytes as V1).
//!
//! Kafka primitives: INT16/INT32/INT64 big-endian; STRING = INT16 length + UTF-8; BYTES =
//! INT32 length (-1 = null); ARRAY = INT32 count (-1 = null). Decoding never panics: every
//! length is checked and a malformed payload is an error naming what is wrong.

use std::collections::BTreeMap;

/// Task id `-1` in an assignment means the connector instance itself.
pub const CONNECTOR_TASK: i32 = -1;

/// `error` of an assignment.
pub const NO_ERROR: i16 = 0;
/// The leader could not read the config topic as far as some member had.
pub const CONFIG_MISMATCH: i16 = 1;

/// A sub-protocol a worker offers, most preferred first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubProtocol {
    /// `default`: eager rebalancing.
    Default = 0,
    /// `compatible`: incremental cooperative rebalancing.
    Compatible = 1,
    /// `sessioned`: as `compatible`, with request signing.
    Sessioned = 2,
}

impl SubProtocol {
    /// The protocol name in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            SubProtocol::Default => "default",
            SubProtocol::Compatible => "compatible",
            SubProtocol::Sessioned => "sessioned",
        }
    }

    /// The protocol a name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "default" => Some(SubProtocol::Default),
            "compatible" => Some(SubProtocol::Compatible),
            "sessioned" => Some(SubProtocol::Sessioned),
            _ => None,
        }
    }

    /// The protocols a worker with `connect.protocol` = `setting` offers, in order.
    pub fn offered(setting: &str) -> Vec<Self> {
        match setting {
            "eager" => vec![SubProtocol::Default],
            "compatible" => vec![SubProtocol::Compatible, SubProtocol::Default],
            _ => vec![
                SubProtocol::Sessioned,
                SubProtocol::Compatible,
                SubProtocol::Default,
            ],
        }
    }

    fn version(self) -> i16 {
        self as i16
    }
}

/// What a payload could not be decoded for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Connect {what}: {reason}")]
pub struct ProtocolError {
    pub what: &'static str,
    pub reason: String,
}

/// Connectors (by name) and their task ids (`CONNECTOR_TASK` for the connector itself).
pub type Work = BTreeMap<String, Vec<i32>>;

/// A member's JoinGroup metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerMetadata {
    pub version: SubProtocol,
    /// The worker's advertised REST URL.
    pub url: String,
    /// How far the worker has read the config topic.
    pub config_offset: i64,
    /// V1/V2: what the worker runs now (its previous assignment), if anything.
    pub allocation: Option<Assignment>,
}

/// The leader's SyncGroup assignment for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub version: SubProtocol,
    /// `NO_ERROR` or `CONFIG_MISMATCH`.
    pub error: i16,
    /// The leader's member id and REST URL.
    pub leader: String,
    pub leader_url: String,
    /// The config topic offset the assignment was computed at.
    pub config_offset: i64,
    /// Work to run (V0: everything to run; V1/V2: added to what runs).
    pub assigned: Work,
    /// V1/V2: work to stop.
    pub revoked: Work,
    /// V1/V2: milliseconds until the member should rejoin (a scheduled rebalance), or 0.
    pub delay_ms: i32,
}

struct Writer(Vec<u8>);

impl Writer {
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn string(&mut self, s: &str) {
        // Connect's strings (URLs, member ids, connector names) stay far below 32 KiB.
        let len = i16::try_from(s.len()).unwrap_or(i16::MAX);
        self.i16(len);
        self.0.extend_from_slice(&s.as_bytes()[..len as usize]);
    }
    fn work(&mut self, work: &Work) {
        self.i32(work.len() as i32);
        for (connector, tasks) in work {
            self.string(connector);
            self.i32(tasks.len() as i32);
            for t in tasks {
                self.i32(*t);
            }
        }
    }
}

struct Reader<'a> {
    what: &'static str,
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn fail(&self, reason: impl Into<String>) -> ProtocolError {
        ProtocolError {
            what: self.what,
            reason: reason.into(),
        }
    }
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(self.fail(format!(
                "{field} needs {n} bytes but only {} remain",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn i16(&mut self, field: &str) -> Result<i16, ProtocolError> {
        let b = self.take(2, field)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self, field: &str) -> Result<i32, ProtocolError> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self, field: &str) -> Result<i64, ProtocolError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn string(&mut self, field: &str) -> Result<String, ProtocolError> {
        let len = self.i16(field)?;
        let len = usize::try_from(len).map_err(|_| self.fail(format!("{field} is null")))?;
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.fail(format!("{field} is not UTF-8")))
    }
    /// A nullable array of connector assignments; `None` for null.
    fn work(&mut self, field: &str) -> Result<Option<Work>, ProtocolError> {
        let count = self.i32(field)?;
        if count == -1 {
            return Ok(None);
        }
        let count = usize::try_from(count)
            .map_err(|_| self.fail(format!("{field} has {count} entries")))?;
        let mut work = Work::new();
        for _ in 0..count {
            let connector = self.string(field)?;
            let tasks = self.i32(field)?;
            let tasks = usize::try_from(tasks)
                .map_err(|_| self.fail(format!("{field}: {connector} has {tasks} tasks")))?;
            // Each task id is 4 bytes: refuse counts the payload cannot hold before allocating.
            if tasks > self.buf.len() / 4 {
                return Err(self.fail(format!(
                    "{field}: {connector} claims {tasks} tasks in {} bytes",
                    self.buf.len()
                )));
            }
            let mut ids = Vec::with_capacity(tasks);
            for _ in 0..tasks {
                ids.push(self.i32(field)?);
            }
            work.entry(connector).or_default().extend(ids);
        }
        Ok(Some(work))
    }
    fn version(&mut self) -> Result<SubProtocol, ProtocolError> {
        match self.i16("version")? {
            0 => Ok(SubProtocol::Default),
            1 => Ok(SubProtocol::Compatible),
            // Later versions keep V1/V2's layout as a prefix; read them as V2.
            v if v >= 2 => Ok(SubProtocol::Sessioned),
            v => Err(self.fail(format!("version {v} is negative"))),
        }
    }
}

impl WorkerMetadata {
    /// The JoinGroup metadata bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.i16(self.version.version());
        w.string(&self.url);
        w.i64(self.config_offset);
        if self.version != SubProtocol::Default {
            match &self.allocation {
                None => w.i32(-1),
                Some(a) => {
                    let bytes = a.encode();
                    w.i32(bytes.len() as i32);
                    w.0.extend_from_slice(&bytes);
                }
            }
        }
        w.0
    }

    /// Parses JoinGroup metadata; V1/V2 fields missing at the end are taken as absent (the
    /// Java schema allows it).
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader {
            what: "worker metadata",
            buf: bytes,
        };
        let version = r.version()?;
        let url = r.string("url")?;
        let config_offset = r.i64("config offset")?;
        let mut allocation = None;
        if version != SubProtocol::Default && !r.buf.is_empty() {
            let len = r.i32("allocation")?;
            if len >= 0 {
                let bytes = r.take(len as usize, "allocation")?;
                allocation = Some(Assignment::decode(bytes)?);
            }
        }
        Ok(Self {
            version,
            url,
            config_offset,
            allocation,
        })
    }
}

impl Assignment {
    /// The SyncGroup assignment bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.i16(self.version.version());
        w.i16(self.error);
        w.string(&self.leader);
        w.string(&self.leader_url);
        w.i64(self.config_offset);
        w.work(&self.assigned);
        if self.version != SubProtocol::Default {
            w.work(&self.revoked);
            w.i32(self.delay_ms);
        }
        w.0
    }

    /// Parses a SyncGroup assignment; V1/V2 fields missing at the end are taken as empty.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader {
            what: "assignment",
            buf: bytes,
        };
        let version = r.version()?;
        let error = r.i16("error")?;
        let leader = r.string("leader")?;
        let leader_url = r.string("leader url")?;
        let config_offset = r.i64("config offset")?;
        let assigned = r.work("assignment")?.unwrap_or_default();
        let mut revoked = Work::new();
        let mut delay_ms = 0;
        if version != SubProtocol::Default {
            if !r.buf.is_empty() {
                revoked = r.work("revoked")?.unwrap_or_default();
            }
            if !r.buf.is_empty() {
                delay_ms = r.i32("delay")?;
            }
        }
        Ok(Self {
            version,
            error,
            leader,
            leader_url,
            config_offset,
            assigned,
            revoked,
            delay_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(pairs: &[(&str, &[i32])]) -> Work {
        pairs
            .iter()
            .map(|(c, t)| (c.to_string(), t.to_vec()))
            .collect()
    }

    #[test]
    fn v0_metadata_has_connects_exact_bytes() {
        let m = WorkerMetadata {
            version: SubProtocol::Default,
            url: "http://w1:8083/".into(),
            config_offset: 7,
            allocation: None,
        };
        let mut want = vec![0, 0, 0, 15];
        want.extend_from_slice(b"http://w1:8083/");
        want.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(m.encode(), want);
        assert_eq!(WorkerMetadata::decode(&want), Ok(m));
    }

    #[test]
    fn v2_metadata_carries_the_previous_assignment() {
        let previous = Assignment {
            version: SubProtocol::Sessioned,
            error: NO_ERROR,
            leader: "w1-1a2b".into(),
            leader_url: "http://w1:8083/".into(),
            config_offset: 42,
            assigned: work(&[("orders", &[CONNECTOR_TASK, 0, 1])]),
            revoked: Work::new(),
            delay_ms: 0,
        };
        let m = WorkerMetadata {
            version: SubProtocol::Sessioned,
            url: "http://w2:8083/".into(),
            config_offset: 42,
            allocation: Some(previous),
        };
        let bytes = m.encode();
        assert_eq!(&bytes[..2], &[0, 2]);
        assert_eq!(WorkerMetadata::decode(&bytes), Ok(m.clone()));
        // A V1 member without an allocation sends -1; one that omits the field is also read.
        let bare = WorkerMetadata {
            version: SubProtocol::Compatible,
            allocation: None,
            ..m
        };
        let with_null = bare.encode();
        assert_eq!(&with_null[with_null.len() - 4..], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(WorkerMetadata::decode(&with_null), Ok(bare.clone()));
        assert_eq!(
            WorkerMetadata::decode(&with_null[..with_null.len() - 4]),
            Ok(bare)
        );
    }

    #[test]
    fn v1_assignment_has_connects_exact_bytes() {
        let a = Assignment {
            version: SubProtocol::Compatible,
            error: CONFIG_MISMATCH,
            leader: "L".into(),
            leader_url: "u".into(),
            config_offset: 3,
            assigned: work(&[("c", &[-1, 2])]),
            revoked: work(&[("d", &[0])]),
            delay_ms: 5000,
        };
        let want: Vec<u8> = [
            &[0, 1][..],                           // version
            &[0, 1],                               // error CONFIG_MISMATCH
            &[0, 1, b'L'],                         // leader
            &[0, 1, b'u'],                         // leader url
            &3i64.to_be_bytes(),                   // config offset
            &[0, 0, 0, 1, 0, 1, b'c', 0, 0, 0, 2], // 1 connector "c", 2 tasks
            &(-1i32).to_be_bytes(),
            &2i32.to_be_bytes(),
            &[0, 0, 0, 1, 0, 1, b'd', 0, 0, 0, 1], // revoked "d", 1 task
            &0i32.to_be_bytes(),
            &5000i32.to_be_bytes(), // delay
        ]
        .concat();
        assert_eq!(a.encode(), want);
        assert_eq!(Assignment::decode(&want), Ok(a.clone()));
        // Java V1 members may omit revoked and delay.
        let cut = &want[..want.len() - 4 - 15];
        let shorter = Assignment::decode(cut).expect("decodes");
        assert_eq!((shorter.revoked, shorter.delay_ms), (Work::new(), 0));
        // V0 has neither.
        let v0 = Assignment {
            version: SubProtocol::Default,
            revoked: Work::new(),
            delay_ms: 0,
            ..a
        };
        assert_eq!(Assignment::decode(&v0.encode()), Ok(v0));
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        assert!(WorkerMetadata::decode(&[]).is_err());
        assert!(
            WorkerMetadata::decode(&[0, 0, 0, 50, b'x']).is_err_and(|e| e
                .to_string()
                .contains("url needs 50 bytes but only 1 remain"))
        );
        let huge_tasks = [
            &[0, 1, 0, 0, 0, 0, 0, 0][..],
            &0i64.to_be_bytes(),
            &[0, 0, 0, 1, 0, 1, b'c'],
            &i32::MAX.to_be_bytes(),
        ]
        .concat();
        assert!(Assignment::decode(&huge_tasks).is_err_and(|e| e.to_string().contains("claims")));
        assert!(Assignment::decode(&[0xff, 0xff]).is_err());
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = WorkerMetadata::decode(&bytes);
            let _ = Assignment::decode(&bytes);
        }
    }

    #[test]
    fn protocols_are_offered_in_connects_order() {
        let names = |s| {
            SubProtocol::offered(s)
                .into_iter()
                .map(SubProtocol::name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("sessioned"), ["sessioned", "compatible", "default"]);
        assert_eq!(names("compatible"), ["compatible", "default"]);
        assert_eq!(names("eager"), ["default"]);
        assert_eq!(
            SubProtocol::from_name("compatible"),
            Some(SubProtocol::Compatible)
        );
        assert_eq!(SubProtocol::from_name("x"), None);
    }
}
