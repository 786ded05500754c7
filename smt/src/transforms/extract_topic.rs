//! `io.confluent.connect.transforms.ExtractTopic$Key` / `$Value` / `$Header`: the topic
//! becomes the whole key or value (text or a number), one of its fields (`field`, a plain
//! name, or a JSONPath when `field.format=JSON_PATH`), or, for `$Header`, the header named
//! `field`. A missing or null source fails the record unless `skip.missing.or.null=true`,
//! which leaves the topic as it was.

use serde_json::Value;

use super::Part;
use super::json_path::Path;
use crate::config::Settings;
use crate::{Record, SmtError, Transform};

#[derive(Debug)]
enum Source {
    Whole(Part),
    Field(Part, String),
    JsonPath(Part, Path),
    Header(String),
}

#[derive(Debug)]
pub(crate) struct ExtractTopic {
    source: Source,
    skip_missing: bool,
}

impl ExtractTopic {
    /// `part` is the key or value; `None` means `$Header`.
    pub(crate) fn new(s: &Settings<'_>, part: Option<Part>) -> Result<Self, SmtError> {
        let field = s.get("field").map(str::trim);
        let json_path = match s.get("field.format").map(|f| f.trim().to_ascii_uppercase()) {
            None => false,
            Some(f) if f == "PLAIN" => false,
            Some(f) if f == "JSON_PATH" && part.is_some() => true,
            Some(f) => {
                let why = if f == "JSON_PATH" {
                    "ExtractTopic$Header supports only PLAIN"
                } else {
                    "must be PLAIN or JSON_PATH"
                };
                return Err(s.invalid("field.format", &f, why));
            }
        };
        let source = match (part, field) {
            (None, Some(name)) => Source::Header(name.to_string()),
            (None, None) => {
                return Err(s.invalid(
                    "field",
                    "",
                    "ExtractTopic$Header needs the header name in field",
                ));
            }
            (Some(p), None) => Source::Whole(p),
            (Some(p), Some(f)) if json_path => Source::JsonPath(p, Path::compile(s, "field", f)?),
            (Some(p), Some(f)) => Source::Field(p, f.to_string()),
        };
        Ok(Self {
            source,
            skip_missing: s.boolean("skip.missing.or.null", false)?,
        })
    }

    /// The topic the record names, if it names one.
    fn topic(&self, record: &Record) -> Result<Option<String>, SmtError> {
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let payload = |part: Part| part.peek(record).map_or(&Value::Null, |d| &d.payload);
        Ok(match &self.source {
            Source::Whole(part) => text(payload(*part)),
            Source::Field(part, name) => payload(*part).get(name).and_then(text),
            Source::JsonPath(part, path) => {
                path.select(payload(*part), |found| found.first().and_then(|v| text(v)))?
            }
            Source::Header(name) => record
                .headers
                .iter()
                .rev()
                .find(|h| &h.name == name)
                .and_then(|h| h.value.as_ref())
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned()),
        })
    }
}

impl Transform for ExtractTopic {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        match self.topic(&record)? {
            Some(topic) if !topic.is_empty() => record.topic = topic,
            _ if self.skip_missing => {}
            _ => {
                let what = match &self.source {
                    Source::Whole(_) => "the whole key or value".to_string(),
                    Source::Field(_, f) => format!("field {f}"),
                    Source::JsonPath(_, p) => format!("path {}", p.text()),
                    Source::Header(h) => format!("header {h}"),
                };
                return Err(SmtError::Data(format!(
                    "ExtractTopic: {what} is missing, null or not text, so it cannot name a topic"
                )));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{apply, plain, record};
    use crate::{Header, Record};

    const PREFIX: &str = "io.confluent.connect.transforms.ExtractTopic";

    fn topic(kind: &str, settings: &[(&str, &str)], r: Record) -> Result<String, String> {
        let class = format!("{PREFIX}${kind}");
        let mut pairs = vec![("transforms.x.type", class.as_str())];
        let keys: Vec<(String, &str)> = settings
            .iter()
            .map(|(k, v)| (format!("transforms.x.{k}"), *v))
            .collect();
        pairs.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
        apply(&pairs, r).map(|r| r.topic).map_err(|e| e.to_string())
    }

    #[test]
    fn documented_examples_name_the_topic() {
        let r = || {
            let mut r = record(
                plain(json!("from-key")),
                plain(json!({"f2": "from-f2", "f1": {"f3": "from-f3"}})),
            );
            r.headers.push(Header {
                name: "h".into(),
                value: Some(b"from-header".to_vec()),
            });
            r
        };
        assert_eq!(topic("Key", &[], r()), Ok("from-key".into()));
        assert_eq!(
            topic("Value", &[("field", "f2")], r()),
            Ok("from-f2".into())
        );
        let path = [
            ("field", "$[\"f1\"][\"f3\"]"),
            ("field.format", "JSON_PATH"),
        ];
        assert_eq!(topic("Value", &path, r()), Ok("from-f3".into()));
        assert_eq!(
            topic("Header", &[("field", "h")], r()),
            Ok("from-header".into())
        );
    }

    #[test]
    fn missing_sources_fail_or_keep_the_topic() {
        let r = || record(None, plain(json!({"f2": null})));
        let e = topic("Value", &[("field", "f2")], r()).expect_err("fails");
        assert!(e.contains("field f2 is missing"), "{e}");
        let skip = [("field", "f3"), ("skip.missing.or.null", "true")];
        assert_eq!(topic("Value", &skip, r()), Ok("t".into()));
        let e = topic("Header", &[], r()).expect_err("refused");
        assert!(e.contains("transforms.x.field"), "{e}");
        let e = topic("Value", &[("field", "a"), ("field.format", "XPATH")], r()).expect_err("no");
        assert!(e.contains("transforms.x.field.format"), "{e}");
    }
}
