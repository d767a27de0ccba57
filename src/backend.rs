//! The blocking `Backend` contract and its optional capabilities.
//!
//! Every store (local directory, S3, Azure Blob) implements [`Backend`].
//! Optional capabilities are separate traits, found at run time through the
//! `as_*` accessors, the way the Go package finds them with a type assertion.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::time::SystemTime;

use crate::error::Result;

/// Metadata of one object, as returned by [`ObjectLister::list_objects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store's root (and prefix), `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time as reported by the store.
    pub last_modified: SystemTime,
}

/// One range of [`Backend::read_ranges`]: `buf.len()` bytes wanted at
/// `offset`; the call sets `read` to how many arrived.
pub struct ReadRange<'a> {
    /// Offset in the object of the range's first byte.
    pub offset: u64,
    /// Where the bytes go; its length is how many are wanted.
    pub buf: &'a mut [u8],
    /// Bytes read into `buf`, set by the call.
    pub read: usize,
}

impl<'a> ReadRange<'a> {
    /// `buf.len()` bytes at `offset`, none read yet.
    pub fn new(offset: u64, buf: &'a mut [u8]) -> Self {
        ReadRange {
            offset,
            buf,
            read: 0,
        }
    }
}

/// The offset and the lengths, not the bytes.
impl fmt::Debug for ReadRange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadRange")
            .field("offset", &self.offset)
            .field("len", &self.buf.len())
            .field("read", &self.read)
            .finish()
    }
}

/// What a presigned URL lets its holder do ([`Backend::presign`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresignMethod {
    /// Read the object.
    Get,
    /// Write (create or replace) the object.
    Put,
    /// Read the object's size and headers.
    Head,
}

impl PresignMethod {
    /// `GET`, `PUT`, `HEAD`.
    pub fn as_str(self) -> &'static str {
        match self {
            PresignMethod::Get => "GET",
            PresignMethod::Put => "PUT",
            PresignMethod::Head => "HEAD",
        }
    }
}

/// How a write treats an object already at its key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum PutMode {
    /// Replace whatever is there (the plain `write`).
    #[default]
    Overwrite,
    /// Write only if nothing is at the key; otherwise
    /// [`crate::ErrorKind::AlreadyExists`] and nothing changes (S3 and
    /// Azure `If-None-Match: *`; local: a rename that refuses to replace).
    Create,
    /// Write only if the object is still this version (a
    /// [`PutResult::version`], or the version `head` reports); otherwise,
    /// or when the object is gone, [`crate::ErrorKind::PreconditionFailed`]
    /// and nothing changes (S3 and Azure `If-Match`; local: see
    /// [`crate::LocalBackend`]).
    Update(String),
}

/// What a write does besides storing the bytes (see [`Backend::put`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// What happens when an object is already at the key.
    pub mode: PutMode,
    /// The object's content type; `None` is the store's default for the
    /// key (`application/vnd.apache.parquet` for `.parquet`, else
    /// `application/octet-stream`). A type given here always wins.
    pub content_type: Option<String>,
    /// User metadata, stored with the object (S3 `x-amz-meta-*`, Azure
    /// `x-ms-meta-*`, local `user.blobio.meta.*` extended attributes) and
    /// reported by [`Backend::head`]. Names are what every store keeps
    /// alike: lower-case ASCII letters, digits and `_`, not starting with a
    /// digit; values are printable ASCII without leading or trailing
    /// spaces. Anything else is [`crate::ErrorKind::InvalidArgument`].
    pub metadata: Vec<(String, String)>,
}

impl PutOptions {
    /// Options of a write in `mode`.
    pub fn with_mode(mode: PutMode) -> Self {
        PutOptions {
            mode,
            ..PutOptions::default()
        }
    }

