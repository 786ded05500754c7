//! `io.debezium.transforms.ExtractNewRecordState` (short name `ExtractNewRecordState`,
//! Culvert alias `Unwrap`): turns a change-data-capture envelope (`before`, `after`,
//! `source`, `op`, `ts_ms`, as Debezium and Culvert's CDC connector write it) into the row
//! state — `after`, or `before` for rewritten deletes — with Debezium's keys:
//!
//! - `delete.tombstone.handling.mode`: `tombstone` (default: a delete becomes a tombstone,
//!   the source's own tombstone is dropped), `drop` (both dropped), `rewrite` (the deleted
//!   row with `__deleted: "true"`, other rows `"false"`; tombstones dropped),
//!   `rewrite-with-tombstone` (the same, tombstones kept). Without it, the deprecated
//!   `delete.handling.mode` (`drop`, `none`, `rewrite`) and `drop.tombstones` (true) apply.
//! - `add.fields` / `add.headers`: `field[:name]` entries; a bare name is an envelope field
//!   (`op`, `ts_ms`, ...) or else a `source` field, `struct.field` names one explicitly;
//!   names default to the prefix (`add.fields.prefix` / `add.headers.prefix`, `__`) plus
//!   `struct_` when given plus the field. Added schema fields are optional.
//! - `route.by.field`: the topic becomes that field's value in the row.
//!
//! Truncate events (`op` = `t`) are dropped; values that are not envelopes pass unchanged.

use serde_json::{Map, Value, json};

use super::shape::{header_bytes, standalone_schema};
use crate::config::Settings;
use crate::{Data, Header, Record, SmtError, Transform};

/// The envelope's own fields; other bare names in `add.fields` are `source` fields.
const ENVELOPE_FIELDS: [&str; 8] = [
    "before",
    "after",
    "source",
    "op",
    "ts_ms",
    "ts_us",
    "ts_ns",
    "transaction",
];
const DELETED: &str = "__deleted";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDelete {
    Drop,
    Tombstone,
    Rewrite,
}

/// One `add.fields`/`add.headers` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRef {
    /// The envelope struct holding the field (`source`, `transaction`), or none for the
    /// envelope itself.
    within: Option<String>,
    field: String,
    /// The added field's or header's name.
    name: String,
}

#[derive(Debug)]
pub(crate) struct ExtractNewRecordState {
    on_delete: OnDelete,
    keep_tombstones: bool,
    add_fields: Vec<FieldRef>,
    add_headers: Vec<FieldRef>,
    route_by_field: Option<String>,
}

fn references(s: &Settings<'_>, key: &str, prefix_key: &str) -> Result<Vec<FieldRef>, SmtError> {
    if s.get(key).is_none() {
        return Ok(Vec::new());
    }
    let prefix = s.get(prefix_key).unwrap_or("__");
    s.list(key)?
        .into_iter()
        .map(|entry| {
            let (path, rename) = match entry.split_once(':') {
                Some((p, n)) => (p.trim(), Some(n.trim())),
                None => (entry.as_str(), None),
            };
            let (within, field, named_struct) = match path.split_once('.') {
                Some((st, f)) if !st.is_empty() && !f.is_empty() => {
                    (Some(st.to_string()), f.to_string(), Some(st))
                }
                Some(_) => return Err(s.invalid(key, &entry, "expected field or struct.field")),
                None if ENVELOPE_FIELDS.contains(&path) => (None, path.to_string(), None),
                None => (Some("source".to_string()), path.to_string(), None),
            };
            let name = match rename {
                Some(n) if !n.is_empty() => n.to_string(),
                Some(_) => return Err(s.invalid(key, &entry, "the new name is empty")),
                None => match named_struct {
                    Some(st) => format!("{prefix}{st}_{field}"),
                    None => format!("{prefix}{field}"),
                },
            };
            Ok(FieldRef {
                within,
                field,
                name,
            })
        })
        .collect()
}

