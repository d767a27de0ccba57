//! The one remote-store engine: every [`Backend`] method and capability,
//! written once for HTTP object stores, over a [`Protocol`] that knows how
//! one store signs a request and reads an answer (`src/s3/`, `src/azure/`).
//!
//! The engine owns what the stores share: key validation and the key
//! prefix, content types, the choice between one request and an upload in
//! parts (`upload.rs`), reads in parallel ranges (`download.rs`), listing
//! pages (`list.rs`), batches of deletes (`batch.rs`), the worker pool, and
//! retries through the call's budget ([`crate::retry`]; a protocol never
//! retries and never touches the pool). Answers become errors in one place
//! (`answer.rs`).

pub(crate) mod answer;
pub(crate) mod batch;
mod buffers;
pub(crate) mod client;
mod copy;
mod download;
mod list;
mod ranges;
pub(crate) mod settings;
mod upload;

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use self::client::Client;
use self::download::Sink;
use self::settings::Settings;
pub use self::settings::{
    DEFAULT_COALESCE_GAP, DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_DOWNLOAD_PARALLEL_BELOW,
    DEFAULT_DOWNLOAD_PART_SIZE, DEFAULT_DOWNLOAD_THRESHOLD, MAX_CONCURRENCY,
};
use crate::backend::{
    AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectInfo,
    ObjectLister, ObjectMeta, PresignMethod, PutMode, PutOptions, PutResult, ReadRange,
};
use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::error::{BatchFailure, Error, Result};
use crate::http::{header, RequestBody, Response};
use crate::paths;
use crate::pool::Pool;
use crate::retry;

/// A byte range of a GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// From this offset to the end.
    From(u64),
    /// From the first to the last offset, inclusive.
    Span(u64, u64),
}

impl ByteRange {
    /// The `Range` header value.
    pub(crate) fn header(self) -> String {
        match self {
            ByteRange::From(a) => format!("bytes={a}-"),
            ByteRange::Span(a, b) => format!("bytes={a}-{b}"),
        }
    }
}

/// What a GET asks for.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct GetOptions<'a> {
    pub(crate) range: Option<ByteRange>,
    /// Only this version (ETag).
    pub(crate) if_match: Option<&'a str>,
    /// Ask for the checksum the store keeps of the object (S3's
    /// `x-amz-checksum-mode`; Azure always says it).
    pub(crate) checksum_mode: bool,
}

/// What a put sends besides the bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PutArgs<'a> {
    pub(crate) mode: &'a PutMode,
    pub(crate) content_type: &'a str,
    /// Checked names and values (see [`PutOptions::metadata`]).
    pub(crate) metadata: &'a [(String, String)],
    /// The store's checksum setting: what a part upload announces.
    pub(crate) checksum: ChecksumAlgorithm,
    /// The checksum of the whole body, where the request carries one: a
    /// put's, or what an upload in parts gives its completion.
    pub(crate) digest: Option<Checksum>,
}

/// A part uploaded: what the completion names it by, and the checksum sent
/// with it (S3 lists it again in the completion).
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) id: String,
    pub(crate) checksum: Option<Checksum>,
}

impl PutArgs<'_> {
    /// The header that makes a put conditional, the same on S3 and Azure:
    /// `If-None-Match: *` (only if absent) or `If-Match: <etag>`.
    pub(crate) fn condition(&self) -> Option<(&'static str, &str)> {
        match self.mode {
            PutMode::Overwrite => None,
            PutMode::Create => Some(("if-none-match", "*")),
            PutMode::Update(v) => Some(("if-match", v.as_str())),
        }
    }
}

/// Where a server-side copy stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CopyState {
    /// The copy is complete.
    Done,
    /// The store is still copying (Azure Copy Blob across its servers).
    Pending,
    /// The store gave up, saying why.
    Failed(String),
}

/// One entry of a listing page, with its full key (prefix included).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Object {
        key: String,
        size: u64,
        last_modified: SystemTime,
    },
    /// A common prefix (listings with a delimiter), ending in it.
    Prefix(String),
}

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct ListPage {
    pub(crate) entries: Vec<Entry>,
    /// Where the next page starts, when there is one.
    pub(crate) next: Option<String>,
}

