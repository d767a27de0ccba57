//! An object's content type and user metadata, kept as user extended
//! attributes of its file (`user.blobio.content_type`,
//! `user.blobio.meta.<name>`). They are set on the temp file before it is
//! renamed into place, so an object and its attributes appear together,
//! and a file system without user attributes refuses the write
//! ([`Error::Unsupported`]) rather than drop them.

use std::fs::File;

use rustix::fs::{self as rfs, XattrFlags};
use rustix::io::Errno;

use crate::backend::PutOptions;
use crate::error::{Error, Result};

const CONTENT_TYPE: &str = "user.blobio.content_type";
const META_PREFIX: &str = "user.blobio.meta.";

/// Whether an errno says the file system keeps no user attributes.
fn unsupported(e: Errno) -> bool {
    e == Errno::NOTSUP || e == Errno::OPNOTSUPP || e == Errno::NOSYS
}

/// Sets what `o` says of the object on its (not yet published) file.
pub(super) fn set(path: &str, file: &File, o: &PutOptions) -> Result<()> {
    let content_type = o.content_type.as_deref().map(|ct| (CONTENT_TYPE.to_owned(), ct));
    let metadata = o
        .metadata
        .iter()
        .map(|(name, value)| (format!("{META_PREFIX}{name}"), value.as_str()));
    for (name, value) in content_type.into_iter().chain(metadata) {
        match rfs::fsetxattr(file, name.as_str(), value.as_bytes(), XattrFlags::empty()) {
            Ok(()) => {}
            Err(e) if unsupported(e) => {
                return Err(Error::Unsupported {
                    operation: "content type and user metadata (the file system has no \
                                user extended attributes)",
                    backend: "local",
                })
            }
            Err(e) => return Err(Error::from_io(path, "set extended attribute", e.into())),
        }
    }
    Ok(())
}

/// Copies the content type and user metadata of `from` to `to`.
pub(super) fn copy(path: &str, from: &File, to: &File) -> Result<()> {
    let (content_type, metadata) = get(path, from)?;
    let o = PutOptions {
        content_type,
        metadata,
        ..PutOptions::default()
    };
    set(path, to, &o)
}

/// A content type and user metadata.
type Attributes = (Option<String>, Vec<(String, String)>);

/// The content type and the user metadata (sorted) kept on `file`; none
/// where the file system keeps no user attributes.
pub(super) fn get(path: &str, file: &File) -> Result<Attributes> {
    let io = |e: Errno| Error::from_io(path, "read extended attributes", e.into());
    let mut names = Vec::new();
    // The list can grow between the size query and the read: ask again.
    for _ in 0..4 {
        let len = match rfs::flistxattr_query(file) {
            Ok(0) => return Ok((None, Vec::new())),
            Ok(n) => n,
            Err(e) if unsupported(e) => return Ok((None, Vec::new())),
            Err(e) => return Err(io(e)),
        };
        names = vec![0u8; len];
        match rfs::flistxattr(file, &mut names[..]) {
            Ok(n) => {
                names.truncate(n);
                break;
            }
            Err(e) if e == Errno::RANGE => continue,
            Err(e) => return Err(io(e)),
        }
    }
    let mut content_type = None;
    let mut metadata = Vec::new();
    for name in names.split(|&b| b == 0) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let meta = name.strip_prefix(META_PREFIX);
        if meta.is_none() && name != CONTENT_TYPE {
            continue;
        }
        let value = match value_of(file, name) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => return Err(io(e)),
        };
        match meta {
            Some(meta) => metadata.push((meta.to_owned(), value)),
            None => content_type = Some(value),
        }
    }
    metadata.sort_unstable();
    Ok((content_type, metadata))
}

/// One attribute's value as text; `None` when it went away or is not UTF-8.
fn value_of(file: &File, name: &str) -> rustix::io::Result<Option<String>> {
    for _ in 0..4 {
        let len = match rfs::fgetxattr_query(file, name) {
            Ok(n) => n,
            Err(e) if e == Errno::NODATA => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut buf = vec![0u8; len];
        match rfs::fgetxattr(file, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(String::from_utf8(buf).ok());
            }
            Err(e) if e == Errno::RANGE => continue,
            Err(e) if e == Errno::NODATA => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}
