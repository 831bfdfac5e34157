//! The connector manifest, compiled in so `describe()` always matches the build.

/// The manifest document (`manifests/darktrace.json`), as JSON text.
pub const MANIFEST: &str = include_str!("../../manifests/darktrace.json");

/// The same document without the whitespace between tokens, LZ4-compressed by the build script:
/// the component embeds this instead of the pretty text, a ninth of the size.
static PACKED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/manifest.lz4"));

/// The manifest as compact JSON text: the same JSON value as [`MANIFEST`], which `describe()`
/// returns.
pub fn compact() -> String {
    // Both cannot fail for bytes the build script wrote; the unit test below unpacks them.
    let bytes = lz4_flex::block::decompress_size_prepended(PACKED).expect("the packed manifest unpacks");
    String::from_utf8(bytes).expect("the packed manifest is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_packed_manifest_is_the_same_json_value_as_the_file() {
        let compact = compact();
        let packed: Value = serde_json::from_str(&compact).unwrap();
        let pretty: Value = serde_json::from_str(MANIFEST).unwrap();
        assert_eq!(packed, pretty);
        assert_eq!(compact, serde_json::to_string(&pretty).unwrap(), "only whitespace between tokens is dropped");
    }
}
