//! The local-directory backend.
//!
//! Objects are files under a base directory. Writes go to a hidden temp file
//! in the target directory and are renamed into place, so readers see the old
//! object or the new one. Streaming writes stage in a deterministic
//! `<path>.part` file that survives a failed source, so the transfer can be
//! resumed with [`AppendingBackend::append_reader`].
//!
//! Keys never escape the base directory: `..` components are refused, and a
//! symlink inside the base that points outside it is refused too.

use std::collections::HashSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::SystemTime;

use crate::backend::{
    AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectInfo,
    ObjectLister,
};
use crate::error::{BatchFailure, Error, Result};
use crate::paths::{validate_key, validate_prefix};

/// Suffix of the staging file of a streaming write.
pub const PART_SUFFIX: &str = ".part";

/// Copy buffer size: large enough that syscalls don't dominate big objects.
const COPY_BUF: usize = 256 * 1024;

/// Bound on remembered directories; the cache is cleared when it fills.
const MAX_CACHED_DIRS: usize = 4096;

/// A store in a local directory.
pub struct LocalBackend {
    /// Absolute base directory, as given (made absolute).
    base: PathBuf,
    /// The base with symlinks resolved, for containment checks.
    canonical_base: PathBuf,
    /// Directories known to exist and to resolve inside the base.
    verified_dirs: RwLock<HashSet<PathBuf>>,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// How a path's final component may be opened.
enum Found {
    File(File),
    Missing,
}

impl LocalBackend {
    /// Opens (creating it with mode 0700 when missing) a store rooted at
    /// `base_path`, which is made absolute.
    pub fn new(base_path: impl AsRef<Path>) -> Result<Self> {
        let given = base_path.as_ref();
        let shown = given.to_string_lossy().into_owned();
        if given.as_os_str().is_empty() {
            return Err(Error::invalid_argument("base path must not be empty"));
        }
        if shown.contains('\0') {
            return Err(Error::invalid_path(&shown, "contains a NUL byte"));
        }
        let base = std::path::absolute(given).map_err(|e| Error::from_io(&shown, "resolve base path", e))?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&base)
            .map_err(|e| Error::from_io(&shown, "create base directory", e))?;
        let canonical_base =
            fs::canonicalize(&base).map_err(|e| Error::from_io(&shown, "resolve base path", e))?;
        if !canonical_base.is_dir() {
            return Err(Error::invalid_argument(format!(
                "base path {shown:?} is not a directory"
            )));
        }
        Ok(LocalBackend {
            base,
            canonical_base,
            verified_dirs: RwLock::new(HashSet::new()),
        })
    }

    /// The absolute base directory.
    pub fn get_base_path(&self) -> &Path {
        &self.base
    }

    /// The file path a key maps to (validated, not checked for symlinks).
    pub fn get_full_path(&self, path: &str) -> Result<PathBuf> {
        let key = self.object_key(path)?;
        Ok(self.base.join(key))
    }

