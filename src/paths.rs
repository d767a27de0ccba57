//! Key validation, the rule every store applies to every path, and S3
//! prefix sanitising. A leaf: it knows no store.

use crate::error::{Error, Result};

/// The longest key, in bytes of UTF-8 (after its leading `/`s): S3's limit
/// for an object's name, which is also within Azure's 1,024 characters. The
/// local store holds keys to it too, so a key that is valid on one store is
/// valid on every store (a remote store's own prefix counts against its
/// limit: see [`check_name_length`]).
pub const MAX_KEY_BYTES: usize = 1024;

/// Validates an object key and returns it without its leading `/`s.
///
/// Refused, as [`Error::InvalidPath`] naming the key: an empty key, a NUL
/// byte, a `.` or `..` component, an empty component (`a//b`), a trailing
/// `/`, and a key longer than [`MAX_KEY_BYTES`]. Every backend applies the
/// same rule so that a key means the same object everywhere. Names that
/// merely contain dots (`a..b.parquet`) are legal and kept as given.
pub fn validate_key(path: &str) -> Result<&str> {
    if path.contains('\0') {
        return Err(Error::invalid_path(path, "contains a NUL byte"));
    }
    let key = path.trim_start_matches('/');
    if key.is_empty() {
        return Err(Error::invalid_path(path, "empty key"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid_path(
            path,
            "longer than 1024 bytes of UTF-8, the longest key S3 and Azure accept",
        ));
    }
    check_components(path, key, false)?;
    Ok(key)
}

/// How an object store measures the length of an object's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameUnit {
    /// Bytes of UTF-8 (S3).
    Bytes,
    /// Characters (Azure Blob Storage).
    Chars,
}

/// Refuses, before any request, a full object name (the store's prefix
/// and the key) that the service would refuse: longer than 1,024 `unit`s.
/// `path` is the caller's, for the error. The key alone is within the limit
/// already ([`validate_key`]), so a name too long is the prefix's doing,
/// and the message says so.
pub(crate) fn check_name_length(path: &str, full_name: &str, unit: NameUnit) -> Result<()> {
    let (too_long, reason) = match unit {
        NameUnit::Bytes => (
            full_name.len() > MAX_KEY_BYTES,
            "with the store's prefix, longer than 1024 bytes of UTF-8, \
             the longest object name S3 accepts",
        ),
        NameUnit::Chars => (
            full_name.chars().count() > MAX_KEY_BYTES,
            "with the store's prefix, longer than 1024 characters, \
             the longest blob name Azure Blob Storage accepts",
        ),
    };
    if too_long {
        return Err(Error::invalid_path(path, reason));
    }
    Ok(())
}

/// Validates a listing prefix and returns it without its leading `/`s.
///
/// A prefix may be empty, end in `/`, or end in a partial name (`db/cp`
/// matches `db/cpu/...`), but may not contain NUL bytes or `.`/`..`
/// components, nor be longer than [`MAX_KEY_BYTES`] (no key could start
/// with it; refused alike on every store rather than sent, where each
/// service answers it its own way).
pub fn validate_prefix(prefix: &str) -> Result<&str> {
    if prefix.contains('\0') {
        return Err(Error::invalid_path(prefix, "contains a NUL byte"));
    }
    let key = prefix.trim_start_matches('/');
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid_path(
            prefix,
            "longer than 1024 bytes of UTF-8, the longest key S3 and Azure accept: no key starts with it",
        ));
    }
    check_components(prefix, key, true)?;
    Ok(key)
}

fn check_components(original: &str, key: &str, is_prefix: bool) -> Result<()> {
    let mut parts = key.split('/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        match part {
            ".." => return Err(Error::invalid_path(original, "contains a '..' component")),
            "." => return Err(Error::invalid_path(original, "contains a '.' component")),
            "" if last && is_prefix => {}
            "" if last => return Err(Error::invalid_path(original, "ends with '/'")),
            "" => return Err(Error::invalid_path(original, "contains an empty component ('//')")),
            _ => {}
        }
    }
    Ok(())
}

