//! Benchmark: the cost of running record logic as a WASM component instead of natively.
//!
//! The `identity-transform` test guest runs through the real host on batches of 1 KiB JSON
//! records, and the same logic runs natively over the same batches with the host's own
//! batch types. Two guest modes: `reuse` (the guest passes records through with
//! `TransformBatchBuilder::keep`, so nothing is copied back) and `copy` (the guest copies
//! every byte into its output, like a transform that rewrites every record). Prints
//! records/s and the overhead per record against native: what crossing into the sandbox
//! costs.
//!
//!   cargo run --release -p culvert-plugin-host --example crossing [BATCHES] [BATCH_SIZE] [RECORD_BYTES]
//!
//! With small records (e.g. `RECORD_BYTES` 64) the figures show the per-record cost of the
//! boundary itself rather than of copying bytes.

use std::time::{Duration, Instant};

/// The allocator the `culvert` binary uses, so buffer reuse matches production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use culvert_plugin_host::{
    Plugin, PluginEngine, PluginLimits, Record, Records, RecordsBuilder, TransformInstance,
};

/// A JSON record of about `bytes` bytes (at least its fixed fields).
fn json_record(i: usize, bytes: usize) -> Vec<u8> {
    let mut v = format!("{{\"id\":{i},\"name\":\"customer-{i}\",\"payload\":\"");
    while v.len() < bytes.saturating_sub(2) {
        v.push('x');
    }
    v.push_str("\"}");
    v.into_bytes()
}

fn batch(values: &[Vec<u8>], keys: &[String]) -> Records {
    let mut b = RecordsBuilder::new();
    for (v, k) in values.iter().zip(keys) {
        let record = Record::new(
            "orders",
            Some(k.as_bytes()),
            Some(v),
            Some(1_700_000_000_000),
        );
        if let Err(e) = b.push(&record, &[]) {
            panic!("building the batch: {e}");
        }
    }
    b.build()
}

/// The identity transform's logic, natively: read every record, push it to a new batch.
/// Takes the batch by value, as `TransformInstance::apply` does, so both free their input.
fn native_apply(input: Records) -> (Records, Vec<usize>) {
    let mut out = RecordsBuilder::new();
    let mut origins = Vec::with_capacity(input.len());
    for (i, r) in input.iter().enumerate() {
        if let Err(e) = out.push(&r, &r.headers()) {
            panic!("native push: {e}");
        }
        origins.push(i);
    }
    (out.build(), origins)
}

fn rate(records: usize, elapsed: Duration) -> f64 {
    records as f64 / elapsed.as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or_else(|_| panic!("{a} is not a number")))
        .collect();
    let batches = args.first().copied().unwrap_or(200);
    let size = args.get(1).copied().unwrap_or(1000);
    let record_bytes = args.get(2).copied().unwrap_or(1024);
    let values: Vec<Vec<u8>> = (0..size).map(|i| json_record(i, record_bytes)).collect();
    let keys: Vec<String> = (0..size).map(|i| format!("key-{i}")).collect();

    let engine = PluginEngine::new(PluginLimits::default()).expect("engine");
    let guest = culvert_guests::test_guest("identity-transform").expect("embedded");
    let plugin = Plugin::load(&engine, &guest.origin(), guest.bytes)
        .await
        .expect("load");
    println!(
        "{} JSON records of ~{record_bytes} B in batches of {size}, identity transform",
        batches * size
    );
    for (mode, config) in [
        ("reuse", vec![]),
        ("copy", vec![("copy".to_string(), "true".to_string())]),
        // Every record dropped: the guest returns nothing, so this is the cost of getting a
        // batch into the sandbox (the native side still copies; compare the wasm figure).
        ("in", vec![("drop.containing".to_string(), "{".to_string())]),
    ] {
        let wasm = TransformInstance::new(&plugin, "bench", &config)
            .await
            .expect("transformer");
        run(mode, wasm, batches, &values, &keys).await;
    }
}

async fn run(
    mode: &str,
    mut wasm: TransformInstance,
    batches: usize,
    values: &[Vec<u8>],
    keys: &[String],
) {
    let size = values.len();

    // Warm up both paths (page in, let the guest's allocator reach its steady state).
    for _ in 0..5 {
        let out = wasm.apply(batch(values, keys)).await.expect("apply");
        assert_eq!(out.records.len(), if mode == "in" { 0 } else { size });
        let (native, _) = native_apply(batch(values, keys));
        assert_eq!(native.len(), size);
    }

    // Input batches are built outside the timed sections, for both paths alike.
    let mut wasm_time = Duration::ZERO;
    let mut native_time = Duration::ZERO;
    for _ in 0..batches {
        let input = batch(values, keys);
        let t = Instant::now();
        let out = wasm.apply(input).await.expect("apply");
        wasm_time += t.elapsed();
        std::hint::black_box(&out);

        let input = batch(values, keys);
        let t = Instant::now();
        let out = native_apply(input);
        native_time += t.elapsed();
        std::hint::black_box(&out);
    }
    let total = batches * size;
    let (w, n) = (rate(total, wasm_time), rate(total, native_time));
    println!(
        "{mode:>5}: native {n:>10.0} rec/s ({:.1} ns/rec), wasm {w:>10.0} rec/s ({:.1} ns/rec), \
         wasm/native {:.2}, overhead {:.1}% ({:.1} ns/rec)",
        1e9 / n,
        1e9 / w,
        w / n,
        (n / w - 1.0) * 100.0,
        1e9 / w - 1e9 / n
    );
    let _ = total;
}
