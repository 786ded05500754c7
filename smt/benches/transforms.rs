//! Throughput of every transform on a small record (10 fields, already parsed), and of the
//! whole path a connector's record takes (parse JSON bytes → transform → serialize), each
//! against a baseline run in the same process: an empty chain, and parse + serialize alone.
//!
//!     cargo bench -p culvert-smt --bench transforms
//!
//! Criterion measures; at the end a table prints records/s per core and the ratios.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use culvert_smt::{Chain, Data, Header, Record};
use serde_json::{Value, json};

/// `(name, with a schema, settings)` — settings under `transforms.x.`; a `predicate` names
/// one of the predicates every chain declares. Records with a schema carry Connect's
/// struct schema beside the payload, as JsonConverter envelopes give them.
#[rustfmt::skip]
const CASES: &[Case] = &[
    ("none", false, &[]),
    ("none (schema)", true, &[]),
    ("Cast$Value (3 fields)", false, &[("type", "Cast$Value"), ("spec", CAST)]),
    ("Cast$Value (3 fields, schema)", true, &[("type", "Cast$Value"), ("spec", CAST)]),
    ("DropHeaders", false, &[("type", "DropHeaders"), ("headers", "trace")]),
    ("ExtractField$Value", false, &[("type", "ExtractField$Value"), ("field", "name")]),
    ("Filter (RecordIsTombstone)", false, &[("type", "Filter"), ("predicate", "tomb")]),
    ("Flatten$Value", false, &[("type", "Flatten$Value")]),
    ("Flatten$Value (schema)", true, &[("type", "Flatten$Value")]),
    ("HeaderFrom$Value (copy)", false, &[
        ("type", "HeaderFrom$Value"), ("fields", "id"), ("headers", "id"), ("operation", "copy"),
    ]),
    ("HoistField$Value", false, &[("type", "HoistField$Value"), ("field", "row")]),
    ("InsertField$Value (topic, static)", false, &[
        ("type", "InsertField$Value"), ("topic.field", "topic"), ("static.field", "source"),
        ("static.value", "db"),
    ]),
    ("InsertHeader", false, &[("type", "InsertHeader"), ("header", "o"), ("value.literal", "c")]),
    ("MaskField$Value (2 fields)", false, &[("type", "MaskField$Value"), ("fields", "email,name")]),
    ("RegexRouter", false, &[
        ("type", "RegexRouter"), ("regex", "(.*)-raw"), ("replacement", "$1-clean"),
    ]),
    ("ReplaceField$Value (exclude, rename)", false, &[
        ("type", "ReplaceField$Value"), ("exclude", "tags"), ("renames", "name:full_name"),
    ]),
    ("ReplaceField$Value (schema)", true, &[
        ("type", "ReplaceField$Value"), ("exclude", "tags"), ("renames", "name:full_name"),
    ]),
    ("SetSchemaMetadata$Value (schema)", true, &[
        ("type", "SetSchemaMetadata$Value"), ("schema.name", "com.example.Order"),
    ]),
    ("TimestampConverter$Value (text → unix)", false, &[
        ("type", "TimestampConverter$Value"), ("field", "created"), ("target.type", "unix"),
        ("format", "yyyy-MM-dd HH:mm:ss"),
    ]),
    ("TimestampRouter", false, &[("type", "TimestampRouter")]),
    ("ValueToKey (1 field)", false, &[("type", "ValueToKey"), ("fields", "id")]),
    ("predicate TopicNameMatches", false, &[
        ("type", "InsertHeader"), ("header", "m"), ("value.literal", "1"), ("predicate", "named"),
    ]),
];

type Case = (&'static str, bool, &'static [(&'static str, &'static str)]);

const CAST: &str = "id:string,score:float64,active:int8";

fn chain(settings: &[(&str, &str)]) -> Chain {
    let mut config = BTreeMap::from([
        ("predicates".to_string(), "tomb,named".to_string()),
        (
            "predicates.tomb.type".to_string(),
            "RecordIsTombstone".to_string(),
        ),
        (
            "predicates.named.type".to_string(),
            "TopicNameMatches".to_string(),
        ),
        (
            "predicates.named.pattern".to_string(),
            "orders-.*".to_string(),
        ),
    ]);
    if !settings.is_empty() {
        config.insert("transforms".into(), "x".into());
    }
    for (k, v) in settings {
        config.insert(format!("transforms.x.{k}"), (*v).to_string());
    }
    Chain::from_config(&config).unwrap_or_else(|e| panic!("{settings:?}: {e:?}"))
}

