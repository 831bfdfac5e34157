//! Local files the host reads and writes, treated as reachable by other local users: atomic
//! replacement that never follows a planted symlink, ownership and mode checks in the manner of
//! ssh, and reads with an upper bound on size.
//!
//! Every file the host replaces (the connection store, cache entries, the poll state) goes through
//! [`write_atomically`]; lock files are opened with [`open_lock`].

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Largest token file read (`--private-token-file`): a token is under a hundred bytes; a bound
/// stops `/dev/zero` or a huge file from being read without end.
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;
/// Largest input, suite or state file read.
pub const MAX_INPUT_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Flags for every open of a file the host writes or trusts: the last path component must not
/// be a symlink (planted links are how a predictable name gets redirected elsewhere).
#[cfg(unix)]
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt as _;
    options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
}

#[cfg(not(unix))]
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

/// `n` random bytes from the kernel, hex-encoded: names no other process can predict, and keys.
pub fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        // SAFETY: the pointer and length describe the unfilled rest of `bytes`.
        let got = unsafe { libc::getrandom(bytes[filled..].as_mut_ptr().cast(), n - filled, 0) };
        if got < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("cannot read random bytes from the kernel");
        }
        filled += got as usize;
    }
    Ok(hex::encode(bytes))
}

/// Replaces `path` with `bytes`, atomically and privately: a temporary file with a random name in
/// the same directory, created with `O_CREAT|O_EXCL|O_NOFOLLOW` (so neither a planted file nor a
/// planted symlink is ever opened), given `mode` on the open file (whatever the umask), written,
/// fsynced, renamed over `path` (rename replaces a symlink at `path` rather than following it),
/// then the directory fsynced so the rename survives a crash. Readers see the old file or the
/// new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    let file_name = path.file_name().with_context(|| format!("{} names no file", path.display()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), random_hex(16)?));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    no_follow(&mut options);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    let mut out = options.open(&tmp).with_context(|| format!("cannot create the temporary file {}", tmp.display()))?;
    let written = (|| -> anyhow::Result<()> {
        set_mode(&out, mode)?;
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("cannot write {}", path.display())));
    }
    // The rename is durable once the directory is; not every filesystem lets a directory be
    // fsynced, and the data itself is already safe, so a failure here is not an error.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Sets `mode` on an open file, so the umask has no say (a umask of 000 must not make a private
/// file readable by others).
pub fn set_mode(file: &File, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(mode)).context("cannot set the file's mode")?;
    }
    #[cfg(not(unix))]
    let _ = (file, mode);
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens (creating it, mode 0600) the lock file at `path` without following a symlink there.
pub fn open_lock(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    no_follow(&mut options);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path).with_context(|| {
        format!("cannot open the lock file {} (a symlink there is refused; remove it)", path.display())
    })?;
    check_private(&file, path, Private::WritableByOwnerOnly)?;
    Ok(file)
}

/// Opens `path` for reading without following a symlink at its last component, and reads at
/// most `max` bytes: more is an error naming the file and the limit.
pub fn read_bounded_nofollow(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options);
    read_limited(options.open(path)?, path, max)
}

/// Reads at most `max` bytes of `path` (symlinks followed: for files the user names on the
/// command line, such as a token file, which may well be a link); a larger file, or an endless
/// one such as `/dev/zero`, is an error naming the file and the limit.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    read_limited(File::open(path)?, path, max)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_bounded_string(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is not UTF-8 text", path.display()))
    })
}

fn read_limited(file: File, path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than the {max} bytes allowed", path.display()),
        ));
    }
    Ok(bytes)
}

/// What [`check_private`] requires besides ownership by the current user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Private {
    /// Nobody else may write it (a directory or file whose contents are trusted).
    WritableByOwnerOnly,
    /// Nobody else may read or write it (a file holding a secret).
    OwnerOnly,
}

/// The current user's id.
#[cfg(unix)]
pub fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Refuses a file or directory (already open, so it is the object checked, not whatever the path
/// names a moment later) that the current user does not own, or that others may write (or, for
/// [`Private::OwnerOnly`], read). The message says what to run to fix it, as ssh does.
pub fn check_private(file: &File, path: &Path, rule: Private) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = file.metadata().with_context(|| format!("cannot inspect {}", path.display()))?;
        check_metadata(meta.uid(), meta.mode(), meta.is_dir(), path, rule)?;
    }
    #[cfg(not(unix))]
    let _ = (file, path, rule);
    Ok(())
}

