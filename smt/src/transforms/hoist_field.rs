//! `HoistField$Key` / `HoistField$Value`: wraps the key or value in a struct (an object)
//! with one field, `field`. With a schema, the new schema is a struct whose only field has
//! the old schema.

use serde_json::{Map, Value, json};

use super::Part;
use crate::config::Settings;
use crate::{Data, Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct HoistField {
    field: String,
    part: Part,
}

impl HoistField {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        Ok(Self {
            field: s.required("field")?.to_string(),
            part,
        })
    }
}

impl Transform for HoistField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let (payload, schema) = match slot.take() {
            Some(d) => (d.payload, d.schema),
            None => (Value::Null, None),
        };
        let mut object = Map::new();
        object.insert(self.field.clone(), payload);
        let schema = schema.map(|inner| {
            let mut field = match inner {
                Value::Object(m) => m,
                other => Map::from_iter([("type".to_string(), other)]),
            };
            field.insert("field".into(), Value::String(self.field.clone()));
            json!({"type": "struct", "optional": false, "fields": [Value::Object(field)]})
        });
        *slot = Some(Data {
            payload: Value::Object(object),
            schema,
        });
        Ok(Some(record))
    }
}