fn value() -> Value {
    json!({
        "id": 1_234_567, "name": "Ada Lovelace", "email": "ada@example.com",
        "amount": 1299.5, "active": true, "created": "2024-03-09 14:05:00",
        "country": "GB", "score": 97, "tags": "vip,early",
        "address": {"city": "London", "zip": "W1"},
    })
}

/// The struct schema of [`value`].
fn schema() -> Value {
    let field = |name: &str, kind: &str| json!({"field": name, "type": kind, "optional": false});
    json!({"type": "struct", "name": "com.example.OrderRow", "optional": false, "fields": [
        field("id", "int64"), field("name", "string"), field("email", "string"),
        field("amount", "float64"), field("active", "boolean"), field("created", "string"),
        field("country", "string"), field("score", "int64"), field("tags", "string"),
        {"field": "address", "type": "struct", "optional": false, "fields": [
            field("city", "string"), field("zip", "string"),
        ]},
    ]})
}

fn record(value: Value) -> Record {
    Record {
        topic: "orders-raw".into(),
        partition: Some(3),
        offset: Some(42),
        key: Some(Data::plain(json!(1_234_567))),
        value: Some(Data::plain(value)),
        headers: vec![Header {
            name: "trace".into(),
            value: Some(b"abc".to_vec()),
        }],
        timestamp_ms: Some(1_710_000_000_000),
    }
}

/// The record, its value with the schema or without.
fn template(typed: bool) -> Record {
    let mut r = record(value());
    if typed {
        r.value = Some(Data {
            payload: value(),
            schema: Some(schema()),
        });
    }
    r
}

/// Parse the value's bytes, transform, serialize: what a task does per record.
fn through(chain: &Chain, bytes: &[u8]) -> Option<Vec<u8>> {
    let parsed = Data::parse(bytes).ok()?;
    let mut r = record(Value::Null);
    r.value = Some(parsed);
    let out = chain.apply(r).ok()??;
    out.value.map(|d| d.to_bytes())
}

fn bench(c: &mut Criterion) {
    for (name, typed, settings) in CASES {
        let template = template(*typed);
        let bytes = template
            .value
            .as_ref()
            .map(Data::to_bytes)
            .unwrap_or_default();
        let chain = chain(settings);
        assert!(
            chain.apply(template.clone()).is_ok(),
            "{name} applies to the benchmark record"
        );
        let mut group = c.benchmark_group("apply");
        group.throughput(Throughput::Elements(1));
        group.bench_function(*name, |b| {
            b.iter_batched(
                || template.clone(),
                |r| black_box(chain.apply(r)),
                BatchSize::SmallInput,
            );
        });
        group.finish();
        let mut group = c.benchmark_group("parse-apply-serialize");
        group.throughput(Throughput::Elements(1));
        group.bench_function(*name, |b| b.iter(|| black_box(through(&chain, &bytes))));
        group.finish();
    }
}

/// Criterion's mean estimate, in nanoseconds, for `group/name`.
fn mean_ns(root: &std::path::Path, group: &str, name: &str) -> Option<f64> {
    let text =
        std::fs::read_to_string(root.join(group).join(name).join("new/estimates.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn summary() {
    // target/<profile>/deps/<bench> → target/criterion
    let root = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_default();
    // Each case is compared with the baseline of the same shape (with a schema or without).
    let baseline = |typed: bool| {
        let name = if typed { "none (schema)" } else { "none" };
        (
            mean_ns(&root, "apply", name),
            mean_ns(&root, "parse-apply-serialize", name),
        )
    };
    println!(
        "\n{:<40} {:>10} {:>12} {:>9} {:>12} {:>12} {:>9}",
        "transform", "apply ns", "apply rec/s", "÷ none", "path ns", "path rec/s", "÷ none"
    );
    for (name, typed, _) in CASES {
        let (base_apply, base_path) = baseline(*typed);
        let (Some(a), Some(p)) = (
            mean_ns(&root, "apply", name),
            mean_ns(&root, "parse-apply-serialize", name),
        ) else {
            println!("{name:<40} (no estimate found under {})", root.display());
            continue;
        };
        let ratio = |x: f64, base: Option<f64>| base.map_or(f64::NAN, |b| x / b);
        println!(
            "{name:<40} {a:>10.0} {:>12.0} {:>9.2} {p:>12.0} {:>12.0} {:>9.2}",
            1e9 / a,
            ratio(a, base_apply),
            1e9 / p,
            ratio(p, base_path),
        );
    }
    println!(
        "\napply: the transform on a parsed record (baseline `none`: an empty chain); \
         path: parse JSON bytes, transform, serialize (baseline `none`: parse + serialize); \
         cases with a schema are compared with `none (schema)`."
    );
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
    summary();
}
