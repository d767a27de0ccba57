//! DuckDB glob patterns over the time-partitioned layout
//! `<database>/<measurement>/YYYY/MM/DD/HH/*.parquet`, as the Go package
//! builds them.

use std::time::SystemTime;

use crate::time::{civil_from_days, utc_day_number};

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
            query_path(root, database, measurement, year, Some(day.month), Some(day.day), None)
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
        let got = query_path_range("s3://test-bucket/tenant/", "metrics", "cpu", at(1_793_462_400), at(1_793_667_600));
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
