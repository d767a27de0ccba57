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
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};
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
    /// Keyed by the path's bytes: every lookup names a directory the same
    /// way (`base` joined with a validated key), and hashing bytes is much
    /// cheaper than hashing a `Path` component by component.
    verified_dirs: RwLock<HashSet<OsString>>,
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
        let base = std::path::absolute(given)
            .map_err(|e| Error::from_io(&shown, "resolve base path", e))?;
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
            .map(|s| s.contains(dir.as_os_str()))
            .unwrap_or(false)
    }

    fn remember(&self, dir: PathBuf) {
        if let Ok(mut set) = self.verified_dirs.write() {
            if set.len() >= MAX_CACHED_DIRS {
                set.clear();
            }
            set.insert(dir.into_os_string());
        }
    }

    fn forget(&self, dir: &Path) {
        if let Ok(mut set) = self.verified_dirs.write() {
            set.remove(dir.as_os_str());
        }
    }

    /// Checks that `dir` is a directory that resolves inside the base.
    /// `Ok(false)` when it does not exist or is not a directory (a file, a
    /// dangling symlink). With `use_cache`, a directory verified earlier is
    /// trusted without asking the file system again.
    fn check_dir(&self, path: &str, dir: &Path, use_cache: bool) -> Result<bool> {
        if use_cache && self.is_cached(dir) {
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
                // canonicalize() also succeeds on files; caching a file as a
                // verified directory would make it look like one forever.
                match fs::metadata(&real) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                    Err(e) => return Err(Error::from_io(path, "stat directory", e)),
                }
                self.remember(dir.to_path_buf());
                Ok(true)
            }
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                Ok(false)
            }
            Err(e) => Err(Error::from_io(path, "resolve directory", e)),
        }
    }

    /// Like [`Self::check_dir`] (with the cache), and when `dir` is missing
    /// also checks its deepest existing ancestor, so a key under a symlink
    /// leading outside is refused even where the rest of its path does not
    /// exist, instead of reporting (and so probing) what is missing outside.
    fn dir_exists(&self, path: &str, dir: &Path) -> Result<bool> {
        if self.check_dir(path, dir, true)? {
            return Ok(true);
        }
        let mut cur = dir;
        while cur != self.base {
            match cur.parent() {
                Some(parent) => cur = parent,
                None => break,
            }
            if self.check_dir(path, cur, true)? {
                break;
            }
        }
        Ok(false)
    }

    /// Creates `dir` (mode 0700) when needed and checks it stays inside the
    /// base. `fresh` distrusts the cache, for when it was found stale.
    ///
    /// The deepest existing ancestor is verified *before* anything is
    /// created, and each new level is verified before the next is made:
    /// creating the whole chain first (`create_dir_all`) would follow a
    /// symlinked directory inside the base and make directories outside it
    /// before the containment check could refuse the path.
    fn ensure_dir(&self, path: &str, dir: &Path, fresh: bool) -> Result<()> {
        if fresh {
            self.forget(dir);
        } else if self.is_cached(dir) {
            return Ok(());
        }
        let use_cache = !fresh;
        let mut missing: Vec<&Path> = Vec::new();
        let mut cur = dir;
        while !self.check_dir(path, cur, use_cache)? {
            missing.push(cur);
            if cur == self.base {
                break;
            }
            match cur.parent() {
                Some(parent) => cur = parent,
                None => break,
            }
        }
        for level in missing.into_iter().rev() {
            match DirBuilder::new().mode(0o700).create(level) {
                Ok(()) => {}
                // Made by a concurrent writer, or something that is not a
                // directory is in the way: the check below tells which.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::from_io(path, "create directory", e)),
            }
            if !self.check_dir(path, level, false)? {
                return Err(Error::Io {
                    path: path.to_owned(),
                    operation: "create directory",
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "{} exists and is not a directory",
                            level.strip_prefix(&self.base).unwrap_or(level).display()
                        ),
                    ),
                });
            }
        }
        Ok(())
    }

    /// Refuses a key whose final component is a symlink leading outside the
    /// base. Writes and deletes would replace or remove the link itself, not
    /// its target, but a key that reads as `InvalidPath` must not be
    /// writable or deletable either.
    fn refuse_outside_link(&self, path: &str, full: &Path) -> Result<()> {
        match fs::symlink_metadata(full) {
            Ok(m) if m.file_type().is_symlink() => self.check_link_target(path, full).map(|_| ()),
            _ => Ok(()),
        }
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
        if !self.dir_exists(path, dir)? {
            return Ok(None);
        }
        Ok(Some(full))
    }

    /// Opens the object for reading and returns it with its size; NotFound
    /// when missing. A directory is not an object (on an object store the
    /// same key is just a prefix of other keys), so it is NotFound too. With
    /// `allow_part`, falls back to the staged partial.
    fn open_object(&self, path: &str, allow_part: bool) -> Result<(File, u64)> {
        self.open_object_meta(path, allow_part)
            .map(|(file, meta)| (file, meta.len()))
    }

    /// [`Self::open_object`] with the open file's metadata (for versioned
    /// reads, without a second stat).
    fn open_object_meta(&self, path: &str, allow_part: bool) -> Result<(File, fs::Metadata)> {
        let Some(full) = self.locate(path)? else {
            return Err(Error::not_found(path));
        };
        if let Some(found) = self.open_regular(path, &full)? {
            return Ok(found);
        }
        if allow_part {
            if let Some(found) = self.open_regular(path, &part_path(&full))? {
                return Ok(found);
            }
        }
        Err(Error::not_found(path))
    }

    /// Opens `full` when it is a regular file (or a symlink inside the base
    /// to one); `None` when missing or not a file.
    fn open_regular(&self, path: &str, full: &Path) -> Result<Option<(File, fs::Metadata)>> {
        let Found::File(file) = self.open_read(path, full)? else {
            return Ok(None);
        };
        let meta = file
            .metadata()
            .map_err(|e| Error::from_io(path, "stat", e))?;
        Ok(meta.is_file().then_some((file, meta)))
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
        Ok(meta.is_file().then_some(meta.len()))
    }

    /// Creates a new file with `opts` (which must say `create_new`) at
    /// `target()` in `dir`, which the caller has ensured, recreating `dir`
    /// once if it vanished behind the cache's back. When the name is taken, `target()` is asked
    /// again (temp names), after removing what is there with `replace`
    /// (the staging partial, which a fresh stream restarts from zero).
    fn create_in_dir(
        &self,
        path: &str,
        dir: &Path,
        opts: &OpenOptions,
        target: &dyn Fn() -> PathBuf,
        replace: bool,
    ) -> Result<(File, PathBuf)> {
        // The caller has ensured `dir`; if it vanished since, recreate once.
        let mut retried = false;
        for _ in 0..1000 {
            let file_path = target();
            match opts.open(&file_path) {
                Ok(f) => return Ok((f, file_path)),
                Err(e) if e.kind() == io::ErrorKind::NotFound && !retried => {
                    retried = true;
                    self.ensure_dir(path, dir, true)?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if replace {
                        match fs::remove_file(&file_path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(e) => {
                                return Err(Error::from_io(path, "replace staged partial", e))
                            }
                        }
                    }
                }
                Err(e) => return Err(Error::from_io(path, "create", e)),
            }
        }
        Err(Error::Other {
            path: path.to_owned(),
            message: "could not create a staging file: the name stayed taken".to_owned(),
            remote: None,
            source: None,
        })
    }

    /// Publishes `file`, a complete staged partial, at `full`.
    ///
    /// The partial's name `<full>.part` is shared by every stream of the
    /// key, so a concurrent `write_reader` of the same key may have replaced
    /// it with its own (still growing) file. Renaming whatever is at that
    /// name straight into place could publish someone else's half-written
    /// object. Instead the name is first claimed by renaming it to a private
    /// temp name, and published only if it is the very file we wrote;
    /// otherwise it is put back and our bytes are published through a
    /// private copy (only in that contended case).
    fn publish_staged(
        &self,
        path: &str,
        dir: &Path,
        staging: &Path,
        full: &Path,
        mut file: File,
    ) -> Result<()> {
        let mine = file
            .metadata()
            .map_err(|e| Error::from_io(path, "stat staged partial", e))?;
        let claimed = temp_path(dir);
        match fs::rename(staging, &claimed) {
            Ok(()) => match fs::symlink_metadata(&claimed) {
                Ok(m) if m.dev() == mine.dev() && m.ino() == mine.ino() => {
                    return fs::rename(&claimed, full).map_err(|e| {
                        // Keep the bytes resumable under their usual name.
                        let _ = fs::rename(&claimed, staging);
                        Error::from_io(path, "rename into place", e)
                    });
                }
                _ => {
                    let _ = fs::rename(&claimed, staging);
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::from_io(path, "claim staged partial", e)),
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::from_io(path, "seek staged partial", e))?;
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).mode(0o600);
        let (mut copy, tmp) = self.create_in_dir(path, dir, &opts, &|| temp_path(dir), false)?;
        let result = io::copy(&mut file, &mut copy)
            .map_err(|e| Error::from_io(path, "copy staged partial", e))
            .and_then(|_| {
                drop(copy);
                fs::rename(&tmp, full).map_err(|e| Error::from_io(path, "rename into place", e))
            });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Walks the tree under `prefix`, calling `visit(key, dir, name_at)` for
    /// every listable file, in byte order of the keys. `key` is handed over
    /// (a listing keeps it without copying); the file is
    /// `dir.join(&key[name_at..])`.
    fn walk(
        &self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &Path, usize) -> Result<()>,
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
        if !self.dir_exists(prefix, &start)? {
            return Ok(());
        }
        let mut key = String::with_capacity(256);
        if !dir_key.is_empty() {
            key.push_str(dir_key);
            key.push('/');
        }
        self.walk_dir(
            prefix,
            &start,
            &mut key,
            name_prefix,
            visit,
            &mut Vec::new(),
        )
    }

    /// Visits the listable files under `dir`, whose keys start with `key`,
    /// in byte order of their keys.
    ///
    /// Sorting all keys at the end costs a fifth of a large listing (memcmp
    /// over long shared prefixes, then freeing the keys in an order unlike
    /// the one they were allocated in). Instead each directory's entries are
    /// sorted, a directory counting as `name/`, and visited in that order:
    /// every key of a subtree starts with `name/` and no other key does, so
    /// the output is globally sorted, and each key is allocated in output
    /// order. Names are gathered in one reused buffer per depth and sorted
    /// as 16-byte records keyed by the 8 bytes after the names' common
    /// prefix (`part-00|123.parq`), so most comparisons are one integer
    /// compare; ties fall back to the bytes.
    fn walk_dir(
        &self,
        prefix: &str,
        dir: &Path,
        key: &mut String,
        name_prefix: &str,
        visit: &mut dyn FnMut(String, &Path, usize) -> Result<()>,
        spare: &mut Vec<WalkBuf>,
    ) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(it) => it,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
            Err(e) => return Err(Error::from_io(prefix, "read directory", e)),
        };
        let mut buf = spare.pop().unwrap_or_default();
        let mut common = usize::MAX;
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
            let kind = if ft.is_dir() {
                WalkKind::Dir
            } else if name.ends_with(PART_SUFFIX) {
                continue;
            } else if ft.is_file() {
                WalkKind::File
            } else if ft.is_symlink() {
                WalkKind::Symlink
            } else {
                continue;
            };
            let start = buf.names.len();
            buf.names.push_str(name);
            if let WalkKind::Dir = kind {
                buf.names.push('/');
            }
            let (Ok(at), Ok(len)) = (u32::try_from(start), u16::try_from(buf.names.len() - start))
            else {
                return Err(Error::invalid_argument(format!(
                    "{prefix}: directory {} is too large to list",
                    dir.display()
                )));
            };
            if let Some(first) = buf.items.first() {
                let names = buf.names.as_bytes();
                let (a, b) = (first.name(names), &names[start..]);
                let most = common.min(a.len()).min(b.len());
                common = a[..most]
                    .iter()
                    .zip(&b[..most])
                    .position(|(x, y)| x != y)
                    .unwrap_or(most);
            }
            buf.items.push(WalkItem {
                order: 0,
                at,
                len,
                kind,
            });
        }
        let common = if common == usize::MAX { 0 } else { common };
        let names = buf.names.as_bytes();
        for item in buf.items.iter_mut() {
            let tail = &item.name(names)[common..];
            let mut head = [0u8; 8];
            let n = tail.len().min(8);
            head[..n].copy_from_slice(&tail[..n]);
            item.order = u64::from_be_bytes(head);
        }
        buf.items.sort_unstable_by(|a, b| {
            a.order
                .cmp(&b.order)
                .then_with(|| a.name(names)[common..].cmp(&b.name(names)[common..]))
        });

        let mut result = Ok(());
        for item in &buf.items {
            let name = &buf.names[item.at as usize..item.at as usize + item.len as usize];
            let len = key.len();
            key.push_str(name);
            result = match item.kind {
                WalkKind::Dir => {
                    let sub = dir.join(&name[..name.len() - 1]);
                    self.walk_dir(prefix, &sub, key, "", visit, spare)
                }
                WalkKind::File => visit(key.clone(), dir, len),
                // A symlinked file is listed only when it stays inside the
                // base; symlinked directories are not followed (no cycles).
                WalkKind::Symlink => match fs::canonicalize(dir.join(name)) {
                    Ok(real) if real.starts_with(&self.canonical_base) && real.is_file() => {
                        visit(key.clone(), dir, len)
                    }
                    _ => Ok(()),
                },
            };
            key.truncate(len);
            if result.is_err() {
                break;
            }
        }
        buf.names.clear();
        buf.items.clear();
        spare.push(buf);
        result
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

