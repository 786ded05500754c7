//! `ReplaceField$Key` / `ReplaceField$Value`: keeps, drops and renames fields of a struct or
//! map. `exclude` drops fields, `include` (when set) keeps only those, `renames` is a list of
//! `old:new`; the deprecated `blacklist`/`whitelist` are read as `exclude`/`include`. With a
//! schema the struct's schema is rebuilt the same way, keeping its name, version and doc. A
//! null key or value passes unchanged.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Part;
use super::shape::{require_map, require_struct, struct_value_mut};
use crate::config::{Settings, split_list};
use crate::{Record, SmtError, Transform};

const PURPOSE: &str = "field replacement";

#[derive(Debug)]
pub(crate) struct ReplaceField {
    exclude: Vec<String>,
    include: Vec<String>,
    renames: BTreeMap<String, String>,
    replace_null_with_default: bool,
    part: Part,
}

/// An optional list: absent or blank is empty.
fn optional_list(s: &Settings<'_>, name: &str, old: &str) -> Vec<String> {
    s.get(name)
        .or_else(|| s.get(old))
        .map(split_list)
        .unwrap_or_default()
}

impl ReplaceField {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        s.field_syntax_v1()?;
        let mut renames = BTreeMap::new();
        let text = s.get("renames").unwrap_or_default();
        for mapping in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            match mapping.split(':').collect::<Vec<_>>().as_slice() {
                [old, new] if !old.is_empty() && !new.is_empty() => {
                    renames.insert(old.to_string(), new.to_string());
                }
                _ => {
                    return Err(s.invalid(
                        "renames",
                        text,
                        format!("Invalid rename mapping: {mapping}"),
                    ));
                }
            }
        }
        Ok(Self {
            exclude: optional_list(s, "exclude", "blacklist"),
            include: optional_list(s, "include", "whitelist"),
            renames,
            replace_null_with_default: s.boolean("replace.null.with.default", true)?,
            part,
        })
    }

    fn keeps(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    /// The field's new name, when `renames` changes it.
    fn renamed(&self, name: &str) -> Option<&String> {
        self.renames.get(name)
    }

    /// Drops and renames the keys of `values` in place (renamed values move all at once, so
    /// swaps work).
    fn replace_in(&self, values: &mut Map<String, Value>) {
        values.retain(|k, _| self.keeps(k));
        let moved: Vec<(String, Value)> = self
            .renames
            .iter()
            .filter_map(|(old, new)| values.remove(old).map(|v| (new.clone(), v)))
            .collect();
        values.extend(moved);
    }
}

