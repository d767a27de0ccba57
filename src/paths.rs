//! Key validation, the rule every store applies to every path, and S3
//! prefix sanitising. A leaf: it knows no store.

use crate::error::{Error, Result};

/// Validates an object key and returns it without its leading `/`s.
///
/// Refused, as [`Error::InvalidPath`] naming the key: an empty key, a NUL
/// byte, a `.` or `..` component, an empty component (`a//b`) and a trailing
/// `/`. Every backend applies the same rule so that a key means the same
/// object everywhere. Names that merely contain dots (`a..b.parquet`) are
/// legal and kept as given.
pub fn validate_key(path: &str) -> Result<&str> {
    if path.contains('\0') {
        return Err(Error::invalid_path(path, "contains a NUL byte"));
    }
    let key = path.trim_start_matches('/');
    if key.is_empty() {
        return Err(Error::invalid_path(path, "empty key"));
    }
    check_components(path, key, false)?;
    Ok(key)
}

/// Validates a listing prefix and returns it without its leading `/`s.
///
/// A prefix may be empty, end in `/`, or end in a partial name (`db/cp`
/// matches `db/cpu/...`), but may not contain NUL bytes or `.`/`..` components.
pub fn validate_prefix(prefix: &str) -> Result<&str> {
    if prefix.contains('\0') {
        return Err(Error::invalid_path(prefix, "contains a NUL byte"));
    }
    let key = prefix.trim_start_matches('/');
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
