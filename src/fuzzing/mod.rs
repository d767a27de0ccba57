//! Entry points for the coverage-guided fuzz targets (`fuzz/`) and for the
//! corpus replay test (`tests/fuzz_corpora.rs`): one function per parser of
//! untrusted input, each taking raw bytes.
//!
//! Built only with the `fuzzing` feature, so the normal library, its API and
//! the static binary are unchanged. Every function must return normally on
//! any input: a panic here is a bug, either in the parser (it panicked, or
//! it accepted input and returned a value inconsistent with it) or in a
//! property checked here. Properties are checked with `assert!` so that the
//! fuzzer reports the input that broke them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::remote::Entry;

/// A fuzz target's entry function.
pub type Target = fn(&[u8]);

/// Every target: its name (the fuzz target's and the corpus folder's) and
/// its entry function.
pub const TARGETS: &[(&str, Target)] = &[
    ("s3_list", s3_list),
    ("s3_error", s3_error),
    ("s3_multipart", s3_multipart),
    ("s3_delete_result", s3_delete_result),
    ("azure_list", azure_list),
    ("azure_error", azure_error),
    ("error_answers", error_answers),
    ("azure_batch", azure_batch),
    ("azure_connection_string", azure_connection_string),
    ("open_url", open_url),
    ("open_options", open_options),
    ("paths", paths),
    ("http_dates", http_dates),
    ("aws_profile", aws_profile),
    ("aws_identity", aws_identity),
    ("azure_token", azure_token),
    ("local_ops", local_ops),
];

/// The input as text, as a parser of text sees it (invalid UTF-8 replaced:
/// the callers of the text parsers hold `&str`).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Percent-encodes every byte that is not unreserved (the way S3 and Azure
/// encode names), so that decoding gives `s` back.
fn percent_encode(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// ListObjectsV2. Whatever a page yields must survive a round trip: the
/// same entries written as a url-encoded page parse back identically.
pub fn s3_list(data: &[u8]) {
    let Ok(page) = crate::s3::list::parse_page(data) else {
        return;
    };
    let mut xml = String::from("<ListBucketResult><EncodingType>url</EncodingType>");
    xml.push_str(if page.truncated { "<IsTruncated>true</IsTruncated>" } else { "<IsTruncated>false</IsTruncated>" });
    if let Some(t) = &page.next_token {
        xml.push_str(&format!("<NextContinuationToken>{}</NextContinuationToken>", crate::xml::escape(t)));
    }
    let mut prefixes = String::new();
    for e in &page.entries {
        match e {
            Entry::Object { key, size, last_modified } => {
                xml.push_str(&format!(
                    "<Contents><Key>{}</Key><Size>{size}</Size><LastModified>{}</LastModified></Contents>",
                    percent_encode(key),
                    rfc3339(*last_modified).unwrap_or_default()
                ));
            }
            Entry::Prefix(p) => {
                prefixes.push_str(&format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", percent_encode(p)));
            }
        }
    }
    xml.push_str(&prefixes);
    xml.push_str("</ListBucketResult>");
    let again = crate::s3::list::parse_page(xml.as_bytes()).expect("a re-written page parses");
    // A time an RFC 3339 timestamp cannot carry (an offset moved it out of
    // years 0000-9999) is not compared.
    let comparable = |entries: &[Entry]| -> Vec<(String, Option<(u64, SystemTime)>)> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Object { key, size, last_modified } => {
                    let t = if rfc3339(*last_modified).is_some() { *last_modified } else { UNIX_EPOCH };
                    (key.clone(), Some((*size, t)))
                }
                Entry::Prefix(p) => (p.clone(), None),
            })
            .collect()
    };
    assert_eq!(comparable(&again.entries), comparable(&page.entries), "entries change in a round trip");
    assert_eq!(again.truncated, page.truncated);
    assert_eq!(again.next_token, page.next_token);
}

/// `2009-10-12T17:50:30.123456789Z`, when `t` lies in years 0000-9999.
fn rfc3339(t: SystemTime) -> Option<String> {
    let secs = crate::time::unix_seconds(t);
    let nanos = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.subsec_nanos(),
        Err(e) => (1_000_000_000 - e.duration().subsec_nanos()) % 1_000_000_000,
    };
    let date = crate::time::civil_from_days(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    (0..=9999).contains(&date.year).then(|| {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            date.year,
            date.month,
            date.day,
            rest / 3600,
            rest % 3600 / 60,
            rest % 60
        )
    })
}

