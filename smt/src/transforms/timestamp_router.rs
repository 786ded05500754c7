//! `TimestampRouter`: renames the topic after `topic.format` (default
//! `${topic}-${timestamp}`), the record's timestamp formatted in UTC with the Java
//! `timestamp.format` (default `yyyyMMdd`) — e.g. for daily indexes or tables. A record
//! without a timestamp is an error.

use crate::config::Settings;
use crate::date_format::JavaDateFormat;
use crate::{Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct TimestampRouter {
    topic_format: String,
    timestamp_format: JavaDateFormat,
}

impl TimestampRouter {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        let pattern = s.get("timestamp.format").unwrap_or("yyyyMMdd");
        Ok(Self {
            topic_format: s
                .get("topic.format")
                .unwrap_or("${topic}-${timestamp}")
                .to_string(),
            timestamp_format: JavaDateFormat::parse(pattern)
                .map_err(|e| s.invalid("timestamp.format", pattern, e))?,
        })
    }
}

impl Transform for TimestampRouter {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        let Some(ts) = record.timestamp_ms else {
            return Err(SmtError::Data(format!(
                "Timestamp missing on record: topic {}",
                record.topic
            )));
        };
        record.topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &self.timestamp_format.format(ts));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SmtError;
    use crate::testing::{apply, plain, record};

    fn stamped(topic: &str, ts: Option<i64>) -> crate::Record {
        let mut r = record(None, plain(json!(1)));
        r.topic = topic.into();
        r.timestamp_ms = ts;
        r
    }

    #[test]
    fn topics_get_the_formatted_timestamp() {
        // 2017-01-01T12:00:00Z.
        let ts = Some(1_483_272_000_000);
        let cases = [
            (vec![], "orders-20170101"),
            (
                vec![
                    ("transforms.x.topic.format", "${topic}_${timestamp}"),
                    ("transforms.x.timestamp.format", "yyyy-MM"),
                ],
                "orders_2017-01",
            ),
            (
                vec![
                    ("transforms.x.topic.format", "archive.${timestamp}.${topic}"),
                    ("transforms.x.timestamp.format", "yyyy.MM.dd.HH"),
                ],
                "archive.2017.01.01.12.orders",
            ),
        ];
        for (extra, want) in cases {
            let mut c = vec![(
                "transforms.x.type",
                "org.apache.kafka.connect.transforms.TimestampRouter",
            )];
            c.extend(extra);
            let out = apply(&c, stamped("orders", ts)).expect("ok");
            assert_eq!(out.topic, want);
        }
    }

    #[test]
    fn missing_timestamps_and_bad_patterns_are_refused() {
        let c = [("transforms.x.type", "TimestampRouter")];
        let err = apply(&c, stamped("orders", None)).expect_err("no timestamp");
        assert_eq!(
            err,
            SmtError::Data("transform x: Timestamp missing on record: topic orders".into())
        );
        let err = apply(
            &[
                ("transforms.x.type", "TimestampRouter"),
                ("transforms.x.timestamp.format", "yyyy-qq"),
            ],
            stamped("orders", Some(0)),
        )
        .expect_err("bad pattern");
        assert_eq!(
            err.to_string(),
            "Invalid value yyyy-qq for configuration transforms.x.timestamp.format: Illegal pattern character 'q'"
        );
    }
}
