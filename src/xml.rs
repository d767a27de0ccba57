//! Small helpers over quick-xml shared by the S3 and Azure parsers, and the
//! escaping of text put into request bodies.

use quick_xml::events::{BytesRef, BytesText, Event};
use quick_xml::Reader;

/// Appends a text event to `out`.
pub(crate) fn push_text(out: &mut String, t: &BytesText<'_>) {
    match t.xml_content() {
        Ok(c) => out.push_str(&c),
        Err(_) => out.push_str(&String::from_utf8_lossy(t)),
    }
}

/// Appends the character an entity or character reference stands for.
/// quick-xml reports `&amp;` and `&#233;` as separate events.
pub(crate) fn push_ref(out: &mut String, r: &BytesRef<'_>) {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        out.push(c);
        return;
    }
    let name = r.decode().unwrap_or_default();
    match name.as_ref() {
        "amp" => out.push('&'),
        "lt" => out.push('<'),
        "gt" => out.push('>'),
        "quot" => out.push('"'),
        "apos" => out.push('\''),
        other => {
            out.push('&');
            out.push_str(other);
            out.push(';');
        }
    }
}

/// The text of the direct children of a root `<Error>` element whose local
/// names are `wanted`, in that order (the last one wins when a name
/// repeats). Any other root, a malformed document or a missing child gives
/// `None` for that name. A UTF-8 byte-order mark (Azure sends one) is
/// skipped. Shared by the S3 and Azure error-document parsers.
pub(crate) fn error_fields<const N: usize>(xml: &[u8], wanted: [&str; N]) -> [Option<String>; N] {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut found: [Option<String>; N] = std::array::from_fn(|_| None);
    // The wanted child being read (its index in `wanted`) and its text so far.
    let mut current: Option<(usize, String)> = None;
    let mut depth = 0usize;
    let mut root_is_error = false;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                depth += 1;
                if depth == 1 {
                    root_is_error = e.local_name().as_ref() == b"Error";
                }
                current = if depth == 2 && root_is_error {
                    let name = e.local_name();
                    wanted
                        .iter()
                        .position(|w| w.as_bytes() == name.as_ref())
                        .map(|i| (i, String::new()))
                } else {
                    None
                };
            }
            Ok(Event::Text(t)) => {
                if let Some((_, text)) = &mut current {
                    push_text(text, &t);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some((_, text)) = &mut current {
                    push_ref(text, &r);
                }
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                if let Some((i, text)) = current.take() {
                    found[i] = Some(text);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    found
}

/// What [`walk`] calls for each element that ends.
pub(crate) type OnClose<'f> = dyn FnMut(&[&str], &str) -> Result<(), String> + 'f;

/// Reads a whole document, calling `closed(path, text)` each time an
/// element ends: `path` holds the local names from the root down to that
/// element, `text` its character data with references resolved (empty when
/// it held only child elements). The root must be named `root`. A UTF-8
/// byte-order mark is skipped. A malformed or truncated document is an
/// error, so a cut response is never taken for a short one.
pub(crate) fn walk(
    xml: &[u8],
    root: &str,
    closed: &mut OnClose<'_>,
) -> Result<(), String> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut done = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("XML error: {e}"))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                if done {
                    return Err("content after the root element".into());
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() && name != root {
                    return Err(format!("the root element is {name}, not {root}"));
                }
                stack.push(name);
                text.clear();
                if !empty {
                    buf.clear();
                    continue;
                }
            }
            Event::Text(t) => {
                push_text(&mut text, &t);
                buf.clear();
                continue;
            }
            Event::GeneralRef(r) => {
                push_ref(&mut text, &r);
                buf.clear();
                continue;
            }
            Event::CData(c) => {
                text.push_str(&String::from_utf8_lossy(&c));
                buf.clear();
                continue;
            }
            Event::End(_) => {}
            Event::Eof => break,
            _ => {
                buf.clear();
                continue;
            }
        }
        // An element ended (or was empty): report it, then pop it.
        let path: Vec<&str> = stack.iter().map(String::as_str).collect();
        closed(&path, &text)?;
        text.clear();
        stack.pop();
        done = stack.is_empty();
        buf.clear();
    }
    if !done {
        return Err(if stack.is_empty() {
            format!("no {root} element")
        } else {
            "the document ends early".into()
        });
    }
    Ok(())
}

/// `text` escaped for use as element content in a request body.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Line ends and tabs survive a parser only as references.
            '\r' | '\n' | '\t' => {
                out.push_str("&#");
                out.push_str(&u32::from(c).to_string());
                out.push(';');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_fields_reads_only_the_wanted_children_of_a_root_error() {
        let xml = b"\xEF\xBB\xBF<?xml version=\"1.0\"?><Error><Code>A&amp;B</Code>\
<Nested><Message>inner</Message></Nested><Message>outer &#233;</Message><Other>x</Other></Error>";
        let [code, message, missing] = error_fields(xml, ["Code", "Message", "RequestId"]);
        assert_eq!(code.as_deref(), Some("A&B"));
        assert_eq!(message.as_deref(), Some("outer \u{e9}"));
        assert_eq!(missing, None);
        assert_eq!(error_fields(b"<Result><Code>x</Code></Result>", ["Code"]), [None]);
        assert_eq!(error_fields(b"<Error><Code>trunc", ["Code"]), [None]);
    }

    fn closed_elements(xml: &[u8], root: &str) -> Result<Vec<String>, String> {
        let mut seen = Vec::new();
        walk(xml, root, &mut |path, text| {
            seen.push(format!("{}={text}", path.join("/")));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn walk_reports_every_element_with_its_path_and_text() {
        let xml = b"\xEF\xBB\xBF<?xml version=\"1.0\"?><R xmlns=\"urn:x\"><A>a &amp; &#233;</A>\
<B><C><![CDATA[<c>]]></C><D/></B></R>";
        assert_eq!(
            closed_elements(xml, "R").unwrap(),
            ["R/A=a & \u{e9}", "R/B/C=<c>", "R/B/D=", "R/B=", "R="]
        );
        assert_eq!(closed_elements(b"<R/>", "R").unwrap(), ["R="]);
    }

    #[test]
    fn walk_refuses_a_cut_or_foreign_document() {
        assert_eq!(
            closed_elements(b"<R><A>x</A>", "R").unwrap_err(),
            "the document ends early"
        );
        assert_eq!(closed_elements(b"", "R").unwrap_err(), "no R element");
        assert_eq!(
            closed_elements(b"<Error><Code>x</Code></Error>", "R").unwrap_err(),
            "the root element is Error, not R"
        );
        assert!(closed_elements(b"<R><A>x</B></R>", "R").is_err());
        // The callback's own error stops the walk.
        let err = walk(b"<R><A/></R>", "R", &mut |_, _| Err("stop".into()));
        assert_eq!(err.unwrap_err(), "stop");
    }

    #[test]
    fn escape_makes_text_safe_as_element_content() {
        assert_eq!(escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&apos;");
        assert_eq!(escape("x\r\ny\tz é+%"), "x&#13;&#10;y&#9;z é+%");
        // What escape writes, walk reads back unchanged.
        let key = "dir/a&b <c>\"'\r\n\t é.parquet";
        let doc = format!("<K>{}</K>", escape(key));
        assert_eq!(closed_elements(doc.as_bytes(), "K").unwrap(), [format!("K={key}")]);
    }
}