/// What [`LocalBackend::walk_dir`] found in a directory.
#[derive(Clone, Copy)]
enum WalkKind {
    Dir,
    File,
    Symlink,
}

/// One listable entry of a directory: its name is `names[at..at + len]`
/// of the directory's [`WalkBuf`] (ending in `/` for a directory).
struct WalkItem {
    order: u64,
    at: u32,
    len: u16,
    kind: WalkKind,
}

impl WalkItem {
    fn name<'a>(&self, names: &'a [u8]) -> &'a [u8] {
        &names[self.at as usize..self.at as usize + self.len as usize]
    }
}

/// The names of one directory being listed, reused from directory to
/// directory at the same depth.
#[derive(Default)]
struct WalkBuf {
    names: String,
    items: Vec<WalkItem>,
}

/// The version token of an open object: size, modification time (seconds
/// and nanoseconds) and inode, in hex (`<len>-<secs>.<nanos>-<ino>`).
/// Written by hand: it is computed on every versioned read, and `format!`
/// would cost a small read a few percent.
fn file_version(meta: &fs::Metadata) -> String {
    fn hex(out: &mut String, mut v: u64) {
        let mut digits = [0u8; 16];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(v & 0xF) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        out.extend(digits[i..].iter().map(|&d| d as char));
    }
    let mut out = String::with_capacity(64);
    hex(&mut out, meta.len());
    out.push('-');
    hex(&mut out, meta.mtime() as u64);
    out.push('.');
    hex(&mut out, meta.mtime_nsec() as u64);
    out.push('-');
    hex(&mut out, meta.ino());
    out
}