impl ExtractNewRecordState {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        for unsupported in [
            "drop.fields.header.name",
            "drop.fields.from.key",
            "drop.fields.keep.schema.compatible",
        ] {
            if let Some(v) = s.get(unsupported) {
                return Err(s.invalid(unsupported, v, "not supported by Culvert yet"));
            }
        }
        let (on_delete, keep_tombstones) = match s.get("delete.tombstone.handling.mode") {
            Some(mode) => match mode.trim().to_ascii_lowercase().as_str() {
                "drop" => (OnDelete::Drop, false),
                "tombstone" => (OnDelete::Tombstone, false),
                "rewrite" => (OnDelete::Rewrite, false),
                "rewrite-with-tombstone" => (OnDelete::Rewrite, true),
                _ => {
                    return Err(s.invalid(
                        "delete.tombstone.handling.mode",
                        mode,
                        "must be one of drop, tombstone, rewrite, rewrite-with-tombstone",
                    ));
                }
            },
            None if s.get("delete.handling.mode").is_none()
                && s.get("drop.tombstones").is_none() =>
            {
                (OnDelete::Tombstone, false)
            }
            None => {
                let on_delete = match s.get("delete.handling.mode").map(str::trim) {
                    None => OnDelete::Drop,
                    Some(m) if m.eq_ignore_ascii_case("drop") => OnDelete::Drop,
                    Some(m) if m.eq_ignore_ascii_case("none") => OnDelete::Tombstone,
                    Some(m) if m.eq_ignore_ascii_case("rewrite") => OnDelete::Rewrite,
                    Some(other) => {
                        return Err(s.invalid(
                            "delete.handling.mode",
                            other,
                            "must be one of drop, none, rewrite",
                        ));
                    }
                };
                (on_delete, !s.boolean("drop.tombstones", true)?)
            }
        };
        s.boolean("replace.null.with.default", true)?;
        Ok(Self {
            on_delete,
            keep_tombstones,
            add_fields: references(s, "add.fields", "add.fields.prefix")?,
            add_headers: references(s, "add.headers", "add.headers.prefix")?,
            route_by_field: s.get("route.by.field").map(|f| f.trim().to_string()),
        })
    }
}

/// Whether a value is a change event envelope.
fn is_envelope(data: &Data) -> bool {
    let Some(map) = data.payload.as_object() else {
        return false;
    };
    let shaped = map.get("op").is_some_and(Value::is_string)
        && (map.contains_key("after") || map.contains_key("before"));
    let named = data
        .schema
        .as_ref()
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str)
        .is_none_or(|n| n.ends_with("Envelope"));
    shaped && named
}

/// The schema of envelope field `name` (within struct `within`), from the envelope schema.
fn schema_of(envelope: &Value, within: Option<&str>, name: &str) -> Option<Value> {
    let find = |schema: &Value, field: &str| {
        schema
            .get("fields")
            .and_then(Value::as_array)?
            .iter()
            .find(|f| f.get("field").and_then(Value::as_str) == Some(field))
            .cloned()
    };
    let holder = match within {
        Some(st) => find(envelope, st)?,
        None => envelope.clone(),
    };
    find(&holder, name).map(|f| standalone_schema(&f))
}

