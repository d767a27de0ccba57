//! List Blobs with marker paging, flat or with a delimiter (BlobPrefix).

use std::time::SystemTime;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::request::Req;
use super::Azure;
use crate::error::{Error, Result};
use crate::http::{read_small_body, RequestBody};
use crate::remote::client::Client;
use crate::remote::{Entry, List, ListPage};
use crate::time::parse_http_date;
use crate::xml::{push_ref, push_text};

/// Largest listing page accepted (5,000 blobs are a few MiB of XML).
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

impl List for Azure {
    /// One List Blobs page of names starting with `prefix` (full names).
    fn list_page(
        &self,
        c: &Client,
        path: &str,
        prefix: &str,
        delimiter: Option<&str>,
        marker: Option<&str>,
    ) -> Result<ListPage> {
        let az = self;
        let mut req = Req::new("GET", az.container_path.clone())
            .query("restype", "container")
            .query("comp", "list")
            .query("maxresults", az.list_page_size.to_string());
        if !prefix.is_empty() {
            req = req.query("prefix", prefix);
        }
        if let Some(d) = delimiter {
            req = req.query("delimiter", d);
        }
        if let Some(m) = marker {
            req = req.query("marker", m);
        }
        let resp = az.send(c, path, &req, RequestBody::Empty)?;
        let body = read_small_body(path, resp, MAX_PAGE_BYTES)?;
        let page = parse_page(&body).map_err(|why| Error::Other {
            path: path.to_owned(),
            message: format!("unreadable List Blobs response: {why}"),
            remote: None,
            source: None,
        })?;
        Ok(ListPage {
            entries: page.entries,
            next: page.next_marker,
        })
    }
}

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) entries: Vec<Entry>,
    pub(crate) next_marker: Option<String>,
}

/// Parses an `EnumerationResults` document.
pub(crate) fn parse_page(xml: &[u8]) -> std::result::Result<Page, String> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut page = Page::default();
    // Element names from the root down to the current element.
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    // Fields of the Blob or BlobPrefix being read.
    let (mut name, mut size, mut modified) = (None::<String>, None::<u64>, None::<SystemTime>);
    let mut name_encoded = false;
    let mut saw_root = false;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                let local = e.local_name().as_ref().to_vec();
                if stack.is_empty() {
                    if local != b"EnumerationResults" {
                        return Err("the root element is not EnumerationResults".into());
                    }
                    saw_root = true;
                }
                if local == b"Name" {
                    name_encoded = is_encoded(&e);
                }
                stack.push(local);
                text.clear();
            }
            Ok(Event::Empty(e))
                if stack.is_empty() && e.local_name().as_ref() == b"EnumerationResults" =>
            {
                saw_root = true;
            }
            Ok(Event::Text(t)) => push_text(&mut text, &t),
            Ok(Event::GeneralRef(r)) => push_ref(&mut text, &r),
            Ok(Event::CData(c)) => text.push_str(&String::from_utf8_lossy(&c)),
            Ok(Event::End(_)) => {
                let Some(closed) = stack.pop() else {
                    return Err("unbalanced XML".into());
                };
                let parent = stack.last().map(Vec::as_slice);
                let grandparent = stack.len().checked_sub(2).map(|i| stack[i].as_slice());
                match (closed.as_slice(), parent, grandparent) {
                    (b"Name", Some(b"Blob" | b"BlobPrefix"), _) => {
                        name = Some(if name_encoded {
                            decode_name(&text)?
                        } else {
                            text.clone()
                        });
                    }
                    (b"Content-Length", Some(b"Properties"), Some(b"Blob")) => {
                        size = Some(
                            text.trim()
                                .parse()
                                .map_err(|_| format!("bad Content-Length {text:?}"))?,
                        );
                    }
                    (b"Last-Modified", Some(b"Properties"), Some(b"Blob")) => {
                        modified = parse_http_date(text.trim());
                    }
                    (b"Blob", Some(b"Blobs"), _) => {
                        let n = name.take().ok_or("a Blob without a Name")?;
                        page.entries.push(Entry::Object {
                            key: n,
                            size: size.take().unwrap_or(0),
                            last_modified: modified.take().unwrap_or(SystemTime::UNIX_EPOCH),
                        });
                    }
                    (b"BlobPrefix", Some(b"Blobs"), _) => {
                        let n = name.take().ok_or("a BlobPrefix without a Name")?;
                        page.entries.push(Entry::Prefix(n));
                    }
                    (b"NextMarker", Some(b"EnumerationResults"), _) => {
                        page.next_marker = Some(text.trim().to_owned());
                    }
                    _ => {}
                }
                text.clear();
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("XML error: {e}")),
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err("no EnumerationResults element".into());
    }
    Ok(page)
}

/// `<Name Encoded="true">`: the name holds characters XML cannot carry and
/// is percent-encoded.
fn is_encoded(e: &BytesStart<'_>) -> bool {
    e.attributes().flatten().any(|a| {
        a.key.local_name().as_ref() == b"Encoded" && a.value.as_ref().eq_ignore_ascii_case(b"true")
    })
}

fn decode_name(text: &str) -> std::result::Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "an encoded Name is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn page_with_blobs_prefixes_and_marker() {
        let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" ContainerName=\"data\">\
<Prefix>db/</Prefix><MaxResults>2</MaxResults><Delimiter>/</Delimiter><Blobs>\
<Blob><Name>db/a &amp; b.parquet</Name><Properties><Creation-Time>Mon, 13 Nov 2023 00:00:00 GMT</Creation-Time>\
<Last-Modified>Tue, 14 Nov 2023 22:13:20 GMT</Last-Modified><Etag>0x1</Etag><Content-Length>1234</Content-Length>\
<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType></Properties>\
<Metadata><Name>not the blob name</Name></Metadata></Blob>\
<Blob><Name Encoded=\"true\">db/bad%01char</Name><Properties><Last-Modified>Tue, 14 Nov 2023 22:13:21 GMT</Last-Modified>\
<Content-Length>0</Content-Length></Properties></Blob>\
<BlobPrefix><Name>db/cpu/</Name></BlobPrefix></Blobs><NextMarker>2!72!MDAwMDE3</NextMarker></EnumerationResults>";
        let page = parse_page(xml.as_bytes()).unwrap();
        assert_eq!(
            page.entries,
            vec![
                Entry::Object {
                    key: "db/a & b.parquet".into(),
                    size: 1234,
                    last_modified: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                },
                Entry::Object {
                    key: "db/bad\u{1}char".into(),
                    size: 0,
                    last_modified: UNIX_EPOCH + Duration::from_secs(1_700_000_001),
                },
                Entry::Prefix("db/cpu/".into()),
            ]
        );
        assert_eq!(page.next_marker.as_deref(), Some("2!72!MDAwMDE3"));
    }

    #[test]
    fn last_page_has_an_empty_marker() {
        let xml = b"<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>";
        let page = parse_page(xml).unwrap();
        assert!(page.entries.is_empty());
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn other_documents_are_refused() {
        assert!(parse_page(b"<Error><Code>x</Code></Error>").is_err());
        assert!(parse_page(b"").is_err());
    }
}
