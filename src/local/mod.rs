//! The local-directory backend.
//!
//! Objects are files under a base directory, which the store holds open as
//! a directory handle. Every key is resolved relative to that handle, one
//! component at a time, never through a symlink, and every operation runs
//! relative to the directory handle its key resolved to (see `dir.rs`), so
//! no key reaches outside the base, even while the tree changes under the
//! store. Symlinks inside the base are refused too (`InvalidPath`): the
//! store never follows one.
//!
//! Writes go to a private temp file in the target directory and are renamed
//! into place, so readers see the old object or the new one. Streaming
//! writes stage in a deterministic `<name>.part` file that survives a failed
//! source, so the transfer can be resumed with
//! [`AppendingBackend::append_reader`]. The store's own names (see
//! `names.rs`) are reserved in every component of a key and never listed;
//! every other name, hidden ones included, is a key, as on S3 and Azure.
//!
//! A durable store (the default) reports a write done only when the bytes
//! and the rename are on disk: the file is synced before the rename and its
//! directory after it (and a new directory's parent after it was made).

// `Stat` fields have different integer types on different platforms, so
// some casts are no-ops on one and needed on another.
#![allow(clippy::unnecessary_cast)]

mod attrs;
mod dir;
mod names;
mod walk;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use rustix::fs::{self as rfs, AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use self::dir::{file_type, refusal, stat_at, symlink_refused, DirFd, Opened, Root};
use self::names::{check_dir_key, hold, is_reserved, split_key, staging_name, temp_name};
pub use self::names::{PART_SUFFIX, STALE_TEMP_AGE};
use crate::backend::{
    AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectInfo,
    ObjectLister, ObjectMeta, PutMode, PutOptions, PutResult, ReadRange,
};
use crate::error::{BatchFailure, Error, ErrorKind, Result};
use crate::paths::validate_prefix;

/// Copy buffer size: large enough that syscalls don't dominate big objects.
const COPY_BUF: usize = 256 * 1024;

/// Bound on the directories remembered as swept for stale temp files; the
/// memory is cleared when it fills (which only means sweeping again).
const MAX_SWEPT_DIRS: usize = 4096;

/// How many times a write starts over when its directory was removed
/// between resolving it and creating a file in it (a concurrent delete
/// pruning the directory it had just emptied).
const MAX_WRITE_RETRIES: usize = 64;

/// Mode of the files the store creates.
const FILE_MODE: u32 = 0o600;

/// A store in a local directory.
///
/// Thread-safe: one store may be shared by many threads (and processes may
/// share a base directory). Nothing about the tree is cached: each call
/// resolves its key again from the base handle.
pub struct LocalBackend {
    /// Absolute base directory, as given (made absolute).
    base: PathBuf,
    /// The open base directory every key is resolved from.
    root: Root,
    /// Directories (by key) swept for stale temp files, and when. Not a
    /// containment check (nothing is opened through it): it only spares a
    /// directory a second sweep within [`STALE_TEMP_AGE`].
    swept: Mutex<HashMap<String, Instant>>,
    /// Calls, errors and latencies ([`Backend::stats_json`]).
    stats: crate::stats::Stats,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("base", &self.base)
            .field("durable", &self.root.durable())
            .finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// Opens (creating it with mode 0700 when missing) a durable store
    /// rooted at `base_path`, which is made absolute. Same as
    /// [`LocalBackend::with_durable`]`(base_path, true)`.
    pub fn new(base_path: impl AsRef<Path>) -> Result<Self> {
        Self::with_durable(base_path, true)
    }

    /// Opens a store rooted at `base_path`, choosing whether writes are
    /// durable.
    ///
    /// Durable (`true`, the default of [`LocalBackend::new`]): OK from
    /// `write`, `write_reader` or the publishing `append_reader` means the
    /// bytes and the rename are on disk: the file is synced (`fdatasync`)
    /// before it is renamed into place and its directory (`fsync`) after,
    /// and each directory the write made is synced into its parent. Not
    /// durable (`false`): nothing is synced, and a power loss may lose or
    /// empty objects written shortly before it (never tear one that was
    /// whole); for scratch stores and caches. The string option
    /// `durable=false` of `blobio_open` maps to this.
    ///
    /// Opening also sweeps the base directory of temp files left by killed
    /// writes (see [`STALE_TEMP_AGE`]); each other directory is swept when
    /// the store first writes into it.
    pub fn with_durable(base_path: impl AsRef<Path>, durable: bool) -> Result<Self> {
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
        let root = Root::open(base.clone(), &shown, durable)?;
        let store = LocalBackend {
            base,
            root,
            swept: Mutex::new(HashMap::new()),
            stats: crate::stats::Stats::default(),
        };
        store.sweep("", &store.root.base());
        Ok(store)
    }

    /// Whether writes are synced to disk before they return (see
    /// [`LocalBackend::with_durable`]).
    pub fn is_durable(&self) -> bool {
        self.root.durable()
    }

    /// The absolute base directory.
    pub fn get_base_path(&self) -> &Path {
        &self.base
    }

    /// The file path a key maps to (validated, not checked for symlinks:
    /// for showing or handing to another program, never used by the store
    /// itself to open anything).
    pub fn get_full_path(&self, path: &str) -> Result<PathBuf> {
        split_key(path)?;
        Ok(self.base.join(path.trim_start_matches('/')))
    }

