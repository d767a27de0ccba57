//! The S3 backend: every request signed with rusty-s3 (SigV4 presigned URLs)
//! and sent over one pooled ureq agent.
//!
//! Layout: `config.rs` (configuration and environment fallbacks),
//! `error.rs` (error XML and status mapping), `multipart.rs` (multipart
//! uploads), `list.rs` (ListObjectsV2 paging), `batch_delete.rs`
//! (DeleteObjects), `query_path.rs` (DuckDB globs).

mod batch_delete;
mod config;
mod error;
mod list;
mod multipart;
pub(crate) mod query_path;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rusty_s3::{Bucket, Credentials, Method, S3Action, UrlStyle};

pub use self::config::{
    S3Config, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, DEFAULT_UPLOAD_CONCURRENCY,
    MIN_PART_SIZE,
};
pub use crate::transfer::{
    DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_DOWNLOAD_PART_SIZE, DEFAULT_DOWNLOAD_THRESHOLD,
};
use self::error::response_error;
use crate::backend::{
    AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectInfo,
    ObjectLister,
};
use crate::error::{Error, Result};
use crate::http::{HttpConfig, RequestBody, Response, Transport};
use crate::paths::{sanitize_s3_prefix, validate_key};
use crate::pool::Pool;
use crate::transfer::{
    content_length, past_end, ranged_body, ranged_reads, BoundedWriter, RangedDownload,
    RangedStore, TrackedSource,
};

/// How long a signed request stays valid; it is sent at once.
const SIGNATURE_TTL: Duration = Duration::from_secs(15 * 60);

/// Bound on the bucket check at construction.
const BUCKET_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in an S3 bucket (AWS or any S3-compatible server).
pub struct S3Backend {
    inner: Arc<S3Inner>,
}

/// What the worker pool's jobs share with the backend.
pub(crate) struct S3Inner {
    bucket: Bucket,
    credentials: Option<Credentials>,
    transport: Transport,
    prefix: String,
    region: String,
    endpoint: String,
    use_ssl: bool,
    path_style: bool,
    multipart_threshold: u64,
    part_size: u64,
    upload_concurrency: usize,
    download: RangedDownload,
    pool: Mutex<Option<Arc<Pool>>>,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("bucket", &self.inner.bucket.name())
            .field("prefix", &self.inner.prefix)
            .field("region", &self.inner.region)
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

/// Content type by extension: Parquet gets its registered type.
fn content_type(path: &str) -> &'static str {
    if path.ends_with(".parquet") {
        "application/vnd.apache.parquet"
    } else {
        "application/octet-stream"
    }
}

