//! EC2 instance metadata (IMDSv2): `PUT /latest/api/token` (with the
//! `X-aws-ec2-metadata-token-ttl-seconds` header) for a session token,
//! then, with that token in `X-aws-ec2-metadata-token`,
//! `GET /latest/meta-data/iam/security-credentials/` for the role's name
//! and `GET .../security-credentials/<role>` for its credentials (JSON
//! like the container endpoint's, with `"Code": "Success"`). The region is
//! `GET /latest/meta-data/placement/region`.
//!
//! The endpoint: the `imds_endpoint` option, else
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://[fd00:ec2::254]` when
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`, else
//! `http://169.254.169.254`. Every call has a 1 s connect timeout, a 1 s
//! answer timeout and one retry (see `IMDS_LIMITS`), so a machine that is
//! not on EC2 learns it in about 2 s. IMDSv1 (no token) is not used.

use super::Env;
use crate::credentials::http::{json_detail, Call, Endpoint, IMDS_LIMITS};
use crate::credentials::{AwsCredentials, Provider};
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

const TOKEN_TTL_SECONDS: &str = "21600";

/// The instance metadata endpoint.
pub(crate) struct Imds {
    base: String,
    client: Endpoint,
}

impl std::fmt::Debug for Imds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imds").field("base", &self.base).finish_non_exhaustive()
    }
}

/// Whether `AWS_EC2_METADATA_DISABLED` turns IMDS off.
pub(crate) fn disabled(env: &Env<'_>) -> bool {
    env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The endpoint's base URL, without a trailing `/`.
pub(crate) fn base_url(explicit: Option<&str>, env: &Env<'_>) -> String {
    let url = explicit
        .map(str::to_owned)
        .or_else(|| env("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
        .unwrap_or_else(|| {
            let v6 = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").is_some_and(|m| m.eq_ignore_ascii_case("ipv6"));
            if v6 { "http://[fd00:ec2::254]" } else { "http://169.254.169.254" }.to_owned()
        });
    url.trim_end_matches('/').to_owned()
}

impl Imds {
    pub(crate) fn new(base: String, http: &HttpConfig, retry: &RetryPolicy) -> Result<Self> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid_argument(format!("the instance metadata endpoint {base:?} is not an http URL")));
        }
        Ok(Imds { client: Endpoint::new(http, &IMDS_LIMITS, retry)?, base })
    }

    fn what(&self) -> String {
        format!("AWS credentials: instance metadata at {}", self.base)
    }

    fn token(&self) -> Result<String> {
        let what = self.what();
        let url = format!("{}/latest/api/token", self.base);
        let headers = [("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS)];
        let body = self.client.call(
            &Call { what: &what, method: "PUT", url: &url, headers: &headers, body: b"" },
            &json_detail,
        )?;
        let token = String::from_utf8_lossy(&body).trim().to_owned();
        if token.is_empty() || token.chars().any(|c| c.is_control()) {
            return Err(Error::Other { path: what, message: "unusable session token".into(), remote: None, source: None });
        }
        Ok(token)
    }

    fn get(&self, token: &str, path: &str) -> Result<String> {
        let what = self.what();
        let url = format!("{}{path}", self.base);
        let headers = [("x-aws-ec2-metadata-token", token)];
        let body = self.client.call(
            &Call { what: &what, method: "GET", url: &url, headers: &headers, body: b"" },
            &json_detail,
        )?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// The instance's region.
    pub(crate) fn region(&self) -> Result<String> {
        let token = self.token()?;
        let region = self.get(&token, "/latest/meta-data/placement/region")?;
        let region = region.trim();
        if region.is_empty() || !region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(Error::Other { path: self.what(), message: "no usable region".into(), remote: None, source: None });
        }
        Ok(region.to_owned())
    }
}

impl Provider for Imds {
    fn fetch(&self) -> Result<AwsCredentials> {
        let token = self.token()?;
        let list = self.get(&token, "/latest/meta-data/iam/security-credentials/")?;
        let Some(role) = list.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(Error::PermissionDenied {
                path: self.what(),
                remote: None,
                source: Some("the instance has no IAM role attached".into()),
            });
        };
        let role: String = url::form_urlencoded::byte_serialize(role.as_bytes()).collect();
        let body = self.get(&token, &format!("/latest/meta-data/iam/security-credentials/{role}"))?;
        super::ecs::parse(body.as_bytes()).map_err(|why| Error::Other {
            path: self.what(),
            message: format!("unreadable credentials: {why}"),
            remote: None,
            source: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_comes_from_the_option_the_environment_or_the_default() {
        let none = |_: &str| None;
        assert_eq!(base_url(None, &none), "http://169.254.169.254");
        assert_eq!(base_url(Some("http://127.0.0.1:5/"), &none), "http://127.0.0.1:5");
        let v6 = |k: &str| (k == "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").then(|| "IPv6".to_owned());
        assert_eq!(base_url(None, &v6), "http://[fd00:ec2::254]");
        let env = |k: &str| (k == "AWS_EC2_METADATA_SERVICE_ENDPOINT").then(|| "http://10.0.0.1:80".to_owned());
        assert_eq!(base_url(None, &env), "http://10.0.0.1:80");
        let off = |k: &str| (k == "AWS_EC2_METADATA_DISABLED").then(|| "TRUE".to_owned());
        assert!(disabled(&off) && !disabled(&none));
    }
}