    /// Sweeps the directory `dir_key` (open as `dir`) of stale temp files,
    /// unless this store did so within the last [`STALE_TEMP_AGE`] (younger
    /// temp files are never stale).
    fn sweep(&self, dir_key: &str, dir: &DirFd) {
        {
            let Ok(mut swept) = self.swept.lock() else {
                return;
            };
            if swept
                .get(dir_key)
                .is_some_and(|at| at.elapsed() < STALE_TEMP_AGE)
            {
                return;
            }
            if swept.len() >= MAX_SWEPT_DIRS {
                swept.clear();
            }
            swept.insert(dir_key.to_owned(), Instant::now());
        }
        names::sweep_stale_temps(dir.as_fd(), STALE_TEMP_AGE);
    }

    /// Opens the directory of a key for reading; `None` when it (or a
    /// component on the way) is missing or not a directory.
    fn open_key_dir(&self, path: &str, dir_key: &str) -> Result<Option<DirFd>> {
        Ok(match self.root.open_dir(path, dir_key)? {
            Opened::Dir(fd) => Some(fd),
            Opened::Missing | Opened::NotADirectory => None,
        })
    }

    /// Refuses a key whose file is a symlink: reads would refuse it, so
    /// writes and deletes do too (they would replace or remove the link,
    /// never its target).
    fn refuse_symlink(&self, path: &str, dir: &DirFd, name: &str) -> Result<Option<rfs::Stat>> {
        let st = stat_at(path, dir.as_fd(), name)?;
        if st
            .as_ref()
            .is_some_and(|st| file_type(st) == FileType::Symlink)
        {
            return Err(symlink_refused(path));
        }
        Ok(st)
    }

    /// Creates a new file named by `name()` in `dir` (`O_EXCL`, mode 0600)
    /// and takes the writer's lock on it. A taken name is drawn again;
    /// `None` when `dir` was removed (the caller resolves it again).
    fn create_in(
        &self,
        path: &str,
        dir: &DirFd,
        flags: OFlags,
        name: &mut dyn FnMut() -> String,
        replace: bool,
    ) -> Result<Option<(File, String)>> {
        let flags = flags | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for _ in 0..1000 {
            let file_name = name();
            match rfs::openat(
                dir.as_fd(),
                &file_name,
                flags,
                Mode::from_raw_mode(FILE_MODE),
            ) {
                Ok(fd) => {
                    let file = File::from(fd);
                    hold(path, &file)?;
                    return Ok(Some((file, file_name)));
                }
                Err(e) if e == Errno::EXIST => {
                    if replace {
                        match rfs::unlinkat(dir.as_fd(), &file_name, AtFlags::empty()) {
                            Ok(()) => {}
                            Err(e) if e == Errno::NOENT => {}
                            Err(e) => {
                                return Err(Error::from_io(
                                    path,
                                    "replace staged partial",
                                    e.into(),
                                ))
                            }
                        }
                    }
                }
                Err(e) if e == Errno::NOENT => return Ok(None),
                Err(e) => {
                    return Err(refusal(path, e)
                        .unwrap_or_else(|| Error::from_io(path, "create", e.into())))
                }
            }
        }
        Err(Error::Other {
            path: path.to_owned(),
            message: "could not create a staging file: the name stayed taken".to_owned(),
            remote: None,
            source: None,
        })
    }

    /// Resolves (creating it) the directory of a key to write and creates a
    /// file in it; starts over when the directory is removed in between.
    fn create_for_write(
        &self,
        path: &str,
        dir_key: &str,
        name: &str,
        flags: OFlags,
        file_name: &mut dyn FnMut() -> String,
        replace: bool,
    ) -> Result<(DirFd, File, String)> {
        for _ in 0..MAX_WRITE_RETRIES {
            let dir = self.root.ensure_dir(path, dir_key)?;
            self.refuse_symlink(path, &dir, name)?;
            self.sweep(dir_key, &dir);
            if let Some((file, file_name)) =
                self.create_in(path, &dir, flags, file_name, replace)?
            {
                return Ok((dir, file, file_name));
            }
        }
        Err(Error::Io {
            path: path.to_owned(),
            operation: "create",
            source: io::Error::other(
                "its directory kept being removed before a file could be made in it",
            ),
        })
    }

    /// Syncs a written file's bytes before it is renamed into place.
    fn sync_file(&self, path: &str, file: &File) -> Result<()> {
        if self.root.durable() {
            file.sync_data()
                .map_err(|e| Error::from_io(path, "sync file", e))?;
        }
        Ok(())
    }

    /// Renames the complete file `from` onto `name` in `dir` as `mode`
    /// allows, then syncs the directory. An empty directory in the way
    /// holds no key (a directory left by another writer's race, or by a
    /// user) and is replaced; one that holds keys is an I/O error, as a
    /// local directory cannot be an object and a prefix at once.
    fn place(&self, path: &str, dir: &DirFd, from: &str, name: &str, mode: &PutMode) -> Result<()> {
        move_as(path, dir.as_fd(), from, dir, name, mode)?;
        if self.root.durable() {
            dir::sync_dir(path, dir)?;
        }
        Ok(())
    }

    /// Places the complete, synced temp file `tmp` (open as `file`) at
    /// `name`; returns its version. Renaming changes neither the file's
    /// size, its modification time nor its inode, so the version taken
    /// before is the published object's.
    fn finish(
        &self,
        path: &str,
        dir: &DirFd,
        file: &File,
        tmp: &str,
        name: &str,
        mode: &PutMode,
    ) -> Result<String> {
        let meta = file
            .metadata()
            .map_err(|e| Error::from_io(path, "stat written file", e))?;
        self.place(path, dir, tmp, name, mode)?;
        Ok(file_version(&meta))
    }