/// S3 error documents, alone and as the failure a 200 answer carries.
pub fn s3_error(data: &[u8]) {
    let (code, message, request_id) = crate::s3::error::parse_error_xml(data);
    let again = crate::s3::error::parse_error_xml(data);
    assert_eq!((code.clone(), message, request_id), again, "parsing is deterministic");
    if let Some(code) = code {
        // A code read from the document is inside the document's bytes
        // (references resolved), so it is never longer than the document.
        assert!(code.len() <= data.len() * 4, "code longer than its document");
    }
}

/// InitiateMultipartUpload, CompleteMultipartUpload, CopyObject and
/// UploadPartCopy answers.
pub fn s3_multipart(data: &[u8]) {
    if let Ok(id) = crate::s3::multipart::parse_upload_id(data) {
        assert!(!id.is_empty(), "an empty UploadId was accepted");
        assert_eq!(id, id.trim(), "UploadId kept surrounding blanks");
    }
    for root in ["CompleteMultipartUploadResult", "CopyObjectResult", "CopyPartResult"] {
        if let Some(etag) = crate::s3::multipart::parse_etag(data, root) {
            assert!(!etag.is_empty(), "an empty ETag was accepted");
        }
    }
}

/// DeleteObjects answers: every failure names a key and a code the
/// document held, in order.
pub fn s3_delete_result(data: &[u8]) {
    let Ok(errors) = crate::s3::batch_delete::parse_errors(data) else {
        return;
    };
    let mut xml = String::from("<DeleteResult>");
    for e in &errors {
        xml.push_str(&format!(
            "<Error><Key>{}</Key><Code>{}</Code><Message>{}</Message></Error>",
            crate::xml::escape(&e.key),
            crate::xml::escape(&e.code),
            crate::xml::escape(&e.message)
        ));
    }
    xml.push_str("</DeleteResult>");
    let again = crate::s3::batch_delete::parse_errors(xml.as_bytes()).expect("a re-written answer parses");
    assert_eq!(again, errors, "failures change in a round trip");
}

/// List Blobs. What a page yields must survive a round trip through a page
/// with every name encoded.
pub fn azure_list(data: &[u8]) {
    let Ok(page) = crate::azure::list::parse_page(data) else {
        return;
    };
    let mut xml = String::from("<EnumerationResults><Blobs>");
    for e in &page.entries {
        match e {
            Entry::Object { key, size, last_modified } => {
                // An HTTP date has whole seconds, as the parser keeps them.
                let when = if *last_modified == UNIX_EPOCH {
                    String::new()
                } else {
                    format!("<Last-Modified>{}</Last-Modified>", crate::time::http_date(*last_modified))
                };
                xml.push_str(&format!(
                    "<Blob><Name Encoded=\"true\">{}</Name><Properties>{when}<Content-Length>{size}</Content-Length></Properties></Blob>",
                    percent_encode(key)
                ));
            }
            Entry::Prefix(p) => {
                xml.push_str(&format!("<BlobPrefix><Name Encoded=\"true\">{}</Name></BlobPrefix>", percent_encode(p)));
            }
        }
    }
    xml.push_str("</Blobs>");
    if let Some(m) = &page.next_marker {
        xml.push_str(&format!("<NextMarker>{}</NextMarker>", crate::xml::escape(m)));
    }
    xml.push_str("</EnumerationResults>");
    let again = crate::azure::list::parse_page(xml.as_bytes()).expect("a re-written page parses");
    assert_eq!(again.entries, page.entries, "entries change in a round trip");
    assert_eq!(again.next_marker, page.next_marker);
}

/// Azure error documents.
pub fn azure_error(data: &[u8]) {
    let (code, message) = crate::azure::error::parse_error_xml(data);
    if let Some(m) = &message {
        assert!(!m.contains('\n'), "the message is its first line only");
    }
    assert_eq!((code, message), crate::azure::error::parse_error_xml(data));
}

