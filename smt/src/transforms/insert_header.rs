//! `InsertHeader`: adds a header named `header` whose value is the text `value.literal`
//! (as SimpleHeaderConverter writes a string: its UTF-8 bytes). Existing headers with the
//! same name stay; Connect adds, it does not replace.

use crate::config::Settings;
use crate::{Header, Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct InsertHeader {
    name: String,
    value: Vec<u8>,
}

impl InsertHeader {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        Ok(Self {
            name: s.required("header")?.to_string(),
            value: s.required("value.literal")?.as_bytes().to_vec(),
        })
    }
}

impl Transform for InsertHeader {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        record.headers.push(Header {
            name: self.name.clone(),
            value: Some(self.value.clone()),
        });
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Header;
    use crate::testing::{apply, plain, record};

    #[test]
    fn the_literal_is_added_beside_existing_headers() {
        let mut r = record(None, plain(json!(1)));
        r.headers.push(Header {
            name: "source".into(),
            value: Some(b"old".to_vec()),
        });
        let out = apply(
            &[
                (
                    "transforms.x.type",
                    "org.apache.kafka.connect.transforms.InsertHeader",
                ),
                ("transforms.x.header", "source"),
                ("transforms.x.value.literal", "culvert"),
            ],
            r,
        )
        .expect("ok");
        let all: Vec<(&str, &[u8])> = out
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(all, [("source", &b"old"[..]), ("source", &b"culvert"[..])]);
        let err = apply(
            &[
                ("transforms.x.type", "InsertHeader"),
                ("transforms.x.header", "h"),
            ],
            record(None, None),
        )
        .expect_err("value.literal is required");
        assert!(
            err.to_string().contains("\"transforms.x.value.literal\""),
            "{err}"
        );
    }
}