    /// Publishes `file`, a complete staged partial of `name` in `dir`
    /// (named by `staging_name`), at `name` as `mode` allows; returns the
    /// new object's version.
    ///
    /// The partial's name is shared by every stream of the key, so a
    /// concurrent `write_reader` of the same key may have replaced it with
    /// its own (still growing) file. Renaming whatever is at that name
    /// straight into place could publish someone else's half-written
    /// object. Instead the name is first claimed by renaming it to a private
    /// temp name, and published only if it is the very file we wrote;
    /// otherwise it is put back and our bytes are published through a
    /// private copy (only in that contended case).
    fn publish_staged(
        &self,
        path: &str,
        dir_key: &str,
        dir: &DirFd,
        name: &str,
        mut file: File,
        mode: &PutMode,
    ) -> Result<String> {
        let staging = &staging_name(name);
        let mine = file
            .metadata()
            .map_err(|e| Error::from_io(path, "stat staged partial", e))?;
        self.sync_file(path, &file)?;
        let d = dir.as_fd();
        let claimed = temp_name();
        match rfs::renameat(d, staging, d, &claimed) {
            Ok(()) => match rfs::statat(d, &claimed, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if st.st_dev as u64 == mine.dev() && st.st_ino as u64 == mine.ino() => {
                    return self
                        .place(path, dir, &claimed, name, mode)
                        .map(|()| file_version(&mine))
                        .inspect_err(|e| {
                            // A key that is a directory of other keys cannot
                            // also be a local object: the stream arrived
                            // whole and was refused, as a condition refuses
                            // it, and there is nothing to resume. A partial
                            // kept here would also keep its directory (and so
                            // a key of that name) from going when the keys
                            // under it do.
                            let onto_a_directory = stat_at(path, d, name)
                                .ok()
                                .flatten()
                                .is_some_and(|st| file_type(&st) == FileType::Directory);
                            if onto_a_directory
                                || matches!(
                                    e.kind(),
                                    ErrorKind::AlreadyExists | ErrorKind::PreconditionFailed
                                )
                            {
                                // Refused: nothing stays.
                                let _ = rfs::unlinkat(d, &claimed, AtFlags::empty());
                            } else {
                                // Keep the bytes resumable under their usual name.
                                let _ = rfs::renameat(d, &claimed, d, staging);
                            }
                        });
                }
                _ => {
                    let _ = rfs::renameat(d, &claimed, d, staging);
                }
            },
            Err(e) if e == Errno::NOENT => {}
            Err(e) => return Err(Error::from_io(path, "claim staged partial", e.into())),
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::from_io(path, "seek staged partial", e))?;
        let (dir, mut copy, tmp) =
            self.create_for_write(path, dir_key, name, OFlags::WRONLY, &mut temp_name, false)?;
        let result = io::copy(&mut file, &mut copy)
            .map_err(|e| Error::from_io(path, "copy staged partial", e))
            .and_then(|_| attrs::copy(path, &file, &copy))
            .and_then(|()| self.sync_file(path, &copy))
            .and_then(|()| self.finish(path, &dir, &copy, &tmp, name, mode));
        if result.is_err() {
            let _ = rfs::unlinkat(dir.as_fd(), &tmp, AtFlags::empty());
        }
        result
    }

    /// Opens the object for reading and returns it with its metadata;
    /// NotFound when missing. A directory is not an object (on an object
    /// store the same key is just a prefix of other keys), so it is
    /// NotFound too. With `allow_part`, falls back to the staged partial.
    fn open_object(&self, path: &str, allow_part: bool) -> Result<(File, fs::Metadata)> {
        let (dir_key, name) = split_key(path)?;
        let key = path.trim_start_matches('/');
        if let Some(found) = self.root.open_file(path, key) {
            let file = found?.map(|fd| regular(path, File::from(fd))).transpose()?;
            if let Some(found) = file.flatten() {
                return Ok(found);
            }
            if allow_part {
                let staging = match dir_key {
                    "" => staging_name(name),
                    dir => format!("{dir}/{}", staging_name(name)),
                };
                if let Some(fd) = self.root.open_file(path, &staging).transpose()?.flatten() {
                    if let Some(found) = regular(path, File::from(fd))? {
                        return Ok(found);
                    }
                }
            }
            return Err(Error::not_found(path));
        }
        let Some(dir) = self.open_key_dir(path, dir_key)? else {
            return Err(Error::not_found(path));
        };
        if let Some(found) = open_regular(path, &dir, name)? {
            return Ok(found);
        }
        if allow_part {
            if let Some(found) = open_regular(path, &dir, &staging_name(name))? {
                return Ok(found);
            }
        }
        Err(Error::not_found(path))
    }

