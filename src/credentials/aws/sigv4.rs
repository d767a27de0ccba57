//! AWS Signature Version 4 in the `Authorization` header, for the STS
//! calls that must be signed (AssumeRole).
//!
//! rusty-s3's signer presigns URLs for the `s3` service only (its
//! credential scope is fixed), so it cannot sign for `sts`; this is the
//! header form of the same algorithm, written from the SigV4 description in
//! the IAM user guide ("Create a signed AWS API request"):
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
//!                    CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
//! StringToSign     = "AWS4-HMAC-SHA256" \n AmzDate \n Scope \n hex(SHA256(CanonicalRequest))
//! Scope            = YYYYMMDD/region/service/aws4_request
//! SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, YYYYMMDD), region), service), "aws4_request")
//! Signature        = hex(HMAC(SigningKey, StringToSign))
//! ```
//!
//! The canonical URI is the path as sent (already percent-encoded; STS
//! uses `/`), the canonical query the parameters percent-encoded (RFC 3986
//! unreserved characters kept) and sorted, the canonical headers the
//! signed headers lower-cased, trimmed and sorted.

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::credentials::AwsCredentials;

type HmacSha256 = hmac::Hmac<Sha256>;

/// What to sign.
pub(crate) struct Signable<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a url::Url,
    /// Headers to sign besides `host` and `x-amz-date` (and the session
    /// token), names in any case.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: &'a [u8],
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

/// The headers to add to the request: `x-amz-date`, the session token
/// when there is one, and `authorization`. `amz_date` is the signing time
/// as `YYYYMMDDTHHMMSSZ`.
pub(crate) fn sign(req: &Signable<'_>, creds: &AwsCredentials, amz_date: &str) -> Vec<(&'static str, String)> {
    let day = &amz_date[..8.min(amz_date.len())];
    let host = match req.url.port() {
        Some(port) => format!("{}:{port}", req.url.host_str().unwrap_or("")),
        None => req.url.host_str().unwrap_or("").to_owned(),
    };
    let mut headers: Vec<(String, String)> = Vec::with_capacity(req.headers.len() + 3);
    for (k, v) in req.headers {
        insert_sorted(&mut headers, k.to_ascii_lowercase(), squash(v));
    }
    insert_sorted(&mut headers, "host".into(), host);
    insert_sorted(&mut headers, "x-amz-date".into(), amz_date.to_owned());
    if let Some(t) = &creds.token {
        insert_sorted(&mut headers, "x-amz-security-token".into(), t.clone());
    }
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let mut canonical = String::with_capacity(512);
    canonical.push_str(req.method);
    canonical.push('\n');
    canonical.push_str(if req.url.path().is_empty() { "/" } else { req.url.path() });
    canonical.push('\n');
    canonical.push_str(&canonical_query(req.url));
    canonical.push('\n');
    for (k, v) in &headers {
        canonical.push_str(k);
        canonical.push(':');
        canonical.push_str(v);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed);
    canonical.push('\n');
    canonical.push_str(&hex(&Sha256::digest(req.body)));

    let scope = format!("{day}/{}/{}/aws4_request", req.region, req.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", creds.secret).as_bytes(), day.as_bytes());
    for part in [req.region, req.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    let mut out = vec![("x-amz-date", amz_date.to_owned())];
    if let Some(t) = &creds.token {
        out.push(("x-amz-security-token", t.clone()));
    }
    out.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            creds.key_id
        ),
    ));
    out
}

/// `YYYYMMDDTHHMMSSZ` of now.
pub(crate) fn amz_date_now() -> String {
    jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Inserts `(k, v)` where it keeps `list` sorted (a few entries: no sort
/// routine is compiled in for this).
fn insert_sorted(list: &mut Vec<(String, String)>, k: String, v: String) {
    let at = list.partition_point(|(a, b)| (a.as_str(), b.as_str()) <= (k.as_str(), v.as_str()));
    list.insert(at, (k, v));
}

/// Leading and trailing blanks dropped, inner runs of blanks made one.
fn squash(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The query's parameters, each name and value percent-encoded (only
/// `A-Z a-z 0-9 - _ . ~` kept), sorted by name then value.
fn canonical_query(url: &url::Url) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in url.query_pairs() {
        insert_sorted(&mut pairs, encode(&k), encode(&v));
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the IAM user guide's SigV4 walk-through (IAM
    /// ListUsers, 2015-08-30 12:36:00 UTC, the documentation's example key).
    #[test]
    fn the_documented_example_signs_to_the_documented_signature() {
        let url: url::Url = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08".parse().unwrap();
        let creds = AwsCredentials::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            None,
        );
        let headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")];
        let out = sign(
            &Signable {
                method: "GET",
                url: &url,
                headers: &headers,
                body: b"",
                region: "us-east-1",
                service: "iam",
            },
            &creds,
            "20150830T123600Z",
        );
        let auth = &out.iter().find(|(k, _)| *k == "authorization").unwrap().1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert!(out.iter().all(|(k, _)| *k != "x-amz-security-token"));
    }

    #[test]
    fn a_session_token_is_signed_and_sent() {
        let url: url::Url = "http://127.0.0.1:9000/".parse().unwrap();
        let creds = AwsCredentials::new("AK".into(), "SK".into(), Some("TOKEN".into()));
        let out = sign(
            &Signable { method: "POST", url: &url, headers: &[], body: b"a=b", region: "eu-west-1", service: "sts" },
            &creds,
            "20240101T000000Z",
        );
        let auth = &out.iter().find(|(k, _)| *k == "authorization").unwrap().1;
        assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token"), "{auth}");
        assert!(auth.contains("/20240101/eu-west-1/sts/aws4_request"), "{auth}");
        assert!(!auth.contains("SK") && !auth.contains("TOKEN"), "{auth}");
        assert_eq!(out.iter().find(|(k, _)| *k == "x-amz-security-token").unwrap().1, "TOKEN");
        assert_eq!(canonical_query(&"http://h/?b=2&a=x y&a=%2F".parse().unwrap()), "a=%2F&a=x%20y&b=2");
    }
}
