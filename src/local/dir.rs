//! Resolving keys beneath the base directory through handles.
//!
//! The store holds an open handle on its base directory and reaches every
//! file through it: a key's directory is opened relative to that handle
//! without following any symlink (`openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS` where the kernel has it, else one `openat` per
//! component with `O_NOFOLLOW | O_DIRECTORY`), and the file operation then
//! runs relative to the directory handle it got (`openat`, `renameat`,
//! `unlinkat`, `statat`, `mkdirat`). A name is never looked up again by its
//! path string, so swapping a directory for a symlink between two steps
//! cannot send a later step outside the base: the swap makes the lookup
//! fail (`ELOOP`), or the step lands in the directory that was resolved.
//!
//! Nothing is cached: every call resolves its directory again.

use std::fs::DirBuilder;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};

/// How every directory is opened: readable (listing, `fsync`), never through
/// a symlink, never inherited by a child process.
pub(super) const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Mode of the directories the store creates.
const DIR_MODE: u32 = 0o700;

/// How many times a walk starts over when a directory it stood in was
/// removed under it (a delete pruning an emptied directory, or a user).
const MAX_RACE_RETRIES: usize = 64;

/// An open directory beneath (or at) the base.
pub(super) enum DirFd {
    /// The base itself.
    Base(Arc<OwnedFd>),
    /// A directory opened beneath it.
    Owned(OwnedFd),
}

impl AsFd for DirFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirFd::Base(fd) => fd.as_fd(),
            DirFd::Owned(fd) => fd.as_fd(),
        }
    }
}

/// What looking up a key's directory found.
pub(super) enum Opened {
    /// The directory, open.
    Dir(DirFd),
    /// A component does not exist.
    Missing,
    /// A component is a file (an object used as a directory).
    NotADirectory,
}

/// The handle on the base directory, and how to reopen it.
pub(super) struct Root {
    /// The base as given, made absolute (for messages and reopening).
    path: PathBuf,
    /// Replaced only when the base directory itself was removed.
    fd: RwLock<Arc<OwnedFd>>,
    /// Whether new directories are made durable (`fsync` of their parent).
    durable: bool,
}

impl Root {
    /// Creates the base when missing (mode 0700, parents too) and opens it.
    /// Symlinks in the base path itself are followed: the base is the
    /// caller's choice, only keys are confined.
    pub(super) fn open(path: PathBuf, shown: &str, durable: bool) -> Result<Self> {
        let fd = open_base(&path, shown)?;
        Ok(Root {
            path,
            fd: RwLock::new(Arc::new(fd)),
            durable,
        })
    }

    pub(super) fn durable(&self) -> bool {
        self.durable
    }

    /// The base handle.
    pub(super) fn base(&self) -> DirFd {
        let fd = match self.fd.read() {
            Ok(fd) => Arc::clone(&fd),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        DirFd::Base(fd)
    }

    /// Opens the file `key` (a validated key) for reading in one `openat2`
    /// call, without a handle on its directory: what a read needs, at the
    /// cost of a plain `open`. `None` where the kernel has no `openat2` (the
    /// caller opens the directory, then the file in it); `Ok(None)` when
    /// nothing is there, or a component on the way is a file.
    pub(super) fn open_file(&self, path: &str, key: &str) -> Option<Result<Option<OwnedFd>>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        Some(match open_beneath(&self.base(), key, flags)? {
            Ok(fd) => Ok(Some(fd)),
            // With RESOLVE_NO_SYMLINKS any symlink is ELOOP, so ENOTDIR is
            // a file used as a directory: no object.
            Err(e) if e == Errno::NOENT || e == Errno::NOTDIR => Ok(None),
            Err(e) => {
                Err(refusal(path, e).unwrap_or_else(|| Error::from_io(path, "open", e.into())))
            }
        })
    }

    /// Opens the directory `dir_key` (`a/b`, or `""` for the base) without
    /// creating anything. A symlink on the way is [`Error::InvalidPath`].
    pub(super) fn open_dir(&self, path: &str, dir_key: &str) -> Result<Opened> {
        let base = self.base();
        if dir_key.is_empty() {
            return Ok(Opened::Dir(base));
        }
        match open_beneath(&base, dir_key, DIR_FLAGS) {
            Some(Ok(fd)) => return Ok(Opened::Dir(DirFd::Owned(fd))),
            // ENOTDIR: a component is a file, or the last one a symlink
            // (O_DIRECTORY is checked before O_NOFOLLOW): the walk below
            // tells which.
            Some(Err(e)) if e == Errno::NOTDIR => {}
            Some(Err(e)) => return classify(path, e, None).map(|()| Opened::Missing),
            None => {}
        }
        walk_open(path, base, dir_key)
    }