    /// Size of the regular file `name` in the key's directory; `None` when
    /// missing or not a file; a symlink is refused.
    fn file_size(&self, path: &str, dir: &DirFd, name: &str) -> Result<Option<u64>> {
        Ok(self
            .refuse_symlink(path, dir, name)?
            .filter(|st| file_type(st) == FileType::RegularFile)
            .map(|st| st.st_size as u64))
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

/// Opens `name` in `dir` for reading when it is a regular file; `None` when
/// missing or not a file. Never follows a symlink (it is refused), and never
/// blocks on a FIFO planted under a key's name.
fn open_regular(path: &str, dir: &DirFd, name: &str) -> Result<Option<(File, fs::Metadata)>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rfs::openat(dir.as_fd(), name, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(e) if e == Errno::NOENT || e == Errno::NOTDIR => return Ok(None),
        Err(e) if e == Errno::LOOP => return Err(symlink_refused(path)),
        Err(e) => {
            return Err(refusal(path, e).unwrap_or_else(|| Error::from_io(path, "open", e.into())))
        }
    };
    regular(path, file)
}

/// `file` with its metadata when it is a regular file.
fn regular(path: &str, file: File) -> Result<Option<(File, fs::Metadata)>> {
    let meta = file
        .metadata()
        .map_err(|e| Error::from_io(path, "stat", e))?;
    Ok(meta.is_file().then_some((file, meta)))
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

/// Refuses a copy or rename with anything but a put mode, or onto itself.
fn check_copy(from: &str, to: &str, o: &PutOptions) -> Result<()> {
    if o.content_type.is_some() || !o.metadata.is_empty() {
        return Err(Error::invalid_argument(
            "a copy keeps the source's content type and metadata; give only a put mode",
        ));
    }
    if from.trim_start_matches('/') == to.trim_start_matches('/') {
        return Err(Error::invalid_argument(format!(
            "copy of {from:?} onto itself"
        )));
    }
    Ok(())
}

/// Copies the `len` bytes of `src` into `dst` with `copy_file_range` (a
/// clone of the extents where the file system can), else by reading and
/// writing.
fn copy_file(path: &str, src: &File, dst: &File, len: u64) -> Result<()> {
    let (mut off_in, mut off_out) = (0u64, 0u64);
    while off_in < len {
        let want = usize::try_from(len - off_in).unwrap_or(usize::MAX).min(1 << 30);
        match rfs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), want) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e == Errno::INTR => {}
            Err(e)
                if off_in == 0
                    && (e == Errno::XDEV
                        || e == Errno::NOSYS
                        || e == Errno::INVAL
                        || e == Errno::OPNOTSUPP) =>
            {
                let copied = io::copy(&mut &*src, &mut &*dst)
                    .map_err(|e| Error::from_io(path, "copy", e))?;
                off_in = copied;
                break;
            }
            Err(e) => return Err(Error::from_io(path, "copy", e.into())),
        }
    }
    if off_in != len {
        return Err(Error::from_io(
            path,
            "copy",
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the source changed size while it was copied ({off_in} of {len} bytes)"),
            ),
        ));
    }
    Ok(())
}

/// Renames `from` in `fd` onto `name` in `dir` as `mode` allows.
fn move_as(
    path: &str,
    fd: BorrowedFd<'_>,
    from: &str,
    dir: &DirFd,
    name: &str,
    mode: &PutMode,
) -> Result<()> {
    let d = dir.as_fd();
    match mode {
        PutMode::Overwrite => replace(path, fd, from, d, name),
        PutMode::Create => place_new(path, fd, from, d, name),
        PutMode::Update(want) => {
            // Held until the rename is done: see `lock_version`.
            let _held = lock_version(path, dir, name, want)?;
            replace(path, fd, from, d, name)
        }
    }
}

/// Renames `from` in `fd` onto `name` in `d`, replacing what is there.
fn replace(path: &str, fd: BorrowedFd<'_>, from: &str, d: BorrowedFd<'_>, name: &str) -> Result<()> {
    let mut result = rfs::renameat(fd, from, d, name);
    if matches!(result, Err(e) if e == Errno::ISDIR || e == Errno::NOTEMPTY || e == Errno::EXIST)
        && rfs::unlinkat(d, name, AtFlags::REMOVEDIR).is_ok()
    {
        result = rfs::renameat(fd, from, d, name);
    }
    result.map_err(|e| Error::from_io(path, "rename into place", e.into()))
}

/// Renames `from` in `fd` onto `name` in `d` only if nothing is there (an
/// empty directory holds no key and is removed first); AlreadyExists
/// otherwise.
fn place_new(path: &str, fd: BorrowedFd<'_>, from: &str, d: BorrowedFd<'_>, name: &str) -> Result<()> {
    for _ in 0..MAX_WRITE_RETRIES {
        match rename_noreplace(fd, from, d, name) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::EXIST => {
                let empty_dir = stat_at(path, d, name)?
                    .is_some_and(|st| file_type(&st) == FileType::Directory)
                    && rfs::unlinkat(d, name, AtFlags::REMOVEDIR).is_ok();
                if !empty_dir {
                    return Err(Error::AlreadyExists {
                        path: path.to_owned(),
                        remote: None,
                    });
                }
            }
            Err(e) => return Err(Error::from_io(path, "rename into place", e.into())),
        }
    }
    Err(Error::from_io(
        path,
        "rename into place",
        io::Error::other("an empty directory kept coming back in the way"),
    ))
}

/// A rename that fails with `EEXIST` instead of replacing: `renameat2`
/// with `RENAME_NOREPLACE`, else (a file system or kernel without it) a
/// hard link, as atomic, and the removal of the old name.
fn rename_noreplace(
    fd: BorrowedFd<'_>,
    from: &str,
    d: BorrowedFd<'_>,
    name: &str,
) -> rustix::io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    match rfs::renameat_with(fd, from, d, name, rfs::RenameFlags::NOREPLACE) {
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP => {}
        done => return done,
    }
    rfs::linkat(fd, from, d, name, AtFlags::empty())?;
    let _ = rfs::unlinkat(fd, from, AtFlags::empty());
    Ok(())
}

