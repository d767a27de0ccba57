//! Small helpers over quick-xml shared by the S3 and Azure parsers.

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
}
