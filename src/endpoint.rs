//! How every endpoint that a configuration or the environment gives is
//! read (the S3 and Azure endpoints, STS, ECS container credentials, the
//! Entra ID authority, managed identity): one check before the url crate
//! sees the text.
//!
//! Endpoints are plain ASCII URL text: the url crate is built here for
//! ASCII hosts only (see Cargo.toml). A host mixing upper-case ASCII with
//! other characters, as they are or percent-encoded, trips a debug
//! assertion in its ASCII-only IDNA adapter (a panic in debug builds), and
//! controls or spaces would be percent-encoded into an endpoint nobody
//! wrote; both were found by fuzzing the Azure endpoint, and every other
//! endpoint was read the same way.

use url::Url;

use crate::error::{Error, Result};

/// Reads the endpoint `raw` of `field` (`"S3 endpoint"`, ...): an http or
/// https URL with a host and no user name or password. Errors name the
/// field and show the value without its query or user part.
pub(crate) fn parse(field: &str, raw: &str) -> Result<Url> {
    let bad = |why: &str| Error::invalid_argument(format!("{field} {:?} {why}", shown(raw)));
    let text = raw.trim();
    let plain = |c: char| c.is_ascii_graphic() && !"%\"<>`{}".contains(c);
    if !text.chars().all(plain) {
        return Err(bad(
            "is not plain ASCII (no spaces, controls or percent-encoding); give an internationalised host in its xn-- form",
        ));
    }
    let url = Url::parse(text).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("must be an http:// or https:// URL with a host"));
    }
    // A user name or password in an endpoint is never an object store's
    // or an identity service's, and would be shown in messages.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain a user name or password"));
    }
    Ok(url)
}

/// `raw` as errors may show it: no query (a SAS, a token) and no user
/// part (a password).
fn shown(raw: &str) -> String {
    let no_query = raw.split(['?', '#']).next().unwrap_or("");
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or("");
            format!("{scheme}://{host}{path}")
        }
        None => no_query.rsplit('@').next().unwrap_or("").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_urls_are_read() {
        let u = parse("S3 endpoint", " http://127.0.0.1:9000/ ").unwrap();
        assert_eq!(u.host_str(), Some("127.0.0.1"));
        assert_eq!(u.port(), Some(9000));
        assert!(parse("x", "https://xn--bcher-kva.example/p").is_ok());
    }

    #[test]
    fn anything_else_is_refused_without_showing_a_secret() {
        for (raw, why) in [
            ("http://Bücher.example/", "plain ASCII"),
            ("http://A%C3%BC.example/", "plain ASCII"),
            ("http://a b/", "plain ASCII"),
            ("http://a\u{7}b/", "plain ASCII"),
            ("ftp://host/", "http:// or https://"),
            ("http://", "not a URL"),
            ("not a url", "plain ASCII"),
            ("nourl", "not a URL"),
            ("http://user:hunter2@host/", "user name or password"),
            ("http://a@@b/", "user name or password"),
        ] {
            let err = parse("STS endpoint", raw).unwrap_err();
            let text = err.to_string();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{raw}");
            assert!(text.contains(why) && text.contains("STS endpoint"), "{raw}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        let err = parse("x", "http://h/p?sig=SECRET").unwrap();
        assert_eq!(err.query(), Some("sig=SECRET"), "a query is the caller's to refuse");
        let refused = parse("x", "http://u:SECRET@h/p?sig=SECRET2").unwrap_err().to_string();
        assert!(!refused.contains("SECRET"), "{refused}");
    }
}
