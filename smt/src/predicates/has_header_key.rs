//! `HasHeaderKey`: true when the record has at least one header named `name`.

use crate::config::Settings;
use crate::{Predicate, Record, SmtError};

#[derive(Debug)]
pub(crate) struct HasHeaderKey {
    name: String,
}

impl HasHeaderKey {
    pub(crate) fn new(s: &Settings<'_>) -> Result<Self, SmtError> {
        Ok(Self {
            name: s.required("name")?.to_string(),
        })
    }
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &Record) -> bool {
        record.headers.iter().any(|h| h.name == self.name)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Header;
    use crate::testing::{chain, plain, record};

    #[test]
    fn records_with_the_header_are_selected() {
        let chain = chain(&[
            ("transforms", "f"),
            (
                "transforms.f.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.f.predicate", "has"),
            ("predicates", "has"),
            ("predicates.has.type", "HasHeaderKey"),
            ("predicates.has.name", "trace"),
        ])
        .expect("valid");
        let mut with = record(None, plain(json!(1)));
        with.headers.push(Header {
            name: "trace".into(),
            value: None,
        });
        let without = record(None, plain(json!(1)));
        assert!(chain.apply(with).expect("ok").is_none(), "filtered");
        assert!(chain.apply(without).expect("ok").is_some(), "kept");
        let err = crate::testing::chain(&[
            ("transforms", "f"),
            ("transforms.f.type", "Filter"),
            ("transforms.f.predicate", "has"),
            ("predicates", "has"),
            ("predicates.has.type", "HasHeaderKey"),
        ])
        .expect_err("name is required");
        assert!(
            err.iter().any(|e| e.contains("\"predicates.has.name\"")),
            "{err:?}"
        );
    }
}
