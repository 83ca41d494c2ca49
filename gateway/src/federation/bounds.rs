//! Bounds on what credgate reads from a platform: bytes, and the number of
//! containers parsing them would build.

/// Largest upstream response body credgate reads.
pub(crate) const MAX_UPSTREAM_BODY: usize = 8 * 1024 * 1024;

/// Most containers (JSON objects and arrays, XML elements) an upstream
/// answer may hold. The byte bound alone does not bound memory: 8 MiB of
/// `[{},{},…]` parsed into Ningbo's penalty struct (256 bytes per item)
/// peaked at +682 MiB (measured, release build); at this bound an answer
/// costs at most ≈ 25–50 MiB. A real report of 8 MiB holds a few tens of
/// thousands of items.
pub(crate) const MAX_UPSTREAM_CONTAINERS: usize = 100_000;

/// An upper bound on the containers in `body`: every `{`, `[` and `<`
/// byte, inside strings or not (which only makes the bound stricter).
/// Counted by hand because serde_json and quick-xml have depth limits but
/// no element-count limit; one vectorisable pass over the bytes.
pub(crate) fn containers(body: &[u8]) -> usize {
    body.iter()
        .filter(|&&b| b == b'{' || b == b'[' || b == b'<')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_bound_objects_arrays_and_elements() {
        assert_eq!(containers(br#"{"a":[{"b":1},{"c":"x<y"}]}"#), 5);
        assert_eq!(containers(b"<r><i/><i/></r>"), 4, "closing tags count too");
        assert_eq!(containers(b"plain"), 0);
        // The amplification case: an 8 MiB array of empty objects.
        let flood = format!("[{}{{}}]", "{},".repeat(MAX_UPSTREAM_CONTAINERS));
        assert!(containers(flood.as_bytes()) > MAX_UPSTREAM_CONTAINERS);
    }
}