    /// Opens the directory `dir_key`, creating what is missing of it (mode
    /// 0700; in a durable store each new directory's parent is synced).
    ///
    /// Each new level is made relative to the handle of the one above and
    /// then opened without following symlinks, so nothing is ever created
    /// through a symlink. A directory removed under the walk (a concurrent
    /// delete pruning it) makes the walk start over from the base.
    pub(super) fn ensure_dir(&self, path: &str, dir_key: &str) -> Result<DirFd> {
        match self.open_dir(path, dir_key)? {
            Opened::Dir(fd) if !dir_key.is_empty() || !is_removed(&fd) => return Ok(fd),
            _ => {}
        }
        for _ in 0..MAX_RACE_RETRIES {
            if let Some(fd) = self.create_walk(path, dir_key)? {
                return Ok(fd);
            }
        }
        Err(Error::Io {
            path: path.to_owned(),
            operation: "create directory",
            source: io::Error::other("its directories kept being removed while they were made"),
        })
    }

    /// One attempt of [`Root::ensure_dir`]; `None` when a directory of the
    /// walk was removed under it.
    fn create_walk(&self, path: &str, dir_key: &str) -> Result<Option<DirFd>> {
        let mut cur = self.base();
        if is_removed(&cur) {
            self.reopen_base(path)?;
            cur = self.base();
        }
        if dir_key.is_empty() {
            return Ok(Some(cur));
        }
        let mut done = 0usize;
        for comp in dir_key.split('/') {
            let shown = &dir_key[..done + comp.len()];
            done += comp.len() + 1;
            let mut made = false;
            let fd = loop {
                match rfs::openat(cur.as_fd(), comp, DIR_FLAGS, Mode::empty()) {
                    Ok(fd) => break fd,
                    Err(e) if e == Errno::NOENT && !made => {
                        match rfs::mkdirat(cur.as_fd(), comp, Mode::from_raw_mode(DIR_MODE)) {
                            Ok(()) => {
                                if self.durable {
                                    rfs::fsync(cur.as_fd()).map_err(|e| {
                                        Error::from_io(path, "sync directory", e.into())
                                    })?;
                                }
                            }
                            // Made by a concurrent writer.
                            Err(e) if e == Errno::EXIST => {}
                            // `cur` itself was removed.
                            Err(e) if e == Errno::NOENT => return Ok(None),
                            Err(e) => {
                                return Err(refusal(path, e).unwrap_or_else(|| {
                                    Error::from_io(path, "create directory", e.into())
                                }))
                            }
                        }
                        made = true;
                    }
                    // Made, then removed again before it could be opened.
                    Err(e) if e == Errno::NOENT => return Ok(None),
                    Err(e) if e == Errno::NOTDIR => {
                        not_a_symlink(path, cur.as_fd(), comp)?;
                        // Gone, or a directory again: it changed between the
                        // two looks (a swap under way); walk again.
                        match stat_at(path, cur.as_fd(), comp)? {
                            None => return Ok(None),
                            Some(st) if file_type(&st) == FileType::Directory => return Ok(None),
                            Some(_) => {}
                        }
                        return Err(Error::Io {
                            path: path.to_owned(),
                            operation: "create directory",
                            source: io::Error::new(
                                io::ErrorKind::AlreadyExists,
                                format!("{shown} exists and is not a directory"),
                            ),
                        });
                    }
                    Err(e) => {
                        classify(path, e, Some((cur.as_fd(), comp)))?;
                        return Err(Error::from_io(path, "open directory", e.into()));
                    }
                }
            };
            cur = DirFd::Owned(fd);
        }
        Ok(Some(cur))
    }

    /// Opens the base again after the directory itself was removed, so a
    /// store whose base was deleted (a test's cleanup, an operator) writes
    /// again, as it would have by path. Only writes do this; reads of a
    /// removed base simply find nothing.
    fn reopen_base(&self, shown: &str) -> Result<()> {
        let mut slot = match self.fd.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Another writer may have reopened it already.
        if !is_removed_fd(slot.as_fd()) {
            return Ok(());
        }
        log::warn!(
            "local store base {} was removed; recreating it",
            self.path.display()
        );
        *slot = Arc::new(open_base(&self.path, shown)?);
        Ok(())
    }
}

