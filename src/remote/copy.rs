//! Server-side copies and renames: the bytes never pass through the
//! client. One request where the store copies any size (Azure Copy Blob,
//! polled until the store says it is done) or the object is below the copy
//! threshold (S3 CopyObject, up to 5 GiB, the default threshold); above it, an upload in parts
//! whose parts the store copies from ranges of the source, each pinned to
//! the source's ETag (S3 UploadPartCopy), committed under the put mode's
//! condition. Content type and metadata go with the bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{content_type, CopyState, Engine, PutArgs};
use crate::backend::{ObjectMeta, PutOptions};
use crate::error::{Error, Result};
use crate::http::header;
use crate::retry;

/// First pause between looks at a pending copy; it doubles up to a second.
const FIRST_POLL: Duration = Duration::from_millis(50);

/// Copies `from` to `to` (checked keys `src`, `dst`); returns the new
/// version.
pub(crate) fn copy(
    e: &Arc<Engine>,
    from: &str,
    to: &str,
    src: &str,
    dst: &str,
    o: &PutOptions,
) -> Result<Option<String>> {
    if o.content_type.is_some() || !o.metadata.is_empty() {
        return Err(Error::invalid_argument(
            "a copy keeps the source's content type and metadata; give only a put mode",
        ));
    }
    if src == dst {
        return Err(Error::invalid_argument(format!(
            "copy of {from:?} onto itself"
        )));
    }
    let resp = e.head(from, src)?.ok_or_else(|| Error::not_found(from))?;
    let meta = e.object_meta(from, &resp)?;
    let args = PutArgs {
        mode: &o.mode,
        content_type: meta.content_type.as_deref().unwrap_or(content_type(to)),
        metadata: &meta.metadata,
        // The store copies the bytes it has; an upload of copied parts
        // announces no checksum of its own.
        checksum: crate::checksum::ChecksumAlgorithm::None,
        digest: None,
    };
    if meta.size > e.settings.copy_threshold {
        return in_parts(e, to, src, dst, &meta, &args);
    }
    let (version, state) = e.proto.copy(&e.client, to, src, dst, &args)?;
    match state {
        CopyState::Done => Ok(version),
        CopyState::Failed(why) => Err(copy_failed(to, &why)),
        CopyState::Pending => wait_for_copy(e, to, dst),
    }
}

fn copy_failed(to: &str, why: &str) -> Error {
    Error::Other {
        path: to.to_owned(),
        message: format!("the server-side copy failed: {why}"),
        remote: None,
        source: None,
    }
}

/// Polls a copy the store runs on its own until it is done, within the
/// call's retry timeout; returns the new version.
fn wait_for_copy(e: &Engine, to: &str, dst: &str) -> Result<Option<String>> {
    let deadline = Instant::now() + e.settings.retry.retry_timeout;
    let mut pause = FIRST_POLL;
    while Instant::now() < deadline {
        crate::cancel::sleep(to, pause)?;
        pause = (pause * 2).min(Duration::from_secs(1));
        let resp = e.head(to, dst)?.ok_or_else(|| Error::not_found(to))?;
        match e.proto.copy_state(&resp) {
            CopyState::Done => return Ok(header(&resp, "etag").map(str::to_owned)),
            CopyState::Failed(why) => return Err(copy_failed(to, &why)),
            CopyState::Pending => {}
        }
    }
    Err(Error::Timeout {
        path: to.to_owned(),
        message: "the server-side copy was still pending at the retry timeout".into(),
        remote: None,
        source: None,
    })
}

/// The copy in parts: equal parts of at least the part size (more when
/// the object would need more parts than the store allows), each copied
/// from the source version `meta` describes, one after the other.
fn in_parts(
    e: &Engine,
    to: &str,
    src: &str,
    dst: &str,
    meta: &ObjectMeta,
    args: &PutArgs<'_>,
) -> Result<Option<String>> {
    let s = &e.settings;
    let Some(etag) = meta.version.as_deref() else {
        return Err(Error::Other {
            path: to.to_owned(),
            message: "the source has no ETag to pin the parts of its copy to".into(),
            remote: None,
            source: None,
        });
    };
    let max_parts = u64::from(s.limits.max_parts);
    let part = s.part_size.max(meta.size.div_ceil(max_parts));
    let upload = e.proto.start_upload(&e.client, to, dst, args)?;
    let unit = s.limits.unit;
    let result = (|| {
        let mut etags = Vec::new();
        let mut first = 0u64;
        let mut n = 0u32;
        while first < meta.size {
            let last = (first + part).min(meta.size) - 1;
            let part_etag = retry::retrying(
                &s.retry,
                &|| format!("copy of {unit} {n} of {to}"),
                || {
                    e.proto
                        .copy_part(&e.client, to, src, etag, dst, &upload, n, (first, last))
                },
            )?;
            etags.push(part_etag);
            first = last + 1;
            n += 1;
        }
        e.proto
            .complete_upload(&e.client, to, dst, &upload, &etags, args)
    })();
    if result.is_err() {
        e.proto.abort_upload(&e.client, to, dst, &upload);
    }
    result
}
