//! Listing: a walk of the tree under a prefix through directory handles.
//!
//! Each directory is read through a handle opened relative to its parent's
//! (without following symlinks), so a directory swapped for a symlink while
//! it is listed is skipped, never followed out of the base. Symlinks are not
//! listed at all: the store never reads through one.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, FileType, Mode};
use rustix::io::Errno;

use super::dir::{self, DirFd, Opened, Root, DIR_FLAGS};
use super::names::{check_dir_key, is_reserved};
use crate::error::{Error, Result};
use crate::paths::validate_prefix;

/// Called for every listed file: the key (handed over, a listing keeps it
/// without copying), the handle of its directory, and where its file name
/// starts in the key.
pub(super) type Visit<'a> = dyn FnMut(String, BorrowedFd<'_>, usize) -> Result<()> + 'a;

/// A handle of its own on `dir` for reading its entries (reading moves a
/// handle's offset): a directory opened beneath the base already is one;
/// the base's handle is shared, so it is reopened (`openat(".")`).
pub(super) fn own_handle(path: &str, dir: DirFd) -> Result<OwnedFd> {
    match dir {
        DirFd::Owned(fd) => Ok(fd),
        DirFd::Base(base) => rfs::openat(base.as_fd(), ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| Error::from_io(path, "read directory", e.into())),
    }
}

/// The `getdents` buffer of a listing: large enough that a directory of a
/// thousand objects is read in a few calls.
const ENTRIES_BUF: usize = 32 * 1024;

/// Calls `f(name, type)` for each entry of the directory open as `fd` (a
/// handle of its own, read from its current offset), skipping `.`, `..`
/// and names that are not UTF-8. `buf` is the reused read buffer.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn read_entries(
    path: &str,
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    f: &mut dyn FnMut(&str, FileType) -> Result<()>,
) -> Result<()> {
    if buf.capacity() < ENTRIES_BUF {
        buf.reserve(ENTRIES_BUF);
    }
    let mut entries = rfs::RawDir::new(fd, buf.spare_capacity_mut());
    while let Some(entry) = entries.next() {
        let entry = entry.map_err(|e| Error::from_io(path, "read directory", e.into()))?;
        let Some(name) = utf8_name(entry.file_name()) else {
            continue;
        };
        f(name, entry.file_type())?;
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn read_entries(
    path: &str,
    fd: BorrowedFd<'_>,
    _buf: &mut Vec<u8>,
    f: &mut dyn FnMut(&str, FileType) -> Result<()>,
) -> Result<()> {
    let mut entries =
        rfs::Dir::read_from(fd).map_err(|e| Error::from_io(path, "read directory", e.into()))?;
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(|e| Error::from_io(path, "read directory", e.into()))?;
        let Some(name) = utf8_name(entry.file_name()) else {
            continue;
        };
        f(name, entry.file_type())?;
    }
    Ok(())
}

fn utf8_name(name: &std::ffi::CStr) -> Option<&str> {
    match name.to_str() {
        Ok("." | "..") => None,
        Ok(name) => Some(name),
        Err(_) => {
            log::warn!("skipping a non-UTF-8 file name {name:?}");
            None
        }
    }
}

/// The type of an entry, asking the file system when `readdir` did not say.
pub(super) fn entry_type(dir: BorrowedFd<'_>, name: &str, listed: FileType) -> FileType {
    match listed {
        FileType::Unknown => rfs::statat(dir, name, rfs::AtFlags::SYMLINK_NOFOLLOW)
            .map_or(FileType::Unknown, |st| dir::file_type(&st)),
        known => known,
    }
}

/// Walks the tree under `prefix` (a plain string prefix, as on S3),
/// calling `visit` for every listable file in byte order of the keys.
pub(super) fn walk(root: &Root, prefix: &str, visit: &mut Visit<'_>) -> Result<()> {
    let prefix_key = validate_prefix(prefix)?;
    let (dir_key, name_prefix) = match prefix_key.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", prefix_key),
    };
    check_dir_key(prefix, dir_key)?;
    let Opened::Dir(start) = root.open_dir(prefix, dir_key)? else {
        return Ok(());
    };
    let mut key = String::with_capacity(256);
    if !dir_key.is_empty() {
        key.push_str(dir_key);
        key.push('/');
    }
    let start = own_handle(prefix, start)?;
    let mut entries_buf = Vec::new();
    walk_dir(
        prefix,
        start,
        &mut key,
        name_prefix,
        visit,
        &mut Vec::new(),
        &mut entries_buf,
    )
}

/// Visits the listable files under the directory open as `dir`, whose
/// keys start with `key`, in byte order of their keys.
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
    prefix: &str,
    dir: OwnedFd,
    key: &mut String,
    name_prefix: &str,
    visit: &mut Visit<'_>,
    spare: &mut Vec<WalkBuf>,
    entries_buf: &mut Vec<u8>,
) -> Result<()> {
    let mut buf = spare.pop().unwrap_or_default();
    let mut common = usize::MAX;
    let fd = dir.as_fd();
    let gathered = read_entries(prefix, fd, entries_buf, &mut |name, listed| {
        if !name.starts_with(name_prefix) || is_reserved(name) {
            return Ok(());
        }
        let kind = match entry_type(fd, name, listed) {
            FileType::Directory => WalkKind::Dir,
            FileType::RegularFile => WalkKind::File,
            // Symlinks are never followed, so never listed; nor are
            // sockets, FIFOs and devices objects.
            _ => return Ok(()),
        };
        let start = buf.names.len();
        buf.names.push_str(name);
        if let WalkKind::Dir = kind {
            buf.names.push('/');
        }
        let (Ok(at), Ok(len)) = (u32::try_from(start), u16::try_from(buf.names.len() - start))
        else {
            return Err(Error::invalid_argument(format!(
                "{prefix}: a directory under it is too large to list"
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
        Ok(())
    });
    if let Err(e) = gathered {
        buf.names.clear();
        buf.items.clear();
        spare.push(buf);
        return Err(e);
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

    let dirfd = dir.as_fd();
    let mut result = Ok(());
    for item in &buf.items {
        let name = &buf.names[item.at as usize..item.at as usize + item.len as usize];
        let len = key.len();
        key.push_str(name);
        result = match item.kind {
            WalkKind::Dir => {
                match rfs::openat(dirfd, &name[..name.len() - 1], DIR_FLAGS, Mode::empty()) {
                    Ok(sub) => walk_dir(prefix, sub, key, "", visit, spare, entries_buf),
                    // Gone, or swapped for a symlink or a file since it was
                    // read: not a directory of this store any more.
                    Err(e) if e == Errno::NOENT || e == Errno::LOOP || e == Errno::NOTDIR => Ok(()),
                    Err(e) => Err(Error::from_io(prefix, "read directory", e.into())),
                }
            }
            WalkKind::File => visit(key.clone(), dirfd, len),
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

/// What [`walk_dir`] found in a directory.
#[derive(Clone, Copy)]
enum WalkKind {
    Dir,
    File,
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
