//! Named connections kept on disk: create (tested first), list, test, rotate, remove, with an
//! optional expiry and a "last used" stamp.
//!
//! The store is one JSON file (mode 0600) next to a lock file. Every change takes an exclusive
//! lock, re-reads the file, applies the change and atomically replaces the file (through
//! [`crate::fsutil::write_atomically`]: a random temporary name, no symlink followed, fsync,
//! rename), so several processes can use it at once without losing an update. A file that
//! cannot be read is never overwritten: the user gets an error naming it.
//!
//! The store holds private tokens, so, as ssh does with its keys, it is refused when another
//! user owns it or may read or write it, and its directory when another user may replace files
//! in it; the error says which `chmod` or `chown` fixes it.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::runtime::{ConnectionParams, Settings};

/// Environment variable naming the store file (tests and multi-profile setups).
pub const STORE_ENV: &str = "DARKTRACE_CONNECTIONS_FILE";

/// Version of the file format.
const FORMAT_VERSION: u32 = 1;

/// One saved connection. The private token is stored, but never printed: `Debug` redacts it
/// and listings use [`Saved::summary`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// Unique, fixed name.
    pub name: String,
    /// API address as given.
    pub api_address: String,
    /// Public token.
    pub public_token: String,
    /// Private token.
    pub private_token: String,
    /// PEM CA file to trust for this appliance, if any; saved absolute (see [`absolute_path`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// SHA-256 fingerprints of the appliance certificate to accept (pinning), `AB:CD:...`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<String>,
    /// Seconds added to this machine's clock when signing (see the WIT `connection` record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_seconds: Option<i32>,
    /// Most sends of a request that failed with 429 or 5xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u8>,
    /// Most seconds waited between the attempts of one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_wait_seconds: Option<u16>,
    /// When it was created, RFC 3339.
    pub created: String,
    /// Last day it may be used (inclusive, UTC), `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// When it was last used, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    /// Outcome of the last connection test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_test: Option<TestRecord>,
    /// Plain `http://` to a host other than loopback was explicitly allowed when it was saved
    /// (`--allow-insecure-http`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
    /// Only the pinned certificates are accepted, not the CA chain (`--pin-only`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pin_only: bool,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved")
            .field("name", &self.name)
            .field("api_address", &self.api_address)
            .field("private_token", &"<redacted>")
            .finish()
    }
}

/// A connection test's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRecord {
    /// When, RFC 3339.
    pub at: String,
    /// `ok` or the error case.
    pub result: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u32,
    connections: Vec<Saved>,
}

/// The store file and its lock.
pub struct Store {
    path: PathBuf,
}

/// The current time, RFC 3339 UTC.
pub fn now() -> String {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl Saved {
    /// The parameters for a call.
    pub fn params(&self) -> ConnectionParams {
        ConnectionParams {
            api_address: self.api_address.clone(),
            public_token: self.public_token.clone(),
            private_token: self.private_token.clone(),
            settings: Settings {
                clock_offset_seconds: self.clock_offset_seconds,
                max_attempts: self.max_attempts,
                max_retry_wait_seconds: self.max_retry_wait_seconds,
            },
        }
    }

    /// Refuses a connection past its expiry day.
    pub fn check_not_expired(&self) -> anyhow::Result<()> {
        if let Some(expires) = &self.expires {
            let today = OffsetDateTime::now_utc().date().to_string();
            if today.as_str() > expires.as_str() {
                bail!(
                    "connection `{}` expired on {expires}; give it a new token pair with `host-test connections rotate {}` or add a new connection",
                    self.name,
                    self.name
                );
            }
        }
        Ok(())
    }

    /// What `connections list` shows: everything but the private token, the public token shortened.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "api_address": self.api_address,
            "public_token": shorten(&self.public_token),
            "ca_cert": self.ca_cert,
            "pins": self.pins,
            "clock_offset_seconds": self.clock_offset_seconds,
            "max_attempts": self.max_attempts,
            "max_retry_wait_seconds": self.max_retry_wait_seconds,
            "created": self.created,
            "expires": self.expires,
            "last_used": self.last_used,
            "last_test": self.last_test,
            "allow_insecure_http": self.allow_insecure_http,
            "pin_only": self.pin_only,
        })
    }
}

fn shorten(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    format!("{}…{}", chars[..4].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>())
}

/// `path` made absolute against the current directory, so a saved path means the same file
/// whatever directory a later command runs in (a relative `ca.pem` would otherwise be whatever
/// `ca.pem` sits in that directory).
pub fn absolute_path(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot make {} an absolute path", path.display()))
}