/// `<full>.part`.
fn part_path(full: &Path) -> PathBuf {
    let mut s = full.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

/// A hidden temp name in `dir`, unlikely to be taken. Uniqueness does not
/// rest on it: temp files are created with `create_new` (O_EXCL, which also
/// refuses a planted symlink) and a taken name is simply drawn again.
fn temp_path(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // SplitMix64 finaliser: spreads counter and clock over all 64 bits.
    let mut z = nanos
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    dir.join(format!(".blobio-{z:016x}.tmp"))
}

/// Objects up to this size are read with one exactly sized `read`.
const SMALL_READ: usize = 64 * 1024;

/// Smallest copy buffer: a small object costs one read and one write.
const MIN_COPY_BUF: usize = 8 * 1024;

/// A zeroed copy buffer for about `len` bytes: small objects don't pay for
/// zeroing (and allocating) a full [`COPY_BUF`].
fn copy_buf(len: Option<u64>) -> Vec<u8> {
    let want = len.map_or(64 * 1024, |n| usize::try_from(n).unwrap_or(usize::MAX));
    vec![0u8; want.clamp(MIN_COPY_BUF, COPY_BUF)]
}

/// Total physical memory in bytes (`MemTotal` of `/proc/meminfo`), read
/// once; `None` where the file is missing or unreadable.
fn physical_memory() -> Option<u64> {
    static TOTAL: OnceLock<Option<u64>> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        let info = fs::read_to_string("/proc/meminfo").ok()?;
        let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    })
}

