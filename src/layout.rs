//! The Arc / DuckDB layout helpers of the Go package: where a store's
//! files are for engines that read them directly (local base path, DuckDB
//! `read_parquet` globs over `<database>/<measurement>/YYYY/MM/DD/HH/`).

use std::time::SystemTime;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::time::{civil_from_days, utc_day_number};

/// The local base directory of `backend`, for features that need a real
/// directory.
///
/// For S3 and Azure this logs a warning through `log` that `feature` is not
/// supported there and returns `""`; for any other kind of backend it returns
/// `fallback`.
pub fn get_local_base_path(backend: &dyn Backend, feature: &str, fallback: &str) -> String {
    if let Some(base) = backend.local_base_path() {
        return base.to_string_lossy().into_owned();
    }
    // A store whose root is a URL (s3://, azure://) has no directory.
    if backend.storage_root().contains("://") {
        log::warn!(
            "{feature} not fully supported for {} backend yet",
            backend.kind()
        );
        return String::new();
    }
    fallback.to_owned()
}

/// The DuckDB `read_parquet` glob covering every Parquet file of one
/// database and measurement: `<root>/<database>/<measurement>/**/*.parquet`,
/// where the root is the base directory, `s3://bucket/prefix/` or
/// `azure://container/`.
///
/// `database` and `measurement` must each be one path segment without glob
/// characters; anything else is [`Error::InvalidArgument`].
pub fn get_storage_path(
    backend: &dyn Backend,
    database: &str,
    measurement: &str,
) -> Result<String> {
    validate_segment("database", database)?;
    validate_segment("measurement", measurement)?;
    Ok(format!(
        "{}{database}/{measurement}/**/*.parquet",
        backend.storage_root()
    ))
}

/// Validates one segment (database, measurement) of a read glob.
fn validate_segment(what: &str, segment: &str) -> Result<()> {
    let bad = segment.is_empty()
        || segment == "."
        || segment == ".."
        || segment
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '\0' | '*' | '?' | '[' | ']' | '{' | '}'));
    if bad {
        return Err(Error::invalid_argument(format!(
            "{what} {segment:?} must be one non-empty path segment without '/', NUL or glob characters"
        )));
    }
    Ok(())
}

/// The `s3://bucket/prefix/` root of a store in S3 (its
/// [`Backend::storage_root`]); [`Error::Unsupported`] naming `operation`
/// for any other store.
pub fn s3_root(backend: &dyn Backend, operation: &'static str) -> Result<String> {
    let root = backend.storage_root();
    if !root.starts_with("s3://") {
        return Err(Error::Unsupported {
            operation,
            backend: backend.kind(),
        });
    }
    Ok(root)
}

/// `s3://bucket/prefix/<key>` of a validated key of a store in S3.
pub fn s3_key_uri(backend: &dyn Backend, path: &str) -> Result<String> {
    let root = s3_root(backend, "an s3:// path")?;
    Ok(format!("{root}{}", crate::paths::validate_key(path)?))
}

/// [`query_path`] of a store in S3, every argument checked: `database`
/// and `measurement` as [`get_storage_path`] checks them, the year in
/// 0-9999, months 1-12, days 1-31, hours 0-23.
#[allow(clippy::too_many_arguments)]
pub fn s3_query_path(
    backend: &dyn Backend,
    database: &str,
    measurement: &str,
    year: i32,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
) -> Result<String> {
    let root = s3_root(backend, "a DuckDB query path")?;
    validate_segment("database", database)?;
    validate_segment("measurement", measurement)?;
    if !(0..=9999).contains(&year) {
        return Err(Error::invalid_argument(format!(
            "year {year} is out of range 0..=9999"
        )));
    }
    for (name, value, range) in [
        ("month", month, 1..=12),
        ("day", day, 1..=31),
        ("hour", hour, 0..=23),
    ] {
        if let Some(v) = value.filter(|v| !range.contains(v)) {
            return Err(Error::invalid_argument(format!(
                "{name} {v} is out of range {}..={}",
                range.start(),
                range.end()
            )));
        }
    }
    Ok(query_path(
        &root,
        database,
        measurement,
        year,
        month,
        day,
        hour,
    ))
}

