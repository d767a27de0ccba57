//! Container credentials (ECS task roles, EKS Pod Identity): a GET of a
//! local endpoint that answers JSON
//! `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (errors:
//! `{"code", "message"}`).
//!
//! - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`: a path on
//!   `http://169.254.170.2` (ECS).
//! - else `AWS_CONTAINER_CREDENTIALS_FULL_URI`: any `https` URL, or an
//!   `http` one whose host is a loopback address, the ECS address
//!   169.254.170.2, or the EKS Pod Identity addresses 169.254.170.23 and
//!   `fd00:ec2::23` (a host name must resolve only to such addresses).
//!   Anything else is refused at open ([`crate::ErrorKind::InvalidArgument`]):
//!   credentials are never sent to an arbitrary plain-HTTP host.
//! - The `Authorization` header: the contents of
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read again for every fetch;
//!   EKS rotates it), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::PathBuf;

use super::Env;
use crate::credentials::http::{json_detail, Call, Endpoint, ECS_LIMITS};
use crate::credentials::{AwsCredentials, Provider};
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

/// The ECS agent's credentials host.
pub(crate) const ECS_HOST: &str = "http://169.254.170.2";

/// The container credentials endpoint.
pub(crate) struct Ecs {
    url: String,
    token: Option<String>,
    token_file: Option<PathBuf>,
    client: Endpoint,
}

impl std::fmt::Debug for Ecs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ecs").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Hosts a plain-HTTP full URI may name.
fn allowed(ip: IpAddr) -> bool {
    ip.is_loopback()
        || ip == IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2))
        || ip == IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23))
        || ip == IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23))
}

/// Why `url` may not be a full URI, if it may not.
fn check_full_uri(url: &url::Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => return Ok(()),
        "http" => {}
        other => return Err(format!("scheme {other} (http or https only)")),
    }
    let ok = match url.host() {
        Some(url::Host::Ipv4(ip)) => allowed(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => allowed(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let addrs: Vec<_> = (name, url.port_or_known_default().unwrap_or(80))
                .to_socket_addrs()
                .map_err(|e| format!("host {name} does not resolve: {e}"))?
                .collect();
            !addrs.is_empty() && addrs.iter().all(|a| allowed(a.ip()))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err("plain http to a host that is not loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23".into())
    }
}

impl Ecs {
    /// The endpoint the environment configures, if it configures one.
    pub(crate) fn from_env(env: &Env<'_>, http: &HttpConfig, retry: &RetryPolicy) -> Option<Result<Ecs>> {
        let url = if let Some(rel) = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let sep = if rel.starts_with('/') { "" } else { "/" };
            format!("{ECS_HOST}{sep}{rel}")
        } else {
            let full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI")?;
            let checked = crate::endpoint::parse("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full)
                .map_err(|e| e.to_string())
                .and_then(|u| check_full_uri(&u));
            if let Err(why) = checked {
                return Some(Err(Error::invalid_argument(format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI {full:?} is refused: {why}"
                ))));
            }
            full
        };
        let token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(PathBuf::from);
        let token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        Some(Endpoint::new(http, &ECS_LIMITS, retry).map(|client| Ecs { url, token, token_file, client }))
    }

    /// The `Authorization` value, if any.
    fn authorization(&self) -> Result<Option<String>> {
        let token = match &self.token_file {
            Some(file) => Some(super::web_identity::read_token(file, "container authorization")?),
            None => self.token.clone(),
        };
        match token {
            Some(t) if t.chars().any(|c| c.is_control()) => Err(Error::invalid_argument(
                "the container authorization token contains a control character",
            )),
            other => Ok(other),
        }
    }
}

impl Provider for Ecs {
    fn fetch(&self) -> Result<AwsCredentials> {
        let what = format!("AWS credentials: container endpoint {}", self.url);
        let auth = self.authorization()?;
        let mut headers = vec![("accept", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let body = self.client.call(
            &Call { what: &what, method: "GET", url: &self.url, headers: &headers, body: b"" },
            &json_detail,
        )?;
        parse(&body).map_err(|why| Error::Other {
            path: what,
            message: format!("unreadable answer: {why}"),
            remote: None,
            source: None,
        })
    }
}

/// The credentials of a container (or instance metadata) answer.
pub(crate) fn parse(body: &[u8]) -> std::result::Result<AwsCredentials, String> {
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    if let Some(code) = json.get("Code").and_then(|v| v.as_str()).filter(|c| *c != "Success") {
        return Err(format!("Code {code:?}"));
    }
    from_fields(&json, "Token")
}

/// `AccessKeyId`, `SecretAccessKey`, the token under `token_field` and an
/// RFC 3339 `Expiration` of a JSON credentials document (the container and
/// instance endpoints' and credential_process's, which names its token
/// `SessionToken`).
pub(crate) fn from_fields(json: &serde_json::Value, token_field: &str) -> std::result::Result<AwsCredentials, String> {
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned);
    let key = text("AccessKeyId").ok_or("no AccessKeyId")?;
    let secret = text("SecretAccessKey").ok_or("no SecretAccessKey")?;
    let mut creds = AwsCredentials::new(key, secret, text(token_field));
    if let Some(e) = text("Expiration") {
        creds.expires =
            Some(crate::time::parse_rfc3339(&e).ok_or_else(|| format!("Expiration {e:?} is not an RFC 3339 time"))?);
    }
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uris_must_be_https_or_a_local_host() {
        for ok in ["https://creds.example.com/x", "http://127.0.0.1:8080/c", "http://[::1]/c",
            "http://169.254.170.2/v2", "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1",
            "http://localhost:9/c", "http://127.9.9.9/"] {
            assert!(check_full_uri(&ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["http://10.0.0.1/c", "http://169.254.169.254/", "ftp://127.0.0.1/", "http://[fd00:ec2::24]/"] {
            assert!(check_full_uri(&bad.parse().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_uris_go_to_the_ecs_host_and_full_ones_are_checked_at_open() {
        let rel = |k: &str| (k == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").then(|| "/v2/creds/x".to_owned());
        let ecs = Ecs::from_env(&rel, &HttpConfig::default(), &RetryPolicy::default()).unwrap().unwrap();
        assert_eq!(ecs.url, "http://169.254.170.2/v2/creds/x");
        let full = |k: &str| (k == "AWS_CONTAINER_CREDENTIALS_FULL_URI").then(|| "http://192.0.2.1/c".to_owned());
        let e = Ecs::from_env(&full, &HttpConfig::default(), &RetryPolicy::default()).unwrap().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(Ecs::from_env(&|_: &str| None, &HttpConfig::default(), &RetryPolicy::default()).is_none());
    }
}
