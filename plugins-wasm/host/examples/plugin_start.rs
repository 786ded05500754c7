//! Benchmark: how long a worker takes to load its plugins, with an empty compiled-component
//! cache (first start) and with a warm one (every later start).
//!
//!   cargo run --release -p culvert-plugin-host --example plugin_start

use std::time::Instant;

use culvert_plugin_host::{PluginEngine, PluginLimits, PluginRegistry};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cache = std::env::temp_dir().join(format!("culvert-plugin-start-{}", std::process::id()));
    let guests: Vec<(&str, &[u8])> = culvert_guests::BUILTIN
        .iter()
        .chain(culvert_guests::TEST_GUESTS)
        .filter(|g| g.name != "sockets-probe")
        .map(|g| (g.name, g.bytes))
        .collect();
    let bytes: usize = guests.iter().map(|(_, b)| b.len()).sum();
    println!(
        "{} plugins, {:.1} MiB of components",
        guests.len(),
        bytes as f64 / (1 << 20) as f64
    );
    for start in [
        "first start (cold cache)",
        "second start (warm cache)",
        "third start (warm cache)",
    ] {
        // A new engine each time, as a restarted worker would have.
        let engine =
            PluginEngine::with_cache(PluginLimits::default(), Some(&cache)).expect("engine");
        let t = Instant::now();
        let registry = PluginRegistry::load(&engine, &guests, &[]).await;
        let elapsed = t.elapsed();
        assert!(registry.problems().is_empty(), "{:?}", registry.problems());
        println!(
            "{start}: {:.1} ms for {} plugins",
            elapsed.as_secs_f64() * 1e3,
            registry.plugins().count()
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
}
