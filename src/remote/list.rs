//! How any remote store lists: page after page until the store says there
//! is no more, keys relative to the store's prefix. A server that answers
//! "truncated, continue with this token" forever cannot keep a listing
//! running: a token seen before, or pages that bring nothing new, end it
//! with an error.

use std::collections::HashSet;

use super::{Engine, Entry};
use crate::error::{Error, Result};

/// Consecutive pages with a continuation token that bring nothing new
/// (no entry, or the same entries as the page before) accepted before the
/// listing is given up. Azure documents that a page may be empty and still
/// say where to continue, so one such page is no proof of a loop.
const MAX_STALLED_PAGES: u32 = 3;

/// Visits every entry under `prefix` (a user prefix), page by page, with
/// keys and prefixes made relative to the store's prefix.
pub(crate) fn list(
    e: &Engine,
    prefix: &str,
    delimiter: Option<&str>,
    visit: &mut dyn FnMut(Entry),
) -> Result<()> {
    let full = e.list_prefix(prefix)?;
    let strip = e.settings.prefix.as_str();
    let mut token: Option<String> = None;
    let mut tokens: HashSet<String> = HashSet::new();
    let mut previous: Option<(String, String, usize)> = None;
    let mut stalled = 0;
    loop {
        let page = e
            .proto
            .list_page(&e.client, prefix, &full, delimiter, token.as_deref())?;
        let shape = match (page.entries.first(), page.entries.last()) {
            (Some(a), Some(b)) => {
                Some((name(a).to_owned(), name(b).to_owned(), page.entries.len()))
            }
            _ => None,
        };
        let next = page.next.filter(|t| !t.is_empty());
        if next.is_some() {
            if shape.is_none() || shape == previous {
                stalled += 1;
                if stalled > MAX_STALLED_PAGES {
                    return Err(broken(prefix, "pages that bring nothing new"));
                }
            } else {
                stalled = 0;
            }
        }
        for entry in page.entries {
            let relative = match entry {
                Entry::Object {
                    key,
                    size,
                    last_modified,
                } => key.strip_prefix(strip).map(|k| Entry::Object {
                    key: k.to_owned(),
                    size,
                    last_modified,
                }),
                Entry::Prefix(p) => p.strip_prefix(strip).map(|p| Entry::Prefix(p.to_owned())),
            };
            if let Some(entry) = relative {
                visit(entry);
            }
        }
        match next {
            Some(t) => {
                if !tokens.insert(t.clone()) {
                    return Err(broken(prefix, "a continuation token it had given before"));
                }
                previous = shape;
                token = Some(t);
            }
            None => return Ok(()),
        }
    }
}

fn name(entry: &Entry) -> &str {
    match entry {
        Entry::Object { key, .. } => key,
        Entry::Prefix(p) => p,
    }
}

fn broken(prefix: &str, what: &str) -> Error {
    Error::Other {
        path: prefix.to_owned(),
        message: format!("the listing does not progress: the server answered with {what}"),
        remote: None,
        source: None,
    }
}