/// What one object store brings to the engine: signed requests and parsed
/// answers, each sent through the engine's [`Client`]. Keys are full keys
/// (prefix included); `path` is the caller's, for errors. Each operation is
/// a trait of its own, implemented in the protocol's file for it
/// (`src/s3/get.rs`, `src/azure/list.rs`, ...).
pub(crate) trait Protocol: Ops + Sized {
    /// The store's kind: `"s3"`, `"azure"`.
    const KIND: &'static str;
    /// The name of the store's worker threads.
    const POOL_NAME: &'static str;
    /// The public type's name, for `Debug`.
    const TYPE_NAME: &'static str;
}

/// Everything a protocol does, as the engine reaches it: through one
/// `dyn` pointer, so the engine's code exists once in the binary, not once
/// per protocol.
pub(crate) trait Ops:
    Get + Put + Delete + List + Parts + ServerCopy + BatchDelete + Presign + Send + Sync + 'static
{
    /// Refuses keys (or listing prefixes) this store cannot hold beyond the
    /// rules every store shares.
    fn check_key(&self, original: &str, key: &str) -> Result<()> {
        let _ = (original, key);
        Ok(())
    }

    /// How the service measures an object's name (its limit is 1,024 of
    /// them, prefix included): S3 in bytes of UTF-8.
    fn name_unit(&self) -> paths::NameUnit {
        paths::NameUnit::Bytes
    }

    /// Checks the bucket or container, once, at open.
    fn check_root(&self, client: &Client) -> Result<()>;

    /// The protocol's fields of `config_json` (never a secret).
    fn config_json(&self, out: &mut serde_json::Map<String, serde_json::Value>);

    /// `s3://bucket/`, `azure://container/`.
    fn storage_root(&self) -> String;

    /// The header prefix of user metadata (`x-amz-meta-`, `x-ms-meta-`).
    fn meta_prefix(&self) -> &'static str;

    /// The checksum uploads send for the setting `a`: the store's own
    /// name for it, or [`ChecksumAlgorithm::None`] where the store has
    /// no header for it (nothing is computed then).
    fn upload_checksum(&self, a: ChecksumAlgorithm) -> ChecksumAlgorithm {
        a
    }

    /// Whether an upload in parts gives its completion the checksum of
    /// the whole object (computed in order as the parts are read).
    fn whole_checksum(&self, a: ChecksumAlgorithm) -> bool {
        let _ = a;
        false
    }

    /// The protocol's fields of `Debug` (never a secret).
    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>);
}

/// The longest a presigned URL may last: 7 days (SigV4's limit).
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// URLs that grant one request on an object to whoever holds them.
pub(crate) trait Presign {
    /// A URL for `method` on the object at `key`, valid for `expires`
    /// (checked: 1 s to 7 days).
    fn presign(&self, method: PresignMethod, path: &str, key: &str, expires: Duration) -> Result<String>;
}

