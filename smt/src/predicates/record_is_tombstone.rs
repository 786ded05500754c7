//! `RecordIsTombstone`: true when the record's value is null (with or without a schema).

use crate::{Predicate, Record};

#[derive(Debug)]
pub(crate) struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &Record) -> bool {
        record.value.as_ref().is_none_or(|v| v.payload.is_null())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{chain, plain, record, typed};

    #[test]
    fn tombstones_are_told_apart_and_negate_inverts() {
        // Drop tombstones (Filter + RecordIsTombstone), or keep only them (negate).
        for (negate, kept) in [
            ("false", [true, true, false, false]),
            ("true", [false, false, true, true]),
        ] {
            let chain = chain(&[
                ("transforms", "f"),
                ("transforms.f.type", "Filter"),
                ("transforms.f.predicate", "tomb"),
                ("transforms.f.negate", negate),
                ("predicates", "tomb"),
                (
                    "predicates.tomb.type",
                    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
                ),
            ])
            .expect("valid");
            let records = [
                record(None, plain(json!({"a": 1}))),
                record(plain(json!("k")), typed(json!(0), json!({"type": "int32"}))),
                record(plain(json!("k")), None),
                record(
                    None,
                    typed(json!(null), json!({"type": "struct", "fields": []})),
                ),
            ];
            for (r, want) in records.into_iter().zip(kept) {
                let out = chain.apply(r.clone()).expect("ok");
                assert_eq!(out.is_some(), want, "negate={negate}: {r:?}");
            }
        }
    }
}