impl ExtractNewRecordState {
    /// The value of `r` in the envelope's payload.
    fn lookup<'a>(payload: &'a Map<String, Value>, r: &FieldRef) -> &'a Value {
        let holder = match &r.within {
            Some(st) => payload.get(st).and_then(Value::as_object),
            None => Some(payload),
        };
        holder.and_then(|h| h.get(&r.field)).unwrap_or(&Value::Null)
    }

    /// The row state with the added fields (and `__deleted` when rewriting).
    fn state(&self, mut envelope: Data, deleted: bool) -> Result<Option<Data>, SmtError> {
        let side = if deleted { "before" } else { "after" };
        // The row moves out of the envelope; the rest stays for the added fields.
        let state = match &mut envelope.payload {
            Value::Object(map) => map.remove(side).unwrap_or(Value::Null),
            _ => return Ok(None),
        };
        let Some(payload) = envelope.payload.as_object() else {
            return Ok(None);
        };
        let mut schema = envelope
            .schema
            .as_ref()
            .and_then(|s| schema_of(s, None, side));
        let rewrite = self.on_delete == OnDelete::Rewrite;
        if state.is_null() {
            return Ok(None);
        }
        if self.add_fields.is_empty() && !rewrite {
            return Ok(Some(Data {
                payload: state,
                schema,
            }));
        }
        let Value::Object(mut row) = state else {
            return Err(SmtError::Data(format!(
                "ExtractNewRecordState cannot add fields to the {side} state: it is not a struct"
            )));
        };
        let mut added: Vec<(String, Value, Value)> = self
            .add_fields
            .iter()
            .map(|r| {
                let field_schema = envelope
                    .schema
                    .as_ref()
                    .and_then(|s| schema_of(s, r.within.as_deref(), &r.field))
                    .unwrap_or_else(|| json!({"type": "string"}));
                (
                    r.name.clone(),
                    Self::lookup(payload, r).clone(),
                    field_schema,
                )
            })
            .collect();
        if rewrite {
            added.push((
                DELETED.to_string(),
                Value::String(deleted.to_string()),
                json!({"type": "string"}),
            ));
        }
        let mut fields: Vec<Value> = schema
            .as_ref()
            .and_then(|s| s.get("fields"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (name, value, field_schema) in added {
            row.insert(name.clone(), value);
            let mut field = match field_schema {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            field.insert("optional".into(), Value::Bool(true));
            field.insert("field".into(), Value::String(name));
            fields.push(Value::Object(field));
        }
        if let Some(Value::Object(s)) = schema.as_mut() {
            s.insert("fields".into(), Value::Array(fields));
        }
        Ok(Some(Data {
            payload: Value::Object(row),
            schema,
        }))
    }
}

impl Transform for ExtractNewRecordState {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let Some(envelope) = record.value.take() else {
            return Ok(self.keep_tombstones.then_some(record));
        };
        if !is_envelope(&envelope) {
            record.value = Some(envelope);
            return Ok(Some(record));
        }
        let op = envelope.payload["op"].as_str().unwrap_or_default();
        let deleted = match (op, self.on_delete) {
            ("t", _) | ("d", OnDelete::Drop) => return Ok(None),
            // A tombstone: the key stays, the value (and its schema) go.
            ("d", OnDelete::Tombstone) => return Ok(Some(record)),
            ("d", OnDelete::Rewrite) => true,
            _ => false,
        };
        if let Some(payload) = envelope.payload.as_object() {
            for r in &self.add_headers {
                record.headers.push(Header {
                    name: r.name.clone(),
                    value: header_bytes(Self::lookup(payload, r)),
                });
            }
        }
        record.value = self.state(envelope, deleted)?;
        if let Some(field) = &self.route_by_field
            && let Some(row) = record.value.as_ref().and_then(|d| d.payload.as_object())
        {
            match row.get(field) {
                Some(Value::String(topic)) => record.topic = topic.clone(),
                Some(v @ Value::Number(_)) => record.topic = v.to_string(),
                _ => {}
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::testing::{apply, chain, plain, record, typed};
    use crate::{Record, SmtError};

    const CLASS: &str = "io.debezium.transforms.ExtractNewRecordState";

    fn event(op: &str) -> Value {
        json!({
            "before": if op == "c" { Value::Null } else { json!({"id": 1, "name": "old"}) },
            "after": if op == "d" { Value::Null } else { json!({"id": 1, "name": "new"}) },
            "source": {"version": "3.0", "connector": "postgresql", "table": "customers",
                "lsn": 2_400_000, "ts_ms": 1_700_000_000_000_i64},
            "op": op, "ts_ms": 1_700_000_000_500_i64,
        })
    }

    fn run(
        settings: &[(&str, &str)],
        value: Option<crate::Data>,
    ) -> Result<Option<Record>, SmtError> {
        let mut pairs = vec![("transforms", "x"), ("transforms.x.type", CLASS)];
        let keys: Vec<(String, &str)> = settings
            .iter()
            .map(|(k, v)| (format!("transforms.x.{k}"), *v))
            .collect();
        pairs.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
        let chain = chain(&pairs).map_err(|p| SmtError::Config(p.join("; ")))?;
        chain.apply(record(plain(json!(1)), value))
    }

    fn payload(r: Option<Record>) -> Option<Value> {
        r.expect("kept").value.map(|d| d.payload)
    }

    #[test]
    fn the_row_state_replaces_the_envelope() {
        for op in ["c", "u", "r"] {
            let out = run(&[], plain(event(op))).expect("unwraps");
            assert_eq!(payload(out), Some(json!({"id": 1, "name": "new"})), "{op}");
        }
        // Not an envelope: unchanged. Truncates: dropped.
        let other = json!({"id": 7, "op": "noise"});
        assert_eq!(
            payload(run(&[], plain(other.clone())).expect("passes")),
            Some(other)
        );
        assert!(run(&[], plain(event("t"))).expect("runs").is_none());
        // The short name and Culvert's alias resolve too.
        for class in ["ExtractNewRecordState", "Unwrap"] {
            let r = apply(
                &[("transforms.x.type", class)],
                record(None, plain(event("u"))),
            );
            assert_eq!(
                r.expect("unwraps").value.map(|d| d.payload),
                Some(json!({"id": 1, "name": "new"}))
            );
        }
    }

    #[test]
    fn deletes_and_tombstones_follow_the_handling_mode() {
        let del = || plain(event("d"));
        // tombstone (default): the delete becomes a tombstone, Kafka tombstones go.
        let out = run(&[], del()).expect("runs").expect("kept");
        assert_eq!(out.value, None);
        assert_eq!(out.key.map(|k| k.payload), Some(json!(1)), "the key stays");
        assert!(run(&[], None).expect("runs").is_none());
        let mode = |m: &'static str| [("delete.tombstone.handling.mode", m)];
        assert!(run(&mode("drop"), del()).expect("runs").is_none());
        let rewritten = payload(run(&mode("rewrite"), del()).expect("runs"));
        assert_eq!(
            rewritten,
            Some(json!({"id": 1, "name": "old", "__deleted": "true"}))
        );
        let kept = payload(run(&mode("rewrite"), plain(event("u"))).expect("runs"));
        assert_eq!(
            kept,
            Some(json!({"id": 1, "name": "new", "__deleted": "false"}))
        );
        assert!(run(&mode("rewrite"), None).expect("runs").is_none());
        assert!(
            run(&mode("rewrite-with-tombstone"), None)
                .expect("runs")
                .is_some()
        );
        // The deprecated keys: Debezium's old defaults drop deletes and tombstones.
        let legacy = [
            ("delete.handling.mode", "rewrite"),
            ("drop.tombstones", "false"),
        ];
        assert!(run(&legacy, None).expect("runs").is_some());
        assert_eq!(
            payload(run(&legacy, del()).expect("runs")),
            Some(json!({"id": 1, "name": "old", "__deleted": "true"}))
        );
        assert!(
            run(&[("drop.tombstones", "true")], del())
                .expect("runs")
                .is_none()
        );
        let e = run(&mode("keep"), del()).expect_err("refused").to_string();
        assert!(
            e.contains("transforms.x.delete.tombstone.handling.mode"),
            "{e}"
        );
    }

    #[test]
    fn metadata_becomes_fields_headers_and_topics() {
        let settings = [
            ("add.fields", "op,table,source.ts_ms,lsn:LSN"),
            ("add.headers", "op,version"),
            ("add.headers.prefix", "dbz."),
            ("route.by.field", "name"),
        ];
        let out = run(&settings, plain(event("u")))
            .expect("runs")
            .expect("kept");
        assert_eq!(
            out.value.map(|d| d.payload),
            Some(
                json!({"id": 1, "name": "new", "__op": "u", "__table": "customers",
                "__source_ts_ms": 1_700_000_000_000_i64, "LSN": 2_400_000})
            )
        );
        let headers: Vec<(String, Option<Vec<u8>>)> =
            out.headers.into_iter().map(|h| (h.name, h.value)).collect();
        assert_eq!(
            headers,
            [
                ("dbz.op".to_string(), Some(b"u".to_vec())),
                ("dbz.version".to_string(), Some(b"3.0".to_vec())),
            ]
        );
        assert_eq!(out.topic, "new");
        let e = run(&[("add.fields", "source.")], plain(event("u"))).expect_err("refused");
        assert!(e.to_string().contains("transforms.x.add.fields"), "{e}");
    }

    #[test]
    fn schemas_follow_the_row_with_optional_added_fields() {
        let row = json!({"type": "struct", "name": "db.customers.Value", "optional": true,
            "fields": [{"field": "id", "type": "int32", "optional": false},
                       {"field": "name", "type": "string", "optional": true}]});
        let mut before = row.clone();
        before["field"] = json!("before");
        let mut after = row.clone();
        after["field"] = json!("after");
        let schema = json!({"type": "struct", "name": "db.customers.Envelope", "optional": false,
            "fields": [before, after,
                {"field": "source", "type": "struct", "name": "io.debezium.connector.postgresql.Source",
                 "optional": false, "fields": [
                    {"field": "table", "type": "string", "optional": false},
                    {"field": "lsn", "type": "int64", "optional": true}]},
                {"field": "op", "type": "string", "optional": false},
                {"field": "ts_ms", "type": "int64", "optional": true}]});
        let out = run(
            &[
                ("add.fields", "op,lsn"),
                ("delete.tombstone.handling.mode", "rewrite"),
            ],
            typed(event("u"), schema),
        )
        .expect("runs")
        .expect("kept")
        .value
        .expect("a value");
        assert_eq!(
            out.payload,
            json!({"id": 1, "name": "new", "__op": "u", "__lsn": 2_400_000, "__deleted": "false"})
        );
        let schema = out.schema.expect("a schema");
        assert_eq!(schema["name"], json!("db.customers.Value"));
        assert_eq!(
            schema["fields"],
            json!([{"field": "id", "type": "int32", "optional": false},
                   {"field": "name", "type": "string", "optional": true},
                   {"field": "__op", "type": "string", "optional": true},
                   {"field": "__lsn", "type": "int64", "optional": true},
                   {"field": "__deleted", "type": "string", "optional": true}])
        );
    }
}
