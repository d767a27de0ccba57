//! S3 configuration: explicit fields, AWS environment fallbacks, endpoint
//! normalisation.

use std::fmt;
use crate::checksum::ChecksumAlgorithm;

use crate::http::HttpConfig;
use crate::remote::{
    DEFAULT_COALESCE_GAP, DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_DOWNLOAD_PARALLEL_BELOW,
    DEFAULT_DOWNLOAD_PART_SIZE, DEFAULT_DOWNLOAD_THRESHOLD,
};
use crate::retry::RetryPolicy;

/// Objects at or above this size are uploaded in parts. 100 MiB.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 100 * 1024 * 1024;
/// Size of every part but the last. 16 MiB.
pub const DEFAULT_PART_SIZE: u64 = 16 * 1024 * 1024;
/// Parts uploaded at once.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 5;
/// S3's lower bound on every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's upper bound on one part (5 GiB).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's limit on parts per upload.
pub const MAX_PARTS: u32 = 10_000;
/// Largest object CopyObject copies in one request, and the default
/// [`S3Config::copy_threshold`]: 5 GiB.
pub const MAX_COPY_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// A PEM file of CA certificates to trust when `http.ca_bundle` is empty
/// (the same variable the Azure backend reads).
pub(crate) const CA_BUNDLE_ENV: &str = "BLOBIO_CA_BUNDLE";