/// Creates (when missing) and opens the base directory by its path.
fn open_base(path: &Path, shown: &str) -> Result<OwnedFd> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|e| Error::from_io(shown, "create base directory", e))?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match rfs::open(path, flags, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(e) if e == Errno::NOTDIR => Err(Error::invalid_argument(format!(
            "base path {shown:?} is not a directory"
        ))),
        Err(e) => Err(Error::from_io(shown, "open base directory", e.into())),
    }
}

/// Opens `dir_key` beneath `base` one component at a time, each relative
/// to the handle of the one before, never following a symlink: where
/// `openat2` is missing, and to tell what an `ENOTDIR` of it meant.
fn walk_open(path: &str, base: DirFd, dir_key: &str) -> Result<Opened> {
    let mut cur = base;
    for comp in dir_key.split('/') {
        match rfs::openat(cur.as_fd(), comp, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => cur = DirFd::Owned(fd),
            Err(e) if e == Errno::NOTDIR => {
                not_a_symlink(path, cur.as_fd(), comp)?;
                return Ok(Opened::NotADirectory);
            }
            Err(e) => {
                classify(path, e, Some((cur.as_fd(), comp)))?;
                return Ok(Opened::Missing);
            }
        }
    }
    Ok(Opened::Dir(cur))
}

/// Whether the directory behind `fd` was removed (no name links to it).
fn is_removed(fd: &DirFd) -> bool {
    is_removed_fd(fd.as_fd())
}

fn is_removed_fd(fd: BorrowedFd<'_>) -> bool {
    rfs::fstat(fd).is_ok_and(|st| st.st_nlink == 0)
}

/// Opens `rel` beneath `base` in one `openat2` call that refuses every
/// symlink on the way, the last component included, where the kernel has
/// it; `None` where it does not (the caller walks instead).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn open_beneath(base: &DirFd, rel: &str, flags: OFlags) -> Option<rustix::io::Result<OwnedFd>> {
    use std::sync::atomic::{AtomicU8, Ordering};
    /// 0: not tried yet, 1: works, 2: missing (ENOSYS, or refused by a
    /// seccomp filter that predates it).
    static OPENAT2: AtomicU8 = AtomicU8::new(0);
    let state = OPENAT2.load(Ordering::Relaxed);
    if state == 2 {
        return None;
    }
    let resolve = rfs::ResolveFlags::BENEATH | rfs::ResolveFlags::NO_SYMLINKS;
    // EAGAIN: a rename elsewhere raced the lookup; the kernel asks to retry.
    for _ in 0..8 {
        match rfs::openat2(base.as_fd(), rel, flags, Mode::empty(), resolve) {
            Err(e) if e == Errno::AGAIN || e == Errno::INTR => continue,
            Err(e)
                if state == 0 && (e == Errno::NOSYS || e == Errno::PERM || e == Errno::INVAL) =>
            {
                OPENAT2.store(2, Ordering::Relaxed);
                return None;
            }
            result => {
                if state == 0 {
                    OPENAT2.store(1, Ordering::Relaxed);
                }
                return Some(result);
            }
        }
    }
    None
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn open_beneath(_base: &DirFd, _rel: &str, _flags: OFlags) -> Option<rustix::io::Result<OwnedFd>> {
    None
}

/// The refusal of a key that meets a symlink.
pub(super) fn symlink_refused(path: &str) -> Error {
    Error::invalid_path(
        path,
        "a component is a symbolic link; the local store never follows symlinks",
    )
}

/// The refusal of a name the file system cannot hold.
pub(super) fn too_long(path: &str) -> Error {
    Error::invalid_path(
        path,
        "a component is longer than the file system holds (255 bytes on most)",
    )
}