impl S3Backend {
    /// Connects to the bucket described by `cfg`.
    ///
    /// The bucket is checked with HeadBucket (at most 10 s); a failure is
    /// only logged, so a store can be created before its bucket.
    pub fn new(cfg: S3Config) -> Result<Self> {
        if cfg.bucket.trim().is_empty() {
            return Err(Error::invalid_argument("S3 bucket name is required"));
        }
        if cfg.part_size < MIN_PART_SIZE {
            return Err(Error::invalid_argument(format!(
                "S3 part size {} is below S3's minimum of {MIN_PART_SIZE} bytes",
                cfg.part_size
            )));
        }
        if cfg.upload_concurrency == 0 {
            return Err(Error::invalid_argument("S3 upload concurrency must be at least 1"));
        }
        let download = RangedDownload::new(
            "S3",
            cfg.download_threshold,
            cfg.download_part_size,
            cfg.download_concurrency,
        )?;
        let region = config::or_env(&cfg.region, &["AWS_REGION", "AWS_DEFAULT_REGION"])
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = config::endpoint_url(&cfg, &region);
        let url = endpoint.parse::<url::Url>().map_err(|e| {
            Error::invalid_argument(format!("S3 endpoint {endpoint:?} is not a URL: {e}"))
        })?;
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
        let key = config::or_env(&cfg.access_key, &["AWS_ACCESS_KEY_ID"]);
        let secret = config::or_env(&cfg.secret_key, &["AWS_SECRET_ACCESS_KEY"]);
        let token = config::or_env(&cfg.session_token, &["AWS_SESSION_TOKEN"]);
        let credentials = match (key, secret) {
            (Some(k), Some(s)) => Some(match token {
                Some(t) => Credentials::new_with_token(k, s, t),
                None => Credentials::new(k, s),
            }),
            (None, None) => {
                log::warn!("no S3 credentials configured; requests to bucket {} are anonymous", cfg.bucket);
                None
            }
            _ => {
                return Err(Error::invalid_argument(
                    "S3 access key and secret key must be given together",
                ))
            }
        };
        let mut http = cfg.http.clone();
        http.ca_bundle = http
            .ca_bundle
            .take()
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| config::or_env(&None, &[config::CA_BUNDLE_ENV]).map(PathBuf::from));
        let transport = Transport::new(&http)?;
        let inner = S3Inner {
            bucket,
            credentials,
            transport,
            prefix: sanitize_s3_prefix(&cfg.prefix),
            region,
            endpoint,
            use_ssl: cfg.use_ssl,
            path_style: cfg.path_style,
            multipart_threshold: cfg.multipart_threshold,
            part_size: cfg.part_size,
            upload_concurrency: cfg.upload_concurrency,
            download,
            pool: Mutex::new(None),
        };
        let backend = S3Backend {
            inner: Arc::new(inner),
        };
        backend.check_bucket(&http);
        Ok(backend)
    }

    fn check_bucket(&self, http: &HttpConfig) {
        let mut quick = http.clone();
        quick.timeouts.connect = quick.timeouts.connect.min(BUCKET_CHECK_TIMEOUT);
        quick.timeouts.request = quick.timeouts.request.min(BUCKET_CHECK_TIMEOUT);
        quick.timeouts.stall = quick.timeouts.stall.min(BUCKET_CHECK_TIMEOUT);
        let name = self.inner.bucket.name().to_owned();
        let result = Transport::new(&quick).and_then(|t| {
            let url = self.inner.sign(self.inner.bucket.head_bucket(self.inner.credentials.as_ref()));
            let resp = t.send(&name, "HEAD", &url, &[], RequestBody::Empty)?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(response_error(&format!("bucket {name}"), resp))
            }
        });
        if let Err(e) = result {
            log::warn!("S3 bucket check failed (the store is usable once the bucket is): {e}");
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        self.inner.bucket.name()
    }

    /// The normalised key prefix (empty or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// `s3://<bucket>/<prefix><path>`.
    pub fn get_s3_path(&self, path: &str) -> String {
        query_path::s3_path(self.bucket(), self.prefix(), path)
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
        query_path::query_path(&self.storage_root(), database, measurement, year, month, day, hour)
    }

    /// One day-level DuckDB glob per UTC day from `start` to `end` inclusive.
    pub fn get_query_path_range(
        &self,
        database: &str,
        measurement: &str,
        start: SystemTime,
        end: SystemTime,
    ) -> Vec<String> {
        query_path::query_path_range(&self.storage_root(), database, measurement, start, end)
    }
}