/// Locks the object `name` in `dir` (an exclusive `flock` of its file)
/// when it is still version `want`; PreconditionFailed when it is not, or
/// is gone. The lock is checked against the name after it is taken: a
/// writer that waited for it while another replaced the file sees the new
/// file (and its other version). Dropping the file releases it.
fn lock_version(path: &str, dir: &DirFd, name: &str, want: &str) -> Result<File> {
    let failed = || Error::PreconditionFailed {
        path: path.to_owned(),
        remote: None,
    };
    for _ in 0..MAX_WRITE_RETRIES {
        let Some((file, _)) = open_regular(path, dir, name)? else {
            return Err(failed());
        };
        rfs::flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| Error::from_io(path, "lock object", e.into()))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::from_io(path, "stat object", e))?;
        match stat_at(path, dir.as_fd(), name)? {
            Some(st) if st.st_dev as u64 == meta.dev() && st.st_ino as u64 == meta.ino() => {
                return if file_version(&meta) == want {
                    Ok(file)
                } else {
                    Err(failed())
                };
            }
            // Replaced while we waited: look at the new file.
            Some(_) => continue,
            None => return Err(failed()),
        }
    }
    Err(failed())
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

/// A source with more bytes than it announced.
#[derive(Debug)]
struct LongerSource(u64);

impl std::fmt::Display for LongerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the source has more than the {} bytes announced", self.0)
    }
}

impl std::error::Error for LongerSource {}