/// Checks a connection name: 1 to 64 of letters, digits, `.`, `_` and `-`.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        bail!("connection name `{name}` is not valid: use 1 to 64 letters, digits, `.`, `_` or `-`");
    }
    Ok(())
}

/// Checks an expiry date `YYYY-MM-DD` that is today or later.
pub fn check_expiry(date: &str) -> anyhow::Result<()> {
    let parsed = time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]"))
        .with_context(|| format!("expiry `{date}` is not a date like 2027-01-31"))?;
    if parsed < OffsetDateTime::now_utc().date() {
        bail!("expiry {date} is in the past; give today or a later day");
    }
    Ok(())
}

impl Store {
    /// The store at `path`.
    pub fn at(path: PathBuf) -> Store {
        Store { path }
    }

    /// The default store: `$DARKTRACE_CONNECTIONS_FILE`, else
    /// `$XDG_CONFIG_HOME/darktrace-connector/connections.json`, else `~/.config/...`.
    pub fn default_path() -> anyhow::Result<PathBuf> {
        if let Some(p) = std::env::var_os(STORE_ENV) {
            return Ok(PathBuf::from(p));
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .context("no home directory: set DARKTRACE_CONNECTIONS_FILE to choose where connections are kept")?;
        Ok(base.join("darktrace-connector").join("connections.json"))
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every saved connection.
    pub fn list(&self) -> anyhow::Result<Vec<Saved>> {
        let _lock = self.lock()?;
        Ok(self.read()?.connections)
    }

    /// One saved connection by name.
    pub fn get(&self, name: &str) -> anyhow::Result<Saved> {
        self.list()?.into_iter().find(|c| c.name == name).with_context(|| {
            format!("no connection named `{name}` in {}; `host-test connections list` shows them", self.path.display())
        })
    }

    /// Applies `change` to the connections under the lock and saves the result atomically.
    pub fn update<R>(&self, change: impl FnOnce(&mut Vec<Saved>) -> anyhow::Result<R>) -> anyhow::Result<R> {
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let result = change(&mut file.connections)?;
        file.version = FORMAT_VERSION;
        self.write(&file)?;
        Ok(result)
    }

    /// Adds a new connection; the name must be free.
    pub fn add(&self, saved: Saved) -> anyhow::Result<()> {
        self.update(|all| {
            if all.iter().any(|c| c.name == saved.name) {
                bail!(
                    "a connection named `{}` already exists; names are fixed: remove it first or pick another name",
                    saved.name
                );
            }
            all.push(saved);
            Ok(())
        })
    }

    /// Changes one connection by name.
    pub fn modify(&self, name: &str, change: impl FnOnce(&mut Saved)) -> anyhow::Result<()> {
        let path = self.path.display().to_string();
        self.update(|all| {
            let saved = all
                .iter_mut()
                .find(|c| c.name == name)
                .with_context(|| format!("no connection named `{name}` in {path}"))?;
            change(saved);
            Ok(())
        })
    }

    /// Removes one connection by name.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        let path = self.path.display().to_string();
        self.update(|all| {
            let before = all.len();
            all.retain(|c| c.name != name);
            if all.len() == before {
                bail!("no connection named `{name}` in {path}");
            }
            Ok(())
        })
    }

    fn lock(&self) -> anyhow::Result<File> {
        let dir = crate::fsutil::parent_dir(&self.path);
        if !dir.exists() {
            crate::fsutil::private_dir(&dir)?;
        }
        crate::fsutil::check_shared_dir(&dir)?;
        let lock_path = self.path.with_extension("lock");
        let lock = crate::fsutil::open_lock(&lock_path)?;
        lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;
        Ok(lock)
    }

    fn read(&self) -> anyhow::Result<StoreFile> {
        let text = match self.read_private() {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StoreFile { version: FORMAT_VERSION, connections: Vec::new() });
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read the connection store {}", self.path.display()));
            }
        };
        let file: StoreFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "the connection store {} is damaged and was left untouched; fix or move it aside (its connections are still in it)",
                self.path.display()
            )
        })?;
        if file.version != FORMAT_VERSION {
            bail!(
                "the connection store {} has format version {}, this host reads version {FORMAT_VERSION}",
                self.path.display(),
                file.version
            );
        }
        Ok(file)
    }

    /// The store's text, refused (as ssh refuses a private key) when it is a symlink, is owned by
    /// another user, or others may read or write it.
    fn read_private(&self) -> std::io::Result<String> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let file = options.open(&self.path).map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other(format!(
                    "{} is a symlink; the store must be a plain file: move the real file there",
                    self.path.display()
                ))
            } else {
                e
            }
        })?;
        crate::fsutil::check_private(&file, &self.path, crate::fsutil::Private::OwnerOnly)
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(&file, MAX_STORE_BYTES + 1), &mut text)?;
        if text.len() as u64 > MAX_STORE_BYTES {
            return Err(std::io::Error::other(format!(
                "{} is larger than the {MAX_STORE_BYTES} bytes a store may be",
                self.path.display()
            )));
        }
        Ok(text)
    }

    fn write(&self, file: &StoreFile) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(file)?;
        text.push('\n');
        crate::fsutil::write_atomically(&self.path, text.as_bytes(), 0o600)
    }
}