    /// Refuses a content type or metadata that not every store can hold
    /// as given (names that S3 lower-cases or Azure refuses, values that
    /// HTTP would trim or cannot carry).
    pub(crate) fn check(&self) -> crate::Result<()> {
        if let Some(ct) = &self.content_type {
            if ct.is_empty() || !printable(ct) {
                return Err(crate::Error::invalid_argument(format!(
                    "content type {ct:?} must be non-empty printable ASCII"
                )));
            }
        }
        for (name, value) in &self.metadata {
            let mut chars = name.bytes();
            let good_name = chars
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == b'_')
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
            if !good_name {
                return Err(crate::Error::invalid_argument(format!(
                    "metadata name {name:?}: lower-case ASCII letters, digits and _, \
                     not starting with a digit"
                )));
            }
            if !printable(value) || value.trim() != value {
                return Err(crate::Error::invalid_argument(format!(
                    "metadata {name}: value {value:?} must be printable ASCII without \
                     leading or trailing spaces"
                )));
            }
        }
        Ok(())
    }

    /// Whether these are the options of a plain `write`.
    pub fn is_plain(&self) -> bool {
        *self == PutOptions::default()
    }
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// What [`Backend::head`] reports of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// The version (ETag; local: the file token) that
    /// [`PutMode::Update`] takes, when the store names one.
    pub version: Option<String>,
    /// Last modification time, when the store says.
    pub last_modified: Option<SystemTime>,
    /// The content type, when the store keeps one.
    pub content_type: Option<String>,
    /// User metadata, sorted by name (see [`PutOptions::metadata`]).
    pub metadata: Vec<(String, String)>,
}

impl ObjectMeta {
    /// Metadata of an object of `size` bytes, nothing else known.
    pub fn new(size: u64) -> Self {
        ObjectMeta {
            size,
            version: None,
            last_modified: None,
            content_type: None,
            metadata: Vec::new(),
        }
    }

    /// The value of the user metadata `name`.
    pub fn metadata_value(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a successful write reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutResult {
    /// The new object's version: the ETag on S3 and Azure, a token of the
    /// file on the local store; what [`PutMode::Update`] takes. `None` only
    /// when the server gave none.
    pub version: Option<String>,
}

impl PutResult {
    /// A result reporting `version`.
    pub fn new(version: Option<String>) -> Self {
        PutResult { version }
    }
}

/// The blocking storage contract shared by every backend.
///
/// Paths are `/`-separated keys relative to the store's root. A leading `/` is
/// ignored. Every method validates its path: NUL bytes, empty keys, `..`
/// components and keys longer than [`crate::MAX_KEY_BYTES`] (1,024 bytes of
/// UTF-8) are [`crate::Error::InvalidPath`] errors on every backend, before
/// any request; a remote store also refuses a key that its own prefix takes
/// past the service's limit (1,024 bytes on S3, 1,024 characters on Azure).
///
/// A backend is `Send + Sync`: one instance may be shared by many threads.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Writes `data` to `path` atomically: a concurrent reader sees the old
    /// object or the new one, never a mix.
    fn write(&self, path: &str, data: &[u8]) -> Result<()>;

    /// Streams `reader` to `path`. `size` is the exact number of bytes the
    /// reader will give when known; a reader that ends early is an error and
    /// publishes nothing.
    fn write_reader(&self, path: &str, reader: &mut dyn Read, size: Option<u64>) -> Result<()>;

    /// [`Backend::write`] with options: a put mode (create only, or update
    /// only a given version); returns the new object's version. The
    /// provided implementation writes plain options with `write` (reporting
    /// no version) and refuses anything else with
    /// [`crate::ErrorKind::Unsupported`], never ignoring a condition.
    ///
    /// A conditional write that a retry sends again (after its first answer
    /// was lost) may fail although the first attempt succeeded: a `Create`
    /// then reports AlreadyExists, an `Update` PreconditionFailed.
    fn put(&self, path: &str, data: &[u8], options: &PutOptions) -> Result<PutResult> {
        if !options.is_plain() {
            return Err(unsupported_put(self.kind()));
        }
        self.write(path, data).map(|()| PutResult::default())
    }

    /// [`Backend::write_reader`] with options, as [`Backend::put`]: on an
    /// upload in parts the condition applies to its completion (nothing is
    /// visible before it, and a failed condition leaves nothing behind).
    fn put_reader(
        &self,
        path: &str,
        reader: &mut dyn Read,
        size: Option<u64>,
        options: &PutOptions,
    ) -> Result<PutResult> {
        if !options.is_plain() {
            return Err(unsupported_put(self.kind()));
        }
        self.write_reader(path, reader, size)
            .map(|()| PutResult::default())
    }

    /// The object's size, version, modification time, content type and
    /// user metadata; [`crate::ErrorKind::NotFound`] when it is missing.
    /// The provided implementation knows the size only (`stat_file`).
    fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.stat_file(path)?
            .map(ObjectMeta::new)
            .ok_or_else(|| crate::Error::not_found(path))
    }