/// A whole failed answer as either protocol reads it: two bytes of status
/// (100-999), header lines up to a blank line, then the body. The error
/// keeps the status, and a code given in the protocol's header wins.
pub fn error_answers(data: &[u8]) {
    let [hi, lo, rest @ ..] = data else { return };
    let status = 100 + u16::from_be_bytes([*hi, *lo]) % 900;
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let head = text(head);
    let headers: Vec<(&str, &str)> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let response = || {
        let mut b = ureq::http::Response::builder().status(status);
        for (k, v) in &headers {
            b = b.header(*k, *v);
        }
        b.body(ureq::Body::builder().data(body.to_vec())).ok()
    };
    let Some(probe) = response() else { return };
    let header = |name: &str| probe.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    for (parser, code_header) in [
        (crate::s3::error::answer("bucket"), None),
        (crate::azure::error::answer("container"), Some("x-ms-error-code")),
    ] {
        let Some(resp) = response() else { return };
        let err = parser("some/key", resp);
        let shown = err.to_string();
        // A timeout keeps the server's status only in its message (its
        // variant has no ServiceDetail); every other error keeps it whole.
        if err.kind() == crate::ErrorKind::Timeout {
            assert!(shown.contains(&status.to_string()), "{shown}");
        } else {
            assert_eq!(err.http_status(), Some(status), "{err:?}");
            if let Some(code) = code_header.and_then(header) {
                assert_eq!(err.provider_code(), Some(code.as_str()));
            }
        }
        if let Some(after) = err.retry_after() {
            assert!(header("retry-after").is_some(), "a Retry-After from nowhere: {after:?}");
        }
    }
}

/// A Blob Batch answer: the first line is its `Content-Type` header, the
/// rest its body.
pub fn azure_batch(data: &[u8]) {
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let content_type = text(head);
    let Some(boundary) = crate::azure::batch_delete::boundary_of(content_type.trim_end_matches('\r')) else {
        return;
    };
    let Ok(subs) = crate::azure::batch_delete::parse_batch_response(body, &boundary) else {
        return;
    };
    let delim = format!("--{boundary}");
    let parts = body.windows(delim.len().max(1)).filter(|w| *w == delim.as_bytes()).count();
    assert!(subs.len() < parts.max(1), "more sub-responses than delimiters");
    for s in &subs {
        assert!(s.body.len() <= body.len(), "a sub-response body larger than the answer");
    }
}

/// Azure connection strings, SAS tokens and account keys. An accepted
/// connection string, written back in its canonical form, reads the same;
/// a refused one's error never shows a secret given in it.
pub fn azure_connection_string(data: &[u8]) {
    use crate::azure::config::{clean_sas, decode_key, parse_connection_string, Credential};
    let cs = text(data);
    if let Ok(sas) = clean_sas("sas", &cs) {
        assert!(!sas.starts_with('?'));
        assert_eq!(clean_sas("sas", &sas).ok().as_deref(), Some(sas.as_str()), "a cleaned SAS is clean");
    }
    if let Ok(key) = decode_key("key", &cs) {
        assert!(!key.is_empty());
    }
    match parse_connection_string(&cs) {
        Ok(parsed) => {
            use base64::Engine as _;
            let mut out = Vec::new();
            if let Some(p) = &parsed.protocol {
                out.push(format!("DefaultEndpointsProtocol={p}"));
            }
            if let Some(a) = &parsed.account {
                out.push(format!("AccountName={a}"));
            }
            if let Some(e) = &parsed.endpoint {
                out.push(format!("BlobEndpoint={e}"));
            }
            if let Some(s) = &parsed.suffix {
                out.push(format!("EndpointSuffix={s}"));
            }
            match &parsed.credential {
                Credential::SharedKey(k) => {
                    out.push(format!("AccountKey={}", base64::engine::general_purpose::STANDARD.encode(k)))
                }
                Credential::Sas(s) => out.push(format!("SharedAccessSignature={s}")),
                _ => panic!("a connection string gave neither a key nor a SAS"),
            }
            let again = parse_connection_string(&out.join(";"));
            assert_eq!(again.as_ref().ok(), Some(&parsed), "{:?}", out.join(";"));
        }
        Err(e) => {
            let shown = e.to_string();
            for segment in cs.split(';') {
                let Some((name, value)) = segment.split_once('=') else { continue };
                let secret = matches!(
                    name.trim().to_ascii_lowercase().as_str(),
                    "accountkey" | "sharedaccesssignature"
                );
                let value = value.trim();
                // Long enough not to occur in a fixed message by chance,
                // and not also given as a setting that may be shown.
                let elsewhere = cs.split(';').filter(|s| s.contains(value)).count() > 1;
                if secret && value.len() >= 12 && !elsewhere {
                    assert!(!shown.contains(value), "a secret in an error: {shown}");
                }
            }
        }
    }
}

