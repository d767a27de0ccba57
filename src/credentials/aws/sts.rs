//! STS: `AssumeRole` (signed with the source credentials, SigV4 for the
//! `sts` service) and `AssumeRoleWithWebIdentity` (unsigned: the web
//! identity token is the proof), both a form POST to the endpoint's root
//! (API version 2011-06-15), answers in XML.
//!
//! The endpoint: the `sts_endpoint` option, else `AWS_ENDPOINT_URL_STS`,
//! else the regional endpoint `https://sts.REGION.amazonaws.com`
//! (`.amazonaws.com.cn` in China), or the global `https://sts.amazonaws.com`
//! when `AWS_STS_REGIONAL_ENDPOINTS=legacy` and the region is one of those
//! the global endpoint served. `AWS_ENDPOINT_URL` (the S3 endpoint here)
//! is not used for STS.

use std::time::{Duration, SystemTime};

use super::Env;
use crate::credentials::http::{truncate, Call, Endpoint, Limits, STS_LIMITS};
use crate::credentials::AwsCredentials;
use crate::error::{Error, Result, ServiceDetail};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

/// Regions the global endpoint answered for before regional endpoints
/// became the default.
const LEGACY_REGIONS: &[&str] = &[
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global",
    "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
];

/// The STS endpoint URL and the region requests to it are signed for.
pub(crate) fn endpoint(explicit: Option<&str>, env: &Env<'_>, region: &str) -> (String, String) {
    if let Some(e) = explicit.map(str::to_owned).or_else(|| env("AWS_ENDPOINT_URL_STS")) {
        return (e, region.to_owned());
    }
    let legacy = env("AWS_STS_REGIONAL_ENDPOINTS").is_some_and(|v| v.eq_ignore_ascii_case("legacy"));
    if legacy && LEGACY_REGIONS.contains(&region) {
        return ("https://sts.amazonaws.com".into(), "us-east-1".into());
    }
    let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    (format!("https://sts.{region}.{domain}"), region.to_owned())
}

/// What role to assume, and how.
#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub(crate) arn: String,
    /// `None`: `blobio-<unix milliseconds>`.
    pub(crate) session_name: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) duration_seconds: Option<u32>,
}

impl Role {
    fn session_name(&self) -> String {
        self.session_name.clone().unwrap_or_else(|| {
            let ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            format!("blobio-{ms}")
        })
    }
}

/// One STS endpoint.
pub(crate) struct Sts {
    url: url::Url,
    region: String,
    client: Endpoint,
}

impl std::fmt::Debug for Sts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sts").field("url", &self.url.as_str()).field("region", &self.region).finish()
    }
}

impl Sts {
    pub(crate) fn new(url: &str, region: &str, http: &HttpConfig, retry: &RetryPolicy) -> Result<Self> {
        Self::with_limits(url, region, http, retry, &STS_LIMITS)
    }

    pub(crate) fn with_limits(
        url: &str,
        region: &str,
        http: &HttpConfig,
        retry: &RetryPolicy,
        limits: &Limits,
    ) -> Result<Self> {
        let parsed = crate::endpoint::parse("STS endpoint", url)?;
        Ok(Sts {
            url: parsed,
            region: region.to_owned(),
            client: Endpoint::new(http, limits, retry)?,
        })
    }

    /// `AssumeRole`, signed with `source`.
    pub(crate) fn assume_role(&self, source: &AwsCredentials, role: &Role) -> Result<AwsCredentials> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "AssumeRole")
            .append_pair("Version", "2011-06-15")
            .append_pair("RoleArn", &role.arn)
            .append_pair("RoleSessionName", &role.session_name());
        if let Some(id) = &role.external_id {
            form.append_pair("ExternalId", id);
        }
        if let Some(d) = role.duration_seconds {
            form.append_pair("DurationSeconds", &d.to_string());
        }
        let body = form.finish();
        let what = format!("AWS credentials: STS AssumeRole of {} at {}", role.arn, self.url);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        // One signature serves every attempt: they all end within the
        // policy's deadline, well inside the 5 minutes STS allows.
        let signed = || {
            super::sigv4::sign(
                &super::sigv4::Signable {
                    method: "POST",
                    url: &self.url,
                    headers: &[("content-type", content_type)],
                    body: body.as_bytes(),
                    region: &self.region,
                    service: "sts",
                },
                source,
                &super::sigv4::amz_date_now(),
            )
        };
        let headers = signed();
        let mut all: Vec<(&str, &str)> = vec![("content-type", content_type)];
        all.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let answer = self.client.call(
            &Call { what: &what, method: "POST", url: self.url.as_str(), headers: &all, body: body.as_bytes() },
            &error_detail,
        )?;
        parse_credentials(&answer, "AssumeRole").map_err(|why| unreadable(&what, &why))
    }

    /// `AssumeRoleWithWebIdentity` with `token` (unsigned).
    pub(crate) fn assume_role_with_web_identity(&self, token: &str, role: &Role) -> Result<AwsCredentials> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "AssumeRoleWithWebIdentity")
            .append_pair("Version", "2011-06-15")
            .append_pair("RoleArn", &role.arn)
            .append_pair("RoleSessionName", &role.session_name())
            .append_pair("WebIdentityToken", token);
        if let Some(d) = role.duration_seconds {
            form.append_pair("DurationSeconds", &d.to_string());
        }
        let body = form.finish();
        let what = format!("AWS credentials: STS AssumeRoleWithWebIdentity of {} at {}", role.arn, self.url);
        let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let answer = self.client.call(
            &Call { what: &what, method: "POST", url: self.url.as_str(), headers: &headers, body: body.as_bytes() },
            &error_detail,
        )?;
        parse_credentials(&answer, "AssumeRoleWithWebIdentity").map_err(|why| unreadable(&what, &why))
    }
}

