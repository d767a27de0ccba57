//! The Azure Blob backend: requests signed by hand (Shared Key), or carrying
//! a SAS token or a managed identity's bearer token, sent over one pooled
//! ureq agent.
//!
//! Layout: `config.rs` (configuration, connection strings, environment
//! fallbacks), `auth.rs` (Shared Key string-to-sign and signature, SAS,
//! managed-identity token cache), `error.rs` (error codes and status
//! mapping), `blocks.rs` (Put Block + Put Block List uploads), `list.rs`
//! (List Blobs with marker paging), `batch_delete.rs` (the Blob Batch API).

mod auth;
mod batch_delete;
mod blocks;
mod config;
mod error;
mod list;

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use self::auth::Auth;
pub use self::config::{
    env, AzureBlobConfig, DEFAULT_BLOCK_SIZE, DEFAULT_IMDS_ENDPOINT, DEFAULT_SINGLE_PUT_THRESHOLD,
    DEFAULT_UPLOAD_CONCURRENCY, MAX_BLOCK_SIZE, MAX_LIST_PAGE_SIZE, MAX_SINGLE_PUT_SIZE,
};
use self::error::response_error;
use crate::backend::{
    AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectInfo,
    ObjectLister,
};
use crate::error::{Error, Result};
use crate::http::{
    header, stale_connection, HttpConfig, RequestBody, Response, Transport, STALE_ATTEMPTS,
};
use crate::paths;
use crate::pool::Pool;
use crate::transfer::{
    content_length, past_end, ranged_body, ranged_reads, BoundedWriter, RangedDownload,
    RangedStore, TrackedSource,
};
pub use crate::transfer::{
    DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_DOWNLOAD_PART_SIZE, DEFAULT_DOWNLOAD_THRESHOLD,
};

/// Streamed uploads of a known size up to this are read into memory first
/// and sent as one replayable Put Blob. 4 MiB.
const REPLAYABLE_PUT_SIZE: u64 = 4 * 1024 * 1024;

/// Bound on the container check at construction.
const CONTAINER_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What stays unescaped in a URL path: RFC 3986 unreserved characters and
/// `/`. Everything else (`+`, `%`, space, sub-delimiters, non-ASCII) is
/// percent-encoded, as the Azure SDKs do.
const PATH_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// What stays unescaped in a query value: unreserved characters only.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A store in one Azure Blob container (Azure, or Azurite).
pub struct AzureBlobBackend {
    inner: Arc<AzureInner>,
}

/// What the worker pool's jobs share with the backend.
pub(crate) struct AzureInner {
    account: String,
    container: String,
    /// The endpoint as configured, for config_json and messages.
    endpoint: String,
    /// `scheme://host[:port]`.
    origin: String,
    /// `<endpoint path>/<container>`, percent-encoded, e.g.
    /// `/devstoreaccount1/data` (path style) or `/data`.
    container_path: String,
    auth: Auth,
    transport: Transport,
    single_put_threshold: u64,
    block_size: u64,
    upload_concurrency: usize,
    download: RangedDownload,
    list_page_size: u32,
    pool: Mutex<Option<Arc<Pool>>>,
}

impl std::fmt::Debug for AzureBlobBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureBlobBackend")
            .field("account", &self.inner.account)
            .field("container", &self.inner.container)
            .field("endpoint", &self.inner.endpoint)
            .field("auth", &self.inner.auth)
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

/// Validates a key as every backend does, and also refuses `\`: Azure
/// turns a backslash in a blob name into `/`, so `a\b` would be written,
/// read and deleted as `a/b`.
pub(crate) fn validate_key(path: &str) -> Result<&str> {
    let key = paths::validate_key(path)?;
    refuse_backslash(path, key)
}

/// [`validate_key`]'s rule for listing prefixes.
pub(crate) fn validate_prefix(prefix: &str) -> Result<&str> {
    let p = paths::validate_prefix(prefix)?;
    refuse_backslash(prefix, p)
}

fn refuse_backslash<'a>(original: &str, key: &'a str) -> Result<&'a str> {
    if key.contains('\\') {
        return Err(Error::invalid_path(
            original,
            "contains a backslash, which Azure Blob Storage treats as '/'",
        ));
    }
    Ok(key)
}