/// Store URLs. An S3 or Azure target written back as its short URL opens
/// the same target.
pub fn open_url(data: &[u8]) {
    use crate::open::url::{parse, Target};
    let url = text(data);
    let Ok(target) = parse(&url) else { return };
    let short = match &target {
        Target::S3 { bucket, prefix, region: None } => format!("s3://{bucket}/{prefix}"),
        Target::Azure { container, prefix, account: None } => format!("az://{container}/{prefix}"),
        Target::S3 { bucket, .. } | Target::Azure { container: bucket, .. } => {
            assert!(!bucket.is_empty(), "an empty bucket or container");
            return;
        }
        Target::Local(_) => return,
    };
    assert_eq!(parse(&short).ok().as_ref(), Some(&target), "{short:?}");
}

/// Option values: `key=value` lines, each set alone and all together. A
/// secret never shows in `Debug`; sizes and numbers are stored as numbers.
pub fn open_options(data: &[u8]) {
    use crate::open::options::{lookup, parse_bool, parse_size, Value};
    use crate::open::Options;
    let input = text(data);
    let mut all = Options::new();
    for line in input.lines() {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let _ = parse_bool(value);
        if let Some(n) = parse_size(value) {
            // The unit's multiple of the number: never wrapped around.
            let digits: String = value.trim().chars().take_while(char::is_ascii_digit).collect();
            assert!(n >= digits.parse::<u64>().unwrap_or(0), "{value:?} read as {n}");
        }
        let mut one = Options::new();
        if one.set(key, value).is_err() {
            continue;
        }
        let _ = all.set(key, value);
        let (k, _) = lookup(key).expect("a key that was set is known");
        let stored = one.get(k.name).expect("a set key has a value");
        match k.value {
            Value::Count(lo, hi) | Value::Millis(lo, hi) | Value::Size(lo, hi) => {
                let n: u64 = stored.parse().expect("numbers are stored as numbers");
                assert!((lo..=hi).contains(&n), "{n} outside {lo}..={hi}");
            }
            Value::Bool => assert!(stored == "true" || stored == "false"),
            Value::UrlStyle => assert!(stored == "path" || stored == "vhost"),
            Value::Secret => {
                assert_eq!(format!("{one:?}"), format!("{{{:?}: \"<redacted>\"}}", k.name));
            }
            Value::Text => {}
        }
    }
    let _ = format!("{all:?}");
}

/// Key and prefix validation and S3 prefix sanitising: what is accepted
/// obeys the documented rule.
pub fn paths(data: &[u8]) {
    let s = text(data);
    match crate::paths::validate_key(&s) {
        Ok(key) => {
            assert!(s.ends_with(key) && !key.is_empty() && !key.starts_with('/'));
            assert!(!key.contains('\0') && !key.ends_with('/'));
            assert!(key.split('/').all(|c| !c.is_empty() && c != "." && c != ".."), "{key:?}");
            assert_eq!(crate::paths::validate_prefix(&s).ok(), Some(key), "a key is a valid prefix");
            assert_eq!(crate::paths::validate_key(key).ok(), Some(key), "validation is idempotent");
        }
        Err(e) => assert_eq!(e.kind(), crate::ErrorKind::InvalidPath),
    }
    if let Ok(prefix) = crate::paths::validate_prefix(&s) {
        assert!(!prefix.starts_with('/') && !prefix.contains('\0'));
        assert!(prefix.split('/').all(|c| c != "." && c != ".."));
    }
    let sanitized = crate::paths::sanitize_s3_prefix(&s);
    if !sanitized.is_empty() {
        assert!(sanitized.ends_with('/') && !sanitized.starts_with('/') && !sanitized.contains(".."));
        assert!(sanitized.chars().all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c)));
        assert_eq!(crate::paths::sanitize_s3_prefix(&sanitized), sanitized, "sanitising is idempotent");
    }
}

