//! Helpers shared by the C store configurations (`blobio_s3_config`,
//! `blobio_azure_config`): optional strings and the transport settings.

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use super::boundary::{c_str, FfiResult};
use crate::http::HttpConfig;

/// An optional string field: NULL is `None`.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid during the call.
pub(super) unsafe fn opt_str(ptr: *const c_char, name: &'static str) -> FfiResult<Option<String>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated, as promised.
    unsafe { c_str(ptr, name.into()) }.map(|s| Some(s.to_owned()))
}

/// A timeout in milliseconds where 0 keeps `default`.
fn millis(ms: u32, default: Duration) -> Duration {
    if ms == 0 {
        default
    } else {
        Duration::from_millis(u64::from(ms))
    }
}

/// The timeout fields of a C store configuration, in milliseconds (0: the
/// default of each).
pub(super) struct TimeoutsMs {
    pub connect: u32,
    pub request: u32,
    pub stall: u32,
}

/// Sets `http` from a C configuration's timeouts and CA bundle path (NULL
/// leaves the backend's own choice).
///
/// # Safety
/// `ca_bundle` is NULL or a NUL-terminated string valid during the call.
pub(super) unsafe fn apply_http(
    http: &mut HttpConfig,
    ms: TimeoutsMs,
    ca_bundle: *const c_char,
) -> FfiResult<()> {
    let defaults = http.timeouts;
    http.timeouts.connect = millis(ms.connect, defaults.connect);
    http.timeouts.request = millis(ms.request, defaults.request);
    http.timeouts.stall = millis(ms.stall, defaults.stall);
    // SAFETY: as promised by the caller.
    http.ca_bundle = unsafe { opt_str(ca_bundle, "cfg->ca_bundle_path") }?.map(PathBuf::from);
    Ok(())
}

/// Sets a store's parallel-read settings (threshold, part size,
/// concurrency) from a C configuration, where 0 keeps each default.
pub(super) fn apply_downloads(
    (threshold, part_size, concurrency): (&mut u64, &mut u64, &mut usize),
    c_threshold: u64,
    c_part_size: u64,
    c_concurrency: u32,
) {
    if c_threshold != 0 {
        *threshold = c_threshold;
    }
    if c_part_size != 0 {
        *part_size = c_part_size;
    }
    if c_concurrency != 0 {
        *concurrency = c_concurrency as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_keeps_each_default_and_other_values_are_milliseconds() {
        let mut http = HttpConfig::default();
        let defaults = http.timeouts;
        let ms = TimeoutsMs {
            connect: 0,
            request: 1_500,
            stall: 250,
        };
        assert!(unsafe { apply_http(&mut http, ms, std::ptr::null()) }.is_ok());
        assert_eq!(http.timeouts.connect, defaults.connect);
        assert_eq!(http.timeouts.request, Duration::from_millis(1_500));
        assert_eq!(http.timeouts.stall, Duration::from_millis(250));
        assert_eq!(http.ca_bundle, None);
    }

    #[test]
    fn download_settings_of_zero_keep_their_defaults() {
        let (mut t, mut p, mut c) = (32u64, 8u64, 4usize);
        apply_downloads((&mut t, &mut p, &mut c), 0, 0, 0);
        assert_eq!((t, p, c), (32, 8, 4));
        apply_downloads((&mut t, &mut p, &mut c), u64::MAX, 1 << 20, 6);
        assert_eq!((t, p, c), (u64::MAX, 1 << 20, 6));
    }
}