/// Configuration of an [`super::S3Backend`].
///
/// Missing credentials come from the AWS credential chain, in the SDKs'
/// order: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+
/// `AWS_SESSION_TOKEN`), web identity, the shared files' profile, container
/// credentials, EC2 instance metadata (see `docs/aws-credentials.md`); no
/// credentials anywhere is an error unless `skip_signature` is set. A
/// missing region falls back to `AWS_REGION`, `AWS_DEFAULT_REGION`, the
/// profile's `region`, the instance's (when the chain ends at instance
/// metadata), then `us-east-1`; a missing endpoint
/// to `AWS_ENDPOINT_URL_S3` then `AWS_ENDPOINT_URL` then AWS itself; an
/// empty `http.ca_bundle` to `BLOBIO_CA_BUNDLE`.
#[derive(Clone)]
pub struct S3Config {
    /// Bucket name (required).
    pub bucket: String,
    /// Region; see the fallbacks above.
    pub region: Option<String>,
    /// Endpoint URL for S3-compatible stores. A bare `host:port` gets
    /// `https://` or `http://` according to `use_ssl`.
    pub endpoint: Option<String>,
    /// Access key id.
    pub access_key: Option<String>,
    /// Secret access key.
    pub secret_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Send every request unsigned (a public bucket), whatever the
    /// credentials and the environment say. Default false.
    pub skip_signature: bool,
    /// The shared config/credentials files' profile to take credentials
    /// (and the region) from. Naming one skips the environment's keys and
    /// web identity; without it, `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
    /// The STS endpoint (for web identity and assumed roles); default
    /// `AWS_ENDPOINT_URL_STS`, else the region's STS endpoint.
    pub sts_endpoint: Option<String>,
    /// The EC2 instance metadata endpoint; default
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`.
    pub imds_endpoint: Option<String>,
    /// Scheme for a bare `host:port` endpoint. Default true.
    pub use_ssl: bool,
    /// Path-style URLs (`endpoint/bucket/key`) instead of virtual-hosted
    /// ones; what most S3-compatible stores want. Default false.
    pub path_style: bool,
    /// Key prefix under which this store lives, normalised by
    /// [`crate::sanitize_s3_prefix`].
    pub prefix: String,
    /// Timeouts and TLS roots. An empty `ca_bundle` falls back to
    /// `BLOBIO_CA_BUNDLE`.
    pub http: HttpConfig,
    /// Size at or above which uploads go multipart. Default 100 MiB.
    pub multipart_threshold: u64,
    /// Part size of multipart uploads, 5 MiB to 5 GiB (an upload has at
    /// most 10,000 parts). Default 16 MiB.
    pub part_size: u64,
    /// Parts (and batch-delete requests) in flight at once, 1 to
    /// [`crate::remote::MAX_CONCURRENCY`]. Default 5.
    pub upload_concurrency: usize,
    /// Server-side copies (`copy`, `rename`) of objects larger than this go
    /// as a multipart upload of parts the server copies (UploadPartCopy,
    /// `part_size` each); smaller ones as one CopyObject. Default (and
    /// most that AWS copies at once) 5 GiB.
    pub copy_threshold: u64,
    /// Reads (`read`, `read_to`, `read_to_at` and their checked variants)
    /// of more than this many bytes fetch ranges in parallel (reads to a
    /// writer as `download_parallel_below` says). Default 32 MiB.
    pub download_threshold: u64,
    /// Bytes per range of a parallel read (at least 1). Default 8 MiB.
    pub download_part_size: u64,
    /// Ranges of one read in flight at once (1 to
    /// [`crate::remote::MAX_CONCURRENCY`]); memory held by a `read_to` is
    /// about `download_part_size` times this plus one. Default 4. The
    /// store's worker pool has as many threads as the larger of this and
    /// `upload_concurrency`, started on first use.
    pub download_concurrency: usize,
    /// Reads to a writer (`read_to`, `read_to_at` and their checked
    /// variants) of more than `download_threshold` bytes fetch the rest in
    /// parallel ranges only when the first answer arrives slower than this
    /// many bytes per second (time waiting on the network only); faster,
    /// the rest comes as one more request, since ranges ahead of the writer
    /// cost a copy and memory that one fast connection does not need. 0:
    /// always parallel. `read` into memory is always parallel above the
    /// threshold (its ranges land in place). Default 256 MiB/s.
    pub download_parallel_below: u64,
    /// `read_ranges`: ranges closer than this many bytes are read in one
    /// request (the bytes between are fetched and dropped), as long as it
    /// stays within `download_part_size`. 0: only touching ranges merge.
    /// Default 1 MiB.
    pub coalesce_gap: u64,
    /// What uploads send so that S3 refuses damaged bytes:
    /// [`ChecksumAlgorithm::Crc32c`] by default (`x-amz-checksum-crc32c`
    /// on PutObject and every part). [`ChecksumAlgorithm::None`] for stores
    /// that refuse the headers (B2, R2); it also stops reads asking for
    /// the stored checksum, which they check otherwise.
    pub checksum: ChecksumAlgorithm,
    /// Retries of failed requests, parts and ranges; the budget of one
    /// call. Default: 3 retries from 100 ms up to 5 s, within 180 s.
    pub retry: RetryPolicy,
}

impl S3Config {
    /// A configuration for `bucket` with every other field at its default.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            ..Default::default()
        }
    }
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            region: None,
            endpoint: None,
            access_key: None,
            secret_key: None,
            session_token: None,
            skip_signature: false,
            profile: None,
            sts_endpoint: None,
            imds_endpoint: None,
            use_ssl: true,
            path_style: false,
            prefix: String::new(),
            http: HttpConfig::default(),
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            upload_concurrency: DEFAULT_UPLOAD_CONCURRENCY,
            copy_threshold: MAX_COPY_OBJECT_SIZE,
            download_threshold: DEFAULT_DOWNLOAD_THRESHOLD,
            download_part_size: DEFAULT_DOWNLOAD_PART_SIZE,
            download_concurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
            download_parallel_below: DEFAULT_DOWNLOAD_PARALLEL_BELOW,
            coalesce_gap: DEFAULT_COALESCE_GAP,
            checksum: ChecksumAlgorithm::default(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Secrets are never printed.
impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key.as_ref().map(|_| "<set>"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("skip_signature", &self.skip_signature)
            .field("profile", &self.profile)
            .field("sts_endpoint", &self.sts_endpoint)
            .field("imds_endpoint", &self.imds_endpoint)
            .field("use_ssl", &self.use_ssl)
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .field("http", &self.http)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("copy_threshold", &self.copy_threshold)
            .field("download_threshold", &self.download_threshold)
            .field("download_part_size", &self.download_part_size)
            .field("download_concurrency", &self.download_concurrency)
            .field("download_parallel_below", &self.download_parallel_below)
            .field("coalesce_gap", &self.coalesce_gap)
            .field("checksum", &self.checksum)
            .field("retry", &self.retry)
            .finish()
    }
}

/// First non-empty of an explicit value and environment variables.
pub(crate) fn or_env(value: &Option<String>, vars: &[&str]) -> Option<String> {
    value
        .as_ref()
        .filter(|v| !v.is_empty())
        .cloned()
        .or_else(|| {
            vars.iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        })
}

/// The endpoint URL: explicit or from the environment, with a scheme; or
/// AWS's regional endpoint.
pub(crate) fn endpoint_url(cfg: &S3Config, region: &str) -> String {
    match or_env(&cfg.endpoint, &["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
        Some(e) if e.contains("://") => e,
        Some(e) => format!("{}://{e}", if cfg.use_ssl { "https" } else { "http" }),
        None => format!("https://s3.{region}.amazonaws.com"),
    }
}