/// Container names: 3-63 of `a-z 0-9 -`, starting and ending with a letter
/// or digit, no `--`; or the special `$root` / `$web`.
fn check_container_name(name: &str) -> Result<()> {
    if name == "$root" || name == "$web" {
        return Ok(());
    }
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "Azure container name {name:?} must be 3-63 lower-case letters, digits and single hyphens"
        )))
    }
}

/// One request before authorisation.
pub(crate) struct Req {
    pub(crate) method: &'static str,
    /// Percent-encoded URL path.
    pub(crate) path: String,
    /// Query parameters, values not yet encoded.
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Req {
    pub(crate) fn new(method: &'static str, path: String) -> Self {
        Req {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn body_len(body: &RequestBody<'_>) -> u64 {
    match body {
        RequestBody::Empty => 0,
        RequestBody::Bytes(b) => b.len() as u64,
        RequestBody::Reader(_, n) => *n,
    }
}

impl AzureBlobBackend {
    /// Connects to the container described by `cfg`.
    ///
    /// Credentials follow the precedence documented on [`AzureBlobConfig`].
    /// The container is checked with Get Container Properties (at most
    /// 10 s); a failure is only logged, so a store can be created before its
    /// container.
    pub fn new(cfg: AzureBlobConfig) -> Result<Self> {
        let container = cfg.container_name.trim().to_owned();
        if container.is_empty() {
            return Err(Error::invalid_argument("Azure container name is required"));
        }
        check_container_name(&container)?;
        if cfg.block_size == 0 || cfg.block_size > MAX_BLOCK_SIZE {
            return Err(Error::invalid_argument(format!(
                "Azure block size {} must be between 1 byte and {MAX_BLOCK_SIZE} bytes",
                cfg.block_size
            )));
        }
        if cfg.single_put_threshold > MAX_SINGLE_PUT_SIZE {
            return Err(Error::invalid_argument(format!(
                "Azure single-put threshold {} is above Azure's Put Blob limit of {MAX_SINGLE_PUT_SIZE} bytes",
                cfg.single_put_threshold
            )));
        }
        if cfg.upload_concurrency == 0 {
            return Err(Error::invalid_argument(
                "Azure upload concurrency must be at least 1",
            ));
        }
        let download = RangedDownload::new(
            "Azure",
            cfg.download_threshold,
            cfg.download_part_size,
            cfg.download_concurrency,
        )?;
        if !(1..=MAX_LIST_PAGE_SIZE).contains(&cfg.list_page_size) {
            return Err(Error::invalid_argument(format!(
                "Azure list page size {} must be between 1 and {MAX_LIST_PAGE_SIZE}",
                cfg.list_page_size
            )));
        }
        let resolved = config::resolve(&cfg, &config::ProcessEnv)?;
        // A bearer token is as good as a key for an hour: never in clear
        // text (Azure and Azurite refuse it over http anyway).
        if matches!(resolved.credential, config::Credential::ManagedIdentity { .. })
            && resolved.endpoint.scheme() != "https"
        {
            return Err(Error::invalid_argument(format!(
                "managed identity tokens are only sent over https; the endpoint is {}",
                resolved.endpoint
            )));
        }
        let mut http = cfg.http.clone();
        http.ca_bundle = resolved.ca_bundle.clone();
        // Every Azure request blobio makes is idempotent (a Blob Batch only
        // deletes), so one on a connection found closed is sent again.
        let transport = Transport::new(&http)?.idempotent_posts();
        let auth = Auth::new(&resolved.account, resolved.credential.clone(), &http)?;
        let url = &resolved.endpoint;
        let origin = url.origin().ascii_serialization();
        let base_path = url.path().trim_end_matches('/');
        let endpoint = format!("{origin}{base_path}");
        let inner = AzureInner {
            account: resolved.account.clone(),
            container_path: format!("{base_path}/{container}"),
            container,
            endpoint,
            origin,
            auth,
            transport,
            single_put_threshold: cfg.single_put_threshold,
            block_size: cfg.block_size,
            upload_concurrency: cfg.upload_concurrency,
            download,
            list_page_size: cfg.list_page_size,
            pool: Mutex::new(None),
        };
        log::debug!(
            "Azure Blob store: container {} at {} ({})",
            inner.container,
            inner.endpoint,
            resolved.credential.method()
        );
        let backend = AzureBlobBackend {
            inner: Arc::new(inner),
        };
        backend.check_container(&http);
        Ok(backend)
    }

    fn check_container(&self, http: &HttpConfig) {
        let mut quick = http.clone();
        quick.timeouts.connect = quick.timeouts.connect.min(CONTAINER_CHECK_TIMEOUT);
        quick.timeouts.request = quick.timeouts.request.min(CONTAINER_CHECK_TIMEOUT);
        quick.timeouts.stall = quick.timeouts.stall.min(CONTAINER_CHECK_TIMEOUT);
        let inner = &self.inner;
        let label = format!("azure://{}", inner.container);
        let result = Transport::new(&quick).and_then(|t| {
            let req = Req::new("GET", inner.container_path.clone()).query("restype", "container");
            let resp = inner.send_via(&t, &label, &req, RequestBody::Empty)?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(response_error(&label, resp))
            }
        });
        if let Err(e) = result {
            log::warn!(
                "Azure container check failed (the store is usable once the container is): {e}"
            );
        }
    }

    /// Creates the container; one that already exists is fine.
    pub fn create_container(&self) -> Result<()> {
        let inner = &self.inner;
        let label = format!("azure://{}", inner.container);
        let req = Req::new("PUT", inner.container_path.clone()).query("restype", "container");
        let resp = inner.send(&label, &req, RequestBody::Empty)?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(());
        }
        let err = response_error(&label, resp);
        if status == 409 && err.provider_code() == Some("ContainerAlreadyExists") {
            return Ok(());
        }
        Err(err)
    }

    /// The container name.
    pub fn container(&self) -> &str {
        &self.inner.container
    }

    /// The storage account name.
    pub fn account_name(&self) -> &str {
        &self.inner.account
    }

    /// The blob service endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// `azure://<container>/<path>`, the form DuckDB's azure extension reads.
    pub fn get_azure_path(&self, path: &str) -> String {
        format!(
            "azure://{}/{}",
            self.inner.container,
            path.trim_start_matches('/')
        )
    }
}

impl AzureInner {
    /// The URL path of a validated key.
    fn blob_path(&self, key: &str) -> String {
        let mut p = String::with_capacity(self.container_path.len() + key.len() + 8);
        p.push_str(&self.container_path);
        p.push('/');
        p.extend(utf8_percent_encode(key, PATH_SET));
        p
    }

    /// The pool, made on first use (its threads start with its first job)
    /// and sized for the larger of the upload and download concurrency.
    fn pool(&self) -> Arc<Pool> {
        let mut guard = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .get_or_insert_with(|| {
                let size = self.upload_concurrency.max(self.download.concurrency);
                Arc::new(Pool::new("blobio-azure", size))
            })
            .clone()
    }

    /// Authorises and sends `req`. `path` names the object in errors.
    pub(crate) fn send(&self, path: &str, req: &Req, body: RequestBody<'_>) -> Result<Response> {
        self.send_via(&self.transport, path, req, body)
    }

    /// Authorises and sends `req` on `transport`.
    fn send_via(
        &self,
        transport: &Transport,
        path: &str,
        req: &Req,
        body: RequestBody<'_>,
    ) -> Result<Response> {
        let query: Vec<(&str, &str)> = req.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let headers: Vec<(&str, &str)> =
            req.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let authz = self.auth.authorize(
            path,
            req.method,
            &req.path,
            &query,
            &headers,
            body_len(&body),
        )?;
        let mut url = String::with_capacity(self.origin.len() + req.path.len() + 64);
        url.push_str(&self.origin);
        url.push_str(&req.path);
        let mut sep = '?';
        for (k, v) in &query {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.extend(utf8_percent_encode(v, QUERY_SET));
            sep = '&';
        }
        if let Some(sas) = authz.sas {
            url.push(sep);
            url.push_str(sas);
        }
        let mut all = headers;
        all.extend(authz.headers.iter().map(|(k, v)| (*k, v.as_str())));
        transport.send(path, req.method, &url, &all, body)
    }

    /// Sends and turns any non-2xx status into an error about `path`.
    pub(crate) fn send_ok(&self, path: &str, req: &Req, body: RequestBody<'_>) -> Result<Response> {
        let resp = self.send(path, req, body)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.error_for(path, resp))
        }
    }

