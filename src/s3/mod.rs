//! The S3 protocol: every request signed with rusty-s3 (SigV4 presigned
//! URLs), every answer read here; the rest is the remote engine's
//! (`src/remote/`).
//!
//! Layout: `config.rs` (configuration and environment fallbacks),
//! `sign.rs` (signing), `get.rs` (GetObject, HeadObject), `put.rs`
//! (PutObject), `multipart.rs` (multipart uploads), `list.rs`
//! (ListObjectsV2), `delete.rs` (DeleteObject), `batch_delete.rs`
//! (DeleteObjects), `error.rs` (error XML and codes).

pub(crate) mod batch_delete;
mod config;
mod copy;
mod delete;
pub(crate) mod error;
mod get;
pub(crate) mod list;
pub(crate) mod multipart;
mod presign;
mod put;
mod sign;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusty_s3::{Bucket, UrlStyle};

pub use self::config::{
    S3Config, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, DEFAULT_UPLOAD_CONCURRENCY,
    MAX_COPY_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE,
};
use crate::credentials::aws as chain;
use crate::credentials::cache::Cached;
use crate::error::{Error, Result};
use crate::http::Transport;
use crate::layout;
use crate::paths::sanitize_s3_prefix;
use crate::remote::client::Client;
use crate::remote::settings::{no_control, Download, Limits, Names, Settings};
use crate::remote::{Ops, Protocol, RemoteStore};
pub use crate::remote::{
    DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_DOWNLOAD_PARALLEL_BELOW, DEFAULT_DOWNLOAD_PART_SIZE,
    DEFAULT_DOWNLOAD_THRESHOLD,
};

/// The header prefix of user metadata.
const META_PREFIX: &str = "x-amz-meta-";

/// Bound on the bucket check at open.
const BUCKET_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in an S3 bucket (AWS or any S3-compatible server): the remote
/// engine over the S3 protocol.
pub type S3Backend = RemoteStore<S3>;

/// The S3 protocol of one bucket: how its requests are signed and its
/// answers read. Reached through [`S3Backend`].
pub struct S3 {
    bucket: Bucket,
    /// `None`: unsigned requests (`skip_signature`).
    credentials: Option<Arc<Cached>>,
    /// Which provider supplies them (`env`, `profile:NAME`, ...).
    credential_source: String,
    region: String,
    endpoint: String,
    use_ssl: bool,
    path_style: bool,
    skip_signature: bool,
    /// As configured (a child process applies its own BLOBIO_CA_BUNDLE).
    http: crate::http::HttpConfig,
}

impl S3 {
    /// The bucket's URL (`None`) or an object's.
    fn url(&self, key: Option<&str>) -> url::Url {
        match key {
            Some(k) => self.bucket.object_url(k),
            None => self.bucket.base_url().clone(),
        }
    }
}

/// A setting that is set and not empty.
fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

