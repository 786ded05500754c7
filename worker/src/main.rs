//! `culvert`: parse the command line, set up logging, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use culvert::cli::{Cli, run};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

/// mimalloc keeps freed large buffers (request frames, fetch responses) mapped for reuse,
/// where glibc's allocator returned them to the kernel and paid a page fault per 4 KiB on
/// the next request: that cost 40% of the broker's CPU under a 1 KiB-record produce load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // RUST_LOG naming just a level sets the root level `/admin/loggers` reports; anything
    // richer is kept until the first change through the API replaces it.
    let root = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| culvert::logging::parse_level(&v))
        .unwrap_or("INFO");
    let (filter, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    culvert::logging::install(culvert::logging::Loggers::new(
        root,
        Some(Box::new(move |spec| {
            handle
                .reload(EnvFilter::new(spec))
                .map_err(|e| format!("cannot change the log levels: {e}"))
        })),
    ));
    keep_small_pages();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("culvert: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

/// mimalloc asks for transparent huge pages on its arena (`MADV_HUGEPAGE`), so where THP is
/// in its common `madvise` mode an idle worker with ten connectors held ~40 MB more, in
/// 2 MB pages it barely used; without them no throughput difference was measurable.
/// `MIMALLOC_ALLOW_THP=1` (mimalloc's own option, read the way mimalloc reads it) keeps
/// them. Not a `CULVERT_*` variable: those are configuration keys.
fn keep_small_pages() {
    let allowed = std::env::var("MIMALLOC_ALLOW_THP").is_ok_and(|v| {
        ["1", "true", "yes", "on"]
            .iter()
            .any(|yes| v.eq_ignore_ascii_case(yes))
    });
    if allowed {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "cannot turn off transparent huge pages");
    }
}