impl Transform for ReplaceField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let slot = self.part.of(&mut record);
        let Some(current) = slot.as_mut().filter(|d| !d.payload.is_null()) else {
            return Ok(Some(record));
        };
        match current.schema.as_mut() {
            None => {
                require_map(&current.payload, PURPOSE)?;
                if let Value::Object(values) = &mut current.payload {
                    self.replace_in(values);
                }
            }
            Some(schema) => {
                require_struct(&current.payload, schema, PURPOSE)?;
                let (Value::Object(values), Some(Value::Array(fields))) =
                    (&mut current.payload, schema.get_mut("fields"))
                else {
                    return Ok(Some(record));
                };
                // Every schema field gets its slot (nulls take their defaults); then, when
                // the payload holds more than its schema's fields, the rest go.
                let mut named = 0;
                for field in fields.iter() {
                    if let Some(name) = field.get("field").and_then(Value::as_str) {
                        struct_value_mut(values, field, name, self.replace_null_with_default);
                        named += 1;
                    }
                }
                if values.len() != named {
                    values.retain(|k, _| {
                        fields
                            .iter()
                            .any(|f| f.get("field").and_then(Value::as_str) == Some(k.as_str()))
                    });
                }
                self.replace_in(values);
                // One pass over the schema: drop, then rename, reading each name once.
                fields.retain_mut(|field| {
                    let Some(f) = field.as_object_mut() else {
                        return false;
                    };
                    let Some(name) = f.get("field").and_then(Value::as_str) else {
                        return false;
                    };
                    if !self.keeps(name) {
                        return false;
                    }
                    if let Some(new) = self.renamed(name).cloned() {
                        f.insert("field".into(), Value::String(new));
                    }
                    true
                });
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, plain, record, typed};

    fn value(pairs: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut all = vec![(
            "transforms.x.type",
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
        )];
        all.extend_from_slice(pairs);
        all
    }

    #[test]
    fn schemaless_fields_are_dropped_kept_and_renamed() {
        let input = json!({"dont": "whatever", "abc": 42, "foo": true, "etc": "etc"});
        // Connect's documented examples, then combinations.
        let cases = [
            (
                vec![("transforms.x.exclude", "dont")],
                json!({"abc": 42, "foo": true, "etc": "etc"}),
            ),
            (
                vec![("transforms.x.include", "abc,foo")],
                json!({"abc": 42, "foo": true}),
            ),
            (
                vec![("transforms.x.renames", "foo:bar,abc:xyz")],
                json!({"dont": "whatever", "xyz": 42, "bar": true, "etc": "etc"}),
            ),
            (
                vec![
                    ("transforms.x.exclude", "dont"),
                    ("transforms.x.renames", "abc:xyz,foo:bar"),
                ],
                json!({"xyz": 42, "bar": true, "etc": "etc"}),
            ),
            (
                vec![("transforms.x.blacklist", "dont,etc")],
                json!({"abc": 42, "foo": true}),
            ),
            (
                vec![("transforms.x.whitelist", "etc")],
                json!({"etc": "etc"}),
            ),
        ];
        for (config, want) in cases {
            let out = apply(&value(&config), record(None, plain(input.clone()))).expect("ok");
            assert_eq!(out.value.expect("value").payload, want, "{config:?}");
        }
    }

    #[test]
    fn structs_get_a_matching_schema() {
        let schema = json!({"type": "struct", "name": "row", "version": 2, "optional": false, "fields": [
            {"field": "dont", "type": "string", "optional": false},
            {"field": "abc", "type": "int32", "optional": false},
            {"field": "foo", "type": "boolean", "optional": true, "default": false},
        ]});
        let payload = json!({"dont": "x", "abc": 1, "foo": null});
        let config = value(&[
            ("transforms.x.exclude", "dont"),
            ("transforms.x.renames", "abc:xyz"),
        ]);
        let out = apply(&config, record(None, typed(payload, schema))).expect("ok");
        let v = out.value.expect("value");
        assert_eq!(
            v.payload,
            json!({"xyz": 1, "foo": false}),
            "null takes the default"
        );
        assert_eq!(
            v.schema,
            Some(
                json!({"type": "struct", "name": "row", "version": 2, "optional": false, "fields": [
                    {"field": "xyz", "type": "int32", "optional": false},
                    {"field": "foo", "type": "boolean", "optional": true, "default": false},
                ]})
            )
        );
    }

    #[test]
    fn tombstones_pass_and_wrong_shapes_are_refused() {
        let config = value(&[("transforms.x.exclude", "a")]);
        let out = apply(&config, record(plain(json!("k")), None)).expect("a tombstone passes");
        assert!(out.value.is_none());
        let err = apply(&config, record(None, plain(json!("text")))).expect_err("not a map");
        assert_eq!(
            err,
            SmtError::Data(
                "transform x: Only Map objects supported in absence of schema for [field replacement], found: java.lang.String".into()
            )
        );
        let err = apply(
            &value(&[("transforms.x.renames", "a:b:c")]),
            record(None, None),
        )
        .expect_err("bad mapping");
        assert_eq!(
            err.to_string(),
            "Invalid value a:b:c for configuration transforms.x.renames: Invalid rename mapping: a:b:c"
        );
    }

    #[test]
    fn the_key_variant_works_on_keys() {
        let out = apply(
            &[
                ("transforms.x.type", "ReplaceField$Key"),
                ("transforms.x.include", "id"),
            ],
            record(plain(json!({"id": 1, "x": 2})), plain(json!({"x": 2}))),
        )
        .expect("ok");
        assert_eq!(out.key.expect("key").payload, json!({"id": 1}));
        assert_eq!(out.value.expect("value").payload, json!({"x": 2}));
    }
}
