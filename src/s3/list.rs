//! ListObjectsV2 with continuation paging; keys relative to the store prefix.

use std::time::SystemTime;

use rusty_s3::Method;

use super::sign::request;
use super::S3;
use crate::error::{Error, Result};
use crate::http::{read_small_body, RequestBody};
use crate::remote::client::Client;
use crate::remote::{Entry, List, ListPage};
use crate::time::parse_rfc3339;
use crate::xml::walk;

/// Largest listing page accepted (a page of 1,000 keys is a few hundred KiB).
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

impl List for S3 {
    /// One ListObjectsV2 page of keys starting with `prefix` (full keys).
    fn list_page(
        &self,
        c: &Client,
        path: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<ListPage> {
        let s3 = self;
        let build = || {
            let mut query = vec![
                ("list-type", "2"),
                ("encoding-type", "url"),
                ("max-keys", "1000"),
            ];
            if !prefix.is_empty() {
                query.push(("prefix", prefix));
            }
            if let Some(d) = delimiter {
                query.push(("delimiter", d));
            }
            if let Some(t) = token {
                query.push(("continuation-token", t));
            }
            Ok(request(
                "GET",
                s3.sign_request(Method::Get, None, &query, &[])?,
                Vec::new(),
            ))
        };
        let resp = c.send(path, &build, RequestBody::Empty)?;
        let body = read_small_body(path, resp, MAX_PAGE_BYTES)?;
        let page = parse_page(&body).map_err(|why| bad_listing(path, &why))?;
        Ok(ListPage {
            entries: page.entries,
            next: page.next_token.filter(|_| page.truncated),
        })
    }
}

/// One page of a ListObjectsV2 answer, with full (undecoded) keys.
#[derive(Default)]
pub(crate) struct Page {
    pub(crate) entries: Vec<Entry>,
    pub(crate) truncated: bool,
    pub(crate) next_token: Option<String>,
}

/// Parses a `ListBucketResult`. Keys and prefixes come back decoded when
/// the server applied `encoding-type=url` (it says so in `EncodingType`;
/// servers that ignore the parameter send keys as they are).
pub(crate) fn parse_page(xml: &[u8]) -> std::result::Result<Page, String> {
    let mut page = Page::default();
    let mut encoded = false;
    // Fields of the Contents element being read.
    let (mut key, mut size, mut modified) = (None::<String>, 0u64, SystemTime::UNIX_EPOCH);
    let mut prefixes = Vec::new();
    walk(xml, "ListBucketResult", &mut |path, text| {
        match path {
            [_, "EncodingType"] => encoded = text.trim() == "url",
            [_, "IsTruncated"] => page.truncated = text.trim() == "true",
            [_, "NextContinuationToken"] => page.next_token = Some(text.to_owned()),
            [_, "Contents", "Key"] => key = Some(text.to_owned()),
            [_, "Contents", "Size"] => {
                size = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad Size {text:?}"))?;
            }
            [_, "Contents", "LastModified"] => {
                modified = parse_rfc3339(text).unwrap_or(SystemTime::UNIX_EPOCH);
            }
            [_, "Contents"] => {
                let key = key.take().ok_or("a Contents without a Key")?;
                page.entries.push(Entry::Object {
                    key,
                    size: std::mem::take(&mut size),
                    last_modified: std::mem::replace(&mut modified, SystemTime::UNIX_EPOCH),
                });
            }
            [_, "CommonPrefixes", "Prefix"] => prefixes.push(text.to_owned()),
            _ => {}
        }
        Ok(())
    })?;
    page.entries.extend(prefixes.into_iter().map(Entry::Prefix));
    if encoded {
        for e in &mut page.entries {
            match e {
                Entry::Object { key, .. } => *key = url_decode(key)?,
                Entry::Prefix(p) => *p = url_decode(p)?,
            }
        }
    }
    Ok(page)
}

/// Undoes `encoding-type=url`: percent escapes, and `+` for a space (AWS
/// encodes keys as form data).
fn url_decode(text: &str) -> std::result::Result<String, String> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| format!("key {text:?} does not decode to UTF-8"))
}

fn bad_listing(prefix: &str, why: &str) -> Error {
    Error::Other {
        path: prefix.to_owned(),
        message: format!("unreadable ListObjectsV2 response: {why}"),
        remote: None,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(page: &Page) -> Vec<String> {
        page.entries
            .iter()
            .map(|e| match e {
                Entry::Object { key, size, .. } => format!("{key}:{size}"),
                Entry::Prefix(p) => format!("{p}/"),
            })
            .collect()
    }

    #[test]
    fn a_url_encoded_page_is_decoded() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix>p%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok+en/=</NextContinuationToken>
<Contents><Key>p/a+b%25c%C3%A9</Key><LastModified>2024-03-01T12:00:05.000Z</LastModified>
<ETag>&quot;x&quot;</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>p/plain</Key><Size>0</Size></Contents>
<CommonPrefixes><Prefix>p/sub%20dir/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let page = parse_page(xml).unwrap();
        assert_eq!(
            keys(&page),
            ["p/a b%c\u{e9}:42", "p/plain:0", "p/sub dir//"]
        );
        assert!(page.truncated);
        // The token is opaque: never decoded.
        assert_eq!(page.next_token.as_deref(), Some("tok+en/="));
        let Entry::Object { last_modified, .. } = &page.entries[0] else {
            panic!()
        };
        let secs = last_modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_709_294_405);
    }

    #[test]
    fn a_page_without_encoding_keeps_keys_as_sent() {
        let xml = b"<ListBucketResult><IsTruncated>false</IsTruncated>\
<Contents><Key>a+b%20c &amp; d</Key><Size>7</Size></Contents></ListBucketResult>";
        let page = parse_page(xml).unwrap();
        assert_eq!(keys(&page), ["a+b%20c & d:7"]);
        assert!(!page.truncated);
    }

    #[test]
    fn a_cut_or_wrong_page_is_an_error() {
        let cut = b"<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a</Key>";
        assert_eq!(parse_page(cut).err().unwrap(), "the document ends early");
        let no_key = b"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>";
        assert_eq!(
            parse_page(no_key).err().unwrap(),
            "a Contents without a Key"
        );
        let bad_size =
            b"<ListBucketResult><Contents><Key>a</Key><Size>x</Size></Contents></ListBucketResult>";
        assert!(parse_page(bad_size).err().unwrap().contains("bad Size"));
        assert!(parse_page(b"<Error><Code>AccessDenied</Code></Error>").is_err());
        let bad_utf8 = b"<ListBucketResult><EncodingType>url</EncodingType>\
<Contents><Key>%FF</Key></Contents></ListBucketResult>";
        assert!(parse_page(bad_utf8).err().unwrap().contains("UTF-8"));
    }
}