/// An empty buffer with room for exactly `len` bytes, the whole of the
/// object at `path`; [`Error::InvalidArgument`] naming the size when it
/// cannot be had (see [`LocalBackend`]'s `read`).
fn read_buffer(path: &str, len: u64) -> Result<Vec<u8>> {
    let too_big = |limit: String| {
        Error::invalid_argument(format!(
            "{path}: the object is {len} bytes, more than {limit}; \
             read it in pieces with read_to, read_to_at or read_range"
        ))
    };
    if let Some(memory) = physical_memory().filter(|&m| len > m) {
        return Err(too_big(format!("this machine's {memory} bytes of memory")));
    }
    let cap = usize::try_from(len).map_err(|_| too_big("fits in this process's memory".into()))?;
    let mut data = Vec::new();
    data.try_reserve_exact(cap)
        .map_err(|_| too_big("can be allocated in memory".into()))?;
    Ok(data)
}

/// Copies `reader` into `file` until end of data; returns the byte count.
/// Source errors are reported as such, distinct from write errors. `size`
/// (when announced) only sizes the buffer; the end is where the source ends.
fn copy_into(path: &str, reader: &mut dyn Read, file: &mut File, size: Option<u64>) -> Result<u64> {
    let mut buf = copy_buf(size);
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
        // A source of unknown size that keeps filling the buffer is a big
        // one: grow towards COPY_BUF so syscalls don't dominate.
        if n == buf.len() && buf.len() < COPY_BUF {
            buf.resize((buf.len() * 2).min(COPY_BUF), 0);
        }
    }
}