fn unreadable(what: &str, why: &str) -> Error {
    Error::Other {
        path: what.to_owned(),
        message: format!("unreadable answer: {why}"),
        remote: None,
        source: None,
    }
}

/// The code, message and request id of an STS `ErrorResponse`.
pub(crate) fn error_detail(status: u16, body: &[u8]) -> ServiceDetail {
    let mut d = ServiceDetail { status, ..Default::default() };
    let _ = crate::xml::walk(body, "ErrorResponse", &mut |path, text| {
        match path {
            [_, "Error", "Code"] => d.code = Some(truncate(text.trim(), 100)),
            [_, "Error", "Message"] => d.message = Some(truncate(text.trim(), 300)),
            [_, "RequestId"] => d.request_id = Some(truncate(text.trim(), 100)),
            _ => {}
        }
        Ok(())
    });
    d
}

/// The credentials of an `<Action>Response`.
pub(crate) fn parse_credentials(xml: &[u8], action: &str) -> std::result::Result<AwsCredentials, String> {
    let (mut key, mut secret, mut token, mut expiration) = (None, None, None, None);
    let result = format!("{action}Result");
    crate::xml::walk(xml, &format!("{action}Response"), &mut |path, text| {
        if let [_, r, "Credentials", field] = path {
            if *r == result {
                let v = Some(text.trim().to_owned());
                match *field {
                    "AccessKeyId" => key = v,
                    "SecretAccessKey" => secret = v,
                    "SessionToken" => token = v,
                    "Expiration" => expiration = v,
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    let (Some(key), Some(secret)) = (key.filter(|k| !k.is_empty()), secret.filter(|s| !s.is_empty())) else {
        return Err("no AccessKeyId and SecretAccessKey in the answer".into());
    };
    let mut creds = AwsCredentials::new(key, secret, token);
    creds.expires = match expiration {
        Some(e) => Some(
            crate::time::parse_rfc3339(&e).ok_or_else(|| format!("Expiration {e:?} is not an RFC 3339 time"))?,
        ),
        // STS always says; an hour is its default life.
        None => Some(SystemTime::now() + Duration::from_secs(3600)),
    };
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_regional_unless_told_otherwise() {
        let none = |_: &str| None;
        assert_eq!(endpoint(None, &none, "eu-west-1").0, "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(endpoint(None, &none, "cn-north-1").0, "https://sts.cn-north-1.amazonaws.com.cn");
        let legacy = |k: &str| (k == "AWS_STS_REGIONAL_ENDPOINTS").then(|| "legacy".to_owned());
        assert_eq!(endpoint(None, &legacy, "eu-west-1"), ("https://sts.amazonaws.com".into(), "us-east-1".into()));
        assert_eq!(endpoint(None, &legacy, "af-south-1").0, "https://sts.af-south-1.amazonaws.com");
        let env = |k: &str| (k == "AWS_ENDPOINT_URL_STS").then(|| "http://127.0.0.1:1".to_owned());
        assert_eq!(endpoint(None, &env, "eu-west-1"), ("http://127.0.0.1:1".into(), "eu-west-1".into()));
        assert_eq!(endpoint(Some("http://x:2"), &env, "eu-west-1").0, "http://x:2");
    }

    #[test]
    fn answers_and_errors_are_read() {
        let ok = br#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
            <Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s/+1</SecretAccessKey>
            <SessionToken>tok</SessionToken><Expiration>2026-12-01T10:32:41.936902Z</Expiration></Credentials>
            <AssumedRoleUser><Arn>arn</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"#;
        let c = parse_credentials(ok, "AssumeRole").unwrap();
        assert_eq!((c.key_id.as_str(), c.secret.as_str(), c.token.as_deref()), ("ASIA1", "s/+1", Some("tok")));
        assert!(c.expires.is_some());
        assert!(parse_credentials(ok, "AssumeRoleWithWebIdentity").is_err());
        assert!(parse_credentials(b"<AssumeRoleResponse/>", "AssumeRole").is_err());
        let err = br#"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>
            <Message>not allowed</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;
        let d = error_detail(403, err);
        assert_eq!(d.code.as_deref(), Some("AccessDenied"));
        assert_eq!(d.message.as_deref(), Some("not allowed"));
        assert_eq!(d.request_id.as_deref(), Some("r-1"));
    }
}