impl S3Inner {
    /// Signs an action now; the URL carries the signature.
    fn sign<'a>(&self, action: impl S3Action<'a>) -> String {
        action.sign(SIGNATURE_TTL).to_string()
    }

    /// Signs a request rusty-s3 has no action for in the features blobio
    /// builds it with (those actions would bring their own XML and serde
    /// stack; blobio reads S3's XML with quick-xml): ListObjectsV2,
    /// DeleteObjects and the multipart create and complete calls. `url` is
    /// the bucket's URL (`None`) or an object's; `query` is unencoded.
    fn sign_request(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> String {
        let url = match key {
            Some(k) => self.bucket.object_url(k),
            None => self.bucket.base_url().clone(),
        };
        let mut query = query.to_vec();
        query.sort_unstable();
        let mut headers = headers.to_vec();
        headers.sort_unstable();
        match &self.credentials {
            Some(c) => rusty_s3::signing::sign(
                &jiff::Timestamp::now(),
                method,
                url,
                c.key(),
                c.secret(),
                c.token(),
                self.bucket.region(),
                SIGNATURE_TTL.as_secs(),
                query.iter().copied(),
                headers.iter().copied(),
            )
            .to_string(),
            None => {
                let mut url = url;
                if !query.is_empty() {
                    url.query_pairs_mut().extend_pairs(query.iter().copied());
                }
                url.to_string()
            }
        }
    }

    /// The full object key for a validated user key.
    fn key(&self, path: &str) -> Result<String> {
        let key = validate_key(path)?;
        Ok(format!("{}{key}", self.prefix))
    }

    /// The pool, made on first use (its threads start with its first job)
    /// and sized for the larger of the upload and download concurrency.
    fn pool(&self) -> Arc<Pool> {
        let mut guard = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .get_or_insert_with(|| {
                let size = self.upload_concurrency.max(self.download.concurrency);
                Arc::new(Pool::new("blobio-s3", size))
            })
            .clone()
    }

    /// Sends and turns any non-2xx status into an error about `path`.
    fn send_ok(
        &self,
        path: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: RequestBody<'_>,
    ) -> Result<Response> {
        let resp = self.transport.send(path, method, url, headers, body)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.error_for(path, resp))
        }
    }

    /// A failed response as an error; a missing bucket names the bucket.
    fn error_for(&self, path: &str, resp: Response) -> Error {
        let err = response_error(path, resp);
        if err.provider_code() == Some("NoSuchBucket") {
            if let Error::NotFound { remote, .. } = err {
                return Error::NotFound {
                    path: format!("s3://{} (bucket, for {path})", self.bucket.name()),
                    remote,
                };
            }
        }
        err
    }

    /// PutObject of exactly `len` bytes from `body`.
    fn put_object(&self, path: &str, key: &str, body: RequestBody<'_>) -> Result<()> {
        let ct = content_type(key);
        let mut action = self.bucket.put_object(self.credentials.as_ref(), key);
        action.headers_mut().insert("content-type", ct);
        let url = self.sign(action);
        self.send_ok(path, "PUT", &url, &[("content-type", ct)], body)
            .map(|_| ())
            .map_err(|e| self.missing_bucket_on_write(path, e))
    }

    /// A 404 on a write can only mean the bucket is missing (some servers
    /// say NoSuchKey); say so.
    fn missing_bucket_on_write(&self, path: &str, e: Error) -> Error {
        match e {
            Error::NotFound { remote, path: p } if !p.starts_with("s3://") => Error::NotFound {
                path: format!("s3://{} (bucket, for {path})", self.bucket.name()),
                remote,
            },
            other => other,
        }
    }

    /// HEAD object: `Some(response)` or `None` on 404.
    fn head(&self, path: &str, key: &str) -> Result<Option<Response>> {
        let url = self.sign(self.bucket.head_object(self.credentials.as_ref(), key));
        let resp = self.transport.send(path, "HEAD", &url, &[], RequestBody::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(resp)),
            404 => Ok(None),
            _ => Err(self.error_for(path, resp)),
        }
    }

    /// GET with a Range header; `None` when the range is not satisfiable
    /// (416: the offset is at or past the end).
    fn get_range(&self, path: &str, key: &str, range: &str) -> Result<Option<Response>> {
        let url = self.sign(self.bucket.get_object(self.credentials.as_ref(), key));
        let resp = self
            .transport
            .send(path, "GET", &url, &[("range", range)], RequestBody::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(resp)),
            416 => Ok(None),
            _ => Err(self.error_for(path, resp)),
        }
    }

    /// GET from `offset` (a Range when above 0), conditional on `if_match`.
    /// `Ok(None)` when the range is not satisfiable (416).
    fn get_checked(
        &self,
        path: &str,
        key: &str,
        offset: u64,
        if_match: Option<&str>,
    ) -> Result<Option<Response>> {
        let url = self.sign(self.bucket.get_object(self.credentials.as_ref(), key));
        let range = (offset > 0).then(|| format!("bytes={offset}-"));
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(2);
        if let Some(r) = &range {
            headers.push(("range", r));
        }
        if let Some(v) = if_match {
            headers.push(("if-match", v));
        }
        let resp = self.transport.send(path, "GET", &url, &headers, RequestBody::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(resp)),
            416 => Ok(None),
            _ => Err(self.error_for(path, resp)),
        }
    }

    /// The object's size from a HEAD, NotFound when missing.
    fn size_of(&self, path: &str, key: &str) -> Result<u64> {
        let resp = self.head(path, key)?.ok_or_else(|| Error::not_found(path))?;
        content_length(path, &resp)
    }
}

