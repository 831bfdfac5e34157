//! The connector manifest, compiled in so `describe()` always matches the build.

/// The manifest document (`manifests/darktrace.json`), as JSON text.
pub const MANIFEST: &str = include_str!("../../manifests/darktrace.json");