impl RemoteStore<S3> {
    /// Connects to the bucket described by `cfg`.
    ///
    /// Every setting is checked first ([`crate::ErrorKind::InvalidArgument`]
    /// naming the setting). The bucket is checked with HeadBucket (at most
    /// 10 s); a failure is only logged, so a store can be created before its
    /// bucket.
    pub fn new(cfg: S3Config) -> Result<Self> {
        if cfg.bucket.trim().is_empty() {
            return Err(Error::invalid_argument("S3 bucket name is required"));
        }
        for (what, value) in [
            ("bucket", Some(&cfg.bucket)),
            ("prefix", Some(&cfg.prefix)),
            ("region", cfg.region.as_ref()),
            ("endpoint", cfg.endpoint.as_ref()),
        ] {
            if let Some(v) = value {
                no_control("S3", what, v)?;
            }
        }
        let settings = Settings {
            prefix: sanitize_s3_prefix(&cfg.prefix),
            single_put_threshold: cfg.multipart_threshold,
            part_size: cfg.part_size,
            upload_concurrency: cfg.upload_concurrency,
            copy_threshold: cfg.copy_threshold,
            download: Download {
                threshold: cfg.download_threshold,
                part_size: cfg.download_part_size,
                concurrency: cfg.download_concurrency,
                parallel_below: cfg.download_parallel_below,
                coalesce_gap: cfg.coalesce_gap,
            },
            checksum: cfg.checksum,
            retry: cfg.retry,
            limits: Limits {
                unit: "part",
                min_part: MIN_PART_SIZE,
                max_part: MAX_PART_SIZE,
                max_parts: MAX_PARTS,
                // Below the threshold a write is one PutObject: no bound
                // but the server's (5 GiB on AWS).
                max_single_put: u64::MAX,
            },
            names: Names {
                store: "S3",
                single_put_threshold: "multipart_threshold",
                part_size: "part_size",
            },
        };
        let configured_http = cfg.http.clone();
        let mut http = cfg.http.clone();
        http.ca_bundle = http
            .ca_bundle
            .take()
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| config::or_env(&None, &[config::CA_BUNDLE_ENV]).map(PathBuf::from));
        for (what, value) in [
            ("profile", text(&cfg.profile)),
            ("sts_endpoint", text(&cfg.sts_endpoint)),
            ("imds_endpoint", text(&cfg.imds_endpoint)),
        ] {
            if let Some(v) = value {
                no_control("S3", what, v)?;
            }
        }
        // The credential chain (see src/credentials/aws/), which may also
        // say the region.
        let resolved = chain::resolve(
            &chain::Settings {
                access_key: text(&cfg.access_key),
                secret_key: text(&cfg.secret_key),
                session_token: text(&cfg.session_token),
                skip_signature: cfg.skip_signature,
                profile: text(&cfg.profile),
                region: text(&cfg.region),
                sts_endpoint: text(&cfg.sts_endpoint),
                imds_endpoint: text(&cfg.imds_endpoint),
                http: &http,
                retry: &cfg.retry,
            },
            &chain::process_env,
        )?;
        let region = resolved.region.unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = config::endpoint_url(&cfg, &region);
        let url = crate::endpoint::parse("S3 endpoint", &endpoint)?;
        let style = if cfg.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(url, style, cfg.bucket.clone(), region.clone()).map_err(|e| {
            Error::invalid_argument(format!(
                "S3 bucket {:?} at {endpoint:?}: {e} (an IP endpoint needs path_style)",
                cfg.bucket
            ))
        })?;
        log::info!("S3 bucket {}: credentials from {}", cfg.bucket, resolved.source);
        let name = cfg.bucket.clone();
        let client = Client::new(Transport::new(&http)?, cfg.retry, error::answer(&name));
        let check = Transport::new(&http.bounded(BUCKET_CHECK_TIMEOUT))
            .ok()
            .map(|t| Client::new(t, crate::RetryPolicy::none(), error::answer(&name)));
        let proto = S3 {
            bucket,
            credentials: resolved.credentials,
            credential_source: resolved.source,
            region,
            endpoint,
            use_ssl: cfg.use_ssl,
            path_style: cfg.path_style,
            skip_signature: cfg.skip_signature,
            http: configured_http,
        };
        RemoteStore::open(proto, client, settings, check)
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        self.proto.bucket.name()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.proto.region
    }

    /// `s3://<bucket>/<prefix><path>`.
    pub fn get_s3_path(&self, path: &str) -> String {
        layout::s3_path(self.bucket(), self.prefix(), path)
    }

    /// The DuckDB glob for one year, month, day or hour of a measurement:
    /// `None` levels are wildcards (a finer level counts only when every
    /// coarser one is given).
    pub fn get_query_path(
        &self,
        database: &str,
        measurement: &str,
        year: i32,
        month: Option<u32>,
        day: Option<u32>,
        hour: Option<u32>,
    ) -> String {
        use crate::Backend as _;
        layout::query_path(&self.storage_root(), database, measurement, year, month, day, hour)
    }

    /// One day-level DuckDB glob per UTC day from `start` to `end` inclusive.
    pub fn get_query_path_range(
        &self,
        database: &str,
        measurement: &str,
        start: SystemTime,
        end: SystemTime,
    ) -> Vec<String> {
        use crate::Backend as _;
        layout::query_path_range(&self.storage_root(), database, measurement, start, end)
    }
}

impl Protocol for S3 {
    const KIND: &'static str = "s3";
    const POOL_NAME: &'static str = "blobio-s3";
    const TYPE_NAME: &'static str = "S3Backend";
}

impl Ops for S3 {
    fn check_root(&self, c: &Client) -> Result<()> {
        get::head_bucket(self, c)
    }

    fn config_json(&self, out: &mut serde_json::Map<String, serde_json::Value>) {
        out.insert("bucket".into(), self.bucket.name().into());
        out.insert("region".into(), self.region.clone().into());
        out.insert("endpoint".into(), self.endpoint.clone().into());
        out.insert("path_style".into(), self.path_style.into());
        out.insert("use_ssl".into(), self.use_ssl.into());
        out.insert("skip_signature".into(), self.skip_signature.into());
        self.http.config_json(out);
        out.insert("credential_source".into(), self.credential_source.clone().into());
    }

    fn storage_root(&self) -> String {
        format!("s3://{}/", self.bucket.name())
    }

    fn meta_prefix(&self) -> &'static str {
        META_PREFIX
    }

    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        f.field("bucket", &self.bucket.name())
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("credential_source", &self.credential_source);
    }
}
