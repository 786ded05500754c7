//! `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the name (`schema.name`) and/or
//! version (`schema.version`) of the key's or value's schema. The data must carry a schema;
//! the payload is unchanged.

use serde_json::Value;

use super::Part;
use crate::config::Settings;
use crate::{Record, SmtError, Transform};

const PURPOSE: &str = "updating schema metadata";

#[derive(Debug)]
pub(crate) struct SetSchemaMetadata {
    name: Option<String>,
    version: Option<i64>,
    part: Part,
}

impl SetSchemaMetadata {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        let name = s.get("schema.name").map(str::to_string);
        let version = match s.get("schema.version").map(str::trim) {
            None => None,
            Some(v) => Some(
                v.parse::<i32>()
                    .map_err(|_| s.invalid("schema.version", v, "Not a number of type INT"))?,
            ),
        };
        if name.is_none() && version.is_none() {
            return Err(SmtError::Config(format!(
                "Neither schema name nor version configured ({} or {})",
                s.key("schema.name"),
                s.key("schema.version")
            )));
        }
        Ok(Self {
            name,
            version: version.map(i64::from),
            part,
        })
    }
}

impl Transform for SetSchemaMetadata {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let Some(schema) = slot.as_mut().and_then(|d| d.schema.as_mut()) else {
            return Err(SmtError::Data(format!("Schema required for [{PURPOSE}]")));
        };
        let Some(fields) = schema.as_object_mut() else {
            return Err(SmtError::Data(format!("Schema required for [{PURPOSE}]")));
        };
        if let Some(name) = &self.name {
            fields.insert("name".into(), Value::String(name.clone()));
        }
        if let Some(version) = self.version {
            fields.insert("version".into(), Value::from(version));
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, plain, record, typed};

    #[test]
    fn name_and_version_are_set_and_the_payload_kept() {
        let schema = json!({"type": "struct", "name": "old", "optional": false, "fields": [
            {"field": "id", "type": "int32", "optional": false}]});
        let cases = [
            (
                vec![("transforms.x.schema.name", "com.example.Order")],
                json!("com.example.Order"),
                json!(null),
            ),
            (
                vec![("transforms.x.schema.version", "3")],
                json!("old"),
                json!(3),
            ),
            (
                vec![
                    ("transforms.x.schema.name", "n"),
                    ("transforms.x.schema.version", "7"),
                ],
                json!("n"),
                json!(7),
            ),
        ];
        for (config, name, version) in cases {
            let mut all = vec![(
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
            )];
            all.extend(config.iter().copied());
            let out =
                apply(&all, record(None, typed(json!({"id": 1}), schema.clone()))).expect("ok");
            let v = out.value.expect("value");
            let s = v.schema.expect("schema");
            assert_eq!((&s["name"], &s["version"]), (&name, &version), "{config:?}");
            assert_eq!(v.payload, json!({"id": 1}));
        }
    }

    #[test]
    fn data_without_a_schema_and_empty_configs_are_refused() {
        let key = [
            ("transforms.x.type", "SetSchemaMetadata$Key"),
            ("transforms.x.schema.name", "k"),
        ];
        let err = apply(&key, record(plain(json!(1)), None)).expect_err("no schema");
        assert_eq!(
            err,
            SmtError::Data("transform x: Schema required for [updating schema metadata]".into())
        );
        let err = apply(
            &[("transforms.x.type", "SetSchemaMetadata$Key")],
            record(None, None),
        )
        .expect_err("nothing to set");
        assert!(
            err.to_string()
                .starts_with("Neither schema name nor version configured"),
            "{err}"
        );
        let err = apply(
            &[
                ("transforms.x.type", "SetSchemaMetadata$Key"),
                ("transforms.x.schema.version", "x"),
            ],
            record(None, None),
        )
        .expect_err("not a number");
        assert_eq!(
            err.to_string(),
            "Invalid value x for configuration transforms.x.schema.version: Not a number of type INT"
        );
    }
}
