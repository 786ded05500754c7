//! Property tests: every transform and predicate, configured as users configure them, takes
//! arbitrary JSON keys and values — schemaless, with a schema that fits, or with a schema
//! that is junk — and answers a record or an error, never a panic; and the transforms
//! that undo each other do (HoistField then ExtractField, ReplaceField renames back and
//! forth), ExtractField picks the field, Flatten leaves no nested map.

use std::collections::BTreeMap;

use culvert_smt::{Chain, Data, Header, Record};
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

/// One transform or predicate configuration per entry: `(alias settings, predicate)`.
const CONFIGS: &[&[(&str, &str)]] = &[
    &[
        ("type", "Cast$Value"),
        ("spec", "a:int32,b:string,c:boolean"),
    ],
    &[("type", "Cast$Value"), ("spec", "float32")],
    &[("type", "Cast$Key"), ("spec", "int8")],
    &[("type", "Cast$Value"), ("spec", "string")],
    &[("type", "DropHeaders"), ("headers", "h1,h2")],
    &[("type", "ExtractField$Value"), ("field", "a")],
    &[("type", "ExtractField$Key"), ("field", "b")],
    &[
        ("type", "ExtractField$Value"),
        ("field", "a.`b.c`.d"),
        ("field.syntax.version", "V2"),
    ],
    &[("type", "Flatten$Value"), ("delimiter", ".")],
    &[("type", "Flatten$Key"), ("delimiter", "_")],
    &[
        ("type", "HeaderFrom$Value"),
        ("fields", "a,b"),
        ("headers", "ha,hb"),
        ("operation", "copy"),
    ],
    &[
        ("type", "HeaderFrom$Key"),
        ("fields", "a"),
        ("headers", "ha"),
        ("operation", "move"),
    ],
    &[("type", "HoistField$Value"), ("field", "w")],
    &[("type", "HoistField$Key"), ("field", "w")],
    &[
        ("type", "InsertField$Value"),
        ("topic.field", "t!"),
        ("partition.field", "p?"),
        ("offset.field", "o"),
        ("timestamp.field", "ts"),
        ("static.field", "s"),
        ("static.value", "v"),
    ],
    &[("type", "InsertField$Key"), ("topic.field", "t")],
    &[
        ("type", "InsertHeader"),
        ("header", "h"),
        ("value.literal", "x"),
    ],
    &[("type", "MaskField$Value"), ("fields", "a,b,c")],
    &[
        ("type", "MaskField$Value"),
        ("fields", "a"),
        ("replacement", "0"),
    ],
    &[
        ("type", "RegexRouter"),
        ("regex", "(.*)"),
        ("replacement", "routed-$1"),
    ],
    &[
        ("type", "ReplaceField$Value"),
        ("exclude", "a"),
        ("renames", "b:c"),
    ],
    &[("type", "ReplaceField$Key"), ("include", "a,b")],
    &[
        ("type", "SetSchemaMetadata$Value"),
        ("schema.name", "n"),
        ("schema.version", "2"),
    ],
    &[
        ("type", "TimestampConverter$Value"),
        ("field", "a"),
        ("target.type", "unix"),
        ("format", "yyyy"),
    ],
    &[
        ("type", "TimestampConverter$Value"),
        ("target.type", "string"),
        ("format", "yyyy-MM-dd"),
    ],
    &[("type", "TimestampConverter$Key"), ("target.type", "Date")],
    &[("type", "TimestampRouter")],
    &[("type", "ValueToKey"), ("fields", "a,b")],
    &[("type", "ExtractNewRecordState")],
    &[
        ("type", "io.debezium.transforms.ExtractNewRecordState"),
        ("delete.tombstone.handling.mode", "rewrite"),
        ("add.fields", "op,a,source.b"),
        ("add.headers", "op"),
        ("route.by.field", "a"),
    ],
    &[
        ("type", "io.confluent.connect.transforms.Filter$Value"),
        ("filter.condition", "$[?(@.a == 'x' || @.b > 1)]"),
        ("filter.type", "include"),
        ("missing.or.null.behavior", "exclude"),
    ],
    &[
        ("type", "Filter$Key"),
        ("filter.condition", "$.a.b"),
        ("filter.type", "exclude"),
    ],
    &[("type", "ExtractTopic$Value"), ("field", "a")],
    &[
        ("type", "ExtractTopic$Key"),
        ("field", "$..a"),
        ("field.format", "JSON_PATH"),
    ],
    &[
        ("type", "ExtractTopic$Header"),
        ("field", "h1"),
        ("skip.missing.or.null", "true"),
    ],
    &[
        ("type", "JsonPathExtract$Value"),
        ("path", "$..b"),
        ("multiple", "true"),
    ],
    &[
        ("type", "JsonPathExtract$Key"),
        ("path", "$.a[0]"),
        ("target", "value"),
    ],
    &[
        ("type", "JsonPathSet$Value"),
        ("path", "$.a.b"),
        ("value", "{\"x\": 1}"),
    ],
    &[
        ("type", "JsonPathSet$Value"),
        ("path", "$..c"),
        ("value", "1"),
    ],
    &[("type", "JsonPathRemove$Value"), ("path", "$..a")],
    &[("type", "JsonPathRemove$Key"), ("path", "$[?(@.b)]")],
    &[("type", "Filter"), ("predicate", "tomb")],
    &[
        ("type", "Filter"),
        ("predicate", "named"),
        ("negate", "true"),
    ],
    &[("type", "Filter"), ("predicate", "header")],
];