/// Copies the `len` bytes from `file`'s position to `writer` (fewer if the
/// file ends first); returns the byte count. Stopping at `len` saves the
/// read that would only confirm the end.
fn copy_out(path: &str, file: &mut File, writer: &mut dyn Write, len: u64) -> Result<u64> {
    let mut buf = copy_buf(Some(len));
    let mut total = 0u64;
    while total < len {
        let want = buf
            .len()
            .min(usize::try_from(len - total).unwrap_or(usize::MAX));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => break,
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
    Ok(total)
}

impl Backend for LocalBackend {
    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let full = self.get_full_path(path)?;
        let dir = full.parent().unwrap_or(&self.base).to_path_buf();
        self.ensure_dir(path, &dir, false)?;
        self.refuse_outside_link(path, &full)?;
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).mode(0o600);
        let (mut file, tmp) = self.create_in_dir(path, &dir, &opts, &|| temp_path(&dir), false)?;
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
        // Each stream stages in a file of its own (create_new): a stale
        // partial left by a crash is replaced, never shared with another
        // live stream (see `publish_staged`).
        let mut opts = OpenOptions::new();
        // Readable too: a contended publish copies from it.
        opts.read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW);
        // Checked before the partial is touched or the source read: a
        // refused key changes nothing.
        self.ensure_dir(path, &dir, false)?;
        self.refuse_outside_link(path, &full)?;
        let (mut file, staging) =
            self.create_in_dir(path, &dir, &opts, &|| staging.clone(), true)?;
        // The staging file stays on any failure, so the transfer can resume.
        let written = copy_into(path, reader, &mut file, size)?;
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
        self.publish_staged(path, &dir, &staging, &full, file)
    }

    /// Reads the whole file into memory, in a buffer sized once from the
    /// file's length. A file that cannot be held is refused with
    /// [`Error::InvalidArgument`] naming the path and the size, before a
    /// byte is read: one larger than the machine's memory (`MemTotal` of
    /// `/proc/meminfo`, where there is one), or one the allocator cannot
    /// find room for (the buffer is reserved fallibly, never with an
    /// allocation that aborts the process). Such a file still reads with
    /// `read_to`, `read_to_at` and `read_range`, which hold only a copy
    /// buffer at a time.
    fn read(&self, path: &str) -> Result<Vec<u8>> {
        let (file, len) = self.open_object(path, false)?;
        let mut data = read_buffer(path, len)?;
        // File::read_to_end stats and seeks the file again to size its
        // buffer: two syscalls a small read cannot afford. For small objects
        // Take reads the size already known in one call, without a read that
        // only confirms the end. It ramps its reads up from 8 KiB, though,
        // so large objects go through File::read_to_end's single exact read.
        let result = if len <= SMALL_READ as u64 {
            (&file).take(len).read_to_end(&mut data)
        } else {
            (&file).read_to_end(&mut data)
        };
        result.map_err(|e| Error::from_io(path, "read", e))?;
        Ok(data)
    }

    fn read_to(&self, path: &str, writer: &mut dyn Write) -> Result<u64> {
        let (mut file, len) = self.open_object(path, false)?;
        copy_out(path, &mut file, writer, len)
    }

    fn read_to_at(&self, path: &str, writer: &mut dyn Write, offset: u64) -> Result<u64> {
        let (mut file, size) = self.open_object(path, true)?;
        Self::check_offset(path, offset, size)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::from_io(path, "seek", e))?;
        }
        copy_out(path, &mut file, writer, size - offset)
    }

    fn read_to_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        let (mut file, meta) = self.open_object_meta(path, false)?;
        let len = meta.len();
        *seen_version = Some(file_version(&meta));
        copy_out(path, &mut file, writer, len)
    }

    /// The version is the open file's size, modification time and inode:
    /// every write publishes a new file (a rename), so a replaced object
    /// never matches, even with the same size in the same second.
    fn read_to_at_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        offset: u64,
        if_match: Option<&str>,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        let (mut file, meta) = self.open_object_meta(path, true)?;
        let size = meta.len();
        let version = file_version(&meta);
        if if_match.is_some_and(|want| want != version) {
            return Err(Error::PreconditionFailed {
                path: path.to_owned(),
                remote: None,
            });
        }
        *seen_version = Some(version);
        if if_match.is_some() && offset == size {
            return Ok(0);
        }
        Self::check_offset(path, offset, size)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::from_io(path, "seek", e))?;
        }
        copy_out(path, &mut file, writer, size - offset)
    }

    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let (file, size) = self.open_object(path, false)?;
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
                return Err(Error::invalid_path(
                    path,
                    "names a directory, not an object",
                ));
            }
            if meta.file_type().is_symlink() {
                self.check_link_target(path, &full)?;
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
            out.push(key);
            Ok(())
        })?;
        // walk() visits keys in byte order already.
        debug_assert!(
            out.windows(2).all(|w| w[0] < w[1]),
            "walk order is not sorted"
        );
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
        self.walk(prefix, &mut |key, dir, name_at| {
            // Follows an (already checked) symlink to describe its target.
            let meta = match fs::metadata(dir.join(&key[name_at..])) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::from_io(&key, "stat", e)),
            };
            out.push(ObjectInfo {
                path: key,
                size: meta.len(),
                last_modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
            Ok(())
        })?;
        // walk() visits keys in byte order already.
        debug_assert!(
            out.windows(2).all(|w| w[0].path < w[1].path),
            "walk order is not sorted"
        );
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
        if !self.dir_exists(prefix, &dir)? {
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
        // A directory may be named with or without its trailing '/'.
        let key = validate_prefix(path)?.trim_end_matches('/');
        if key.is_empty() {
            return Err(Error::invalid_path(
                path,
                "empty directory path (the base itself)",
            ));
        }
        let dir = self.base.join(key);
        let parent = dir.parent().unwrap_or(&self.base);
        if !self.dir_exists(path, parent)? {
            return Ok(());
        }
        match fs::remove_dir(&dir) {
            Ok(()) => {
                self.forget(&dir);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            // ENOTEMPTY, not io::ErrorKind::DirectoryNotEmpty: that kind is
            // stable only since Rust 1.83, after this crate's MSRV.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => {
                Err(Error::Io {
                    path: path.to_owned(),
                    operation: "remove directory (it is not empty)",
                    source: e,
                })
            }
            Err(e) => Err(Error::from_io(path, "remove directory", e)),
        }
    }
}

impl AppendingBackend for LocalBackend {
    fn append_reader(&self, path: &str, reader: &mut dyn Read, append_size: u64) -> Result<()> {
        let Some(full) = self.locate(path)? else {
            return Err(no_partial(path));
        };
        self.refuse_outside_link(path, &full)?;
        let staging = part_path(&full);
        let mut opts = OpenOptions::new();
        opts.read(true).append(true).custom_flags(libc::O_NOFOLLOW);
        let mut file = match opts.open(&staging) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(no_partial(path)),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::invalid_path(path, "staging file is a symlink"))
            }
            Err(e) => return Err(Error::from_io(path, "open staged partial", e)),
        };
        let written = copy_into(path, reader, &mut file, Some(append_size))?;
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
        let dir = full.parent().unwrap_or(&self.base).to_path_buf();
        self.publish_staged(path, &dir, &staging, &full, file)
    }
}

fn no_partial(path: &str) -> Error {
    Error::NotFound {
        path: format!("{path}{PART_SUFFIX} (no staged partial to append to)"),
        remote: None,
    }
}
