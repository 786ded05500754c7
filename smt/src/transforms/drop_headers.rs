//! `DropHeaders`: removes every header whose name is in `headers`.

use crate::config::Settings;
use crate::{Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct DropHeaders {
    names: Vec<String>,
}

impl DropHeaders {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        Ok(Self {
            names: s.list("headers")?,
        })
    }
}

impl Transform for DropHeaders {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, SmtError> {
        record.headers.retain(|h| !self.names.contains(&h.name));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Header;
    use crate::testing::{apply, plain, record};

    #[test]
    fn named_headers_go_every_other_stays() {
        let mut r = record(None, plain(json!(1)));
        for (name, value) in [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")] {
            r.headers.push(Header {
                name: name.into(),
                value: Some(value.as_bytes().to_vec()),
            });
        }
        let out = apply(
            &[
                ("transforms.x.type", "DropHeaders"),
                ("transforms.x.headers", "a,c"),
            ],
            r,
        )
        .expect("ok");
        let left: Vec<(&str, &[u8])> = out
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(left, [("b", &b"2"[..])]);
    }
}