/// Turns the errors of a lookup that mean "the key is not a legal local
/// key" into [`Error::InvalidPath`]; `Ok(())` for a missing component, and
/// other errors as I/O errors. `at` is the directory and name looked up,
/// when known, to tell a symlink from a file on `ENOTDIR`.
pub(super) fn classify(path: &str, e: Errno, at: Option<(BorrowedFd<'_>, &str)>) -> Result<()> {
    if e == Errno::NOENT {
        return Ok(());
    }
    if let Some(refused) = refusal(path, e) {
        return Err(refused);
    }
    if e == Errno::NOTDIR {
        if let Some((dir, name)) = at {
            not_a_symlink(path, dir, name)?;
        }
        return Ok(());
    }
    Err(Error::from_io(path, "open directory", e.into()))
}

/// The [`Error::InvalidPath`] that an errno of a lookup means, if any: a
/// symlink met (`ELOOP`: `O_NOFOLLOW`, `RESOLVE_NO_SYMLINKS`) or a name too
/// long for the file system.
pub(super) fn refusal(path: &str, e: Errno) -> Option<Error> {
    if e == Errno::LOOP {
        Some(symlink_refused(path))
    } else if e == Errno::NAMETOOLONG {
        Some(too_long(path))
    } else {
        None
    }
}

/// [`Error::InvalidPath`] when `name` in `dir` is a symlink.
pub(super) fn not_a_symlink(path: &str, dir: BorrowedFd<'_>, name: &str) -> Result<()> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode as _) == FileType::Symlink => {
            Err(symlink_refused(path))
        }
        _ => Ok(()),
    }
}

/// `statat` without following a symlink; `None` when nothing is there (or
/// a component on the way is not a directory).
pub(super) fn stat_at(path: &str, dir: BorrowedFd<'_>, name: &str) -> Result<Option<rfs::Stat>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e == Errno::NOENT || e == Errno::NOTDIR => Ok(None),
        Err(e) if e == Errno::NAMETOOLONG => Err(too_long(path)),
        Err(e) => Err(Error::from_io(path, "stat", e.into())),
    }
}

/// The file type of a stat result.
pub(super) fn file_type(st: &rfs::Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode as _)
}

/// Syncs a directory (its entries: a rename or a new name in it).
pub(super) fn sync_dir(path: &str, dir: &DirFd) -> Result<()> {
    rfs::fsync(dir.as_fd()).map_err(|e| Error::from_io(path, "sync directory", e.into()))
}

/// Removes the directories that `dir_key`'s last components leave empty,
/// deepest first, up to (not including) the base. Stops at the first one
/// that is not empty, missing or not a plain directory: `unlinkat` with
/// `AT_REMOVEDIR` removes only an empty directory, so a concurrent write
/// that already put a file in one keeps it (and one that holds the handle
/// of a directory removed here finds it gone and makes it again).
pub(super) fn prune_empty(root: &Root, path: &str, dir_key: &str) {
    let mut key = dir_key;
    while !key.is_empty() {
        let (parent, name) = match key.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", key),
        };
        let Ok(Opened::Dir(parent_fd)) = root.open_dir(path, parent) else {
            return;
        };
        if rfs::unlinkat(parent_fd.as_fd(), name, AtFlags::REMOVEDIR).is_err() {
            return;
        }
        key = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// The component walk (the fallback where openat2 is missing) and
    /// openat2 agree on every kind of directory key.
    #[test]
    fn the_component_walk_and_openat2_agree() {
        let tmp = std::env::temp_dir().join(format!("blobio-dir-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("base/a/b")).unwrap();
        std::fs::create_dir_all(tmp.join("outside/b")).unwrap();
        std::fs::write(tmp.join("base/f"), b"file").unwrap();
        symlink(tmp.join("outside"), tmp.join("base/link")).unwrap();
        symlink("a", tmp.join("base/a/inner-link")).unwrap();
        let root = Root::open(tmp.join("base"), "base", false).unwrap();
        let describe = |r: Result<Opened>| match r {
            Ok(Opened::Dir(_)) => "dir",
            Ok(Opened::Missing) => "missing",
            Ok(Opened::NotADirectory) => "not a directory",
            Err(e) if e.kind() == crate::ErrorKind::InvalidPath => "refused",
            Err(_) => "error",
        };
        for (key, want) in [
            ("a", "dir"),
            ("a/b", "dir"),
            ("a/missing", "missing"),
            ("missing/b", "missing"),
            ("f", "not a directory"),
            ("f/b", "not a directory"),
            ("link", "refused"),
            ("link/b", "refused"),
            ("a/inner-link", "refused"),
            ("a/inner-link/b", "refused"),
        ] {
            assert_eq!(
                describe(walk_open(key, root.base(), key)),
                want,
                "walk: {key}"
            );
            assert_eq!(describe(root.open_dir(key, key)), want, "open_dir: {key}");
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