/// HTTP dates, RFC 3339 timestamps and `Retry-After`. A parsed date written
/// back as an IMF-fixdate parses to the same instant.
pub fn http_dates(data: &[u8]) {
    let s = text(data);
    if let Some(t) = crate::time::parse_http_date(&s) {
        let again = crate::time::http_date(t);
        assert_eq!(crate::time::parse_http_date(&again), Some(t), "{s:?} -> {again:?}");
    }
    if let Some(t) = crate::time::parse_rfc3339(&s) {
        let whole = whole_seconds(t);
        let again = crate::time::http_date(whole);
        // Offsets can move a year-0000 or year-9999 time out of the four
        // digits an HTTP date has; inside them the instant must survive.
        let year = again.split(' ').nth(3).unwrap_or("");
        if year.len() == 4 && !year.starts_with('-') {
            assert_eq!(crate::time::parse_http_date(&again), Some(whole), "{s:?} -> {again:?}");
        }
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    if let Some(d) = crate::error::parse_retry_after(&s, now) {
        let trimmed = s.trim();
        if !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            let at = crate::time::parse_http_date(trimmed).expect("a Retry-After that is not seconds is a date");
            assert_eq!(d, at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
}

/// `t` without its sub-second part.
fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(e) => {
            let d = e.duration();
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            UNIX_EPOCH - Duration::from_secs(secs)
        }
    }
}

/// The AWS shared config and credentials files: the input split at its
/// first NUL byte into a config file and a credentials file, and every
/// profile it names looked up (nothing is run or fetched).
pub fn aws_profile(data: &[u8]) {
    let input = text(data);
    let (config, credentials) = input.split_once('\0').unwrap_or((&input, ""));
    let files = crate::credentials::aws::profile::Files::from_text(config, credentials);
    let names = input
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.split(']').next())
        .map(|n| n.trim().trim_start_matches("profile").trim().to_owned());
    for name in names.chain(["default".to_owned()]) {
        if let Some(props) = files.profile(&name) {
            for key in ["aws_access_key_id", "role_arn", "source_profile", "credential_process", "region"] {
                if let Some(v) = props.get(key) {
                    assert_eq!(v.as_str(), v.trim(), "a value kept surrounding blanks");
                }
            }
        }
    }
}

/// Identity answers: STS XML (both actions, and its error document), the
/// ECS / instance metadata JSON, `credential_process` output and command
/// line, JSON error bodies.
pub fn aws_identity(data: &[u8]) {
    use crate::credentials::aws::{ecs, process, sts};
    for action in ["AssumeRole", "AssumeRoleWithWebIdentity"] {
        if let Ok(c) = sts::parse_credentials(data, action) {
            assert!(!c.key_id.is_empty() && !c.secret.is_empty());
        }
    }
    let _ = sts::error_detail(403, data);
    let _ = crate::credentials::http::json_detail(400, data);
    if let Ok(c) = ecs::parse(data) {
        assert!(!c.key_id.is_empty() && !c.secret.is_empty());
    }
    if let Ok(c) = process::parse(data) {
        assert!(!c.key_id.is_empty() && !c.secret.is_empty());
        // Debug never shows the secret or the token.
        let shown = format!("{c:?}");
        if c.secret.len() >= 8 && !c.key_id.contains(&c.secret) {
            assert!(!shown.contains(&c.secret), "{shown}");
        }
    }
    if let Ok(words) = process::split(&text(data)) {
        assert!(!words.is_empty(), "an empty command line was accepted");
    }
}

/// Entra ID / managed identity token answers.
pub fn azure_token(data: &[u8]) {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    if let Some(t) = crate::credentials::azure::parse_token(data, now) {
        assert!(!t.value.is_empty());
        assert!(t.expires.is_some());
    }
}

mod local_ops;
pub use local_ops::local_ops;
