//! The local store's own file names, kept out of the key space, and the
//! sweep of temp files that a killed writer left behind.
//!
//! Two kinds of names belong to the store, never to a key:
//! - `<name>.part`: the staged partial of a streaming write of `name`, kept
//!   on failure so [`crate::AppendingBackend::append_reader`] can resume it
//!   (`.blobio-<sha-256 of name>.part` when `<name>.part` would be longer
//!   than a file name may be);
//! - `.blobio-<16 hex digits>.tmp`: the private temp file of one write,
//!   renamed into place when complete.
//!
//! Keys may not have a component ending in `.part` or of the form
//! `.blobio-*.tmp` (the same refusal on every path, in every position), so
//! a staging name can never be a key or a key's directory. Listings skip
//! them. Everything else, hidden names (`cfg/.env`) included, is a key.

// `Stat` field types differ between platforms.
#![allow(clippy::unnecessary_cast)]

use std::fmt::Write as _;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rustix::fs::{self as rfs, AtFlags, FileType, FlockOperation, Mode, OFlags};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::paths::validate_key;

/// Suffix of the staging file of a streaming write.
pub const PART_SUFFIX: &str = ".part";

/// Prefix and suffix of a write's temp file.
const TEMP_PREFIX: &str = ".blobio-";
const TEMP_SUFFIX: &str = ".tmp";

/// The longest file name: `NAME_MAX` of Linux, the BSDs and macOS.
pub(super) const NAME_MAX: usize = 255;

/// A temp file older than this, that no writer holds, is a killed write's.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// Whether `name` is one of the store's own files (never listed, never a
/// key).
pub(super) fn is_reserved(name: &str) -> bool {
    name.ends_with(PART_SUFFIX) || (name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX))
}

/// Checks one component of a key or of a directory prefix.
fn check_component(path: &str, comp: &str) -> Result<()> {
    if comp.len() > NAME_MAX {
        return Err(Error::invalid_path(
            path,
            "a component is longer than 255 bytes, the longest name a local file system holds",
        ));
    }
    if is_reserved(comp) {
        return Err(Error::invalid_path(
            path,
            "names ending in '.part' or of the form '.blobio-*.tmp' are reserved \
             for the local store's staging files",
        ));
    }
    Ok(())
}

/// Validates a key for the local store (the common key rule, plus the
/// reserved names and the name length) and splits it into its directory
/// (`""` at the base) and its file name.
pub(super) fn split_key(path: &str) -> Result<(&str, &str)> {
    let key = validate_key(path)?;
    for comp in key.split('/') {
        check_component(path, comp)?;
    }
    Ok(match key.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", key),
    })
}

/// Checks the directory components of a validated prefix or directory key
/// (every component of `dir_key`).
pub(super) fn check_dir_key(path: &str, dir_key: &str) -> Result<()> {
    if dir_key.is_empty() {
        return Ok(());
    }
    dir_key
        .split('/')
        .try_for_each(|comp| check_component(path, comp))
}

/// The staging file name of `name`.
pub(super) fn staging_name(name: &str) -> String {
    if name.len() + PART_SUFFIX.len() <= NAME_MAX {
        let mut s = String::with_capacity(name.len() + PART_SUFFIX.len());
        s.push_str(name);
        s.push_str(PART_SUFFIX);
        return s;
    }
    let digest = Sha256::digest(name.as_bytes());
    let mut s = String::with_capacity(TEMP_PREFIX.len() + 64 + PART_SUFFIX.len());
    s.push_str(TEMP_PREFIX);
    for byte in digest.iter() {
        let _ = write!(s, "{byte:02x}");
    }
    s.push_str(PART_SUFFIX);
    s
}

/// A fresh temp name, unlikely to be taken. Uniqueness does not rest on it:
/// temp files are created with `O_EXCL` (which also refuses a planted
/// symlink) and a taken name is drawn again.
pub(super) fn temp_name() -> String {
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
    format!("{TEMP_PREFIX}{z:016x}{TEMP_SUFFIX}")
}