    /// Copies the object `from` to `to` on the store itself (the bytes
    /// never pass through this process), with its content type and
    /// metadata; `options` gives the put mode (applied to `to`) and
    /// nothing else ([`crate::ErrorKind::InvalidArgument`] otherwise, as is
    /// a copy onto itself). Returns the copy's version. The provided
    /// implementation is [`crate::ErrorKind::Unsupported`].
    fn copy(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        let _ = (from, to, options);
        Err(crate::Error::Unsupported {
            operation: "copy",
            backend: self.kind(),
        })
    }

    /// Moves the object `from` to `to`, with the put mode of `options`
    /// (as [`Backend::copy`]): an atomic rename on the local store; a
    /// server-side copy and then a delete of `from` on S3 and Azure, which
    /// is not atomic (for a moment both exist; a failed copy deletes
    /// nothing). The provided implementation is
    /// [`crate::ErrorKind::Unsupported`].
    fn rename(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        let _ = (from, to, options);
        Err(crate::Error::Unsupported {
            operation: "rename",
            backend: self.kind(),
        })
    }

    /// Reads the whole object into memory.
    fn read(&self, path: &str) -> Result<Vec<u8>>;

    /// Streams the whole object into `writer`; returns the bytes written.
    fn read_to(&self, path: &str, writer: &mut dyn Write) -> Result<u64>;

    /// Streams the object from byte `offset` to its end into `writer`; returns
    /// the bytes written. Offset 0 is the whole object (an empty object gives
    /// nothing); an offset at or past the end of a non-empty object is
    /// [`crate::Error::InvalidArgument`].
    fn read_to_at(&self, path: &str, writer: &mut dyn Write, offset: u64) -> Result<u64>;