/// Copies `reader` to the end of `file`; returns the byte count. `size`
/// (when announced) sizes the buffer and bounds the copy: a source that
/// has more than that gives [`Error::Io`] once the announced bytes are in
/// and writes nothing more (an endless source never fills the disk).
fn copy_into(path: &str, reader: &mut dyn Read, file: &mut File, size: Option<u64>) -> Result<u64> {
    crate::cancel::set_total(size);
    let mut buf = copy_buf(size);
    let mut total = 0u64;
    loop {
        let want = match size {
            Some(s) if total >= s => {
                // Every announced byte is in: the source must end here.
                let mut probe = [0u8; 1];
                return match reader.read(&mut probe) {
                    Ok(0) => Ok(total),
                    Ok(_) => Err(Error::Io {
                        path: path.to_owned(),
                        operation: "read source",
                        source: io::Error::new(io::ErrorKind::InvalidData, LongerSource(s)),
                    }),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(Error::Io {
                        path: path.to_owned(),
                        operation: "read source",
                        source: e,
                    }),
                };
            }
            Some(s) => buf.len().min(usize::try_from(s - total).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => return Ok(total),
            Ok(n) => n.min(want),
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
        // Cancelled between chunks (the staging file stays, as on any
        // failure of the source).
        crate::cancel::advance(path, n as u64)?;
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
    crate::cancel::set_total(Some(len));
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
        crate::cancel::advance(path, n as u64)?;
    }
    Ok(total)
}

fn no_partial(path: &str) -> Error {
    Error::NotFound {
        path: format!("{path}{PART_SUFFIX} (no staged partial to append to)"),
        remote: None,
    }
}

/// A source that gave fewer bytes than announced.
fn short_source(path: &str, message: String) -> Error {
    Error::Io {
        path: path.to_owned(),
        operation: "read source",
        source: io::Error::new(io::ErrorKind::UnexpectedEof, message),
    }
}

/// `unlinkat` of a file; Ok(false) when nothing was there.
fn unlink_file(path: &str, dir: &DirFd, name: &str, operation: &'static str) -> Result<bool> {
    match rfs::unlinkat(dir.as_fd(), name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(e) if e == Errno::NOENT => Ok(false),
        // A directory (EISDIR on Linux, EPERM elsewhere) holds other keys,
        // not this one: nothing to delete at this key.
        Err(e) if e == Errno::ISDIR => Ok(false),
        Err(e) => Err(Error::from_io(path, operation, e.into())),
    }
}

/// The store's conditional writes.
///
/// `Create` publishes with a rename that refuses to replace anything
/// (`renameat2(RENAME_NOREPLACE)`, or a hard link where the file system
/// has no such rename): atomic, against every other writer of the base.
///
/// `Update(version)` compares the version (size, modification time and
/// inode of the file, as `head` and [`PutResult::version`] report it) under
/// an exclusive `flock` of the object's file, held from the check until the
/// new file has been renamed over it; a writer that waited for the lock
/// finds the file replaced and fails. The check and the rename are atomic
/// against every other `Update` of the key, by any store and process
/// that shares the base. A plain `write` or `delete` takes no lock: one that
/// lands between another writer's check and rename is replaced by it, as if
/// it had come just before the check.
impl LocalBackend {
    fn put_bytes(&self, path: &str, data: &[u8], o: &PutOptions) -> Result<String> {
        let (dir_key, name) = split_key(path)?;
        o.check()?;
        let (dir, mut file, tmp) =
            self.create_for_write(path, dir_key, name, OFlags::WRONLY, &mut temp_name, false)?;
        let result = file
            .write_all(data)
            .map_err(|e| Error::from_io(path, "write", e))
            .and_then(|()| attrs::set(path, &file, o))
            .and_then(|()| self.sync_file(path, &file))
            .and_then(|()| self.finish(path, &dir, &file, &tmp, name, &o.mode));
        if result.is_err() {
            let _ = rfs::unlinkat(dir.as_fd(), &tmp, AtFlags::empty());
        }
        result
    }

    fn put_stream(
        &self,
        path: &str,
        reader: &mut dyn Read,
        size: Option<u64>,
        o: &PutOptions,
    ) -> Result<String> {
        let (dir_key, name) = split_key(path)?;
        o.check()?;
        let staging = staging_name(name);
        // Each stream stages in a file of its own (O_EXCL): a stale
        // partial left by a crash is replaced, never shared with another
        // live stream (see `publish_staged`). Readable too: a contended
        // publish copies from it. Made before the source is read: a
        // refused key reads nothing and changes nothing.
        let (dir, mut file, _) = self.create_for_write(
            path,
            dir_key,
            name,
            OFlags::RDWR,
            &mut || staging.clone(),
            true,
        )?;
        // The staging file stays on any failure, so the transfer can resume.
        let written = copy_into(path, reader, &mut file, size)?;
        if let Some(expected) = size {
            if written != expected {
                return Err(short_source(
                    path,
                    format!("source gave {written} bytes, {expected} were announced"),
                ));
            }
        }
        // Refused attributes keep the partial, as a failed source does.
        attrs::set(path, &file, o)?;
        self.publish_staged(path, dir_key, &dir, name, file, &o.mode)
    }
}

/// Copies and renames.
impl LocalBackend {
    /// Copies `from` to `to`: the file system copies (`copy_file_range`,
    /// which clones the extents where the file system can) into a temp
    /// file beside `to`, the attributes follow, and it is published as a
    /// write is.
    fn copy_object(&self, from: &str, to: &str, o: &PutOptions) -> Result<String> {
        check_copy(from, to, o)?;
        let (src, meta) = self.open_object(from, false)?;
        let (dir_key, name) = split_key(to)?;
        let (dir, file, tmp) =
            self.create_for_write(to, dir_key, name, OFlags::WRONLY, &mut temp_name, false)?;
        let result = copy_file(to, &src, &file, meta.len())
            .and_then(|()| attrs::copy(to, &src, &file))
            .and_then(|()| self.sync_file(to, &file))
            .and_then(|()| self.finish(to, &dir, &file, &tmp, name, &o.mode));
        if result.is_err() {
            let _ = rfs::unlinkat(dir.as_fd(), &tmp, AtFlags::empty());
        }
        result
    }

    /// Renames the file of `from` to `to` in one `renameat` (with the
    /// mode's condition, as a write's publication), then syncs both
    /// directories and prunes the ones it emptied.
    fn rename_object(&self, from: &str, to: &str, o: &PutOptions) -> Result<String> {
        check_copy(from, to, o)?;
        let (src_key, src_name) = split_key(from)?;
        let (dst_key, dst_name) = split_key(to)?;
        for _ in 0..MAX_WRITE_RETRIES {
            let Some(src_dir) = self.open_key_dir(from, src_key)? else {
                return Err(Error::not_found(from));
            };
            let Some((_, meta)) = open_regular(from, &src_dir, src_name)? else {
                return Err(Error::not_found(from));
            };
            let dir = self.root.ensure_dir(to, dst_key)?;
            self.refuse_symlink(to, &dir, dst_name)?;
            match move_as(to, src_dir.as_fd(), src_name, &dir, dst_name, &o.mode) {
                Ok(()) => {}
                // A directory on either side was pruned in between.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            if self.root.durable() {
                dir::sync_dir(to, &dir)?;
                dir::sync_dir(from, &src_dir)?;
            }
            drop((dir, src_dir));
            dir::prune_empty(&self.root, from, src_key);
            return Ok(file_version(&meta));
        }
        Err(Error::not_found(from))
    }
}

impl Backend for LocalBackend {
    fn stats_json(&self) -> Option<String> {
        Some(self.stats.to_json())
    }

    fn reset_stats(&self) {
        self.stats.reset()
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        self.stats.call("write", || {
            self.put_bytes(path, data, &PutOptions::default()).map(drop)
        })
    }

    fn write_reader(&self, path: &str, reader: &mut dyn Read, size: Option<u64>) -> Result<()> {
        self.stats.call("write_reader", || {
            self.put_stream(path, reader, size, &PutOptions::default())
                .map(drop)
        })
    }

    fn put(&self, path: &str, data: &[u8], options: &PutOptions) -> Result<PutResult> {
        self.stats.call("put", || {
            let version = self.put_bytes(path, data, options)?;
            Ok(PutResult::new(Some(version)))
        })
    }

    fn put_reader(
        &self,
        path: &str,
        reader: &mut dyn Read,
        size: Option<u64>,
        options: &PutOptions,
    ) -> Result<PutResult> {
        self.stats.call("put", || {
            let version = self.put_stream(path, reader, size, options)?;
            Ok(PutResult::new(Some(version)))
        })
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
        self.stats.call("read", || {
            let (file, meta) = self.open_object(path, false)?;
            let len = meta.len();
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
            // One read: the progress callback hears of it at the end.
            crate::cancel::set_total(Some(len));
            crate::cancel::advance(path, len)?;
            Ok(data)
        })
    }

    fn read_to(&self, path: &str, writer: &mut dyn Write) -> Result<u64> {
        self.stats.call("read_to", || {
            let (mut file, meta) = self.open_object(path, false)?;
            copy_out(path, &mut file, writer, meta.len())
        })
    }

    fn read_to_at(&self, path: &str, writer: &mut dyn Write, offset: u64) -> Result<u64> {
        self.stats.call("read_to", || {
            let (mut file, meta) = self.open_object(path, true)?;
            let size = meta.len();
            Self::check_offset(path, offset, size)?;
            if offset > 0 {
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| Error::from_io(path, "seek", e))?;
            }
            copy_out(path, &mut file, writer, size - offset)
        })
    }

    fn read_to_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        self.stats.call("read_to", || {
            let (mut file, meta) = self.open_object(path, false)?;
            let len = meta.len();
            *seen_version = Some(file_version(&meta));
            copy_out(path, &mut file, writer, len)
        })
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
        self.stats.call("read_to", || {
            let (mut file, meta) = self.open_object(path, true)?;
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
        })
    }

    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.stats.call("read_range", || {
            let (file, meta) = self.open_object(path, false)?;
            Self::check_offset(path, offset, meta.len())?;
            read_at(path, &file, offset, buf)
        })
    }

    /// Every range from one open file: one version, whatever replaces the
    /// object meanwhile (a write renames a new file into place).
    fn read_ranges(&self, path: &str, ranges: &mut [ReadRange<'_>]) -> Result<()> {
        self.stats.call("read_ranges", || {
            ranges.iter_mut().for_each(|r| r.read = 0);
            let (file, meta) = self.open_object(path, false)?;
            for r in ranges.iter() {
                Self::check_offset(path, r.offset, meta.len())?;
            }
            let mut read = Vec::with_capacity(ranges.len());
            for r in ranges.iter_mut() {
                read.push(read_at(path, &file, r.offset, r.buf)?);
            }
            for (r, n) in ranges.iter_mut().zip(read) {
                r.read = n;
            }
            Ok(())
        })
    }

    fn stat_file(&self, path: &str) -> Result<Option<u64>> {
        self.stats.call("stat", || {
            let (dir_key, name) = split_key(path)?;
            let Some(dir) = self.open_key_dir(path, dir_key)? else {
                return Ok(None);
            };
            if let Some(size) = self.file_size(path, &dir, name)? {
                return Ok(Some(size));
            }
            self.file_size(path, &dir, &staging_name(name))
        })
    }

    fn copy(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        self.stats.call("copy", || {
            let version = self.copy_object(from, to, options)?;
            Ok(PutResult::new(Some(version)))
        })
    }

    /// An atomic rename: readers see the object at `from` or at `to`,
    /// never both, never neither.
    fn rename(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        self.stats.call("rename", || {
            let version = self.rename_object(from, to, options)?;
            Ok(PutResult::new(Some(version)))
        })
    }

    /// The content type is the one the write gave, else the default of
    /// the key (as on S3 and Azure).
    fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.stats.call("head", || {
            let (file, meta) = self.open_object(path, false)?;
            let (content_type, metadata) = attrs::get(path, &file)?;
            let mut head = ObjectMeta::new(meta.len());
            head.version = Some(file_version(&meta));
            head.last_modified = meta.modified().ok();
            head.content_type =
                Some(content_type.unwrap_or_else(|| crate::remote::content_type(path).to_owned()));
            head.metadata = metadata;
            Ok(head)
        })
    }

    fn exists(&self, path: &str) -> Result<bool> {
        self.stats.call("exists", || {
            let (dir_key, name) = split_key(path)?;
            let Some(dir) = self.open_key_dir(path, dir_key)? else {
                return Ok(false);
            };
            Ok(self.file_size(path, &dir, name)?.is_some())
        })
    }

    /// Deletes the object and any staged partial of it, then removes the
    /// directories that this leaves empty, up to the base, so the key space
    /// looks as on S3 (no empty "directory" stays behind to list, or to be
    /// in the way of an object of that name). A key that is only a
    /// directory of other keys holds no object: deleting it is a no-op.
    fn delete(&self, path: &str) -> Result<()> {
        self.stats.call("delete", || {
            let (dir_key, name) = split_key(path)?;
            let Some(dir) = self.open_key_dir(path, dir_key)? else {
                return Ok(());
            };
            let mut removed = false;
            if let Some(st) = self.refuse_symlink(path, &dir, name)? {
                if file_type(&st) != FileType::Directory {
                    removed |= unlink_file(path, &dir, name, "delete")?;
                }
            }
            // A staged partial of a deleted object would never be found again.
            removed |= unlink_file(path, &dir, &staging_name(name), "delete staged partial")?;
            drop(dir);
            if removed {
                dir::prune_empty(&self.root, path, dir_key);
            }
            Ok(())
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.stats.call("list", || {
            let mut out = Vec::new();
            walk::walk(&self.root, prefix, &mut |key, _, _| {
                out.push(key);
                Ok(())
            })?;
            // walk() visits keys in byte order already.
            debug_assert!(
                out.windows(2).all(|w| w[0] < w[1]),
                "walk order is not sorted"
            );
            Ok(out)
        })
    }

    fn kind(&self) -> &'static str {
        "local"
    }

    fn config_json(&self) -> String {
        serde_json::json!({
            "base_path": self.base.to_string_lossy(),
            "durable": self.root.durable(),
        })
        .to_string()
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
        self.stats.call("delete_batch", || {
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
        })
    }
}

