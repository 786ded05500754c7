//! `io.confluent.connect.transforms.Filter$Key` / `$Value`: keeps or drops records by a
//! JSONPath condition on the key or value (`filter.condition`): `filter.type=include` keeps
//! only matching records, `exclude` drops them. A condition matches when it selects
//! something that is not null. A record lacking a field the condition names (a field read
//! with `@.` in a filter, or the selected value itself) is handled by
//! `missing.or.null.behavior`: `fail` (default, an error naming the field), `include` or
//! `exclude`.

use serde_json::Value;

use super::Part;
use super::json_path::{FieldCheck, Path};
use crate::config::Settings;
use crate::{Record, SmtError, Transform};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Fail,
    Include,
    Exclude,
}

#[derive(Debug)]
pub(crate) struct ConfluentFilter {
    condition: Path,
    /// The fields the condition reads, checked for presence.
    needs: Vec<FieldCheck>,
    include: bool,
    missing: Missing,
    part: Part,
}

impl ConfluentFilter {
    pub(crate) fn new(s: &Settings<'_>, part: Part) -> Result<Self, SmtError> {
        let condition = Path::compile(s, "filter.condition", s.required("filter.condition")?)?;
        let include = match s
            .required("filter.type")?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "include" => true,
            "exclude" => false,
            other => {
                return Err(s.invalid("filter.type", other, "must be include or exclude"));
            }
        };
        let missing = match s
            .get("missing.or.null.behavior")
            .map(|m| m.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("fail") => Missing::Fail,
            Some("include") => Missing::Include,
            Some("exclude") => Missing::Exclude,
            Some(other) => {
                return Err(s.invalid(
                    "missing.or.null.behavior",
                    other,
                    "must be fail, include or exclude",
                ));
            }
        };
        Ok(Self {
            needs: FieldCheck::of(&condition),
            condition,
            include,
            missing,
            part,
        })
    }

    fn on_missing(&self, record: Record, what: &str) -> Result<Option<Record>, SmtError> {
        match self.missing {
            Missing::Include => Ok(Some(record)),
            Missing::Exclude => Ok(None),
            Missing::Fail => Err(SmtError::Data(format!(
                "the record has no {what} for the filter condition {}",
                self.condition.text()
            ))),
        }
    }
}

impl Transform for ConfluentFilter {
    fn apply(&self, record: Record) -> Result<Option<Record>, SmtError> {
        let payload = self.part.peek(&record).map_or(&Value::Null, |d| &d.payload);
        if payload.is_null() {
            return self.on_missing(record, "value (it is null)");
        }
        if let Some(field) = self.needs.iter().find(|f| !f.present(payload)) {
            let what = format!("field {} (missing or null)", field.text());
            return self.on_missing(record, &what);
        }
        // `Some(matched)`, or `None` when a plain path found nothing that is not null.
        let needs_fields = !self.needs.is_empty();
        let outcome = self.condition.select(payload, |found| {
            let matched = found.iter().any(|v| !v.is_null());
            (matched || needs_fields).then_some(matched)
        })?;
        match outcome {
            Some(matched) => Ok((matched == self.include).then_some(record)),
            None => self.on_missing(record, "value at the path (missing or null)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::testing::{chain, plain, record};

    fn run(settings: &[(&str, &str)], value: Value) -> Result<bool, String> {
        let mut pairs = vec![
            ("transforms", "f"),
            (
                "transforms.f.type",
                "io.confluent.connect.transforms.Filter$Value",
            ),
        ];
        let keys: Vec<(String, &str)> = settings
            .iter()
            .map(|(k, v)| (format!("transforms.f.{k}"), *v))
            .collect();
        pairs.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
        let chain = chain(&pairs).map_err(|p| p.join("; "))?;
        chain
            .apply(record(None, plain(value)))
            .map(|r| r.is_some())
            .map_err(|e| e.to_string())
    }

    /// Confluent's documented example: nestedKey is value1 or value2.
    const CONDITION: &str = "$[?(@.key.nestedKey == 'value1' || @.key.nestedKey == 'value2')]";

    #[test]
    fn documented_conditions_include_or_exclude() {
        let include = [("filter.condition", CONDITION), ("filter.type", "include")];
        assert_eq!(
            run(&include, json!({"key": {"nestedKey": "value1"}})),
            Ok(true)
        );
        assert_eq!(
            run(&include, json!({"key": {"nestedKey": "value9"}})),
            Ok(false)
        );
        let exclude = [("filter.condition", CONDITION), ("filter.type", "exclude")];
        assert_eq!(
            run(&exclude, json!({"key": {"nestedKey": "value2"}})),
            Ok(false)
        );
        assert_eq!(
            run(&exclude, json!({"key": {"nestedKey": "value9"}})),
            Ok(true)
        );
        // A plain path: records whose field is present pass.
        let present = [
            ("filter.condition", "$.after.topic_name"),
            ("filter.type", "include"),
            ("missing.or.null.behavior", "exclude"),
        ];
        assert_eq!(
            run(&present, json!({"after": {"topic_name": "t"}})),
            Ok(true)
        );
        assert_eq!(
            run(&present, json!({"after": {"topic_name": null}})),
            Ok(false)
        );
        assert_eq!(run(&present, json!({"before": {}})), Ok(false));
    }

    #[test]
    fn missing_fields_follow_the_behavior() {
        let with = |b: &'static str| {
            [
                ("filter.condition", CONDITION),
                ("filter.type", "include"),
                ("missing.or.null.behavior", b),
            ]
        };
        let lacking = json!({"other": 1});
        let e = run(&with("fail"), lacking.clone()).expect_err("fails");
        assert!(e.contains("$.key.nestedKey"), "{e}");
        assert_eq!(run(&with("include"), lacking.clone()), Ok(true));
        assert_eq!(run(&with("exclude"), lacking), Ok(false));
        assert_eq!(run(&with("exclude"), Value::Null), Ok(false));
        let e = run(
            &[
                ("filter.condition", "$[?(@.a >"),
                ("filter.type", "include"),
            ],
            json!({}),
        )
        .expect_err("refused");
        assert!(e.contains("transforms.f.filter.condition"), "{e}");
        let e = run(
            &[("filter.condition", "$.a"), ("filter.type", "keep")],
            json!({}),
        )
        .expect_err("refused");
        assert!(e.contains("transforms.f.filter.type"), "{e}");
    }
}