impl RangedStore for S3Inner {
    fn object_key(&self, path: &str) -> Result<String> {
        self.key(path)
    }

    fn get_from(&self, path: &str, key: &str, offset: u64, if_match: Option<&str>) -> Result<Option<Response>> {
        self.get_checked(path, key, offset, if_match)
    }

    fn head_matching(&self, path: &str, key: &str, if_match: &str) -> Result<Response> {
        let url = self.sign(self.bucket.head_object(self.credentials.as_ref(), key));
        self.send_ok(path, "HEAD", &url, &[("if-match", if_match)], RequestBody::Empty)
    }

    fn fetch_range(&self, path: &str, key: &str, range: &str, etag: &str) -> Result<Response> {
        let url = self.sign(self.bucket.get_object(self.credentials.as_ref(), key));
        let headers = [("range", range), ("if-match", etag)];
        self.send_ok(path, "GET", &url, &headers, RequestBody::Empty)
    }

    fn ranged_download(&self) -> &RangedDownload {
        &self.download
    }

    fn worker_pool(&self) -> Arc<Pool> {
        self.pool()
    }
}

impl Backend for S3Backend {
    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let key = self.inner.key(path)?;
        if (data.len() as u64) < self.inner.multipart_threshold {
            return self.inner.put_object(path, &key, RequestBody::Bytes(data));
        }
        let mut reader = data;
        multipart::upload(&self.inner, path, &key, &mut reader, Some(data.len() as u64))
    }

    fn write_reader(&self, path: &str, reader: &mut dyn Read, size: Option<u64>) -> Result<()> {
        let key = self.inner.key(path)?;
        match size {
            Some(n) if n < self.inner.multipart_threshold => {
                let mut src = TrackedSource::new(reader, n);
                let result = self
                    .inner
                    .put_object(path, &key, RequestBody::Reader(&mut src, n));
                result.map_err(|e| src.explain(path, e))
            }
            _ => multipart::upload(&self.inner, path, &key, reader, size),
        }
    }

    ranged_reads!();

    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let key = self.inner.key(path)?;
        if buf.is_empty() {
            let size = self.inner.size_of(path, &key)?;
            if offset > 0 && offset >= size {
                return Err(past_end(path, offset, Some(size)));
            }
            return Ok(0);
        }
        let last = offset.saturating_add(buf.len() as u64 - 1);
        let range = format!("bytes={offset}-{last}");
        let Some(resp) = self.inner.get_range(path, &key, &range)? else {
            // An empty object has no byte 0, yet offset 0 reads nothing.
            if offset == 0 && self.inner.size_of(path, &key)? == 0 {
                return Ok(0);
            }
            return Err(past_end(path, offset, None));
        };
        let mut bounded = BoundedWriter::new(buf);
        ranged_body(path, resp, offset, &mut bounded)?;
        Ok(bounded.filled())
    }

    fn stat_file(&self, path: &str) -> Result<Option<u64>> {
        let key = self.inner.key(path)?;
        match self.inner.head(path, &key)? {
            Some(resp) => content_length(path, &resp).map(Some),
            None => Ok(None),
        }
    }

    fn exists(&self, path: &str) -> Result<bool> {
        let key = self.inner.key(path)?;
        Ok(self.inner.head(path, &key)?.is_some())
    }

    fn delete(&self, path: &str) -> Result<()> {
        let key = self.inner.key(path)?;
        let url = self
            .inner
            .sign(self.inner.bucket.delete_object(self.inner.credentials.as_ref(), &key));
        match self.inner.send_ok(path, "DELETE", &url, &[], RequestBody::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.provider_code() == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        list::list(&self.inner, prefix, None, &mut |entry| {
            if let list::Entry::Object { key, .. } = entry {
                out.push(key);
            }
        })?;
        out.sort_unstable();
        Ok(out)
    }

    fn close(&self) -> Result<()> {
        let pool = self.inner.pool.lock().ok().and_then(|mut p| p.take());
        if let Some(pool) = pool {
            pool.shutdown();
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "s3"
    }

    fn config_json(&self) -> String {
        serde_json::json!({
            "bucket": self.inner.bucket.name(),
            "prefix": self.inner.prefix,
            "region": self.inner.region,
            "endpoint": self.inner.endpoint,
            "path_style": self.inner.path_style,
            "use_ssl": self.inner.use_ssl,
            "multipart_threshold": self.inner.multipart_threshold,
            "part_size": self.inner.part_size,
            "upload_concurrency": self.inner.upload_concurrency,
            "download_threshold": self.inner.download.threshold,
            "download_part_size": self.inner.download.part_size,
            "download_concurrency": self.inner.download.concurrency,
        })
        .to_string()
    }

    fn storage_root(&self) -> String {
        format!("s3://{}/{}", self.inner.bucket.name(), self.inner.prefix)
    }

    fn as_batch_deleter(&self) -> Option<&dyn BatchDeleter> {
        Some(self)
    }

    fn as_directory_lister(&self) -> Option<&dyn DirectoryLister> {
        Some(self)
    }

    fn as_object_lister(&self) -> Option<&dyn ObjectLister> {
        Some(self)
    }

    fn as_directory_remover(&self) -> Option<&dyn DirectoryRemover> {
        Some(self)
    }

    fn as_appending(&self) -> Option<&dyn AppendingBackend> {
        Some(self)
    }
}

impl ObjectLister for S3Backend {
    fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        list::list(&self.inner, prefix, None, &mut |entry| {
            if let list::Entry::Object {
                key,
                size,
                last_modified,
            } = entry
            {
                out.push(ObjectInfo {
                    path: key,
                    size,
                    last_modified,
                });
            }
        })?;
        out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

impl DirectoryLister for S3Backend {
    fn list_directories(&self, prefix: &str) -> Result<Vec<String>> {
        let mut dir = crate::paths::validate_prefix(prefix)?.to_owned();
        if !dir.is_empty() && !dir.ends_with('/') {
            dir.push('/');
        }
        let mut out = Vec::new();
        list::list(&self.inner, &dir, Some("/"), &mut |entry| {
            if let list::Entry::Prefix(p) = entry {
                let name = p[dir.len().min(p.len())..].trim_end_matches('/');
                if !name.is_empty() && !name.starts_with('.') {
                    out.push(name.to_owned());
                }
            }
        })?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

impl DirectoryRemover for S3Backend {
    /// Object stores have no directories: nothing to remove.
    fn remove_directory(&self, path: &str) -> Result<()> {
        if crate::paths::validate_prefix(path)?.is_empty() {
            return Err(Error::invalid_path(path, "empty key"));
        }
        Ok(())
    }
}

impl AppendingBackend for S3Backend {
    fn append_reader(&self, path: &str, _reader: &mut dyn Read, _append_size: u64) -> Result<()> {
        validate_key(path)?;
        Err(Error::ResumeNotSupported {
            path: path.to_owned(),
            backend: "s3",
        })
    }
}
