//! Builds the connector component for `wasm32-wasip2` so `cargo run` and `cargo test` need no
//! other step. The inner build uses its own target directory: sharing the outer one would
//! deadlock on cargo's build lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "component";

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir.parent().context("host-test lives inside the workspace")?.to_path_buf();
    for watched in
        ["connector/src", "connector/build.rs", "connector/Cargo.toml", "wit", "manifests", "Cargo.lock", "Cargo.toml"]
    {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CONNECTOR_WASM_OVERRIDE");

    if let Ok(prebuilt) = env::var("CONNECTOR_WASM_OVERRIDE") {
        println!("cargo:rustc-env=CONNECTOR_WASM={prebuilt}");
        return Ok(());
    }

    ensure_target_installed()?;
    let target_dir =
        env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("component");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--package", "darktrace-connector", "--target", TARGET, "--profile", PROFILE])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags meant for the host build (coverage, sanitizers) must not leak into the wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .context("running cargo to build the connector component")?;
    if !output.status.success() {
        bail!("building the connector component failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let wasm = target_dir.join(TARGET).join(PROFILE).join("darktrace_connector.wasm");
    if !wasm.exists() {
        bail!("the connector build succeeded but {} is missing", wasm.display());
    }
    println!("cargo:rustc-env=CONNECTOR_WASM={}", wasm.display());
    Ok(())
}

/// rustup does not install targets on demand, so a fresh machine would fail with a confusing
/// "can't find crate for `core`"; install it once and say so.
fn ensure_target_installed() -> anyhow::Result<()> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot =
        Command::new(&rustc).args(["--print", "sysroot"]).output().context("running rustc --print sysroot")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if installed(&sysroot) {
        return Ok(());
    }
    println!("cargo:warning=installing the {TARGET} Rust target with rustup (needed to build the connector component)");
    let status = Command::new("rustup").args(["target", "add", TARGET]).status();
    match status {
        Ok(s) if s.success() && installed(&sysroot) => Ok(()),
        _ => {
            bail!("the {TARGET} target is missing and `rustup target add {TARGET}` did not install it; run it by hand")
        }
    }
}

fn installed(sysroot: &Path) -> bool {
    sysroot.join("lib/rustlib").join(TARGET).join("lib").exists()
}