impl ObjectLister for LocalBackend {
    fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.stats.call("list_objects", || {
            let mut out = Vec::new();
            walk::walk(&self.root, prefix, &mut |key, dir, name_at| {
                let Some(st) = stat_at(&key, dir, &key[name_at..])? else {
                    return Ok(());
                };
                if file_type(&st) != FileType::RegularFile {
                    return Ok(());
                }
                out.push(ObjectInfo {
                    size: st.st_size as u64,
                    last_modified: names::stat_mtime(st.st_mtime as i64, st.st_mtime_nsec as i64),
                    path: key,
                });
                Ok(())
            })?;
            // walk() visits keys in byte order already.
            debug_assert!(
                out.windows(2).all(|w| w[0].path < w[1].path),
                "walk order is not sorted"
            );
            Ok(out)
        })
    }
}

impl DirectoryLister for LocalBackend {
    fn list_directories(&self, prefix: &str) -> Result<Vec<String>> {
        self.stats.call("list_directories", || {
            let key = validate_prefix(prefix)?.trim_end_matches('/');
            check_dir_key(prefix, key)?;
            let Some(dir) = self.open_key_dir(prefix, key)? else {
                return Ok(Vec::new());
            };
            let fd = walk::own_handle(prefix, dir)?;
            let mut out = Vec::new();
            walk::read_entries(prefix, fd.as_fd(), &mut Vec::new(), &mut |name, listed| {
                // Hidden names are skipped here (and only here), as documented.
                if !name.starts_with('.')
                    && !is_reserved(name)
                    && walk::entry_type(fd.as_fd(), name, listed) == FileType::Directory
                {
                    out.push(name.to_owned());
                }
                Ok(())
            })?;
            out.sort_unstable();
            Ok(out)
        })
    }
}

