//! UTC calendar arithmetic and the three date formats the stores speak:
//! HTTP dates (`x-ms-date`, `Last-Modified`, `Retry-After`), RFC 3339
//! timestamps (S3 listings) and calendar days (DuckDB query paths).
//!
//! Written here rather than taken from a date crate: blobio needs only these
//! few conversions, all in UTC, and a static binary should not carry a time
//! zone engine for them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTH_NAMES: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A calendar day in the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
}

/// Days since 1970-01-01 of a calendar day (negative before it). The year
/// is shifted to start in March, so the leap day ends it.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400; // 0..=399
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The calendar day `days` after 1970-01-01 (the inverse of
/// [`days_from_civil`]).
pub(crate) fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // 0..=146096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153; // month from March, 0..=11
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Date { year, month, day }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whole seconds since the epoch, rounded down (negative before it).
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let before = e.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            if before.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

/// The UTC day of `t`, as days since 1970-01-01.
pub(crate) fn utc_day_number(t: SystemTime) -> i64 {
    unix_seconds(t).div_euclid(SECS_PER_DAY)
}

fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    let at = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    at.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// The instant of a UTC calendar time, when every field is in range.
fn from_civil(date: Date, hour: u32, minute: u32, second: u32, nanos: u32) -> Option<SystemTime> {
    let valid = (1..=12).contains(&date.month)
        && (1..=days_in_month(date.year, date.month)).contains(&date.day)
        && hour < 24
        && minute < 60
        // 60: a leap second, counted as the next second's start (as POSIX does).
        && second <= 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(date.year, date.month, date.day);
    let secs = days
        .checked_mul(SECS_PER_DAY)?
        .checked_add(i64::from(hour * 3600 + minute * 60 + second))?;
    from_unix(secs, nanos)
}

/// `t` as an IMF-fixdate (RFC 9110 5.6.7), as `x-ms-date` wants it:
/// `Tue, 14 Nov 2023 22:13:20 GMT`. Sub-second parts are dropped.
pub(crate) fn http_date(t: SystemTime) -> String {
    let secs = unix_seconds(t);
    let days = secs.div_euclid(SECS_PER_DAY);
    let rest = secs.rem_euclid(SECS_PER_DAY);
    let date = civil_from_days(days);
    // 1970-01-01 was a Thursday (index 3 from Monday).
    let weekday = DAY_NAMES[(days + 3).rem_euclid(7) as usize];
    format!(
        "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        date.day,
        MONTH_NAMES[date.month as usize - 1],
        date.year,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A number of exactly `len` ASCII digits.
fn digits(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn month_number(name: &str) -> Option<u32> {
    MONTH_NAMES.iter().position(|m| *m == name).map(|i| i as u32 + 1)
}

/// `HH:MM:SS`.
fn clock(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split(':');
    let hms = (
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
    );
    parts.next().is_none().then_some(hms)
}

/// An HTTP date in any of the three forms RFC 9110 5.6.7 tells recipients to
/// accept: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete
/// RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`). The day name is not checked against the
/// date, as the RFC allows.
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let fields: Vec<&str> = s.split_ascii_whitespace().collect();
    let (date, time) = match fields.as_slice() {
        [_day_name, day, month, year, time, "GMT"] => {
            let date = Date {
                year: i64::from(digits(year, 4)?),
                month: month_number(month)?,
                day: digits(day, 2)?,
            };
            (date, *time)
        }
        [_day_name, dmy, time, "GMT"] => {
            let mut parts = dmy.split('-');
            let day = digits(parts.next()?, 2)?;
            let month = month_number(parts.next()?)?;
            let yy = i64::from(digits(parts.next()?, 2)?);
            if parts.next().is_some() {
                return None;
            }
            // Two-digit years: the nearest century that is not more than
            // 50 years in the future (RFC 9110), as of the 21st century.
            let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
            (Date { year, month, day }, *time)
        }
        [_day_name, month, day, time, year] => {
            let day = match day.len() {
                1 => digits(day, 1)?,
                _ => digits(day, 2)?,
            };
            let date = Date {
                year: i64::from(digits(year, 4)?),
                month: month_number(month)?,
                day,
            };
            (date, *time)
        }
        _ => return None,
    };
    let (h, m, sec) = clock(time)?;
    from_civil(date, h, m, sec, 0)
}

/// An RFC 3339 timestamp as S3 listings give them:
/// `2009-10-12T17:50:30.000Z`, or with a numeric offset (`+02:00`).
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let (date, rest) = s.split_at_checked(10)?;
    let mut ymd = date.split('-');
    let date = Date {
        year: i64::from(digits(ymd.next()?, 4)?),
        month: digits(ymd.next()?, 2)?,
        day: digits(ymd.next()?, 2)?,
    };
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time, rest) = rest.split_at_checked(8)?;
    let (h, m, sec) = clock(time)?;
    // An optional fraction, then the offset.
    let (nanos, offset) = match rest.strip_prefix('.') {
        Some(frac) => {
            let end = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
            if end == 0 {
                return None;
            }
            let kept = &frac[..end.min(9)];
            let nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
            (nanos, &frac[end..])
        }
        None => (0, rest),
    };
    let offset_secs: i64 = match offset {
        "Z" | "z" => 0,
        // `+HH:MM` / `-HH:MM`, read by characters: the offset is untrusted
        // text and need not be ASCII (byte slicing could split a character).
        o => {
            let (sign, hh_mm) = match o.strip_prefix('+') {
                Some(rest) => (1, rest),
                None => (-1, o.strip_prefix('-')?),
            };
            let (hh, mm) = hh_mm.split_once(':')?;
            let (hh, mm) = (digits(hh, 2)?, digits(mm, 2)?);
            if hh > 23 || mm > 59 {
                return None;
            }
            sign * i64::from(hh * 60 + mm) * 60
        }
    };
    let local = from_civil(date, h, m, sec, nanos)?;
    // The instant is the local time minus its offset from UTC.
    let secs = unix_seconds(local).checked_sub(offset_secs)?;
    from_unix(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> SystemTime {
        from_unix(secs, 0).unwrap()
    }

    #[test]
    fn calendar_days_round_trip_across_eras_and_leap_years() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(-1), Date { year: 1969, month: 12, day: 31 });
        assert_eq!(civil_from_days(19_782), Date { year: 2024, month: 2, day: 29 });
        assert_eq!(civil_from_days(days_from_civil(1600, 2, 29)), Date { year: 1600, month: 2, day: 29 });
        // Every day of four centuries (1900 not leap, 2000 leap) maps back.
        let first = days_from_civil(1899, 12, 31);
        let mut prev = civil_from_days(first);
        for n in first + 1..days_from_civil(2300, 1, 1) {
            let d = civil_from_days(n);
            assert_eq!(days_from_civil(d.year, d.month, d.day), n);
            assert!(d > prev, "{d:?} after {prev:?}");
            assert!(d.day <= days_in_month(d.year, d.month));
            prev = d;
        }
        assert!(from_civil(Date { year: 1900, month: 2, day: 29 }, 0, 0, 0, 0).is_none());
        assert!(from_civil(Date { year: 2000, month: 2, day: 29 }, 0, 0, 0, 0).is_some());
    }

    #[test]
    fn http_dates_print_as_imf_fixdate() {
        assert_eq!(http_date(at(1_700_000_000)), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(at(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(at(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(at(-1)), "Wed, 31 Dec 1969 23:59:59 GMT");
        let with_nanos = at(1_700_000_000) + Duration::from_millis(999);
        assert_eq!(http_date(with_nanos), "Tue, 14 Nov 2023 22:13:20 GMT");
    }

    #[test]
    fn http_dates_parse_in_all_three_forms() {
        let t = Some(at(784_111_777));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), t);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), t);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), t);
        assert_eq!(parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"), Some(at(1_700_000_000)));
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37:00 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
        // What http_date prints, parse_http_date reads back.
        for secs in [0, 1_700_000_000, 4_102_444_799, -86_400 * 365] {
            assert_eq!(parse_http_date(&http_date(at(secs))), Some(at(secs)));
        }
    }

    #[test]
    fn rfc3339_timestamps_parse_with_fractions_and_offsets() {
        let base = at(1_255_369_830); // 2009-10-12T17:50:30Z
        assert_eq!(parse_rfc3339("2009-10-12T17:50:30Z"), Some(base));
        assert_eq!(parse_rfc3339("2009-10-12T17:50:30.000Z"), Some(base));
        assert_eq!(parse_rfc3339("2009-10-12T17:50:30.5Z"), Some(base + Duration::from_millis(500)));
        assert_eq!(
            parse_rfc3339("2009-10-12T17:50:30.1234567891Z"),
            Some(base + Duration::from_nanos(123_456_789))
        );
        assert_eq!(parse_rfc3339("2009-10-12T19:50:30+02:00"), Some(base));
        assert_eq!(parse_rfc3339("2009-10-12T12:20:30-05:30"), Some(base));
        assert_eq!(parse_rfc3339(" 2009-10-12t17:50:30z "), Some(base));
        for bad in [
            "",
            "2009-10-12",
            "2009-10-12T17:50:30",
            "2009-13-12T17:50:30Z",
            "2009-10-12T17:50:30.Z",
            "2009-10-12T17:50:30+0200",
            "2009-10-12X17:50:30Z",
            "09-10-12T17:50:30Z",
            "2009-10-12T17:50:3aZ",
            "2009-10-12T17:50:30Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    /// Found by the `http_dates` fuzz target: an offset of six bytes that
    /// are not six characters was sliced by bytes and panicked.
    #[test]
    fn rfc3339_offsets_that_are_not_ascii_or_out_of_range_are_refused() {
        assert_eq!(parse_rfc3339("2023-12-01T10:32:22+00\u{4f3}a"), None);
        assert_eq!(parse_rfc3339("2023-12-01T10:32:22+0\u{e9}00"), None);
        assert_eq!(parse_rfc3339("2023-12-01T10:32:22\u{e9}00:00"), None);
        assert_eq!(parse_rfc3339("2023-12-01T10:32:22+24:00"), None);
        assert_eq!(parse_rfc3339("2023-12-01T10:32:22-00:60"), None);
        assert_eq!(parse_rfc3339("2023-12-01T10:32:22+23:59"), Some(at(1_701_426_742 - 86_340)));
    }

    #[test]
    fn day_numbers_round_down_before_the_epoch() {
        assert_eq!(utc_day_number(at(0)), 0);
        assert_eq!(utc_day_number(at(86_399)), 0);
        assert_eq!(utc_day_number(at(86_400)), 1);
        assert_eq!(utc_day_number(at(-1)), -1);
        assert_eq!(utc_day_number(UNIX_EPOCH - Duration::from_millis(1)), -1);
        assert_eq!(utc_day_number(at(-86_400)), -1);
    }
}
