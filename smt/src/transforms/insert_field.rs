//! `InsertField$Key` / `InsertField$Value`: adds fields holding the record's topic
//! (`topic.field`), partition (`partition.field`), offset (`offset.field`, sink records
//! only), timestamp (`timestamp.field`) and a static text (`static.field` = `static.value`,
//! inserted only when both are set, as in Connect).
//! A field name ending in `!` makes the field required in the schema, `?` (the default)
//! optional. With a schema the new fields are appended to the struct's schema (the timestamp
//! as Connect's Timestamp logical type). A null key or value (tombstone) passes unchanged.

use serde_json::{Map, Value, json};

use super::Part;
use super::shape::{require_map, require_struct, restructured, struct_value};
use crate::config::Settings;
use crate::{Data, Record, SmtError, Transform};

const PURPOSE: &str = "field insertion";

/// A field to insert: its name and whether the schema marks it optional.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    optional: bool,
}

fn spec(s: &Settings<'_>, key: &str) -> Option<Spec> {
    let text = s.get(key)?.trim();
    Some(if let Some(name) = text.strip_suffix('!') {
        Spec {
            name: name.to_string(),
            optional: false,
        }
    } else {
        Spec {
            name: text.strip_suffix('?').unwrap_or(text).to_string(),
            optional: true,
        }
    })
}

#[derive(Debug)]
pub(crate) struct InsertField {
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<(Spec, String)>,
    replace_null_with_default: bool,
    part: Part,
}

impl InsertField {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        // As in Connect, the static field is inserted only when both keys are set.
        let static_field = spec(s, "static.field")
            .zip(s.get("static.value"))
            .map(|(f, v)| (f, v.to_string()));
        Ok(Self {
            topic: spec(s, "topic.field"),
            partition: spec(s, "partition.field"),
            offset: spec(s, "offset.field"),
            timestamp: spec(s, "timestamp.field"),
            static_field,
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
            part,
        })
    }

    /// The fields to add, in Connect's order: (spec, schema, value).
    fn additions(&self, record: &Record) -> Result<Vec<(Spec, Value, Value)>, SmtError> {
        let mut out = Vec::new();
        if let Some(f) = &self.topic {
            out.push((
                f.clone(),
                json!({"type": "string"}),
                Value::String(record.topic.clone()),
            ));
        }
        if let Some(f) = &self.partition {
            out.push((f.clone(), json!({"type": "int32"}), json!(record.partition)));
        }
        if let Some(f) = &self.offset {
            let Some(offset) = record.offset else {
                return Err(SmtError::Data(format!(
                    "Only SinkRecord supported for [{PURPOSE}], found: org.apache.kafka.connect.source.SourceRecord"
                )));
            };
            out.push((f.clone(), json!({"type": "int64"}), json!(offset)));
        }
        if let Some(f) = &self.timestamp {
            let schema = json!({"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1});
            out.push((f.clone(), schema, json!(record.timestamp_ms)));
        }
        if let Some((f, v)) = &self.static_field {
            out.push((
                f.clone(),
                json!({"type": "string"}),
                Value::String(v.clone()),
            ));
        }
        Ok(out)
    }
}

impl Transform for InsertField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let additions = self.additions(&record)?;
        let slot = self.part.of(&mut record);
        let Some(current) = slot.as_ref().filter(|d| !d.payload.is_null()) else {
            return Ok(Some(record));
        };
        let inserted = match &current.schema {
            None => {
                let mut out = require_map(&current.payload, PURPOSE)?.clone();
                for (spec, _, value) in additions {
                    out.insert(spec.name, value);
                }
                Data::plain(Value::Object(out))
            }
            Some(schema) => {
                let (values, fields) = require_struct(&current.payload, schema, PURPOSE)?;
                let mut out = Map::new();
                let mut schema_fields = Vec::with_capacity(fields.len() + additions.len());
                for field in fields {
                    let Some(name) = field.get("field").and_then(Value::as_str) else {
                        continue;
                    };
                    let v = struct_value(values, field, name, self.replace_null_with_default);
                    out.insert(name.to_string(), v);
                    schema_fields.push(field.clone());
                }
                for (spec, mut field_schema, value) in additions {
                    if let Some(m) = field_schema.as_object_mut() {
                        m.insert("optional".into(), Value::Bool(spec.optional));
                        m.insert("field".into(), Value::String(spec.name.clone()));
                    }
                    schema_fields.push(field_schema);
                    out.insert(spec.name, value);
                }
                restructured(schema, schema_fields, Value::Object(out))
            }
        };
        *slot = Some(inserted);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, plain, record, typed};

    fn sink_record(value: Option<crate::Data>) -> crate::Record {
        let mut r = record(None, value);
        r.topic = "orders".into();
        r.partition = Some(3);
        r.offset = Some(1042);
        r.timestamp_ms = Some(1_700_000_000_000);
        r
    }

    const ALL: &[(&str, &str)] = &[
        (
            "transforms.x.type",
            "org.apache.kafka.connect.transforms.InsertField$Value",
        ),
        ("transforms.x.topic.field", "kafka_topic"),
        ("transforms.x.partition.field", "kafka_partition!"),
        ("transforms.x.offset.field", "kafka_offset?"),
        ("transforms.x.timestamp.field", "ts"),
        ("transforms.x.static.field", "source"),
        ("transforms.x.static.value", "culvert"),
    ];

    #[test]
    fn schemaless_values_get_the_record_metadata() {
        let out = apply(ALL, sink_record(Some(crate::Data::plain(json!({"id": 1}))))).expect("ok");
        assert_eq!(
            out.value.expect("value").payload,
            json!({"id": 1, "kafka_topic": "orders", "kafka_partition": 3, "kafka_offset": 1042,
                   "ts": 1_700_000_000_000_i64, "source": "culvert"})
        );
    }

    #[test]
    fn struct_values_get_fields_appended_with_optionality_from_the_suffix() {
        let schema = json!({"type": "struct", "name": "row", "optional": false, "fields": [
            {"field": "id", "type": "int32", "optional": false}]});
        let out = apply(ALL, sink_record(typed(json!({"id": 1}), schema))).expect("ok");
        let v = out.value.expect("value");
        assert_eq!(v.payload["kafka_partition"], json!(3));
        assert_eq!(
            v.schema,
            Some(
                json!({"type": "struct", "name": "row", "optional": false, "fields": [
                    {"field": "id", "type": "int32", "optional": false},
                    {"field": "kafka_topic", "type": "string", "optional": true},
                    {"field": "kafka_partition", "type": "int32", "optional": false},
                    {"field": "kafka_offset", "type": "int64", "optional": true},
                    {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, "optional": true},
                    {"field": "source", "type": "string", "optional": true},
                ]})
            )
        );
    }

    #[test]
    fn offsets_exist_only_on_the_sink_side_and_tombstones_pass() {
        let mut source = record(None, plain(json!({"id": 1})));
        source.topic = "orders".into();
        let err = apply(ALL, source).expect_err("no offset");
        assert_eq!(
            err,
            SmtError::Data("transform x: Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord".into())
        );
        let out = apply(ALL, sink_record(None)).expect("a tombstone passes");
        assert!(out.value.is_none());
        // A static field without a static value inserts nothing, as in Connect.
        let out = apply(
            &[
                ("transforms.x.type", "InsertField$Value"),
                ("transforms.x.static.field", "s"),
            ],
            sink_record(Some(crate::Data::plain(json!({"id": 1})))),
        )
        .expect("ok");
        assert_eq!(out.value.expect("value").payload, json!({"id": 1}));
    }
}