impl DirectoryRemover for LocalBackend {
    fn remove_directory(&self, path: &str) -> Result<()> {
        self.stats.call("remove_directory", || {
            // A directory may be named with or without its trailing '/'.
            let key = validate_prefix(path)?.trim_end_matches('/');
            if key.is_empty() {
                return Err(Error::invalid_path(
                    path,
                    "empty directory path (the base itself)",
                ));
            }
            check_dir_key(path, key)?;
            let (parent, name) = key.rsplit_once('/').unwrap_or(("", key));
            let Some(dir) = self.open_key_dir(path, parent)? else {
                return Ok(());
            };
            match rfs::unlinkat(dir.as_fd(), name, AtFlags::REMOVEDIR) {
                Ok(()) => Ok(()),
                Err(e) if e == Errno::NOENT => Ok(()),
                Err(e) if e == Errno::NOTEMPTY || e == Errno::EXIST => Err(Error::Io {
                    path: path.to_owned(),
                    operation: "remove directory (it is not empty)",
                    source: e.into(),
                }),
                Err(e) if e == Errno::NOTDIR => {
                    dir::not_a_symlink(path, dir.as_fd(), name)?;
                    Err(Error::from_io(path, "remove directory", e.into()))
                }
                Err(e) => Err(Error::from_io(path, "remove directory", e.into())),
            }
        })
    }
}

impl AppendingBackend for LocalBackend {
    fn append_reader(&self, path: &str, reader: &mut dyn Read, append_size: u64) -> Result<()> {
        self.stats.call("append", || {
            let (dir_key, name) = split_key(path)?;
            let Some(dir) = self.open_key_dir(path, dir_key)? else {
                return Err(no_partial(path));
            };
            self.refuse_symlink(path, &dir, name)?;
            let staging = staging_name(name);
            let flags = OFlags::RDWR | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let mut file = match rfs::openat(dir.as_fd(), &staging, flags, Mode::empty()) {
                Ok(fd) => File::from(fd),
                Err(e) if e == Errno::NOENT => return Err(no_partial(path)),
                Err(e) if e == Errno::LOOP => {
                    return Err(Error::invalid_path(path, "staging file is a symlink"))
                }
                Err(e) => return Err(Error::from_io(path, "open staged partial", e.into())),
            };
            // A live stream of this key holds the partial: appending to it
            // would interleave two sources.
            if let Err(e) = rfs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
                let busy = e == Errno::WOULDBLOCK;
                return Err(Error::Io {
                    path: path.to_owned(),
                    operation: "lock staged partial",
                    source: if busy {
                        io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "another write of this key is streaming into it",
                        )
                    } else {
                        e.into()
                    },
                });
            }
            self.sweep(dir_key, &dir);
            let before = file
                .metadata()
                .map_err(|e| Error::from_io(path, "stat staged partial", e))?
                .len();
            let written = match copy_into(path, reader, &mut file, Some(append_size)) {
                Ok(n) => n,
                Err(e) => {
                    // A source longer than announced: the partial goes back to
                    // what it was, so a retry appends the same bytes once.
                    if matches!(&e, Error::Io { source, .. } if source.get_ref().is_some_and(|i| i.is::<LongerSource>())) {
                        let _ = file.set_len(before);
                    }
                    return Err(e);
                }
            };
            if written != append_size {
                // The partial stays, longer by `written`, for another attempt.
                return Err(short_source(
                    path,
                    format!(
                        "appended {written} bytes, {append_size} were announced; the partial was kept"
                    ),
                ));
            }
            self.publish_staged(path, dir_key, &dir, name, file, &PutMode::Overwrite)
                .map(drop)
        })
    }
}

/// Up to `buf.len()` bytes of `file` at `offset`: fewer only at its end.
fn read_at(path: &str, file: &std::fs::File, offset: u64, buf: &mut [u8]) -> Result<usize> {
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

