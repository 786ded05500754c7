//! The records the coordinator keeps in `__consumer_offsets`, in Kafka's own key and value
//! layouts so existing tooling can read them:
//!
//! - offset commit: key v1 `(group, topic, partition)`, value v3
//!   `(offset, leader_epoch, metadata, commit_timestamp)`;
//! - group metadata: key v2 `(group)`, value v3 `(protocol_type, generation, protocol,
//!   leader, state_timestamp, members[...])`.
//!
//! A null value is a tombstone.

use bytes::{Buf, BufMut, Bytes};

/// A decoded `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredRecord {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        /// `None` is a tombstone.
        value: Option<OffsetValue>,
    },
    Group {
        group: String,
        /// `None` is a tombstone.
        value: Option<GroupValue>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetValue {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) commit_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct GroupValue {
    pub(crate) protocol_type: String,
    pub(crate) generation: i32,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: Option<String>,
    pub(crate) state_timestamp: i64,
    pub(crate) members: Vec<MemberValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MemberValue {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) rebalance_timeout: i32,
    pub(crate) session_timeout: i32,
    pub(crate) subscription: Bytes,
    pub(crate) assignment: Bytes,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = i16::try_from(s.len()).unwrap_or(i16::MAX);
    out.put_i16(len);
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn put_nullable_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.put_i16(-1),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.put_i32(b.len() as i32);
    out.extend_from_slice(b);
}

impl StoredRecord {
    /// Deletes a committed offset.
    pub(crate) fn offset_tombstone(group: &str, topic: &str, partition: i32) -> Self {
        StoredRecord::Offset {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
            value: None,
        }
    }

    /// The record's key and value bytes.
    pub(crate) fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            StoredRecord::Offset {
                group,
                topic,
                partition,
                value,
            } => {
                let mut key = Vec::new();
                key.put_i16(1);
                put_str(&mut key, group);
                put_str(&mut key, topic);
                key.put_i32(*partition);
                let value = value.as_ref().map(|v| {
                    let mut out = Vec::new();
                    out.put_i16(3);
                    out.put_i64(v.offset);
                    out.put_i32(v.leader_epoch);
                    put_str(&mut out, &v.metadata);
                    out.put_i64(v.commit_timestamp);
                    out
                });
                (key, value)
            }
            StoredRecord::Group { group, value } => {
                let mut key = Vec::new();
                key.put_i16(2);
                put_str(&mut key, group);
                let value = value.as_ref().map(|v| {
                    let mut out = Vec::new();
                    out.put_i16(3);
                    put_str(&mut out, &v.protocol_type);
                    out.put_i32(v.generation);
                    put_nullable_str(&mut out, v.protocol.as_deref());
                    put_nullable_str(&mut out, v.leader.as_deref());
                    out.put_i64(v.state_timestamp);
                    out.put_i32(v.members.len() as i32);
                    for m in &v.members {
                        put_str(&mut out, &m.member_id);
                        put_nullable_str(&mut out, m.instance_id.as_deref());
                        put_str(&mut out, &m.client_id);
                        put_str(&mut out, &m.client_host);
                        out.put_i32(m.rebalance_timeout);
                        out.put_i32(m.session_timeout);
                        put_bytes(&mut out, &m.subscription);
                        put_bytes(&mut out, &m.assignment);
                    }
                    out
                });
                (key, value)
            }
        }
    }

    /// Decodes a record; errors name what is malformed.
    pub(crate) fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Self, String> {
        let mut k = Reader(key);
        match k.i16()? {
            0 | 1 => {
                let group = k.string()?;
                let topic = k.string()?;
                let partition = k.i32()?;
                let value = value
                    .map(|v| {
                        let mut r = Reader(v);
                        let version = r.i16()?;
                        let offset = r.i64()?;
                        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
                        let metadata = r.string()?;
                        let commit_timestamp = r.i64()?;
                        Ok::<_, String>(OffsetValue {
                            offset,
                            leader_epoch,
                            metadata,
                            commit_timestamp,
                        })
                    })
                    .transpose()?;
                Ok(StoredRecord::Offset {
                    group,
                    topic,
                    partition,
                    value,
                })
            }
            2 => {
                let group = k.string()?;
                let value = value
                    .map(|v| {
                        let mut r = Reader(v);
                        let version = r.i16()?;
                        let protocol_type = r.string()?;
                        let generation = r.i32()?;
                        let protocol = r.nullable_string()?;
                        let leader = r.nullable_string()?;
                        let state_timestamp = if version >= 2 { r.i64()? } else { -1 };
                        let count = r.i32()?.max(0);
                        let mut members = Vec::new();
                        for _ in 0..count {
                            let member_id = r.string()?;
                            let instance_id = if version >= 3 {
                                r.nullable_string()?
                            } else {
                                None
                            };
                            let client_id = r.string()?;
                            let client_host = r.string()?;
                            let rebalance_timeout = if version >= 1 { r.i32()? } else { -1 };
                            let session_timeout = r.i32()?;
                            let subscription = r.bytes()?;
                            let assignment = r.bytes()?;
                            members.push(MemberValue {
                                member_id,
                                instance_id,
                                client_id,
                                client_host,
                                rebalance_timeout,
                                session_timeout,
                                subscription,
                                assignment,
                            });
                        }
                        Ok::<_, String>(GroupValue {
                            protocol_type,
                            generation,
                            protocol,
                            leader,
                            state_timestamp,
                            members,
                        })
                    })
                    .transpose()?;
                Ok(StoredRecord::Group { group, value })
            }
            other => Err(format!("unknown __consumer_offsets key version {other}")),
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn need(&self, n: usize) -> Result<(), String> {
        if self.0.remaining() < n {
            return Err(format!(
                "record truncated: needs {n} bytes, has {}",
                self.0.remaining()
            ));
        }
        Ok(())
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.need(2)?;
        Ok(self.0.get_i16())
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.need(4)?;
        Ok(self.0.get_i32())
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.need(8)?;
        Ok(self.0.get_i64())
    }
    fn nullable_string(&mut self) -> Result<Option<String>, String> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let len = len as usize;
        self.need(len)?;
        let s = String::from_utf8(self.0[..len].to_vec())
            .map_err(|_| "string is not UTF-8".to_string())?;
        self.0.advance(len);
        Ok(Some(s))
    }
    fn string(&mut self) -> Result<String, String> {
        Ok(self.nullable_string()?.unwrap_or_default())
    }
    fn bytes(&mut self) -> Result<Bytes, String> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(Bytes::new());
        }
        let len = len as usize;
        self.need(len)?;
        let b = Bytes::copy_from_slice(&self.0[..len]);
        self.0.advance(len);
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let records = [
            StoredRecord::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 3,
                value: Some(OffsetValue {
                    offset: 42,
                    leader_epoch: -1,
                    metadata: "m".into(),
                    commit_timestamp: 7,
                }),
            },
            StoredRecord::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 3,
                value: None,
            },
            StoredRecord::Group {
                group: "g".into(),
                value: Some(GroupValue {
                    protocol_type: "connect".into(),
                    generation: 9,
                    protocol: Some("sessioned".into()),
                    leader: Some("w1".into()),
                    state_timestamp: 1,
                    members: vec![MemberValue {
                        member_id: "w1".into(),
                        instance_id: None,
                        client_id: "c".into(),
                        client_host: "/127.0.0.1".into(),
                        rebalance_timeout: 60000,
                        session_timeout: 10000,
                        subscription: Bytes::from_static(b"sub"),
                        assignment: Bytes::from_static(b"asg"),
                    }],
                }),
            },
            StoredRecord::Group {
                group: "g".into(),
                value: None,
            },
        ];
        for r in records {
            let (k, v) = r.encode();
            assert_eq!(StoredRecord::decode(&k, v.as_deref()).expect("decodes"), r);
        }
    }

    #[test]
    fn truncated_records_are_errors() {
        let (k, v) = StoredRecord::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 0,
            value: Some(OffsetValue {
                offset: 1,
                leader_epoch: 0,
                metadata: String::new(),
                commit_timestamp: 0,
            }),
        }
        .encode();
        let v = v.expect("value");
        assert!(StoredRecord::decode(&k[..k.len() - 1], None).is_err());
        assert!(StoredRecord::decode(&k, Some(&v[..v.len() - 3])).is_err());
        assert!(
            StoredRecord::decode(&[0, 9], None)
                .expect_err("version")
                .contains("key version 9")
        );
    }
}