/// Reading one object.
pub(crate) trait Get {
    /// GET; a 2xx answer.
    fn get(&self, c: &Client, path: &str, key: &str, o: &GetOptions<'_>) -> Result<Response>;

    /// The checksum of the whole object that a GET answer carries, when it
    /// carries one that blobio can check (not S3's checksums of parts).
    fn stored_checksum(&self, resp: &Response) -> Option<Checksum>;

    /// HEAD, conditional on `if_match`; `None` when the object is missing.
    fn head(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Option<Response>>;
}

/// Writing one object in one request.
pub(crate) trait Put {
    /// Makes the object what `body` holds, under the mode's condition;
    /// returns the new ETag.
    fn put(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        body: RequestBody<'_>,
        o: &PutArgs<'_>,
    ) -> Result<Option<String>>;
}

/// Deleting one object.
pub(crate) trait Delete {
    /// Deletes the object; a missing one is not an error.
    fn delete(&self, c: &Client, path: &str, key: &str) -> Result<()>;
}

/// Listing.
pub(crate) trait List {
    /// One page of keys starting with `prefix`, after `token`.
    fn list_page(
        &self,
        c: &Client,
        path: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<ListPage>;
}

/// Uploads in parts.
pub(crate) trait Parts {
    /// Begins an upload in parts; returns its id.
    fn start_upload(&self, c: &Client, path: &str, key: &str, o: &PutArgs<'_>) -> Result<String>;

    /// Uploads part `n` (from 0) of `upload`, with its checksum when there
    /// is one; returns what the commit needs of it.
    #[allow(clippy::too_many_arguments)]
    fn put_part(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        upload: &str,
        n: u32,
        data: &[u8],
        checksum: Option<Checksum>,
    ) -> Result<Part>;

    /// Makes the object the parts, in order, atomically, under the mode's
    /// condition; returns the new ETag.
    fn complete_upload(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        upload: &str,
        parts: &[Part],
        o: &PutArgs<'_>,
    ) -> Result<Option<String>>;

    /// Drops the parts of a failed upload (best effort).
    fn abort_upload(&self, c: &Client, path: &str, key: &str, upload: &str);
}

/// Copying on the server.
pub(crate) trait ServerCopy {
    /// Copies the object `src` to `dst` in one request, with the content
    /// type and metadata of `o` (the source's) and under its mode's
    /// condition (on `dst`); returns the new ETag, when the answer gives
    /// it, and where the copy stands.
    fn copy(
        &self,
        c: &Client,
        path: &str,
        src: &str,
        dst: &str,
        o: &PutArgs<'_>,
    ) -> Result<(Option<String>, CopyState)>;

    /// Where a copy to the object stands, from a HEAD answer of it.
    fn copy_state(&self, resp: &Response) -> CopyState {
        let _ = resp;
        CopyState::Done
    }

    /// Copies bytes `range.0..=range.1` of `src` (still version
    /// `src_etag`) as part `n` (from 0) of `upload` to `dst`; returns what
    /// the commit needs of it.
    #[allow(clippy::too_many_arguments)]
    fn copy_part(
        &self,
        c: &Client,
        path: &str,
        src: &str,
        src_etag: &str,
        dst: &str,
        upload: &str,
        n: u32,
        range: (u64, u64),
    ) -> Result<Part>;
}

/// Deleting many objects per request.
pub(crate) trait BatchDelete {
    /// Keys per request, and requests in flight at most.
    fn batch_limits(&self) -> (usize, usize);

    /// Whether a key can go into a batch request (else it is deleted alone).
    fn batchable(&self, key: &str) -> bool {
        let _ = key;
        true
    }

    /// Deletes `(key, path)` pairs in one request; returns the failures.
    fn delete_chunk(&self, c: &Client, chunk: &[(String, String)]) -> Vec<BatchFailure>;
}

/// What the engine knows of one store, shared with its pool's jobs.
pub(crate) struct Engine {
    pub(crate) proto: Arc<dyn Ops>,
    pub(crate) client: Client,
    pub(crate) settings: Settings,
    kind: &'static str,
    pool_name: &'static str,
    pool: Mutex<Option<Arc<Pool>>>,
    /// Part and range buffers kept between transfers.
    pub(crate) buffers: Arc<buffers::Buffers>,
}

/// A store over an HTTP object-storage protocol: [`crate::S3Backend`] and
/// [`crate::AzureBlobBackend`] are this engine over their protocols.
#[allow(private_bounds)]
pub struct RemoteStore<P: Protocol> {
    pub(crate) inner: Arc<Engine>,
    /// The protocol itself (the engine's `dyn` view is the same object),
    /// for what only this kind of store has (its bucket, its container).
    pub(crate) proto: Arc<P>,
}

#[allow(private_bounds)]
impl<P: Protocol> fmt::Debug for RemoteStore<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(P::TYPE_NAME);
        self.inner.proto.describe(&mut d);
        d.field("prefix", &self.inner.settings.prefix)
            .finish_non_exhaustive()
    }
}

/// Content type by extension: Parquet gets its registered type.
pub(crate) fn content_type(path: &str) -> &'static str {
    if path.ends_with(".parquet") {
        "application/vnd.apache.parquet"
    } else {
        "application/octet-stream"
    }
}

/// `Content-Range: bytes a-b/total` (total may be `*`).
pub(crate) fn content_range(resp: &Response) -> Option<(u64, u64, Option<u64>)> {
    let v = header(resp, "content-range")?.trim();
    let rest = v.strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

impl Engine {
    /// The full key of a user path (validated, prefix applied).
    pub(crate) fn key(&self, path: &str) -> Result<String> {
        let key = paths::validate_key(path)?;
        self.proto.check_key(path, key)?;
        let prefix = &self.settings.prefix;
        let mut full = String::with_capacity(prefix.len() + key.len());
        full.push_str(prefix);
        full.push_str(key);
        paths::check_name_length(path, &full, self.proto.name_unit())?;
        Ok(full)
    }

    /// The full listing prefix of a user prefix.
    pub(crate) fn list_prefix(&self, prefix: &str) -> Result<String> {
        let p = paths::validate_prefix(prefix)?;
        self.proto.check_key(prefix, p)?;
        Ok(format!("{}{p}", self.settings.prefix))
    }

    /// The pool, made on first use (its threads start with its first job).
    pub(crate) fn pool(&self) -> Arc<Pool> {
        let mut guard = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .get_or_insert_with(|| {
                let buffers = Arc::clone(&self.buffers);
                let pool = Pool::new(self.pool_name, self.settings.pool_size())
                    .on_idle(buffers::IDLE, Arc::new(move || buffers.trim()));
                Arc::new(pool)
            })
            .clone()
    }

    /// HEAD: the answer, or `None` when the object is missing.
    pub(crate) fn head(&self, path: &str, key: &str) -> Result<Option<Response>> {
        self.proto.head(&self.client, path, key, None)
    }

    /// What a HEAD answer says of the object.
    pub(crate) fn object_meta(&self, path: &str, resp: &Response) -> Result<ObjectMeta> {
        let mut meta = ObjectMeta::new(content_length(path, resp)?);
        meta.version = header(resp, "etag").map(str::to_owned);
        meta.last_modified = header(resp, "last-modified").and_then(crate::time::parse_http_date);
        meta.content_type = header(resp, "content-type").map(str::to_owned);
        let prefix = self.proto.meta_prefix();
        for (name, value) in resp.headers() {
            if let (Some(name), Ok(value)) = (name.as_str().strip_prefix(prefix), value.to_str()) {
                meta.metadata.push((name.to_owned(), value.to_owned()));
            }
        }
        meta.metadata.sort_unstable();
        Ok(meta)
    }

    /// The object's size, NotFound when missing.
    pub(crate) fn size_of(&self, path: &str, key: &str) -> Result<u64> {
        let resp = self
            .head(path, key)?
            .ok_or_else(|| Error::not_found(path))?;
        content_length(path, &resp)
    }

    /// What a put of `key` sends with `o`.
    pub(crate) fn put_args<'k>(&self, key: &'k str, o: &'k PutOptions) -> PutArgs<'k> {
        PutArgs {
            mode: &o.mode,
            content_type: o.content_type.as_deref().unwrap_or(content_type(key)),
            metadata: &o.metadata,
            checksum: self.proto.upload_checksum(self.settings.checksum),
            digest: None,
        }
    }
}

/// A failed conditional put as the mode names it: S3 answers a create that
/// finds an object with 412 (Azure with 409), so 412 to a create is
/// AlreadyExists; an update of an object that is gone did not find its
/// version, so that NotFound (of the object, not of the bucket or
/// container, which keeps its own path) is PreconditionFailed. S3's 409
/// ConditionalRequestConflict (a concurrent conditional write won) stays
/// PreconditionFailed in every mode: nothing says an object is there.
pub(crate) fn conditioned(mode: &PutMode, path: &str, err: Error) -> Error {
    let conflict = err.provider_code() == Some("ConditionalRequestConflict");
    match (mode, err) {
        (PutMode::Create, Error::PreconditionFailed { path: p, remote }) if !conflict => {
            Error::AlreadyExists { path: p, remote }
        }
        (PutMode::Update(_), Error::NotFound { path: p, remote }) if p == path => {
            Error::PreconditionFailed { path: p, remote }
        }
        (_, err) => err,
    }
}

/// The size a response's Content-Length gives.
pub(crate) fn content_length(path: &str, resp: &Response) -> Result<u64> {
    header(resp, "content-length")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::Other {
            path: path.to_owned(),
            message: "response has no valid Content-Length".into(),
            remote: None,
            source: None,
        })
}

#[allow(private_bounds)]
impl<P: Protocol> RemoteStore<P> {
    /// Opens a store: checks the settings, then the bucket or container
    /// with `check` (a short-timeout client; a failure is only logged, so a
    /// store can be made before its bucket).
    pub(crate) fn open(
        proto: P,
        client: Client,
        settings: Settings,
        check: Option<Client>,
    ) -> Result<Self> {
        let settings = settings.check()?;
        let kept = settings.upload_concurrency.max(settings.download.concurrency) + 1;
        let proto = Arc::new(proto);
        let store = RemoteStore {
            inner: Arc::new(Engine {
                proto: Arc::clone(&proto) as Arc<dyn Ops>,
                client,
                settings,
                kind: P::KIND,
                pool_name: P::POOL_NAME,
                pool: Mutex::new(None),
                buffers: Arc::new(buffers::Buffers::new(kept)),
            }),
            proto,
        };
        if let Some(check) = check {
            if let Err(e) = store.inner.proto.check_root(&check) {
                log::warn!(
                    "{} check failed (the store is usable once it exists): {e}",
                    store.inner.proto.storage_root()
                );
            }
        }
        Ok(store)
    }