/// [`query_path_range`] of a store in S3, `database` and `measurement`
/// checked.
pub fn s3_query_path_range(
    backend: &dyn Backend,
    database: &str,
    measurement: &str,
    start: SystemTime,
    end: SystemTime,
) -> Result<Vec<String>> {
    let root = s3_root(backend, "DuckDB query paths")?;
    validate_segment("database", database)?;
    validate_segment("measurement", measurement)?;
    Ok(query_path_range(&root, database, measurement, start, end))
}

/// `s3://<bucket>/<prefix><path>`.
pub(crate) fn s3_path(bucket: &str, prefix: &str, path: &str) -> String {
    format!("s3://{bucket}/{prefix}{}", path.trim_start_matches('/'))
}

/// The glob for one year, month, day or hour; `None` is a wildcard level.
/// A finer level is used only when every coarser one is given.
pub(crate) fn query_path(
    root: &str,
    database: &str,
    measurement: &str,
    year: i32,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
) -> String {
    let base = format!("{root}{database}/{measurement}/{year:04}");
    match (month, day, hour) {
        (Some(m), Some(d), Some(h)) => format!("{base}/{m:02}/{d:02}/{h:02}/*.parquet"),
        (Some(m), Some(d), None) => format!("{base}/{m:02}/{d:02}/*/*.parquet"),
        (Some(m), None, _) => format!("{base}/{m:02}/*/*/*.parquet"),
        (None, _, _) => format!("{base}/*/*/*/*.parquet"),
    }
}

/// One day-level glob per UTC calendar day from `start` to `end`
/// inclusive. Empty when `end` is before `start`.
pub(crate) fn query_path_range(
    root: &str,
    database: &str,
    measurement: &str,
    start: SystemTime,
    end: SystemTime,
) -> Vec<String> {
    (utc_day_number(start)..=utc_day_number(end))
        .map(|n| {
            let day = civil_from_days(n);
            // Years beyond i32 are beyond SystemTime on every platform.
            let year = i32::try_from(day.year).unwrap_or(i32::MAX);
            query_path(
                root,
                database,
                measurement,
                year,
                Some(day.month),
                Some(day.day),
                None,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const ROOT: &str = "s3://bucket/";

    #[test]
    fn query_path_levels_match_the_go_examples() {
        assert_eq!(
            query_path(ROOT, "mydb", "cpu", 2025, Some(11), None, None),
            "s3://bucket/mydb/cpu/2025/11/*/*/*.parquet"
        );
        assert_eq!(
            query_path(ROOT, "mydb", "cpu", 2025, Some(11), Some(25), None),
            "s3://bucket/mydb/cpu/2025/11/25/*/*.parquet"
        );
        assert_eq!(
            query_path(ROOT, "mydb", "cpu", 2025, Some(11), Some(25), Some(16)),
            "s3://bucket/mydb/cpu/2025/11/25/16/*.parquet"
        );
        assert_eq!(
            query_path(ROOT, "mydb", "cpu", 2025, None, None, None),
            "s3://bucket/mydb/cpu/2025/*/*/*/*.parquet"
        );
        // Hour 0 is a real hour here (the Go API could not express it).
        assert_eq!(
            query_path(ROOT, "mydb", "cpu", 2025, Some(1), Some(2), Some(0)),
            "s3://bucket/mydb/cpu/2025/01/02/00/*.parquet"
        );
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn range_gives_one_pattern_per_utc_day_inclusive() {
        // 2026-10-31T16:00Z .. 2026-11-03T01:00Z (the Go test's instants).
        let got = query_path_range(
            "s3://test-bucket/tenant/",
            "metrics",
            "cpu",
            at(1_793_462_400),
            at(1_793_667_600),
        );
        assert_eq!(
            got,
            vec![
                "s3://test-bucket/tenant/metrics/cpu/2026/10/31/*/*.parquet",
                "s3://test-bucket/tenant/metrics/cpu/2026/11/01/*/*.parquet",
                "s3://test-bucket/tenant/metrics/cpu/2026/11/02/*/*.parquet",
                "s3://test-bucket/tenant/metrics/cpu/2026/11/03/*/*.parquet",
            ]
        );
        assert!(query_path_range(ROOT, "d", "m", at(1_000_000), at(10)).is_empty());
        assert_eq!(query_path_range(ROOT, "d", "m", at(10), at(10)).len(), 1);
    }

    #[test]
    fn s3_path_joins_bucket_prefix_and_key() {
        assert_eq!(s3_path("b", "p/", "/db/x.parquet"), "s3://b/p/db/x.parquet");
        assert_eq!(s3_path("b", "", "x"), "s3://b/x");
    }
}