    /// A failed response as an error; a missing container names the
    /// container.
    pub(crate) fn error_for(&self, path: &str, resp: Response) -> Error {
        self.name_container(path, response_error(path, resp))
    }

    pub(crate) fn name_container(&self, path: &str, err: Error) -> Error {
        if err.provider_code() == Some("ContainerNotFound") {
            if let Error::NotFound { remote, .. } = err {
                return Error::NotFound {
                    path: format!("azure://{} (container, for {path})", self.container),
                    remote,
                };
            }
        }
        err
    }

    /// Put Blob of exactly the body's bytes.
    pub(crate) fn put_blob(&self, path: &str, key: &str, body: RequestBody<'_>) -> Result<()> {
        let req = Req::new("PUT", self.blob_path(key))
            .header("content-type", content_type(key))
            .header("x-ms-blob-type", "BlockBlob");
        self.send_ok(path, &req, body).map(|_| ())
    }

    /// Delete Blob (with its snapshots); a missing blob is fine.
    pub(crate) fn delete_blob(&self, path: &str, key: &str) -> Result<()> {
        let req =
            Req::new("DELETE", self.blob_path(key)).header("x-ms-delete-snapshots", "include");
        match self.send_ok(path, &req, RequestBody::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.provider_code() == Some("BlobNotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Get Blob Properties: `Some(response)`, or `None` when the blob is
    /// missing (a missing container is an error).
    fn head(&self, path: &str, key: &str) -> Result<Option<Response>> {
        let req = Req::new("HEAD", self.blob_path(key));
        let resp = self.send(path, &req, RequestBody::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(resp)),
            404 if header(&resp, "x-ms-error-code") != Some("ContainerNotFound") => Ok(None),
            _ => Err(self.error_for(path, resp)),
        }
    }

    /// Get Blob of a range (`x-ms-range`); `None` when the range is not
    /// satisfiable (416: the offset is at or past the end).
    fn get_range(
        &self,
        path: &str,
        key: &str,
        offset: u64,
        range: String,
    ) -> Result<Option<Response>> {
        let req = Req::new("GET", self.blob_path(key)).header("x-ms-range", range);
        self.ranged(path, &req, offset)
    }

    /// Get Blob from `offset` (a range when above 0), conditional on
    /// `if_match`. `None` when the offset is at or past the end.
    fn get_checked(
        &self,
        path: &str,
        key: &str,
        offset: u64,
        if_match: Option<&str>,
    ) -> Result<Option<Response>> {
        let mut req = Req::new("GET", self.blob_path(key));
        if offset > 0 {
            req = req.header("x-ms-range", format!("bytes={offset}-"));
        }
        if let Some(v) = if_match {
            req = req.header("if-match", v);
        }
        self.ranged(path, &req, offset)
    }

    /// Sends a ranged Get Blob; `None` when the range starts at or past
    /// the end.
    fn ranged(&self, path: &str, req: &Req, offset: u64) -> Result<Option<Response>> {
        let resp = self.send(path, req, RequestBody::Empty)?;
        match resp.status().as_u16() {
            // Azurite answers a range starting exactly at the end with 206
            // and `Content-Range: bytes 10-9/10` where Azure says 416.
            206 if range_total(&resp).is_some_and(|total| offset >= total && total > 0) => Ok(None),
            200..=299 => Ok(Some(resp)),
            416 => Ok(None),
            _ => Err(self.error_for(path, resp)),
        }
    }

    /// The blob's size, NotFound when missing.
    fn size_of(&self, path: &str, key: &str) -> Result<u64> {
        let resp = self
            .head(path, key)?
            .ok_or_else(|| Error::not_found(path))?;
        content_length(path, &resp)
    }
}

impl RangedStore for AzureInner {
    fn object_key(&self, path: &str) -> Result<String> {
        validate_key(path).map(str::to_owned)
    }

    fn get_from(&self, path: &str, key: &str, offset: u64, if_match: Option<&str>) -> Result<Option<Response>> {
        self.get_checked(path, key, offset, if_match)
    }

    fn head_matching(&self, path: &str, key: &str, if_match: &str) -> Result<Response> {
        let req = Req::new("HEAD", self.blob_path(key)).header("if-match", if_match);
        self.send_ok(path, &req, RequestBody::Empty)
    }

    fn fetch_range(&self, path: &str, key: &str, range: &str, etag: &str) -> Result<Response> {
        let req = Req::new("GET", self.blob_path(key))
            .header("x-ms-range", range)
            .header("if-match", etag);
        self.send_ok(path, &req, RequestBody::Empty)
    }

    fn ranged_download(&self) -> &RangedDownload {
        &self.download
    }

    fn worker_pool(&self) -> Arc<Pool> {
        self.pool()
    }
}

/// The total size in a `Content-Range: bytes a-b/total` header.
fn range_total(resp: &Response) -> Option<u64> {
    header(resp, "content-range")?
        .rsplit('/')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A source that retries reads interrupted by a signal, so an `Interrupted`
/// error never aborts an upload, and counts what it gave.
struct Uninterrupted<'a> {
    inner: &'a mut dyn Read,
    taken: u64,
}

impl Read for Uninterrupted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(n) => {
                    self.taken += n as u64;
                    return Ok(n);
                }
                other => return other,
            }
        }
    }
}

