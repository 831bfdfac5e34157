//! A cache of precompiled components: loading one is about a thousand times cheaper than
//! compiling the wasm. Entries are keyed by the wasm's SHA-256 and the engine's compatibility
//! hash (wasmtime version and settings), and carry their own checksum, so a stale, truncated or
//! tampered entry is rebuilt rather than trusted.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Environment variable overriding the cache directory; `off` disables the cache.
pub const CACHE_ENV: &str = "DARKTRACE_CONNECTOR_CACHE";

/// The cache directory users get by default: `$DARKTRACE_CONNECTOR_CACHE`, else
/// `$XDG_CACHE_HOME/darktrace-connector`, else `~/.cache/darktrace-connector`.
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os(CACHE_ENV) {
        Some(v) if v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("darktrace-connector")),
    }
}

/// Where an entry for `wasm` lives in `dir`, and the checksum file beside it.
pub fn entry_paths(engine: &Engine, dir: &Path, wasm: &[u8]) -> (PathBuf, PathBuf) {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let key = format!("{}-{:016x}", hex::encode(Sha256::digest(wasm)), engine_hash.finish());
    (dir.join(format!("{key}.cwasm")), dir.join(format!("{key}.sha256")))
}

/// Compiles `wasm`, or loads it precompiled from `dir` when a valid entry exists; writes the
/// entry after compiling. Cache failures never fail the load: they fall back to compiling.
pub fn compile(engine: &Engine, wasm: &[u8], dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else { return Component::new(engine, wasm) };
    let (entry, checksum) = entry_paths(engine, dir, wasm);
    if let (Ok(bytes), Ok(expected)) = (std::fs::read(&entry), std::fs::read_to_string(&checksum))
        && hex::encode(Sha256::digest(&bytes)) == expected.trim()
    {
        // SAFETY: the bytes are what this host serialised for this wasm and engine
        // configuration (key), and are unchanged since (checksum).
        if let Ok(component) = unsafe { Component::deserialize(engine, &bytes) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, wasm)?;
    if let Ok(bytes) = component.serialize() {
        let _ = store(dir, &entry, &checksum, &bytes);
    }
    Ok(component)
}

/// Writes the entry and its checksum atomically (temporary file, then rename), so concurrent
/// hosts never read half an entry.
fn store(dir: &Path, entry: &Path, checksum: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = |p: &Path| p.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(tmp(entry), bytes)?;
    std::fs::rename(tmp(entry), entry)?;
    std::fs::write(tmp(checksum), hex::encode(Sha256::digest(bytes)))?;
    std::fs::rename(tmp(checksum), checksum)
}
