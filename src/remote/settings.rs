//! The transfer settings every remote store has, under the names its
//! protocol gives them, and their bounds: each is checked when the store is
//! opened, so no setting can make a later transfer allocate without limit.

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// Downloads of more than this many bytes fetch ranges in parallel. 32 MiB.
pub const DEFAULT_DOWNLOAD_THRESHOLD: u64 = 32 * 1024 * 1024;
/// Size of each range of a parallel download. 8 MiB.
pub const DEFAULT_DOWNLOAD_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Ranges of one download in flight at once.
pub const DEFAULT_DOWNLOAD_CONCURRENCY: usize = 4;
/// A read to a writer fetches the rest of a large object in parallel ranges
/// when its first answer arrives slower than this many bytes per second
/// (256 MiB/s), as one more stream when faster.
pub const DEFAULT_DOWNLOAD_PARALLEL_BELOW: u64 = 256 * 1024 * 1024;
/// Ranges of a vectored read closer than this go in one request. 1 MiB.
pub const DEFAULT_COALESCE_GAP: u64 = 1024 * 1024;
/// Most parts, ranges or batch requests of one transfer in flight at once
/// (and so the largest worker pool a store starts).
pub const MAX_CONCURRENCY: usize = 256;
/// Largest range of a parallel download: 5 GiB.
pub const MAX_DOWNLOAD_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Refuses a setting with a control character: it would end up in a URL or
/// a header (a CR/LF in an endpoint would change the request; one in an
/// account name would fail every request later).
pub(crate) fn no_control(store: &str, what: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_argument(format!(
            "{store} {what} {value:?} contains a control character"
        )));
    }
    Ok(())
}

/// What a protocol allows of an upload in parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// What the store calls a part (`"part"`, `"block"`).
    pub(crate) unit: &'static str,
    /// Bounds of every part but the last.
    pub(crate) min_part: u64,
    pub(crate) max_part: u64,
    /// Most parts of one object.
    pub(crate) max_parts: u32,
    /// Largest object sent in one request.
    pub(crate) max_single_put: u64,
}

/// The names a protocol gives the settings, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Names {
    /// `"S3"`, `"Azure"`.
    pub(crate) store: &'static str,
    pub(crate) single_put_threshold: &'static str,
    pub(crate) part_size: &'static str,
}

/// When reads go parallel, in what ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Download {
    /// More bytes than this to read: parallel ranges.
    pub(crate) threshold: u64,
    /// Bytes per range.
    pub(crate) part_size: u64,
    /// Ranges in flight at once.
    pub(crate) concurrency: usize,
    /// Reads to a writer: parallel ranges when the first answer comes
    /// slower than this many bytes per second; 0: always.
    pub(crate) parallel_below: u64,
    /// `read_ranges`: ranges closer than this share a request.
    pub(crate) coalesce_gap: u64,
}

/// The checked settings of one remote store.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Key prefix (empty or ending in `/`), applied to every key.
    pub(crate) prefix: String,
    /// Uploads of a known size below this go as one request.
    pub(crate) single_put_threshold: u64,
    /// Every part of an upload in parts but the last has this size.
    pub(crate) part_size: u64,
    /// Parts (and batch requests) in flight at once.
    pub(crate) upload_concurrency: usize,
    /// Server-side copies of objects larger than this go in parts
    /// (`u64::MAX`: the store copies any size in one request).
    pub(crate) copy_threshold: u64,
    pub(crate) download: Download,
    /// What uploads send to have their bytes checked.
    pub(crate) checksum: crate::checksum::ChecksumAlgorithm,
    pub(crate) retry: RetryPolicy,
    pub(crate) limits: Limits,
    pub(crate) names: Names,
}

