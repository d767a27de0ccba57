//! ListObjectsV2 with continuation paging; keys relative to the store prefix.

use std::time::SystemTime;

use rusty_s3::actions::ListObjectsV2;

use super::S3Inner;
use crate::error::{Error, Result};
use crate::http::{read_small_body, RequestBody};
use crate::paths::validate_prefix;

/// Largest listing page accepted (a page of 1,000 keys is a few hundred KiB).
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

/// One listed entry, relative to the store prefix.
pub(crate) enum Entry {
    /// An object.
    Object {
        key: String,
        size: u64,
        last_modified: SystemTime,
    },
    /// A common prefix (with a delimiter), ending in the delimiter.
    Prefix(String),
}

/// Lists every key under `prefix` (relative to the store), page by page.
pub(crate) fn list(
    s3: &S3Inner,
    prefix: &str,
    delimiter: Option<&str>,
    visit: &mut dyn FnMut(Entry),
) -> Result<()> {
    let user_prefix = validate_prefix(prefix)?;
    let full_prefix = format!("{}{user_prefix}", s3.prefix);
    let mut token: Option<String> = None;
    loop {
        let mut action = ListObjectsV2::new(&s3.bucket, s3.credentials.as_ref());
        if !full_prefix.is_empty() {
            action.with_prefix(full_prefix.as_str());
        }
        if let Some(d) = delimiter {
            action.with_delimiter(d);
        }
        if let Some(t) = &token {
            action.with_continuation_token(t.as_str());
        }
        action.with_max_keys(1000);
        let url = s3.sign(action);
        let resp = s3.send_ok(prefix, "GET", &url, &[], RequestBody::Empty)?;
        let body = read_small_body(prefix, resp, MAX_PAGE_BYTES)?;
        let text = std::str::from_utf8(&body).map_err(|_| bad_listing(prefix, "not UTF-8"))?;
        let page = ListObjectsV2::parse_response(text)
            .map_err(|e| bad_listing(prefix, &e.to_string()))?;
        // rusty-s3 has already undone the `encoding-type=url` encoding.
        let strip = |key: &str| key.strip_prefix(s3.prefix.as_str()).map(str::to_owned);
        for obj in page.contents {
            let Some(key) = strip(&obj.key) else { continue };
            let last_modified = obj
                .last_modified
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(SystemTime::from)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            visit(Entry::Object {
                key,
                size: obj.size.unwrap_or(0),
                last_modified,
            });
        }
        for cp in page.common_prefixes {
            if let Some(p) = strip(&cp.prefix) {
                visit(Entry::Prefix(p));
            }
        }
        match page.next_continuation_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(()),
        }
    }
}

fn bad_listing(prefix: &str, why: &str) -> Error {
    Error::Other {
        path: prefix.to_owned(),
        message: format!("unreadable ListObjectsV2 response: {why}"),
        remote: None,
        source: None,
    }
}