    /// Validates a key for this backend: the common key rule, plus the
    /// `.part` suffix, which is reserved for staging files here.
    fn object_key<'a>(&self, path: &'a str) -> Result<&'a str> {
        let key = validate_key(path)?;
        if key.ends_with(PART_SUFFIX) {
            return Err(Error::invalid_path(
                path,
                "keys ending in '.part' are reserved for staged writes on the local backend",
            ));
        }
        Ok(key)
    }

    fn is_cached(&self, dir: &Path) -> bool {
        self.verified_dirs
            .read()
            .map(|s| s.contains(dir))
            .unwrap_or(false)
    }

    fn remember(&self, dir: PathBuf) {
        if let Ok(mut set) = self.verified_dirs.write() {
            if set.len() >= MAX_CACHED_DIRS {
                set.clear();
            }
            set.insert(dir);
        }
    }

    fn forget(&self, dir: &Path) {
        if let Ok(mut set) = self.verified_dirs.write() {
            set.remove(dir);
        }
    }

    /// Checks that `dir` resolves inside the base directory. `Ok(false)` when
    /// it does not exist.
    fn check_dir(&self, path: &str, dir: &Path) -> Result<bool> {
        if self.is_cached(dir) {
            return Ok(true);
        }
        match fs::canonicalize(dir) {
            Ok(real) => {
                if !real.starts_with(&self.canonical_base) {
                    return Err(Error::invalid_path(
                        path,
                        "resolves outside the base directory through a symlink",
                    ));
                }
                self.remember(dir.to_path_buf());
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => Ok(false),
            Err(e) => Err(Error::from_io(path, "resolve directory", e)),
        }
    }

    /// Creates `dir` (mode 0700) when needed and checks it stays inside the
    /// base. `fresh` skips the cache, for when the cache was found stale.
    fn ensure_dir(&self, path: &str, dir: &Path, fresh: bool) -> Result<()> {
        if fresh {
            self.forget(dir);
        } else if self.is_cached(dir) {
            return Ok(());
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::from_io(path, "create directory", e))?;
        if !self.check_dir(path, dir)? {
            return Err(Error::not_found(path));
        }
        Ok(())
    }

    /// Checks that a symlink at `full` resolves to something inside the base.
    fn check_link_target(&self, path: &str, full: &Path) -> Result<bool> {
        match fs::canonicalize(full) {
            Ok(real) if real.starts_with(&self.canonical_base) => Ok(true),
            Ok(_) => Err(Error::invalid_path(
                path,
                "resolves outside the base directory through a symlink",
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::from_io(path, "resolve symlink", e)),
        }
    }

    /// Opens `full` for reading without letting a symlink lead outside the
    /// base. The parent directory must already have been checked.
    fn open_read(&self, path: &str, full: &Path) -> Result<Found> {
        let mut opts = OpenOptions::new();
        opts.read(true).custom_flags(libc::O_NOFOLLOW);
        match opts.open(full) {
            Ok(f) => Ok(Found::File(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Missing),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                if !self.check_link_target(path, full)? {
                    return Ok(Found::Missing);
                }
                match File::open(full) {
                    Ok(f) => Ok(Found::File(f)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Missing),
                    Err(e) => Err(Error::from_io(path, "open", e)),
                }
            }
            Err(e) => Err(Error::from_io(path, "open", e)),
        }
    }

    /// Resolves a key to its file, checking the parent directory; `None`
    /// when the parent does not exist.
    fn locate(&self, path: &str) -> Result<Option<PathBuf>> {
        let full = self.get_full_path(path)?;
        let dir = full.parent().unwrap_or(&self.base);
        if !self.check_dir(path, dir)? {
            return Ok(None);
        }
        Ok(Some(full))
    }

    /// Opens the object for reading; NotFound when missing. With
    /// `allow_part`, falls back to the staged partial.
    fn open_object(&self, path: &str, allow_part: bool) -> Result<File> {
        let Some(full) = self.locate(path)? else {
            return Err(Error::not_found(path));
        };
        if let Found::File(f) = self.open_read(path, &full)? {
            return Ok(f);
        }
        if allow_part {
            if let Found::File(f) = self.open_read(path, &part_path(&full))? {
                return Ok(f);
            }
        }
        Err(Error::not_found(path))
    }

    /// Size of a regular file at `full`, following only symlinks that stay
    /// inside the base; `None` when missing or not a file.
    fn file_size(&self, path: &str, full: &Path) -> Result<Option<u64>> {
        let meta = match fs::symlink_metadata(full) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::from_io(path, "stat", e)),
        };
        let meta = if meta.file_type().is_symlink() {
            if !self.check_link_target(path, full)? {
                return Ok(None);
            }
            match fs::metadata(full) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::from_io(path, "stat", e)),
            }
        } else {
            meta
        };
        Ok(meta.is_file().then(|| meta.len()))
    }

    /// Creates a new file (mode 0600) with `opts`, recreating the parent
    /// directory once if it vanished behind the cache's back.
    fn create_in_dir(
        &self,
        path: &str,
        dir: &Path,
        opts: &OpenOptions,
        target: &dyn Fn() -> PathBuf,
    ) -> Result<(File, PathBuf)> {
        self.ensure_dir(path, dir, false)?;
        let mut retried = false;
        loop {
            let file_path = target();
            match opts.open(&file_path) {
                Ok(f) => return Ok((f, file_path)),
                Err(e) if e.kind() == io::ErrorKind::NotFound && !retried => {
                    retried = true;
                    self.ensure_dir(path, dir, true)?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                    return Err(Error::invalid_path(path, "staging file is a symlink"))
                }
                Err(e) => return Err(Error::from_io(path, "create", e)),
            }
        }
    }

    /// Walks the tree under `prefix`, calling `visit(key, entry)` for every
    /// listable file.
    fn walk(
        &self,
        prefix: &str,
        visit: &mut dyn FnMut(&str, &Path, &fs::DirEntry) -> Result<()>,
    ) -> Result<()> {
        let prefix_key = validate_prefix(prefix)?;
        let (dir_key, name_prefix) = match prefix_key.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", prefix_key),
        };
        let start = if dir_key.is_empty() {
            self.base.clone()
        } else {
            self.base.join(dir_key)
        };
        if !self.check_dir(prefix, &start)? {
            return Ok(());
        }
        let mut key = String::with_capacity(256);
        if !dir_key.is_empty() {
            key.push_str(dir_key);
            key.push('/');
        }
        self.walk_dir(prefix, &start, &mut key, name_prefix, visit)
    }

    fn walk_dir(
        &self,
        prefix: &str,
        dir: &Path,
        key: &mut String,
        name_prefix: &str,
        visit: &mut dyn FnMut(&str, &Path, &fs::DirEntry) -> Result<()>,
    ) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(it) => it,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
            Err(e) => return Err(Error::from_io(prefix, "read directory", e)),
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => return Err(Error::from_io(prefix, "read directory", e)),
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                log::warn!("skipping non-UTF-8 file name under {}", dir.display());
                continue;
            };
            if name.starts_with('.') || !name.starts_with(name_prefix) {
                continue;
            }
            let ft = match entry.file_type() {
                Ok(ft) => ft,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::from_io(prefix, "stat", e)),
            };
            let len = key.len();
            key.push_str(name);
            let result = if ft.is_dir() {
                key.push('/');
                self.walk_dir(prefix, &entry.path(), key, "", visit)
            } else if name.ends_with(PART_SUFFIX) {
                Ok(())
            } else if ft.is_file() {
                visit(key, dir, &entry)
            } else if ft.is_symlink() {
                // A symlinked file is listed only when it stays inside the
                // base; symlinked directories are not followed (no cycles).
                let p = entry.path();
                match fs::canonicalize(&p) {
                    Ok(real) if real.starts_with(&self.canonical_base) && real.is_file() => {
                        visit(key, dir, &entry)
                    }
                    _ => Ok(()),
                }
            } else {
                Ok(())
            };
            key.truncate(len);
            result?;
        }
        Ok(())
    }

    fn check_offset(path: &str, offset: u64, size: u64) -> Result<()> {
        if offset > 0 && offset >= size {
            return Err(Error::invalid_argument(format!(
                "{path}: offset {offset} is at or past the end of the object ({size} bytes)"
            )));
        }
        Ok(())
    }
}