/// Largest store read: thousands of connections fit; more is not a store.
const MAX_STORE_BYTES: u64 = 16 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store(tag: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("dt-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Store::at(dir.join("connections.json"))
    }

    fn saved(name: &str) -> Saved {
        Saved {
            name: name.into(),
            api_address: "https://dt.example.com".into(),
            public_token: "0123456789abcdef".into(),
            private_token: "secret-private-token".into(),
            ca_cert: None,
            pins: Vec::new(),
            clock_offset_seconds: None,
            max_attempts: None,
            max_retry_wait_seconds: None,
            created: now(),
            expires: None,
            last_used: None,
            last_test: None,
            allow_insecure_http: false,
            pin_only: false,
        }
    }

    #[test]
    fn added_connections_are_listed_and_names_are_unique() {
        let store = temp_store("unique");
        store.add(saved("lab")).unwrap();
        assert!(store.add(saved("lab")).unwrap_err().to_string().contains("already exists"));
        assert_eq!(store.list().unwrap().len(), 1);
        store.remove("lab").unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_store_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let store = temp_store("mode");
        store.add(saved("lab")).unwrap();
        let mode = std::fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_planted_at_the_old_temporary_name_and_at_the_store_are_not_followed() {
        let store = temp_store("symlinks");
        let dir = store.path().parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        // Earlier versions wrote `connections.tmp<pid>`: a link there received the store.
        std::os::unix::fs::symlink(&victim, store.path().with_extension(format!("tmp{}", std::process::id()))).unwrap();
        store.add(saved("lab")).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // A link at the store itself is refused, not read or written through.
        std::fs::remove_file(store.path()).unwrap();
        std::os::unix::fs::symlink(&victim, store.path()).unwrap();
        let err = store.add(saved("other")).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // So is a link at the lock file.
        std::fs::remove_file(store.path()).unwrap();
        std::fs::remove_file(store.path().with_extension("lock")).unwrap();
        std::os::unix::fs::symlink(&victim, store.path().with_extension("lock")).unwrap();
        assert!(format!("{:#}", store.list().unwrap_err()).contains("symlink"));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[cfg(unix)]
    #[test]
    fn a_store_others_can_read_or_that_another_user_owns_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt as _;
        let store = temp_store("perms");
        store.add(saved("lab")).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!("{:#}", store.list().unwrap_err());
        assert!(err.contains("readable or writable by other users") && err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(store.list().unwrap().len(), 1);
        // Only root can give a file away; elsewhere this part is skipped.
        if std::os::unix::fs::chown(store.path(), Some(65534), None).is_ok() {
            let err = format!("{:#}", store.list().unwrap_err());
            assert!(err.contains("owned by user id 65534") && err.contains("chown"), "{err}");
        }
    }

    #[test]
    fn a_damaged_store_is_reported_and_left_untouched() {
        let store = temp_store("damaged");
        store.add(saved("lab")).unwrap();
        std::fs::write(store.path(), "{ not json").unwrap();
        let err = store.add(saved("other")).unwrap_err();
        assert!(format!("{err:#}").contains("damaged"), "{err:#}");
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "{ not json");
    }

    #[test]
    fn summaries_never_show_the_private_token() {
        let s = saved("lab");
        let shown = format!("{} {:?}", s.summary(), s);
        assert!(!shown.contains("secret-private-token"));
        assert!(shown.contains("0123…cdef"));
    }

    #[test]
    fn expiry_is_enforced_after_the_day() {
        let mut s = saved("lab");
        s.expires = Some("2000-01-01".into());
        assert!(s.check_not_expired().unwrap_err().to_string().contains("expired on 2000-01-01"));
        s.expires = Some("2999-12-31".into());
        s.check_not_expired().unwrap();
        assert!(check_expiry("2000-01-01").is_err());
        assert!(check_expiry("tomorrow").is_err());
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let store = std::sync::Arc::new(temp_store("concurrent"));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || store.add(saved(&format!("c{i}"))).unwrap())
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(store.list().unwrap().len(), 8);
    }
}