    /// The normalised key prefix (empty or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.inner.settings.prefix
    }
}

/// The `Backend` methods and capabilities of every remote store, written
/// once (and compiled once: [`RemoteStore`] hands each call on).
impl Engine {
    fn call(&self) -> retry::ScopeGuard {
        retry::enter_call(&self.settings.retry)
    }

    pub(crate) fn put(
        self: &Arc<Self>,
        path: &str,
        data: &[u8],
        o: &PutOptions,
    ) -> Result<PutResult> {
        let key = self.key(path)?;
        o.check()?;
        let _call = self.call();
        upload::write(self, path, &key, data, o)
            .map(PutResult::new)
            .map_err(|e| conditioned(&o.mode, path, e))
    }

    pub(crate) fn put_reader(
        self: &Arc<Self>,
        path: &str,
        reader: &mut dyn Read,
        size: Option<u64>,
        o: &PutOptions,
    ) -> Result<PutResult> {
        let key = self.key(path)?;
        o.check()?;
        let _call = self.call();
        upload::write_reader(self, path, &key, reader, size, o)
            .map(PutResult::new)
            .map_err(|e| conditioned(&o.mode, path, e))
    }

    pub(crate) fn read(self: &Arc<Self>, path: &str) -> Result<Vec<u8>> {
        let _call = self.call();
        let mut out = Vec::new();
        download::read(self, path, Sink::Vec(&mut out), 0, None, &mut None)?;
        Ok(out)
    }