fn chain_of(settings: &[(&str, &str)]) -> Chain {
    let mut config = BTreeMap::from([
        ("transforms".to_string(), "x".to_string()),
        ("predicates".to_string(), "tomb,named,header".to_string()),
        (
            "predicates.tomb.type".to_string(),
            "RecordIsTombstone".to_string(),
        ),
        (
            "predicates.named.type".to_string(),
            "TopicNameMatches".to_string(),
        ),
        ("predicates.named.pattern".to_string(), "t.*".to_string()),
        (
            "predicates.header.type".to_string(),
            "HasHeaderKey".to_string(),
        ),
        ("predicates.header.name".to_string(), "h1".to_string()),
    ]);
    for (k, v) in settings {
        config.insert(format!("transforms.x.{k}"), (*v).to_string());
    }
    Chain::from_config(&config).unwrap_or_else(|e| panic!("{settings:?}: {e:?}"))
}

/// Field names: mostly the ones the configurations name, sometimes others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("c".to_string()),
        "[a-z._]{1,4}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        "[a-z0-9 .:-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Connect schema that fits `value`.
fn schema_for(value: &Value) -> Value {
    match value {
        Value::Null => json!({"type": "string", "optional": true}),
        Value::Bool(_) => json!({"type": "boolean", "optional": false}),
        Value::Number(n) if n.is_i64() => json!({"type": "int64", "optional": false}),
        Value::Number(_) => json!({"type": "float64", "optional": false}),
        Value::String(_) => json!({"type": "string", "optional": false}),
        Value::Array(items) => {
            let item = items.first().map_or(json!({"type": "string"}), schema_for);
            json!({"type": "array", "items": item, "optional": false})
        }
        Value::Object(map) => {
            let fields: Vec<Value> = map
                .iter()
                .map(|(name, v)| {
                    let mut field = schema_for(v);
                    if let Some(f) = field.as_object_mut() {
                        f.insert("field".into(), Value::String(name.clone()));
                    }
                    field
                })
                .collect();
            json!({"type": "struct", "fields": fields, "optional": false})
        }
    }
}

/// A change event envelope with arbitrary rows and source.
fn envelope() -> impl Strategy<Value = Value> {
    (
        json(),
        json(),
        json(),
        prop::sample::select(vec!["c", "u", "d", "r", "t", "x"]),
    )
        .prop_map(|(before, after, source, op)| {
            json!({"before": before, "after": after, "source": source, "op": op, "ts_ms": 1})
        })
}

/// Data: schemaless, with a fitting schema, or with an arbitrary (junk) schema.
fn data() -> impl Strategy<Value = Option<Data>> {
    prop_oneof![
        Just(None),
        json().prop_map(|v| Some(Data::plain(v))),
        json().prop_map(|v| Some(Data {
            schema: Some(schema_for(&v)),
            payload: v,
        })),
        (json(), json()).prop_map(|(payload, schema)| Some(Data {
            payload,
            schema: Some(schema),
        })),
        (envelope(), any::<bool>()).prop_map(|(payload, typed)| Some(Data {
            schema: typed.then(|| schema_for(&payload)),
            payload,
        })),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        data(),
        data(),
        prop::collection::vec(("h[0-9]", prop::option::of("[a-z]{0,3}")), 0..3),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(key, value, headers, timestamp_ms)| Record {
            topic: "topic".into(),
            partition: Some(0),
            offset: Some(7),
            key,
            value,
            headers: headers
                .into_iter()
                .map(|(name, v)| Header {
                    name,
                    value: v.map(String::into_bytes),
                })
                .collect(),
            timestamp_ms,
        })
}

fn plain_record(value: Value) -> Record {
    Record {
        topic: "topic".into(),
        partition: None,
        offset: None,
        key: None,
        value: Some(Data::plain(value)),
        headers: Vec::new(),
        timestamp_ms: None,
    }
}

/// Whether a map holds another map anywhere below its top level.
fn nested(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.values().any(Value::is_object))
}