impl Settings {
    /// Checks every setting against `limits`; the error names the setting.
    pub(crate) fn check(self) -> Result<Self> {
        let Names {
            store,
            single_put_threshold,
            part_size,
        } = self.names;
        let l = self.limits;
        if !(l.min_part..=l.max_part).contains(&self.part_size) {
            return Err(Error::invalid_argument(format!(
                "{store} {part_size} {} must be between {} and {} bytes",
                self.part_size, l.min_part, l.max_part
            )));
        }
        if self.single_put_threshold > l.max_single_put {
            return Err(Error::invalid_argument(format!(
                "{store} {single_put_threshold} {} is above the single-request limit of {} bytes",
                self.single_put_threshold, l.max_single_put
            )));
        }
        let concurrency = |name: &str, n: usize| {
            if (1..=MAX_CONCURRENCY).contains(&n) {
                Ok(())
            } else {
                Err(Error::invalid_argument(format!(
                    "{store} {name} {n} must be between 1 and {MAX_CONCURRENCY}"
                )))
            }
        };
        concurrency("upload_concurrency", self.upload_concurrency)?;
        concurrency("download_concurrency", self.download.concurrency)?;
        if !(1..=MAX_DOWNLOAD_PART_SIZE).contains(&self.download.part_size) {
            return Err(Error::invalid_argument(format!(
                "{store} download_part_size {} must be between 1 and {MAX_DOWNLOAD_PART_SIZE} bytes",
                self.download.part_size
            )));
        }
        self.retry.validate(store)?;
        Ok(self)
    }

    /// Fails when an upload of `size` bytes would need more parts than the
    /// store allows.
    pub(crate) fn check_upload_size(&self, path: &str, size: u64) -> Result<()> {
        let most = self
            .part_size
            .saturating_mul(u64::from(self.limits.max_parts));
        if size > most {
            return Err(self.too_many_parts(path));
        }
        Ok(())
    }

    pub(crate) fn too_many_parts(&self, path: &str) -> Error {
        Error::invalid_argument(format!(
            "{path}: more than {max} {unit}s of {size} bytes; raise {store} {name}",
            max = self.limits.max_parts,
            unit = self.limits.unit,
            size = self.part_size,
            store = self.names.store,
            name = self.names.part_size,
        ))
    }

    /// The worker pool's size: enough for either direction.
    pub(crate) fn pool_size(&self) -> usize {
        self.upload_concurrency.max(self.download.concurrency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn settings() -> Settings {
        Settings {
            prefix: String::new(),
            single_put_threshold: 100,
            part_size: 5 << 20,
            upload_concurrency: 4,
            copy_threshold: u64::MAX,
            download: Download {
                threshold: 1,
                part_size: 1,
                concurrency: 1,
                parallel_below: 0,
                coalesce_gap: 0,
            },
            checksum: crate::checksum::ChecksumAlgorithm::Crc32c,
            retry: RetryPolicy::default(),
            limits: Limits {
                unit: "part",
                min_part: 5 << 20,
                max_part: 5 << 30,
                max_parts: 10_000,
                max_single_put: 5 << 30,
            },
            names: Names {
                store: "S3",
                single_put_threshold: "multipart_threshold",
                part_size: "part_size",
            },
        }
    }

    #[test]
    fn every_setting_is_bounded_and_named_in_its_error() {
        assert!(settings().check().is_ok());
        let cases: Vec<(Settings, &str)> = vec![
            (
                Settings {
                    part_size: 1 << 50,
                    ..settings()
                },
                "part_size",
            ),
            (
                Settings {
                    part_size: 1,
                    ..settings()
                },
                "part_size",
            ),
            (
                Settings {
                    upload_concurrency: u32::MAX as usize,
                    ..settings()
                },
                "upload_concurrency",
            ),
            (
                Settings {
                    upload_concurrency: 0,
                    ..settings()
                },
                "upload_concurrency",
            ),
            (
                Settings {
                    download: Download {
                        concurrency: u32::MAX as usize,
                        ..settings().download
                    },
                    ..settings()
                },
                "download_concurrency",
            ),
            (
                Settings {
                    download: Download {
                        part_size: 1 << 50,
                        ..settings().download
                    },
                    ..settings()
                },
                "download_part_size",
            ),
            (
                Settings {
                    single_put_threshold: 1 << 40,
                    ..settings()
                },
                "multipart_threshold",
            ),
        ];
        for (s, name) in cases {
            let err = s.check().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn an_upload_needing_too_many_parts_is_refused_before_it_starts() {
        let s = settings();
        assert!(s.check_upload_size("k", (5 << 20) * 10_000).is_ok());
        let err = s
            .check_upload_size("k", (5 << 20) * 10_000 + 1)
            .unwrap_err();
        assert!(err.to_string().contains("more than 10000 parts"), "{err}");
    }
}
