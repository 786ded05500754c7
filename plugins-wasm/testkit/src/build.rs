//! Building a connector crate into a component from its tests: a nested
//! `cargo build --release --target wasm32-wasip2` into `<crate>/target/testkit`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TestkitError;

const GUEST_TARGET: &str = "wasm32-wasip2";

/// Builds the crate in `manifest_dir` (package `package`) and returns the component's bytes.
/// Needs the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`).
pub fn build_component(manifest_dir: &str, package: &str) -> Result<Vec<u8>, TestkitError> {
    let dir = Path::new(manifest_dir);
    let target_dir = dir.join("target").join("testkit");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["build", "--release", "--lib", "--target", GUEST_TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    // Settings meant for the test build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .map_err(|e| TestkitError::Build(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            format!(
                "\nthe {GUEST_TARGET} target is missing: run `rustup target add {GUEST_TARGET}`"
            )
        } else {
            String::new()
        };
        return Err(TestkitError::Build(format!(
            "cargo build --target {GUEST_TARGET} in {} failed:\n{stderr}{hint}",
            dir.display()
        )));
    }
    let artifact: PathBuf = target_dir
        .join(GUEST_TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    std::fs::read(&artifact).map_err(|e| {
        TestkitError::Build(format!(
            "built, but cannot read {} (is the crate-type cdylib?): {e}",
            artifact.display()
        ))
    })
}
