//! Store URLs: a plain path or `file://`, `s3://` (and `s3a://`, AWS's
//! https forms), `az://` / `azure://` (and `abfs[s]://`, Azure's https
//! form).

use std::path::PathBuf;

use crate::error::{Error, Result};

/// What a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Local(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        region: Option<String>,
    },
    Azure {
        container: String,
        prefix: String,
        account: Option<String>,
    },
}

fn bad(url: &str, why: &str) -> Error {
    Error::invalid_argument(format!("store URL {url:?}: {why}"))
}

/// Reads a store URL.
pub(crate) fn parse(url: &str) -> Result<Target> {
    if url.trim().is_empty() {
        return Err(bad(url, "empty"));
    }
    if url.chars().any(|c| c.is_control()) {
        return Err(bad(url, "contains a control character"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        // A plain path: the local store.
        return Ok(Target::Local(PathBuf::from(url)));
    };
    let scheme = scheme.to_ascii_lowercase();
    if rest.contains('?') || rest.contains('#') {
        return Err(bad(url, "a store URL takes no query or fragment (give settings as options)"));
    }
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = path.trim_matches('/').to_owned();
    match scheme.as_str() {
        "file" => {
            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                return Err(bad(url, "a file URL names no host (file:///absolute/path)"));
            }
            if path.is_empty() {
                return Err(bad(url, "no directory"));
            }
            let decoded = percent_encoding::percent_decode_str(path)
                .decode_utf8()
                .map_err(|_| bad(url, "the path is not UTF-8 once decoded"))?;
            Ok(Target::Local(PathBuf::from(format!("/{}", decoded.trim_start_matches('/')))))
        }
        "s3" | "s3a" => {
            if host.is_empty() {
                return Err(bad(url, "no bucket (s3://bucket/prefix)"));
            }
            Ok(Target::S3 {
                bucket: host.to_owned(),
                prefix,
                region: None,
            })
        }
        "az" | "azure" => {
            if host.is_empty() {
                return Err(bad(url, "no container (az://container/prefix)"));
            }
            Ok(Target::Azure {
                container: host.to_owned(),
                prefix,
                account: None,
            })
        }
        "abfs" | "abfss" => {
            let Some((container, account_host)) = host.split_once('@') else {
                return Err(bad(url, "expected abfss://container@ACCOUNT.dfs.core.windows.net/prefix"));
            };
            let account = account_host
                .strip_suffix(".dfs.core.windows.net")
                .or_else(|| account_host.strip_suffix(".blob.core.windows.net"))
                .filter(|a| !a.is_empty() && !a.contains('.'))
                .ok_or_else(|| bad(url, "expected abfss://container@ACCOUNT.dfs.core.windows.net/prefix"))?;
            if container.is_empty() {
                return Err(bad(url, "no container"));
            }
            Ok(Target::Azure {
                container: container.to_owned(),
                prefix,
                account: Some(account.to_owned()),
            })
        }
        "https" | "http" => https(url, host, path),
        _ => Err(bad(url, &format!("unknown scheme {scheme:?} (file, s3, s3a, az, azure, abfs, abfss, https)"))),
    }
}

/// AWS's and Azure's https forms.
fn https(url: &str, host: &str, path: &str) -> Result<Target> {
    let host = host.to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or("");
    let mut parts = path.trim_matches('/').splitn(2, '/');
    let first = parts.next().unwrap_or("").to_owned();
    let rest = parts.next().unwrap_or("").trim_matches('/').to_owned();
    if let Some(account) = host.strip_suffix(".blob.core.windows.net") {
        if account.is_empty() || account.contains('.') || first.is_empty() {
            return Err(bad(url, "expected https://ACCOUNT.blob.core.windows.net/container/prefix"));
        }
        return Ok(Target::Azure {
            container: first,
            prefix: rest,
            account: Some(account.to_owned()),
        });
    }
    if let Some(before) = host.strip_suffix(".amazonaws.com") {
        // s3.REGION / s3 (path style) or BUCKET.s3.REGION / BUCKET.s3.
        let labels: Vec<&str> = before.split('.').collect();
        let s3_at = labels.iter().position(|l| *l == "s3" || l.starts_with("s3-"));
        if let Some(i) = s3_at {
            let region = s3_region(url, labels[i], &labels[i + 1..])?;
            if i == 0 {
                if first.is_empty() {
                    return Err(bad(url, "no bucket (https://s3.REGION.amazonaws.com/bucket/prefix)"));
                }
                return Ok(Target::S3 {
                    bucket: first,
                    prefix: rest,
                    region,
                });
            }
            // Every label before `s3` is the bucket's: none may be empty
            // (`https://.s3.REGION.amazonaws.com` names no bucket).
            if labels[..i].iter().any(|l| l.is_empty()) {
                return Err(bad(url, "no bucket (https://BUCKET.s3.REGION.amazonaws.com/prefix)"));
            }
            let bucket = labels[..i].join(".");
            let prefix = path.trim_matches('/').to_owned();
            return Ok(Target::S3 {
                bucket,
                prefix,
                region,
            });
        }
    }
    Err(bad(
        url,
        "not an AWS or Azure URL; for another S3-compatible server use s3://bucket with the endpoint option",
    ))
}

/// The region of an S3 host's labels from `s3` on: `s3.REGION`, `s3`, or
/// the legacy `s3-REGION` (`s3-external-1` is us-east-1). Any other kind of
/// endpoint (dualstack, accelerate, FIPS, website, access points) is
/// refused rather than read as a region: opened from its bucket and
/// region alone it would reach another endpoint than the URL names.
fn s3_region(url: &str, s3: &str, after: &[&str]) -> Result<Option<String>> {
    let other = || {
        bad(
            url,
            "not an S3 endpoint blobio reads from a URL (dualstack, accelerate, FIPS, website or \
             access point); use s3://BUCKET with the endpoint option",
        )
    };
    let region = match (s3, after) {
        ("s3", []) => None,
        ("s3", [region]) if is_region(region) => Some((*region).to_owned()),
        ("s3-external-1", []) => Some("us-east-1".to_owned()),
        (legacy, []) => match legacy.strip_prefix("s3-") {
            Some(region) if is_region(region) => Some(region.to_owned()),
            _ => return Err(other()),
        },
        _ => return Err(other()),
    };
    Ok(region)
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: a two-letter area, words
/// of letters, then a number.
fn is_region(label: &str) -> bool {
    let parts: Vec<&str> = label.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str, region: Option<&str>) -> Target {
        Target::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
            region: region.map(Into::into),
        }
    }

    fn az(container: &str, prefix: &str, account: Option<&str>) -> Target {
        Target::Azure {
            container: container.into(),
            prefix: prefix.into(),
            account: account.map(Into::into),
        }
    }

    #[test]
    fn every_url_form_names_its_store() {
        assert_eq!(parse("./data").unwrap(), Target::Local("./data".into()));
        assert_eq!(parse("/var/lib/x").unwrap(), Target::Local("/var/lib/x".into()));
        assert_eq!(parse("file:///var/lib/x%20y").unwrap(), Target::Local("/var/lib/x y".into()));
        assert_eq!(parse("s3://b/p/q/").unwrap(), s3("b", "p/q", None));
        assert_eq!(parse("s3a://b").unwrap(), s3("b", "", None));
        assert_eq!(
            parse("https://b.s3.eu-west-1.amazonaws.com/p").unwrap(),
            s3("b", "p", Some("eu-west-1"))
        );
        assert_eq!(
            parse("https://s3.us-east-2.amazonaws.com/b/p/q").unwrap(),
            s3("b", "p/q", Some("us-east-2"))
        );
        assert_eq!(parse("https://my.bucket.s3.amazonaws.com/").unwrap(), s3("my.bucket", "", None));
        // The legacy forms: s3-REGION, and s3-external-1 for us-east-1.
        assert_eq!(
            parse("https://b.s3-us-gov-west-1.amazonaws.com/p").unwrap(),
            s3("b", "p", Some("us-gov-west-1"))
        );
        assert_eq!(
            parse("https://s3-external-1.amazonaws.com/b").unwrap(),
            s3("b", "", Some("us-east-1"))
        );
        assert_eq!(parse("az://c/p").unwrap(), az("c", "p", None));
        assert_eq!(parse("azure://c").unwrap(), az("c", "", None));
        assert_eq!(
            parse("abfss://c@acct.dfs.core.windows.net/p").unwrap(),
            az("c", "p", Some("acct"))
        );
        assert_eq!(
            parse("https://acct.blob.core.windows.net/c/p/q").unwrap(),
            az("c", "p/q", Some("acct"))
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, why) in [
            ("", "empty"),
            ("s3://", "no bucket"),
            ("s3:///p", "no bucket"),
            ("az://", "no container"),
            ("s3://b/p?x=1", "no query"),
            ("gs://b", "unknown scheme"),
            ("https://example.com/b", "not an AWS or Azure URL"),
            ("https://s3.amazonaws.com/", "no bucket"),
            ("abfss://acct.dfs.core.windows.net/p", "expected"),
            ("file://host/x", "no host"),
            ("s3://b/p\r\n", "control character"),
            // Found by the open_url fuzz target: empty labels before `s3`
            // made an empty bucket name.
            ("https://.s3.eu-west-1.amazonaws.com/p", "no bucket"),
            ("https://b.s3.dualstack.eu-west-1.amazonaws.com/p", "dualstack"),
            ("https://s3.dualstack.eu-west-1.amazonaws.com/b/p", "dualstack"),
            ("https://b.s3-accelerate.amazonaws.com/p", "accelerate"),
            ("https://b.s3-fips.us-east-1.amazonaws.com/p", "FIPS"),
            ("https://b.s3-website-us-east-1.amazonaws.com/", "website"),
            ("https://b.s3-website.eu-west-1.amazonaws.com/", "website"),
            ("https://a..b.s3.amazonaws.com/p", "no bucket"),
        ] {
            let e = parse(url).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert!(e.to_string().contains(why), "{url:?}: {e}");
        }
    }
}