    pub(crate) fn read_to(self: &Arc<Self>, path: &str, writer: &mut dyn Write) -> Result<u64> {
        let _call = self.call();
        download::read(self, path, Sink::Writer(writer), 0, None, &mut None)
    }

    pub(crate) fn read_to_at(
        self: &Arc<Self>,
        path: &str,
        writer: &mut dyn Write,
        offset: u64,
    ) -> Result<u64> {
        let _call = self.call();
        download::read(self, path, Sink::Writer(writer), offset, None, &mut None)
    }

    pub(crate) fn read_to_checked(
        self: &Arc<Self>,
        path: &str,
        writer: &mut dyn Write,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        let _call = self.call();
        download::read(self, path, Sink::Writer(writer), 0, None, seen_version)
    }

    /// The version is the ETag, taken from the response before any byte is
    /// written, and compared with `if_match` as well as sent in `If-Match`
    /// (not every S3-compatible server honours the header).
    pub(crate) fn read_to_at_checked(
        self: &Arc<Self>,
        path: &str,
        writer: &mut dyn Write,
        offset: u64,
        if_match: Option<&str>,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        let _call = self.call();
        download::read(
            self,
            path,
            Sink::Writer(writer),
            offset,
            if_match,
            seen_version,
        )
    }

    pub(crate) fn read_range(
        self: &Arc<Self>,
        path: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize> {
        let _call = self.call();
        download::read_range(self, path, offset, buf)
    }

    pub(crate) fn presign(self: &Arc<Self>, method: PresignMethod, path: &str, expires: Duration) -> Result<String> {
        let key = self.key(path)?;
        if expires < Duration::from_secs(1) || expires > MAX_PRESIGN {
            return Err(Error::invalid_argument(format!(
                "{path}: a presigned URL lasts 1 s to 7 days, not {} s",
                expires.as_secs()
            )));
        }
        self.proto.presign(method, path, &key, expires)
    }

    pub(crate) fn read_ranges(self: &Arc<Self>, path: &str, ranges: &mut [ReadRange<'_>]) -> Result<()> {
        let _call = self.call();
        ranges::read_ranges(self, path, ranges)
    }

    pub(crate) fn stat_file(self: &Arc<Self>, path: &str) -> Result<Option<u64>> {
        let key = self.key(path)?;
        let _call = self.call();
        match self.head(path, &key)? {
            Some(resp) => content_length(path, &resp).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn copy(
        self: &Arc<Self>,
        from: &str,
        to: &str,
        o: &PutOptions,
    ) -> Result<PutResult> {
        let (src, dst) = (self.key(from)?, self.key(to)?);
        let _call = self.call();
        copy::copy(self, from, to, &src, &dst, o)
            .map(PutResult::new)
            .map_err(|e| conditioned(&o.mode, to, e))
    }

    /// A copy, then the delete of the source: not atomic. A failed copy
    /// deletes nothing; a failed delete leaves both objects.
    pub(crate) fn rename(
        self: &Arc<Self>,
        from: &str,
        to: &str,
        o: &PutOptions,
    ) -> Result<PutResult> {
        let put = self.copy(from, to, o)?;
        self.delete(from)?;
        Ok(put)
    }

    pub(crate) fn head_object(self: &Arc<Self>, path: &str) -> Result<ObjectMeta> {
        let key = self.key(path)?;
        let _call = self.call();
        let resp = self
            .head(path, &key)?
            .ok_or_else(|| Error::not_found(path))?;
        self.object_meta(path, &resp)
    }

    pub(crate) fn exists(self: &Arc<Self>, path: &str) -> Result<bool> {
        let key = self.key(path)?;
        let _call = self.call();
        Ok(self.head(path, &key)?.is_some())
    }

    pub(crate) fn delete(self: &Arc<Self>, path: &str) -> Result<()> {
        let key = self.key(path)?;
        let _call = self.call();
        self.proto.delete(&self.client, path, &key)
    }

    pub(crate) fn list(self: &Arc<Self>, prefix: &str) -> Result<Vec<String>> {
        let _call = self.call();
        let mut out = Vec::new();
        list::list(self, prefix, None, &mut |entry| {
            if let Entry::Object { key, .. } = entry {
                out.push(key);
            }
        })?;
        out.sort_unstable();
        Ok(out)
    }

    pub(crate) fn close(self: &Arc<Self>) -> Result<()> {
        let pool = self.pool.lock().ok().and_then(|mut p| p.take());
        if let Some(pool) = pool {
            pool.shutdown();
        }
        Ok(())
    }

    pub(crate) fn config_json(self: &Arc<Self>) -> String {
        let s = &self.settings;
        let mut out = serde_json::Map::new();
        self.proto.config_json(&mut out);
        let mut put = |k: &str, v: serde_json::Value| {
            out.insert(k.to_owned(), v);
        };
        put("prefix", s.prefix.clone().into());
        put(s.names.single_put_threshold, s.single_put_threshold.into());
        put(s.names.part_size, s.part_size.into());
        put("upload_concurrency", s.upload_concurrency.into());
        if s.copy_threshold != u64::MAX {
            put("copy_threshold", s.copy_threshold.into());
        }
        put("download_threshold", s.download.threshold.into());
        put("download_part_size", s.download.part_size.into());
        put("download_concurrency", s.download.concurrency.into());
        put("download_parallel_below", s.download.parallel_below.into());
        put("coalesce_gap", s.download.coalesce_gap.into());
        put("checksum", s.checksum.as_str().into());
        put("max_retries", s.retry.max_retries.into());
        put(
            "retry_timeout_ms",
            (s.retry.retry_timeout.as_millis() as u64).into(),
        );
        put("retry_delay_ms", (s.retry.base_delay.as_millis() as u64).into());
        put("retry_max_delay_ms", (s.retry.max_delay.as_millis() as u64).into());
        serde_json::Value::Object(out).to_string()
    }

    pub(crate) fn storage_root(self: &Arc<Self>) -> String {
        format!("{}{}", self.proto.storage_root(), self.settings.prefix)
    }

    pub(crate) fn list_objects(self: &Arc<Self>, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let _call = self.call();
        let mut out = Vec::new();
        list::list(self, prefix, None, &mut |entry| {
            if let Entry::Object {
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

    pub(crate) fn list_directories(self: &Arc<Self>, prefix: &str) -> Result<Vec<String>> {
        let _call = self.call();
        let mut dir = paths::validate_prefix(prefix)?.to_owned();
        if !dir.is_empty() && !dir.ends_with('/') {
            dir.push('/');
        }
        let mut out = Vec::new();
        list::list(self, &dir, Some("/"), &mut |entry| {
            if let Entry::Prefix(p) = entry {
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

    /// Object stores have no directories: nothing to remove.
    pub(crate) fn remove_directory(self: &Arc<Self>, path: &str) -> Result<()> {
        let key = paths::validate_prefix(path)?;
        self.proto.check_key(path, key)?;
        if key.trim_end_matches('/').is_empty() {
            return Err(Error::invalid_path(
                path,
                "empty directory path (the store's root)",
            ));
        }
        Ok(())
    }

    pub(crate) fn append_reader(
        self: &Arc<Self>,
        path: &str,
        _reader: &mut dyn Read,
        _append_size: u64,
    ) -> Result<()> {
        self.key(path)?;
        Err(Error::ResumeNotSupported {
            path: path.to_owned(),
            backend: self.kind,
        })
    }

    pub(crate) fn delete_batch(self: &Arc<Self>, paths: &[&str]) -> Result<()> {
        let _call = self.call();
        batch::delete_batch(self, paths)
    }
}

#[allow(private_bounds)]
impl<P: Protocol> Backend for RemoteStore<P> {
    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        self.inner.client.stats().call("write", || {
            self.inner.put(path, data, &PutOptions::default()).map(drop)
        })
    }

    fn write_reader(&self, path: &str, reader: &mut dyn Read, size: Option<u64>) -> Result<()> {
        self.inner.client.stats().call("write_reader", || {
            self.inner
                .put_reader(path, reader, size, &PutOptions::default())
                .map(drop)
        })
    }

    fn put(&self, path: &str, data: &[u8], options: &PutOptions) -> Result<PutResult> {
        self.inner.client.stats().call("put", || {
            self.inner.put(path, data, options)
        })
    }

    fn put_reader(
        &self,
        path: &str,
        reader: &mut dyn Read,
        size: Option<u64>,
        options: &PutOptions,
    ) -> Result<PutResult> {
        self.inner.client.stats().call("put", || {
            self.inner.put_reader(path, reader, size, options)
        })
    }

    fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.inner.client.stats().call("read", || {
            self.inner.read(path)
        })
    }

    fn read_to(&self, path: &str, writer: &mut dyn Write) -> Result<u64> {
        self.inner.client.stats().call("read_to", || {
            self.inner.read_to(path, writer)
        })
    }

    fn read_to_at(&self, path: &str, writer: &mut dyn Write, offset: u64) -> Result<u64> {
        self.inner.client.stats().call("read_to", || {
            self.inner.read_to_at(path, writer, offset)
        })
    }

    fn read_to_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        self.inner.client.stats().call("read_to", || {
            self.inner.read_to_checked(path, writer, seen_version)
        })
    }

    /// The version is the ETag, taken from the response before any byte is
    /// written, and compared with `if_match` as well as sent in `If-Match`
    /// (not every S3-compatible server honours the header).
    fn read_to_at_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        offset: u64,
        if_match: Option<&str>,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        self.inner.client.stats().call("read_to", || {
            self.inner
                .read_to_at_checked(path, writer, offset, if_match, seen_version)
        })
    }

    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.inner.client.stats().call("read_range", || {
            self.inner.read_range(path, offset, buf)
        })
    }

    fn read_ranges(&self, path: &str, ranges: &mut [ReadRange<'_>]) -> Result<()> {
        self.inner.client.stats().call("read_ranges", || {
            self.inner.read_ranges(path, ranges)
        })
    }

    fn presign(&self, method: PresignMethod, path: &str, expires: Duration) -> Result<String> {
        self.inner.client.stats().call("presign", || {
            self.inner.presign(method, path, expires)
        })
    }

    fn stat_file(&self, path: &str) -> Result<Option<u64>> {
        self.inner.client.stats().call("stat", || {
            self.inner.stat_file(path)
        })
    }

    fn exists(&self, path: &str) -> Result<bool> {
        self.inner.client.stats().call("exists", || {
            self.inner.exists(path)
        })
    }

    fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.inner.client.stats().call("head", || {
            self.inner.head_object(path)
        })
    }

    fn copy(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        self.inner.client.stats().call("copy", || {
            self.inner.copy(from, to, options)
        })
    }

    /// A server-side copy, then the delete of `from`: not atomic (a reader
    /// may see both objects for a moment; a failed delete leaves both).
    fn rename(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        self.inner.client.stats().call("rename", || {
            self.inner.rename(from, to, options)
        })
    }

    fn delete(&self, path: &str) -> Result<()> {
        self.inner.client.stats().call("delete", || {
            self.inner.delete(path)
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.client.stats().call("list", || {
            self.inner.list(prefix)
        })
    }

    fn close(&self) -> Result<()> {
        self.inner.close()
    }

    fn kind(&self) -> &'static str {
        P::KIND
    }

    fn config_json(&self) -> String {
        self.inner.config_json()
    }

    fn storage_root(&self) -> String {
        self.inner.storage_root()
    }

    fn stats_json(&self) -> Option<String> {
        Some(self.inner.client.stats().to_json())
    }

    fn reset_stats(&self) {
        self.inner.client.stats().reset()
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

#[allow(private_bounds)]
impl<P: Protocol> ObjectLister for RemoteStore<P> {
    fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.inner.client.stats().call("list_objects", || {
            self.inner.list_objects(prefix)
        })
    }
}

#[allow(private_bounds)]
impl<P: Protocol> DirectoryLister for RemoteStore<P> {
    fn list_directories(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.client.stats().call("list_directories", || {
            self.inner.list_directories(prefix)
        })
    }
}

#[allow(private_bounds)]
impl<P: Protocol> DirectoryRemover for RemoteStore<P> {
    /// Object stores have no directories: nothing to remove.
    fn remove_directory(&self, path: &str) -> Result<()> {
        self.inner.client.stats().call("remove_directory", || {
            self.inner.remove_directory(path)
        })
    }
}

#[allow(private_bounds)]
impl<P: Protocol> AppendingBackend for RemoteStore<P> {
    fn append_reader(&self, path: &str, reader: &mut dyn Read, append_size: u64) -> Result<()> {
        self.inner.client.stats().call("append", || {
            self.inner.append_reader(path, reader, append_size)
        })
    }
}

#[allow(private_bounds)]
impl<P: Protocol> BatchDeleter for RemoteStore<P> {
    fn delete_batch(&self, paths: &[&str]) -> Result<()> {
        self.inner.client.stats().call("delete_batch", || {
            self.inner.delete_batch(paths)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_is_parquet_for_parquet_keys() {
        assert_eq!(
            content_type("a/b.parquet"),
            "application/vnd.apache.parquet"
        );
        assert_eq!(content_type("a/b.parquet.tmp"), "application/octet-stream");
    }

    #[test]
    fn byte_ranges_render_as_range_headers() {
        assert_eq!(ByteRange::From(5).header(), "bytes=5-");
        assert_eq!(ByteRange::Span(0, 9).header(), "bytes=0-9");
    }
}