impl Backend for AzureBlobBackend {
    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let key = validate_key(path)?;
        if (data.len() as u64) < self.inner.single_put_threshold {
            return self.inner.put_blob(path, key, RequestBody::Bytes(data));
        }
        let mut reader = data;
        blocks::upload(&self.inner, path, key, &mut reader, Some(data.len() as u64))
    }

    fn write_reader(&self, path: &str, reader: &mut dyn Read, size: Option<u64>) -> Result<()> {
        let key = validate_key(path)?;
        match size {
            // Small enough to hold: read it first, so the request can be
            // sent again if its connection turns out to be closed.
            Some(n) if n < self.inner.single_put_threshold && n <= REPLAYABLE_PUT_SIZE => {
                let mut data = Vec::with_capacity(n as usize);
                let mut src = Uninterrupted {
                    inner: reader,
                    taken: 0,
                };
                (&mut src)
                    .take(n)
                    .read_to_end(&mut data)
                    .map_err(|e| Error::Io {
                        path: path.to_owned(),
                        operation: "read source",
                        source: e,
                    })?;
                if data.len() as u64 != n {
                    return Err(Error::Io {
                        path: path.to_owned(),
                        operation: "read source",
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("source gave {} bytes, {n} were announced", data.len()),
                        ),
                    });
                }
                self.inner.put_blob(path, key, RequestBody::Bytes(&data))
            }
            Some(n) if n < self.inner.single_put_threshold => {
                let mut reader = Uninterrupted {
                    inner: reader,
                    taken: 0,
                };
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let mut src = TrackedSource::new(&mut reader, n);
                    let result = self
                        .inner
                        .put_blob(path, key, RequestBody::Reader(&mut src, n))
                        .map_err(|e| src.explain(path, e));
                    // A connection found closed before the source gave a
                    // byte: nothing was consumed, so it can be sent again.
                    match result {
                        Err(e)
                            if attempt < STALE_ATTEMPTS
                                && reader.taken == 0
                                && stale_connection(&e) =>
                        {
                            log::debug!("resending PUT {path} after: {e}");
                        }
                        other => return other,
                    }
                }
            }
            _ => blocks::upload(&self.inner, path, key, reader, size),
        }
    }

    ranged_reads!();

    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let key = validate_key(path)?;
        if buf.is_empty() {
            let size = self.inner.size_of(path, key)?;
            if offset > 0 && offset >= size {
                return Err(past_end(path, offset, Some(size)));
            }
            return Ok(0);
        }
        let last = offset.saturating_add(buf.len() as u64 - 1);
        let Some(resp) =
            self.inner
                .get_range(path, key, offset, format!("bytes={offset}-{last}"))?
        else {
            // An empty blob has no byte 0, yet offset 0 reads nothing.
            if offset == 0 && self.inner.size_of(path, key)? == 0 {
                return Ok(0);
            }
            return Err(past_end(path, offset, None));
        };
        let mut bounded = BoundedWriter::new(buf);
        ranged_body(path, resp, offset, &mut bounded)?;
        Ok(bounded.filled())
    }

    fn stat_file(&self, path: &str) -> Result<Option<u64>> {
        let key = validate_key(path)?;
        match self.inner.head(path, key)? {
            Some(resp) => content_length(path, &resp).map(Some),
            None => Ok(None),
        }
    }

    fn exists(&self, path: &str) -> Result<bool> {
        let key = validate_key(path)?;
        Ok(self.inner.head(path, key)?.is_some())
    }

    fn delete(&self, path: &str) -> Result<()> {
        let key = validate_key(path)?;
        self.inner.delete_blob(path, key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        list::list(&self.inner, prefix, None, &mut |entry| {
            if let list::Entry::Blob { name, .. } = entry {
                out.push(name);
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
        "azure"
    }

    fn config_json(&self) -> String {
        serde_json::json!({
            "container": self.inner.container,
            "account_name": self.inner.account,
            "endpoint": self.inner.endpoint,
            "auth": self.inner.auth.method(),
            "block_size": self.inner.block_size,
            "single_put_threshold": self.inner.single_put_threshold,
            "upload_concurrency": self.inner.upload_concurrency,
            "download_threshold": self.inner.download.threshold,
            "download_part_size": self.inner.download.part_size,
            "download_concurrency": self.inner.download.concurrency,
        })
        .to_string()
    }

    fn storage_root(&self) -> String {
        format!("azure://{}/", self.inner.container)
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

impl ObjectLister for AzureBlobBackend {
    fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        list::list(&self.inner, prefix, None, &mut |entry| {
            if let list::Entry::Blob {
                name,
                size,
                last_modified,
            } = entry
            {
                out.push(ObjectInfo {
                    path: name,
                    size,
                    last_modified,
                });
            }
        })?;
        out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

impl DirectoryLister for AzureBlobBackend {
    fn list_directories(&self, prefix: &str) -> Result<Vec<String>> {
        let mut dir = validate_prefix(prefix)?.to_owned();
        if !dir.is_empty() && !dir.ends_with('/') {
            dir.push('/');
        }
        let mut out = Vec::new();
        list::list(&self.inner, &dir, Some("/"), &mut |entry| {
            if let list::Entry::Prefix(p) = entry {
                let name = p.get(dir.len()..).unwrap_or("").trim_end_matches('/');
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

impl DirectoryRemover for AzureBlobBackend {
    /// Object stores have no directories: nothing to remove.
    fn remove_directory(&self, path: &str) -> Result<()> {
        let key = validate_prefix(path)?.trim_end_matches('/');
        if key.is_empty() {
            return Err(Error::invalid_path(
                path,
                "empty directory path (the container itself)",
            ));
        }
        Ok(())
    }
}

impl AppendingBackend for AzureBlobBackend {
    fn append_reader(&self, path: &str, _reader: &mut dyn Read, _append_size: u64) -> Result<()> {
        validate_key(path)?;
        Err(Error::ResumeNotSupported {
            path: path.to_owned(),
            backend: "azure",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_follow_azure_rules() {
        for good in ["abc", "data-2024", "$root", &"a".repeat(63)] {
            assert!(check_container_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Data",
            "a--b",
            "-ab",
            "ab-",
            "a_b",
            "a/b",
            &"a".repeat(64),
        ] {
            assert!(check_container_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blob_paths_escape_everything_but_unreserved_and_slash() {
        let cfg = AzureBlobConfig {
            endpoint: Some("http://127.0.0.1:1/devstoreaccount1/".into()),
            ..AzureBlobConfig::from_connection_string("UseDevelopmentStorage=true", "data")
        };
        let resolved = config::resolve(&cfg, &config::ProcessEnv).unwrap();
        assert_eq!(resolved.endpoint.path(), "/devstoreaccount1/");
        let inner = AzureInner {
            account: "devstoreaccount1".into(),
            container: "data".into(),
            endpoint: String::new(),
            origin: "http://127.0.0.1:1".into(),
            container_path: "/devstoreaccount1/data".into(),
            auth: Auth::new(
                "devstoreaccount1",
                resolved.credential,
                &HttpConfig::default(),
            )
            .unwrap(),
            transport: Transport::new(&HttpConfig::default()).unwrap(),
            single_put_threshold: 1,
            block_size: 1,
            upload_concurrency: 1,
            download: RangedDownload::new("Azure", 1, 1, 1).unwrap(),
            list_page_size: 1,
            pool: Mutex::new(None),
        };
        assert_eq!(
            inner.blob_path("db/a b+c%d!$&'()*,;=@~_.-/ü.parquet"),
            "/devstoreaccount1/data/db/a%20b%2Bc%25d%21%24%26%27%28%29%2A%2C%3B%3D%40~_.-/%C3%BC.parquet"
        );
    }

    #[test]
    fn content_type_is_parquet_for_parquet_keys() {
        assert_eq!(
            content_type("a/b.parquet"),
            "application/vnd.apache.parquet"
        );
        assert_eq!(content_type("a/b.parquet.tmp"), "application/octet-stream");
    }
}
