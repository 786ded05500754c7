//! Builds the guest workspace under `connectors/` into wasm32-wasip2 components and writes
//! `$OUT_DIR/guests.rs`, which embeds them: the built-in connectors (`connectors/*`) always,
//! the host's test guests (`plugins-wasm/test-guests/*`) with the `test-guests` feature.
//!
//! The nested cargo runs with its own target directory (`<target>/connectors`) so it never
//! waits on the lock of the build that runs this script.

use std::path::{Path, PathBuf};
use std::process::{Command, exit};
use std::{env, fs};

const GUEST_TARGET: &str = "wasm32-wasip2";

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    exit(1);
}

fn env_path(key: &str) -> PathBuf {
    env::var_os(key)
        .map(PathBuf::from)
        .unwrap_or_else(|| fail(&format!("cargo did not set {key}")))
}

fn main() {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR");
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| fail("plugins-wasm/guests/ has no grandparent directory"))
        .to_path_buf();
    let guests = root.join("connectors");
    let test_guests = root.join("plugins-wasm/test-guests");
    // Watch every source of the guest build, but not `connectors/target`, which a direct
    // `cargo build` in connectors/ writes to.
    let mut watched = vec![
        root.join("plugins-wasm/sdk"),
        root.join("plugins-wasm/wit"),
        test_guests.clone(),
    ];
    if let Ok(entries) = fs::read_dir(&guests) {
        watched.extend(
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name() != "target")
                .map(|e| e.path()),
        );
    }
    for path in watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    ensure_target_installed();

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("connectors");
    build_guests(&guests, &target_dir);

    let out = env_path("OUT_DIR").join("guests.rs");
    let mut code = String::new();
    embed(
        &mut code,
        "/// Components built from `connectors/`: the built-in connectors.",
        "BUILTIN",
        &guest_packages(&guests),
        &target_dir,
    );
    code.push_str("#[cfg(feature = \"test-guests\")]\n");
    embed(
        &mut code,
        "/// Components built from `plugins-wasm/test-guests/`: guests for the host's tests.",
        "TEST_GUESTS",
        &guest_packages(&test_guests),
        &target_dir,
    );
    if let Err(e) = fs::write(&out, code) {
        fail(&format!("cannot write {}: {e}", out.display()));
    }
}

/// Appends `pub static <name>: &[Component]` embedding the built `packages`.
fn embed(
    code: &mut String,
    doc: &str,
    name: &str,
    packages: &[(String, Vec<String>)],
    target_dir: &Path,
) {
    let aliases: std::collections::BTreeMap<&String, &Vec<String>> =
        packages.iter().map(|(p, a)| (p, a)).collect();
    let packages: Vec<&String> = packages.iter().map(|(p, _)| p).collect();
    code.push_str(&format!("{doc}\npub static {name}: &[Component] = &[\n"));
    for package in packages {
        let artifact = target_dir
            .join(GUEST_TARGET)
            .join("release")
            .join(format!("{}.wasm", package.replace('-', "_")));
        if !artifact.is_file() {
            fail(&format!(
                "guest {package} built but {} is missing (is its crate-type cdylib?)",
                artifact.display()
            ));
        }
        code.push_str(&format!(
            "    Component {{ name: {package:?}, bytes: include_bytes!({:?}), aliases: &{:?} }},\n",
            artifact.display().to_string(),
            aliases
                .get(package)
                .map(|a| a.as_slice())
                .unwrap_or_default()
        ));
    }
    code.push_str("];\n");
}

/// Installs the wasm32-wasip2 standard library when the toolchain lacks it (these machines
/// set RUSTUP_AUTO_INSTALL=0, so the toolchain file alone does not install targets).
fn ensure_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| fail(&format!("cannot run `{rustc} --print sysroot`")));
    if sysroot.join("lib/rustlib").join(GUEST_TARGET).is_dir() {
        return;
    }
    println!("cargo:warning=installing the {GUEST_TARGET} target with rustup (one time)");
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        fail(&format!(
            "the {GUEST_TARGET} target is missing and `rustup target add {GUEST_TARGET}` failed; \
             run it by hand and build again"
        ));
    }
}

fn build_guests(guests: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(guests)
        .args([
            "build",
            "--release",
            "--target",
            GUEST_TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    // Settings meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo for the connectors: {e}")));
    if !output.status.success() {
        fail(&format!(
            "building the connectors in {} failed:\n{}",
            guests.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
}

/// Package names of the guest crates in `dir` (one directory with a Cargo.toml each), with
/// the Kafka Connect class names each answers to.
fn guest_packages(guests: &Path) -> Vec<(String, Vec<String>)> {
    let entries = fs::read_dir(guests)
        .unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", guests.display())));
    let mut names: Vec<(String, Vec<String>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("Cargo.toml"))
        .filter(|manifest| manifest.is_file())
        .map(|manifest| package_name(&manifest))
        .collect();
    names.sort();
    names
}

/// The `[package]` name and the one-line `aliases = ["..."]` array of
/// `[package.metadata.culvert]`.
fn package_name(manifest: &Path) -> (String, Vec<String>) {
    let text = fs::read_to_string(manifest)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", manifest.display())));
    let mut section = "";
    let mut name = None;
    let mut aliases = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if let Some((key, value)) = line.split_once('=') {
            match (section, key.trim()) {
                ("[package]", "name") => name = Some(value.trim().trim_matches('"').to_string()),
                ("[package.metadata.culvert]", "aliases") => {
                    let list = value.trim().trim_start_matches('[').trim_end_matches(']');
                    aliases = list
                        .split(',')
                        .map(|a| a.trim().trim_matches('"').to_string())
                        .filter(|a| !a.is_empty())
                        .collect();
                }
                _ => {}
            }
        }
    }
    let name =
        name.unwrap_or_else(|| fail(&format!("{} has no [package] name", manifest.display())));
    (name, aliases)
}