/// Normalises an S3 key prefix the way the Go package does.
///
/// Trims spaces, strips leading `/`, and ensures exactly one trailing `/`.
/// A prefix containing `..` or any character outside `[A-Za-z0-9/_.-]` is
/// refused by returning `""` (and a warning through `log`). An empty prefix
/// stays empty.
pub fn sanitize_s3_prefix(prefix: &str) -> String {
    let p = prefix.trim().trim_start_matches('/');
    if p.is_empty() {
        return String::new();
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-');
    if p.contains("..") || !p.chars().all(allowed) {
        log::warn!("refusing unsafe S3 prefix {prefix:?}; using no prefix");
        return String::new();
    }
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        return String::new();
    }
    format!("{p}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_lose_leading_slashes_and_keep_inner_dots() {
        assert_eq!(validate_key("/a/b.parquet").unwrap(), "a/b.parquet");
        assert_eq!(validate_key("a..b.parquet").unwrap(), "a..b.parquet");
        assert_eq!(validate_key("x/...").unwrap(), "x/...");
    }

    #[test]
    fn bad_keys_are_invalid_path_errors_naming_the_key() {
        for bad in ["", "/", "a/../b", "..", "a/./b", "a//b", "a/", "a\0b"] {
            let err = validate_key(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidPath, "{bad:?}");
            assert_eq!(err.path(), Some(bad));
        }
    }

    #[test]
    fn keys_longer_than_1024_bytes_are_invalid_path_saying_the_limit() {
        let longest = format!("d/{}", "k".repeat(MAX_KEY_BYTES - 2));
        assert_eq!(validate_key(&longest).unwrap(), longest);
        // A leading `/` is not part of the key.
        assert_eq!(validate_key(&format!("/{longest}")).unwrap(), longest);
        let err = validate_key(&format!("{longest}x")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidPath);
        assert!(err.to_string().contains("longer than 1024 bytes of UTF-8"), "{err}");
        // Bytes, not characters: 342 three-byte characters are 1,026 bytes.
        let err = validate_key(&"\u{20ac}".repeat(342)).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidPath);
        validate_key(&"\u{20ac}".repeat(341)).unwrap();
    }

    #[test]
    fn full_names_are_measured_in_the_services_unit() {
        // 1,000 characters after the prefix, 3,000 bytes.
        let full = format!("tenant/{}", "\u{20ac}".repeat(1000));
        let s3 = check_name_length("k", &full, NameUnit::Bytes).unwrap_err();
        assert_eq!(s3.kind(), crate::ErrorKind::InvalidPath);
        assert!(s3.to_string().contains("with the store's prefix"), "{s3}");
        assert!(s3.to_string().contains("1024 bytes of UTF-8"), "{s3}");
        check_name_length("k", &full, NameUnit::Chars).unwrap();
        let full = format!("tenant/{}", "a".repeat(MAX_KEY_BYTES - 7));
        check_name_length("k", &full, NameUnit::Bytes).unwrap();
        check_name_length("k", &full, NameUnit::Chars).unwrap();
        let az = check_name_length("k", &format!("{full}a"), NameUnit::Chars).unwrap_err();
        assert!(az.to_string().contains("1024 characters"), "{az}");
    }

    #[test]
    fn prefixes_may_be_empty_or_partial() {
        assert_eq!(validate_prefix("").unwrap(), "");
        assert_eq!(validate_prefix("/db/cp").unwrap(), "db/cp");
        assert_eq!(validate_prefix("db/").unwrap(), "db/");
        assert!(validate_prefix("db/../x").is_err());
        assert!(validate_prefix("db\0").is_err());
    }

    #[test]
    fn sanitize_s3_prefix_matches_go_behaviour() {
        assert_eq!(sanitize_s3_prefix(""), "");
        assert_eq!(sanitize_s3_prefix("   "), "");
        assert_eq!(sanitize_s3_prefix("arc"), "arc/");
        assert_eq!(sanitize_s3_prefix(" /arc/data/ "), "arc/data/");
        assert_eq!(sanitize_s3_prefix("arc//"), "arc/");
        assert_eq!(sanitize_s3_prefix("tenant-1/v_2.0"), "tenant-1/v_2.0/");
        assert_eq!(sanitize_s3_prefix("../etc"), "");
        assert_eq!(sanitize_s3_prefix("a/../b"), "");
        assert_eq!(sanitize_s3_prefix("a b"), "");
        assert_eq!(sanitize_s3_prefix("a*"), "");
        assert_eq!(sanitize_s3_prefix("ünï"), "");
    }
}