/// Whether `name` is exactly a name [`temp_name`] makes.
fn is_temp_name(name: &str) -> bool {
    name.len() == TEMP_PREFIX.len() + 16 + TEMP_SUFFIX.len()
        && name.starts_with(TEMP_PREFIX)
        && name.ends_with(TEMP_SUFFIX)
        && name[TEMP_PREFIX.len()..TEMP_PREFIX.len() + 16]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// Takes the lock every writer holds on the temp and staging files it has
/// open, so the sweep can tell a live file from a killed writer's.
pub(super) fn hold(path: &str, file: &std::fs::File) -> Result<()> {
    rfs::flock(file, FlockOperation::LockExclusive)
        .map_err(|e| Error::from_io(path, "lock staging file", e.into()))
}

/// Removes the temp files in `dir` that a killed writer left: named as
/// [`temp_name`] makes them, regular files, last modified more than
/// `max_age` ago, and not locked by a live writer (every writer holds an
/// exclusive `flock` on its temp file while it has it open; a killed
/// process's lock is gone with it). Staged partials are never removed: they
/// are kept on purpose, for `append_reader`. Best effort: errors are
/// ignored (the next sweep tries again). Returns how many were removed.
pub(super) fn sweep_stale_temps(dir: BorrowedFd<'_>, max_age: Duration) -> usize {
    let Ok(fd) = rfs::openat(dir, ".", super::dir::DIR_FLAGS, Mode::empty()) else {
        return 0;
    };
    let Ok(entries) = rfs::Dir::new(fd) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut candidates = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { break };
        if let Ok(name) = entry.file_name().to_str() {
            if is_temp_name(name) {
                candidates.push(name.to_owned());
            }
        }
    }
    candidates
        .iter()
        .filter(|name| remove_if_stale(dir, name, now, max_age))
        .count()
}

fn remove_if_stale(dir: BorrowedFd<'_>, name: &str, now: SystemTime, max_age: Duration) -> bool {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(fd) = rfs::openat(dir, name, flags, Mode::empty()) else {
        return false;
    };
    let Ok(st) = rfs::fstat(&fd) else {
        return false;
    };
    if FileType::from_raw_mode(st.st_mode as _) != FileType::RegularFile {
        return false;
    }
    let modified = stat_mtime(st.st_mtime as i64, st.st_mtime_nsec as i64);
    if now
        .duration_since(modified)
        .map_or(true, |age| age < max_age)
    {
        return false;
    }
    if rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
        return false;
    }
    // Still the same file under that name (names are drawn at random, but
    // never remove a file this did not check).
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(now_there) if now_there.st_ino == st.st_ino && now_there.st_dev == st.st_dev => {}
        _ => return false,
    }
    let removed = rfs::unlinkat(dir, name, AtFlags::empty()).is_ok();
    if removed {
        log::info!("removed a stale temp file {name} left by an interrupted write");
    }
    removed
}

/// A file time from `st_mtime` and `st_mtime_nsec`.
pub(super) fn stat_mtime(secs: i64, nanos: i64) -> SystemTime {
    let nanos = u32::try_from(nanos).unwrap_or(0).min(999_999_999);
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::new(secs as u64, nanos)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            + Duration::from_nanos(u64::from(nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_and_temp_names_are_reserved_and_never_keys() {
        assert!(is_reserved(&staging_name("obj")));
        assert!(is_reserved(&temp_name()));
        assert!(is_temp_name(&temp_name()));
        assert!(!is_temp_name(".blobio-x.tmp"));
        let long = "n".repeat(NAME_MAX);
        let staged = staging_name(&long);
        assert!(staged.len() <= NAME_MAX && is_reserved(&staged), "{staged}");
        assert_ne!(staged, staging_name(&"m".repeat(NAME_MAX)));
        for bad in ["ip.part/y", "a/.blobio-0123456789abcdef.tmp", "x.part"] {
            assert!(split_key(bad).is_err(), "{bad}");
        }
        for good in ["ip/y", "cfg/.env", "x.parts", ".blobio-notes"] {
            assert!(split_key(good).is_ok(), "{good}");
        }
        assert!(split_key(&"k".repeat(NAME_MAX)).is_ok());
        assert!(split_key(&format!("d/{}", "k".repeat(NAME_MAX + 1))).is_err());
    }
}