/// [`check_private`] on metadata already read (with `symlink_metadata`, so a symlink is seen as one).
#[cfg(unix)]
pub fn check_metadata(uid: u32, mode: u32, is_dir: bool, path: &Path, rule: Private) -> anyhow::Result<()> {
    let me = current_uid();
    if uid != me {
        bail!(
            "{} is owned by user id {uid}, not by you (user id {me}), so anyone with that account could change it; \
             refusing to use it: if it is yours, run `chown {me} '{}'`, else move it aside",
            path.display(),
            path.display()
        );
    }
    let others = match rule {
        Private::WritableByOwnerOnly => 0o022,
        Private::OwnerOnly => 0o077,
    };
    if mode & others != 0 {
        let wanted = match (rule, is_dir) {
            (Private::OwnerOnly, true) | (Private::WritableByOwnerOnly, true) => "700",
            (Private::OwnerOnly, false) | (Private::WritableByOwnerOnly, false) => "600",
        };
        let what = if rule == Private::OwnerOnly { "readable or writable" } else { "writable" };
        bail!(
            "{} is {what} by other users (mode {:03o}); refusing to use it: run `chmod {wanted} '{}'`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

/// Creates the directory `dir` (and its parents) if needed, gives a directory it created mode
/// 0700 explicitly (not via the umask), and checks the directory is owned by the current user,
/// not writable by others and not a symlink.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                builder.mode(0o700);
            }
            match builder.create(dir) {
                Ok(()) => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt as _;
                        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                            .with_context(|| format!("cannot make {} private", dir.display()))?;
                    }
                }
                // Another process made it first: it is checked below like any existing one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
            }
        }
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "{} is a symlink; refusing to use it (whoever can change the link chooses the directory): \
             point the setting at the real directory",
            dir.display()
        );
    }
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        check_metadata(meta.uid(), meta.mode(), true, dir, Private::WritableByOwnerOnly)?;
    }
    Ok(())
}

/// Checks a directory the host keeps a private file in but may share with others, such as the
/// connection store's: it must be owned by the current user or root, and others may write it
/// only when it is sticky (like `/tmp`, where nobody can rename or delete another's files).
/// Files created in it are safe then: temporary names are random and created with `O_EXCL`,
/// and a lock or store file planted by another user is refused for its owner.
pub fn check_shared_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
        let me = current_uid();
        if meta.uid() != me && meta.uid() != 0 {
            bail!(
                "{} is owned by user id {}, who could swap the files in it; refusing to keep connections there: \
                 use a directory of your own",
                dir.display(),
                meta.uid()
            );
        }
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
            bail!(
                "{} is writable by other users (mode {:03o}), who could swap the files in it; refusing to keep \
                 connections there: run `chmod go-w '{}'` or use a directory of your own",
                dir.display(),
                meta.mode() & 0o777,
                dir.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Text safe to print on a terminal: control characters (escape sequences included) are shown
/// escaped, as `\u{1b}`, never raw.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dt-fsutil-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn an_atomic_write_replaces_a_symlink_at_the_target_instead_of_following_it() {
        let dir = temp_dir("symlink-target");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.join("state");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_atomically(&target, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn an_atomic_write_sets_its_mode_whatever_the_umask_and_leaves_no_temporary_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("mode");
        let target = dir.join("file");
        write_atomically(&target, b"x", 0o600).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from("file")]);
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_file_that_is_a_symlink_is_refused() {
        let dir = temp_dir("lock");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let lock = dir.join("x.lock");
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        let err = open_lock(&lock).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
    }

    #[test]
    fn an_endless_file_is_read_only_up_to_its_bound() {
        let err = read_bounded(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(err.to_string().contains("larger than the 1024 bytes"), "{err}");
    }

    #[test]
    fn control_characters_are_printed_escaped() {
        assert_eq!(printable("lab\u{1b}[2Jx"), "lab\\u{1b}[2Jx");
        assert_eq!(printable("plain"), "plain");
    }
}