    /// Like [`Backend::read_to`], and says which version of the object it
    /// read, so that a read cut short can be resumed with
    /// [`Backend::read_to_at_checked`] without splicing two versions.
    ///
    /// A backend that can tell versions apart sets `*seen_version` to an
    /// opaque token of the version it is reading (S3: the ETag; local: size,
    /// modification time and inode) *before* it writes any byte to `writer`,
    /// so the token is there even when the transfer fails half-way. The
    /// provided implementation calls `read_to` and leaves it `None`: the
    /// backend cannot tell, and [`crate::ResilientBackend`] then never resumes
    /// a read of it that failed after delivering bytes.
    fn read_to_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        let _ = seen_version;
        self.read_to(path, writer)
    }

    /// Like [`Backend::read_to_at`], conditional on the object's version:
    /// the resumption of a read that was cut after `offset` bytes.
    ///
    /// `*seen_version` is set as for [`Backend::read_to_checked`], before any
    /// byte is written. With `if_match` (a token an earlier read reported),
    /// the read fails with [`crate::ErrorKind::PreconditionFailed`], writing
    /// nothing, unless the object is still that version (S3 sends `If-Match`
    /// and also compares the ETag it gets back, as not every S3-compatible
    /// server honours the header). With `if_match`, an `offset` equal to that
    /// version's size is not an error: it writes nothing and returns 0 (the
    /// earlier read was cut just after its last byte).
    ///
    /// Offsets otherwise follow [`Backend::read_to_at`]. The provided
    /// implementation calls `read_to_at` and leaves `seen_version` `None`; it
    /// refuses an `if_match` with [`crate::ErrorKind::Unsupported`] rather
    /// than ignore it. A backend that overrides [`Backend::read_to_checked`]
    /// overrides this too.
    fn read_to_at_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        offset: u64,
        if_match: Option<&str>,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        let _ = seen_version;
        if if_match.is_some() {
            return Err(crate::Error::Unsupported {
                operation: "conditional read (read_to_at_checked with if_match)",
                backend: self.kind(),
            });
        }
        self.read_to_at(path, writer, offset)
    }

    /// Reads up to `buf.len()` bytes starting at `offset` into `buf`; returns
    /// how many were read (fewer only at the end of the object). Offsets follow
    /// the rules of [`Backend::read_to_at`].
    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize>;

    /// Reads many ranges of one object in one call: each `ranges[i].buf`
    /// is filled from `ranges[i].offset` and `ranges[i].read` says how many
    /// bytes arrived (fewer than `buf.len()` only at the end of the object).
    /// Each range follows [`Backend::read_range`]: an offset at or past the
    /// end of a non-empty object is `InvalidArgument`, and then no range
    /// counts as read. Ranges may be in any order and may overlap.
    ///
    /// The remote stores merge ranges closer than `coalesce_gap` into one
    /// request (as long as it stays within `download_part_size`), split
    /// larger ones, run the requests in parallel, and read one version of
    /// the object: a replaced object fails with `ChangedDuringRead`. Bytes
    /// go straight into the callers' buffers. The local store reads every
    /// range from one open file. The default calls `read_range` per range.
    fn read_ranges(&self, path: &str, ranges: &mut [ReadRange<'_>]) -> Result<()> {
        let mut outcome = Ok(());
        for r in ranges.iter_mut() {
            match self.read_range(path, r.offset, r.buf) {
                Ok(n) => r.read = n,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if outcome.is_err() {
            ranges.iter_mut().for_each(|r| r.read = 0);
        }
        outcome
    }

    /// A URL that lets anyone holding it `method` the object at `path`
    /// for `expires` (at least 1 s), with no credentials of their own: S3
    /// presigns it with the store's current credentials (at most 7 days,
    /// and no longer than temporary credentials live); Azure makes a blob
    /// service SAS from the account key (a store without the key cannot).
    /// An anonymous S3 store (`skip_signature`) gives the plain URL. The
    /// URL is a secret: it grants what it says. The local store has none:
    /// `Unsupported`.
    fn presign(&self, method: PresignMethod, path: &str, expires: std::time::Duration) -> Result<String> {
        let _ = (method, path, expires);
        Err(crate::Error::Unsupported {
            operation: "presign",
            backend: self.kind(),
        })
    }

    /// The store's counters as JSON: calls by operation (count, errors,
    /// latency p50/p90/p99 in µs), requests by HTTP method and answer class
    /// (2xx, 3xx, 4xx, 5xx, network), bytes sent and received (request
    /// bodies and the lengths answers announced; the local store sends no
    /// requests), retries, errors by kind. A resilient store reports its
    /// inner store's, which sees each of the wrapper's attempts as a call. `None` for a store that keeps
    /// none (the provided implementation).
    fn stats_json(&self) -> Option<String> {
        None
    }

    /// Sets every counter of [`Backend::stats_json`] back to 0.
    fn reset_stats(&self) {}

    /// The object's size, or `None` when it does not exist.
    fn stat_file(&self, path: &str) -> Result<Option<u64>>;

    /// Whether the object exists.
    fn exists(&self, path: &str) -> Result<bool>;

    /// Deletes the object; deleting a missing object succeeds.
    fn delete(&self, path: &str) -> Result<()>;

    /// Every key that starts with `prefix` (a plain string prefix, as on S3),
    /// recursively, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Releases resources held by the backend. Later calls may fail.
    fn close(&self) -> Result<()> {
        Ok(())
    }

    /// The backend's kind: `"local"`, `"s3"` or `"azure"`.
    fn kind(&self) -> &'static str;

    /// The backend's configuration as JSON, without any secret.
    fn config_json(&self) -> String;

    /// Where this store's keys live for engines that read it directly
    /// (DuckDB's `read_parquet`), ending in `/`: the base directory for the
    /// local backend, `s3://bucket/prefix/`, `azure://container/`.
    fn storage_root(&self) -> String {
        "./data/".to_owned()
    }

    /// The base directory, for backends that are a local directory.
    fn local_base_path(&self) -> Option<&Path> {
        None
    }

    /// The batch-delete capability, if supported.
    fn as_batch_deleter(&self) -> Option<&dyn BatchDeleter> {
        None
    }

    /// The directory-listing capability, if supported.
    fn as_directory_lister(&self) -> Option<&dyn DirectoryLister> {
        None
    }

    /// The object-listing (with metadata) capability, if supported.
    fn as_object_lister(&self) -> Option<&dyn ObjectLister> {
        None
    }

    /// The directory-removal capability, if supported.
    fn as_directory_remover(&self) -> Option<&dyn DirectoryRemover> {
        None
    }

    /// The resumable-append capability, if supported.
    fn as_appending(&self) -> Option<&dyn AppendingBackend> {
        None
    }
}

fn unsupported_put(backend: &'static str) -> crate::Error {
    crate::Error::Unsupported {
        operation: "write with put options",
        backend,
    }
}

/// Deletes many objects in as few requests as the store allows.
pub trait BatchDeleter {
    /// Deletes every path it can. Missing objects are not failures. When some
    /// paths fail, returns [`crate::Error::Batch`] listing each of them; every
    /// other path has been deleted.
    fn delete_batch(&self, paths: &[&str]) -> Result<()>;
}

/// Lists immediate child "directories" under a prefix.
pub trait DirectoryLister {
    /// Names (without slashes) of the immediate child directories of the
    /// directory `prefix`, sorted. Hidden names (starting with `.`) are
    /// skipped. A missing directory lists as empty.
    ///
    /// `prefix` names a directory, not a partial name: `"p"` and `"p/"` give
    /// the same answer, and `""` (or `"/"`) is the root. On an object store
    /// a child directory is any `<prefix>/<name>/` that some key starts with
    /// (a delimiter listing), so writing `p/d1/x`, `p/d2/y` and `p/f` lists
    /// `["d1", "d2"]` for `p` on every backend; `p/d` lists nothing there.
    fn list_directories(&self, prefix: &str) -> Result<Vec<String>>;
}

/// Lists objects with their size and modification time.
pub trait ObjectLister {
    /// Like [`Backend::list`], with metadata, sorted by path.
    fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;
}

/// Removes empty directories.
pub trait DirectoryRemover {
    /// Removes the directory at `path` if it is empty; a missing directory is
    /// fine; a non-empty one is an error. Object stores have no directories
    /// and succeed without doing anything.
    ///
    /// `path` may end in `/`; an empty path (the root) is
    /// [`crate::Error::InvalidPath`], as are the key rule's other refusals.
    fn remove_directory(&self, path: &str) -> Result<()>;
}

/// Resumes interrupted streaming writes by appending to their staged part.
pub trait AppendingBackend {
    /// Appends `reader` to the staged partial of `path` left by an interrupted
    /// [`Backend::write_reader`]. When exactly `append_size` bytes were
    /// appended, the partial is published at `path`.
    fn append_reader(&self, path: &str, reader: &mut dyn Read, append_size: u64) -> Result<()>;
}
