//! A cache of precompiled components: loading one is about a thousand times cheaper than
//! compiling the wasm. Entries are keyed by the wasm's SHA-256 and the engine's compatibility
//! hash (wasmtime version and settings).
//!
//! An entry is native code that the host runs, so it is trusted only when this user wrote it:
//! - the directory is created mode 0700 (set explicitly, whatever the umask) and refused when
//!   another user owns it, others may write it, or it is a symlink;
//! - each entry is written mode 0600 through [`crate::fsutil::write_atomically`] and opened with
//!   `O_NOFOLLOW`, and refused when another user owns it or others may write it;
//! - each entry ends with an HMAC-SHA256 tag over its name and contents, keyed with a random
//!   per-user key (`cache.key`, mode 0600, created with `O_EXCL` in the cache directory). Someone
//!   who can replace an entry but not read the key cannot make a tag that verifies, so a patched
//!   entry with a recomputed checksum is rebuilt, not run.
//!
//! What it does not protect against: anyone who can read the key as this user (or is root)
//! already runs code as this user and needs no cache to do so.
//!
//! A refused directory or entry never fails a load: the host compiles the wasm instead and says
//! why on stderr.

use std::hash::{Hash, Hasher};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::fsutil::{self, Private};

/// Environment variable overriding the cache directory; `off` disables the cache.
pub const CACHE_ENV: &str = "DARKTRACE_CONNECTOR_CACHE";

/// Name of the per-user MAC key file inside the cache directory.
pub const KEY_FILE: &str = "cache.key";

/// Bytes of the MAC key and of the tag appended to every entry.
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 32;
/// A precompiled connector is a few MiB; anything far larger is not an entry of ours.
const MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

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

/// Where the entry for `wasm` lives in `dir`, and (kept for compatibility; no longer written) the
/// checksum file earlier versions put beside it.
pub fn entry_paths(engine: &Engine, dir: &Path, wasm: &[u8]) -> (PathBuf, PathBuf) {
    let key = entry_key(engine, wasm);
    (dir.join(format!("{key}.cwasm")), dir.join(format!("{key}.sha256")))
}

fn entry_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    format!("{}-{:016x}", hex::encode(Sha256::digest(wasm)), engine_hash.finish())
}

/// Compiles `wasm`, or loads it precompiled from `dir` when an authentic entry exists; writes the
/// entry after compiling. Cache failures never fail the load: they fall back to compiling, and
/// a refused directory, key or entry is reported on stderr.
pub fn compile(engine: &Engine, wasm: &[u8], dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else { return Component::new(engine, wasm) };
    let key = match open_cache(dir) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("host-test: not using the component cache: {e:#}; compiling instead");
            return Component::new(engine, wasm);
        }
    };
    let name = entry_key(engine, wasm);
    let entry = dir.join(format!("{name}.cwasm"));
    match read_entry(&entry, &name, &key) {
        Ok(Some(bytes)) => {
            // SAFETY: the bytes carry a valid MAC under this user's private key over this exact
            // key (wasm hash and engine settings): this host serialised them, and nobody without
            // the key changed them since.
            if let Ok(component) = unsafe { Component::deserialize(engine, &bytes) } {
                return Ok(component);
            }
        }
        Ok(None) => {}
        Err(e) => eprintln!("host-test: not using the cached component: {e:#}; compiling instead"),
    }
    let component = Component::new(engine, wasm)?;
    if let Ok(bytes) = component.serialize()
        && let Err(e) = write_entry(&entry, &name, &key, &bytes)
    {
        eprintln!("host-test: could not save the compiled component in the cache: {e:#}");
    }
    Ok(component)
}

/// Checks (creating it if needed) the cache directory and returns the MAC key.
fn open_cache(dir: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    fsutil::private_dir(dir)?;
    load_or_create_key(&dir.join(KEY_FILE))
}

/// Reads the key, or creates it with `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600. Two hosts
/// creating it at once: one wins the `O_EXCL`, the other reads the winner's key.
fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    use anyhow::Context as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    match options.open(path) {
        Ok(mut file) => {
            fsutil::set_mode(&file, 0o600)?;
            let key = random_key()?;
            file.write_all(&key)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            return Ok(key);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create the cache key {}", path.display())),
    }
    let file = open_nofollow(path).with_context(|| format!("cannot open the cache key {}", path.display()))?;
    fsutil::check_private(&file, path, Private::OwnerOnly)?;
    let mut key = [0u8; KEY_LEN];
    let mut read = Vec::with_capacity(KEY_LEN + 1);
    file.take(KEY_LEN as u64 + 1).read_to_end(&mut read)?;
    if read.len() != KEY_LEN {
        anyhow::bail!(
            "the cache key {} is not {KEY_LEN} bytes (half-written or not ours); delete it and the cache is rebuilt",
            path.display()
        );
    }
    key.copy_from_slice(&read);
    Ok(key)
}

fn random_key() -> anyhow::Result<[u8; KEY_LEN]> {
    let mut key = [0u8; KEY_LEN];
    let hex = fsutil::random_hex(KEY_LEN)?;
    hex::decode_to_slice(hex, &mut key)?;
    Ok(key)
}

fn open_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

fn mac(key: &[u8; KEY_LEN], name: &str, bytes: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    // The name binds the entry to its wasm and engine: a valid entry for another wasm, renamed,
    // does not verify.
    mac.update(&(name.len() as u64).to_le_bytes());
    mac.update(name.as_bytes());
    mac.update(bytes);
    mac
}

/// The entry's native code when the entry exists and is authentic; `Ok(None)` when there is none;
/// an error when one exists but must not be used (foreign owner, writable by others, a symlink,
/// a tag that does not verify).
fn read_entry(path: &Path, name: &str, key: &[u8; KEY_LEN]) -> anyhow::Result<Option<Vec<u8>>> {
    use anyhow::Context as _;
    let file = match open_nofollow(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open {} (a symlink there is refused)", path.display()));
        }
    };
    fsutil::check_private(&file, path, Private::WritableByOwnerOnly)?;
    let mut bytes = Vec::new();
    file.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() < TAG_LEN || bytes.len() as u64 > MAX_ENTRY_BYTES {
        anyhow::bail!("{} is not a cache entry", path.display());
    }
    let tag = bytes.split_off(bytes.len() - TAG_LEN);
    mac(key, name, &bytes).verify_slice(&tag).map_err(|_| {
        anyhow::anyhow!(
            "{} does not carry this user's MAC (changed by someone else, or written before)",
            path.display()
        )
    })?;
    Ok(Some(bytes))
}

fn write_entry(path: &Path, name: &str, key: &[u8; KEY_LEN], bytes: &[u8]) -> anyhow::Result<()> {
    let tag = mac(key, name, bytes).finalize().into_bytes();
    let mut out = Vec::with_capacity(bytes.len() + TAG_LEN);
    out.extend_from_slice(bytes);
    out.extend_from_slice(&tag);
    fsutil::write_atomically(path, &out, 0o600)
}
