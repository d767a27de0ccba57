//! Small helpers over quick-xml shared by the S3 and Azure parsers.

use quick_xml::events::{BytesRef, BytesText};

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