/// `n` cases; failures are reported, not persisted (an integration test has no lib.rs
/// beside it for proptest's regression files).
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(3000))]

    #[test]
    fn no_transform_panics_on_any_record(which in 0..CONFIGS.len(), record in record()) {
        let chain = chain_of(CONFIGS[which]);
        // Ok or a clear error; a panic fails the property.
        let _ = chain.apply(record);
    }
}

proptest! {
    #![proptest_config(cases(500))]

    #[test]
    fn hoisting_then_extracting_gives_the_value_back(value in json(), typed in any::<bool>()) {
        let chain = chain_of(&[("type", "HoistField$Value"), ("field", "w")]);
        let extract = chain_of(&[("type", "ExtractField$Value"), ("field", "w")]);
        let data = Data {
            schema: typed.then(|| schema_for(&value)),
            payload: value,
        };
        let mut record = plain_record(Value::Null);
        record.value = Some(data.clone());
        let hoisted = chain.apply(record).expect("hoists").expect("kept");
        let back = extract.apply(hoisted).expect("extracts").expect("kept");
        // A null payload without a schema comes back as a null value: the same data.
        let back = back.value.map_or((Value::Null, None), |d| (d.payload, d.schema));
        prop_assert_eq!(back, (data.payload, data.schema));
    }

    #[test]
    fn renaming_back_and_forth_is_the_identity(
        map in prop::collection::btree_map("[a-y]{1,3}", json(), 0..6),
    ) {
        let value = Value::Object(map.into_iter().collect::<Map<_, _>>());
        let there = chain_of(&[("type", "ReplaceField$Value"), ("renames", "a:z")]);
        let back = chain_of(&[("type", "ReplaceField$Value"), ("renames", "z:a")]);
        let once = there.apply(plain_record(value.clone())).expect("renames").expect("kept");
        let twice = back.apply(once).expect("renames").expect("kept");
        prop_assert_eq!(twice.value.map(|d| d.payload), Some(value));
    }

    #[test]
    fn extract_field_picks_the_field(
        map in prop::collection::btree_map(key(), json(), 0..6),
    ) {
        let want = map.get("a").cloned();
        let value = Value::Object(map.into_iter().collect::<Map<_, _>>());
        let chain = chain_of(&[("type", "ExtractField$Value"), ("field", "a")]);
        let out = chain.apply(plain_record(value)).expect("extracts").expect("kept");
        prop_assert_eq!(
            out.value.map(|d| d.payload).unwrap_or(Value::Null),
            want.unwrap_or(Value::Null)
        );
    }

    #[test]
    fn flatten_leaves_no_nested_map_and_keeps_flat_maps(
        map in prop::collection::btree_map("[a-z]{1,3}", json(), 0..6),
    ) {
        let value = Value::Object(map.into_iter().collect::<Map<_, _>>());
        let chain = chain_of(&[("type", "Flatten$Value")]);
        let out = chain.apply(plain_record(value.clone())).expect("flattens").expect("kept");
        let flat = out.value.map(|d| d.payload).unwrap_or(Value::Null);
        prop_assert!(!nested(&flat), "{flat}");
        if !nested(&value) {
            prop_assert_eq!(flat, value);
        }
    }
}