/// `<full>.part`.
fn part_path(full: &Path) -> PathBuf {
    let mut s = full.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

/// A hidden, unpredictable temp name in `dir`.
fn temp_path(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    dir.join(format!(".blobio-{:016x}.tmp", h.finish()))
}

/// Copies `reader` into `file` until end of data; returns the byte count.
/// Source errors are reported as such, distinct from write errors.
fn copy_into(path: &str, reader: &mut dyn Read, file: &mut File) -> Result<u64> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    operation: "read source",
                    source: e,
                })
            }
        };
        file.write_all(&buf[..n])
            .map_err(|e| Error::from_io(path, "write", e))?;
        total += n as u64;
    }
}

/// Copies `file` to `writer`; returns the byte count.
fn copy_out(path: &str, file: &mut File, writer: &mut dyn Write) -> Result<u64> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(path, "read", e)),
        };
        writer.write_all(&buf[..n]).map_err(|e| Error::Io {
            path: path.to_owned(),
            operation: "write to destination",
            source: e,
        })?;
        total += n as u64;
    }
}

fn file_len(path: &str, file: &File) -> Result<u64> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| Error::from_io(path, "stat", e))
}

impl Backend for LocalBackend {
    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let full = self.get_full_path(path)?;
        let dir = full.parent().unwrap_or(&self.base).to_path_buf();
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).mode(0o600);
        let (mut file, tmp) = self.create_in_dir(path, &dir, &opts, &|| temp_path(&dir))?;
        let result = file
            .write_all(data)
            .map_err(|e| Error::from_io(path, "write", e))
            .and_then(|()| {
                drop(file);
                fs::rename(&tmp, &full).map_err(|e| Error::from_io(path, "rename into place", e))
            });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn write_reader(&self, path: &str, reader: &mut dyn Read, size: Option<u64>) -> Result<()> {
        let full = self.get_full_path(path)?;
        let dir = full.parent().unwrap_or(&self.base).to_path_buf();
        let staging = part_path(&full);
        let mut opts = OpenOptions::new();
        opts.write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW);
        let (mut file, staging) = self.create_in_dir(path, &dir, &opts, &|| staging.clone())?;
        // The staging file stays on any failure, so the transfer can resume.
        let written = copy_into(path, reader, &mut file)?;
        if let Some(expected) = size {
            if written != expected {
                return Err(Error::Io {
                    path: path.to_owned(),
                    operation: "read source",
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("source gave {written} bytes, {expected} were announced"),
                    ),
                });
            }
        }
        drop(file);
        fs::rename(&staging, &full).map_err(|e| Error::from_io(path, "rename into place", e))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>> {
        let mut file = self.open_object(path, false)?;
        let len = file_len(path, &file)?;
        let mut data = Vec::with_capacity(len as usize);
        file.read_to_end(&mut data)
            .map_err(|e| Error::from_io(path, "read", e))?;
        Ok(data)
    }

    fn read_to(&self, path: &str, writer: &mut dyn Write) -> Result<u64> {
        let mut file = self.open_object(path, false)?;
        copy_out(path, &mut file, writer)
    }

    fn read_to_at(&self, path: &str, writer: &mut dyn Write, offset: u64) -> Result<u64> {
        let mut file = self.open_object(path, true)?;
        let size = file_len(path, &file)?;
        Self::check_offset(path, offset, size)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::from_io(path, "seek", e))?;
        }
        copy_out(path, &mut file, writer)
    }

    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let file = self.open_object(path, false)?;
        let size = file_len(path, &file)?;
        Self::check_offset(path, offset, size)?;
        let mut filled = 0usize;
        while filled < buf.len() {
            match file.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from_io(path, "read", e)),
            }
        }
        Ok(filled)
    }

    fn stat_file(&self, path: &str) -> Result<Option<u64>> {
        let Some(full) = self.locate(path)? else {
            return Ok(None);
        };
        if let Some(size) = self.file_size(path, &full)? {
            return Ok(Some(size));
        }
        self.file_size(path, &part_path(&full))
    }

    fn exists(&self, path: &str) -> Result<bool> {
        let Some(full) = self.locate(path)? else {
            return Ok(false);
        };
        Ok(self.file_size(path, &full)?.is_some())
    }

    fn delete(&self, path: &str) -> Result<()> {
        let Some(full) = self.locate(path)? else {
            return Ok(());
        };
        if let Ok(meta) = fs::symlink_metadata(&full) {
            if meta.is_dir() {
                return Err(Error::invalid_path(path, "names a directory, not an object"));
            }
        }
        match fs::remove_file(&full) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::from_io(path, "delete", e)),
        }
        // A staged partial of a deleted object would never be found again.
        match fs::remove_file(part_path(&full)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::from_io(path, "delete staged partial", e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.walk(prefix, &mut |key, _, _| {
            out.push(key.to_owned());
            Ok(())
        })?;
        out.sort_unstable();
        Ok(out)
    }

    fn kind(&self) -> &'static str {
        "local"
    }

    fn config_json(&self) -> String {
        serde_json::json!({ "base_path": self.base.to_string_lossy() }).to_string()
    }

    fn storage_root(&self) -> String {
        let mut root = self.base.to_string_lossy().into_owned();
        if !root.ends_with('/') {
            root.push('/');
        }
        root
    }

    fn local_base_path(&self) -> Option<&Path> {
        Some(&self.base)
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

impl BatchDeleter for LocalBackend {
    fn delete_batch(&self, paths: &[&str]) -> Result<()> {
        let failures: Vec<BatchFailure> = paths
            .iter()
            .filter_map(|p| {
                self.delete(p).err().map(|error| BatchFailure {
                    path: (*p).to_owned(),
                    error,
                })
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Batch { failures })
        }
    }
}

impl ObjectLister for LocalBackend {
    fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        self.walk(prefix, &mut |key, _, entry| {
            // Follows an (already checked) symlink to describe its target.
            let meta = match fs::metadata(entry.path()) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::from_io(key, "stat", e)),
            };
            out.push(ObjectInfo {
                path: key.to_owned(),
                size: meta.len(),
                last_modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
            Ok(())
        })?;
        out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

impl DirectoryLister for LocalBackend {
    fn list_directories(&self, prefix: &str) -> Result<Vec<String>> {
        let key = validate_prefix(prefix)?.trim_end_matches('/');
        let dir = if key.is_empty() {
            self.base.clone()
        } else {
            self.base.join(key)
        };
        if !self.check_dir(prefix, &dir)? {
            return Ok(Vec::new());
        }
        let entries = match fs::read_dir(&dir) {
            Ok(it) => it,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(Vec::new()),
            Err(e) => return Err(Error::from_io(prefix, "read directory", e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::from_io(prefix, "read directory", e))?;
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
                if !name.starts_with('.') {
                    out.push(name.to_owned());
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}

impl DirectoryRemover for LocalBackend {
    fn remove_directory(&self, path: &str) -> Result<()> {
        let key = validate_key(path)?;
        let dir = self.base.join(key);
        let parent = dir.parent().unwrap_or(&self.base);
        if !self.check_dir(path, parent)? {
            return Ok(());
        }
        match fs::remove_dir(&dir) {
            Ok(()) => {
                self.forget(&dir);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Err(Error::Io {
                path: path.to_owned(),
                operation: "remove directory (it is not empty)",
                source: e,
            }),
            Err(e) => Err(Error::from_io(path, "remove directory", e)),
        }
    }
}

impl AppendingBackend for LocalBackend {
    fn append_reader(&self, path: &str, reader: &mut dyn Read, append_size: u64) -> Result<()> {
        let Some(full) = self.locate(path)? else {
            return Err(no_partial(path));
        };
        let staging = part_path(&full);
        let mut opts = OpenOptions::new();
        opts.append(true).custom_flags(libc::O_NOFOLLOW);
        let mut file = match opts.open(&staging) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(no_partial(path)),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::invalid_path(path, "staging file is a symlink"))
            }
            Err(e) => return Err(Error::from_io(path, "open staged partial", e)),
        };
        let written = copy_into(path, reader, &mut file)?;
        if written != append_size {
            // The partial stays, longer by `written`, for another attempt.
            return Err(Error::Io {
                path: path.to_owned(),
                operation: "read source",
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("appended {written} bytes, {append_size} were announced; the partial was kept"),
                ),
            });
        }
        drop(file);
        fs::rename(&staging, &full).map_err(|e| Error::from_io(path, "rename into place", e))
    }
}

fn no_partial(path: &str) -> Error {
    Error::NotFound {
        path: format!("{path}{PART_SUFFIX} (no staged partial to append to)"),
        remote: None,
    }
}
