//! The Azure chain's bearer tokens, in the order of Azure Identity's
//! `DefaultAzureCredential` (after the storage account's own key, SAS or
//! connection string, which `src/azure/config.rs` handles):
//!
//! 1. a service principal's client secret: `client_id`, `tenant_id`,
//!    `client_secret` options, else `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
//!    `AZURE_CLIENT_SECRET` — `client_secret` (see `aad.rs`);
//! 2. workload identity: `federated_token_file` (else
//!    `AZURE_FEDERATED_TOKEN_FILE`) with the client and tenant, the file's
//!    token sent as a client assertion, read again for every fetch —
//!    `workload_identity`;
//! 3. managed identity, system- or user-assigned (one of
//!    `managed_identity_client_id`/`client_id`/`AZURE_CLIENT_ID`,
//!    `object_id`, `msi_res_id`): App Service / Functions when
//!    `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set — `app_service`;
//!    else the instance metadata endpoint (IMDS) — `managed_identity`
//!    (see `msi.rs`).
//!
//! `use_managed_identity=true` skips steps 1 and 2; `=false` skips step 3.
//! `AZURE_TOKEN_CREDENTIALS` (as Azure Identity reads it for
//! `DefaultAzureCredential`) may narrow the steps the environment
//! configures: `dev` leaves none of them, `prod` all three,
//! `EnvironmentCredential`, `WorkloadIdentityCredential` or
//! `ManagedIdentityCredential` only that one. A step the options ask for
//! (`client_secret`, `federated_token_file`, `use_managed_identity=true`)
//! is never excluded.
//!
//! Nothing found: [`crate::ErrorKind::PermissionDenied`], as for AWS
//! (`docs/aws-credentials.md`), listing every step. When managed identity
//! was not asked for and IMDS is the chain's last step, that error comes
//! from the first request IMDS could not give a token for (about 2 s off
//! Azure), else from open. Which step applies is decided at open, without
//! a request.

mod aad;
mod msi;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cache::Cached;
use super::{Env, Expiring};
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

/// The audience of storage tokens (IMDS and App Service take it as the
/// `resource`).
pub(crate) const STORAGE_RESOURCE: &str = "https://storage.azure.com/";
/// The same as a v2.0 scope.
pub(crate) const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
/// Microsoft Entra ID of the public cloud.
pub(crate) const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The instance metadata token endpoint.
pub(crate) const DEFAULT_IMDS: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// A bearer token for Azure Storage.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) expires: Option<SystemTime>,
}

impl Expiring for Token {
    const WHAT: &'static str = "Azure token";
    fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

/// Never the token itself.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("expires", &self.expires).finish_non_exhaustive()
    }
}

/// Reads a token answer (Entra ID, IMDS, App Service): `access_token`, and
/// `expires_on` (unix seconds) or `expires_in` (seconds), each a number or
/// a string of one. Without either, the token is used for a minute.
pub(crate) fn parse_token(body: &[u8], now: SystemTime) -> Option<Token> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let value = json.get("access_token")?.as_str()?;
    if value.is_empty() || value.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return None;
    }
    let number = |k: &str| -> Option<u64> {
        let v = json.get(k)?;
        v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
    };
    // A time past what SystemTime holds is refused, not a panic.
    let expires = match (number("expires_on"), number("expires_in")) {
        (Some(on), _) => UNIX_EPOCH.checked_add(Duration::from_secs(on))?,
        (None, Some(within)) => now.checked_add(Duration::from_secs(within))?,
        (None, None) => now + Duration::from_secs(60),
    };
    Some(Token { value: value.to_owned(), expires: Some(expires) })
}

/// What a store's configuration says about its Azure identity.
#[derive(Default)]
pub(crate) struct Settings<'a> {
    pub(crate) client_id: Option<&'a str>,
    pub(crate) tenant_id: Option<&'a str>,
    pub(crate) client_secret: Option<&'a str>,
    pub(crate) federated_token_file: Option<&'a str>,
    pub(crate) authority_host: Option<&'a str>,
    /// `Some(true)`: managed identity only; `Some(false)`: never.
    pub(crate) managed_identity: Option<bool>,
    pub(crate) msi_client_id: Option<&'a str>,
    pub(crate) object_id: Option<&'a str>,
    pub(crate) msi_res_id: Option<&'a str>,
    pub(crate) msi_endpoint: Option<&'a str>,
}

/// The provider the chain chose, before it has a transport.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Spec {
    /// Entra ID, client credentials with a secret or a federated token.
    Aad {
        /// `{authority}/{tenant}/oauth2/v2.0/token`.
        url: String,
        client_id: String,
        proof: Proof,
    },
    /// A managed identity.
    Msi(msi::Msi),
}

/// How a service principal proves itself.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Proof {
    Secret(String),
    TokenFile(PathBuf),
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Aad { url, client_id, proof } => f
                .debug_struct("Aad")
                .field("url", url)
                .field("client_id", client_id)
                .field("proof", &match proof {
                    Proof::Secret(_) => "<client secret>".into(),
                    Proof::TokenFile(p) => p.display().to_string(),
                })
                .finish(),
            Spec::Msi(m) => m.fmt(f),
        }
    }
}

impl Spec {
    /// Its `credential_source`.
    pub(crate) fn source(&self) -> &'static str {
        match self {
            Spec::Aad { proof: Proof::Secret(_), .. } => "client_secret",
            Spec::Aad { .. } => "workload_identity",
            Spec::Msi(m) => m.source(),
        }
    }

    /// What the steps before said, when this is IMDS as the chain's last
    /// step (not asked for).
    pub(crate) fn last_resort(&self) -> Option<&[String]> {
        match self {
            Spec::Msi(m) => m.last_resort.as_deref(),
            Spec::Aad { .. } => None,
        }
    }

    /// The store's token cache over this provider, calling it with the
    /// store's CA bundle and retry policy.
    pub(crate) fn cache(self, http: &HttpConfig, retry: &RetryPolicy) -> Result<Arc<Cached<Token>>> {
        let source = self.source();
        let provider: Box<dyn super::Provider<Token>> = match self {
            Spec::Aad { url, client_id, proof } => Box::new(aad::Aad::new(url, client_id, proof, http, retry)?),
            Spec::Msi(m) => Box::new(m.provider(http, retry)?),
        };
        Ok(Arc::new(Cached::new(provider, source)))
    }
}

/// Which steps `AZURE_TOKEN_CREDENTIALS` leaves: (service principal,
/// workload identity, managed identity).
fn allowed(env: &Env<'_>) -> Result<(bool, bool, bool)> {
    let Some(v) = env("AZURE_TOKEN_CREDENTIALS") else { return Ok((true, true, true)) };
    Ok(match v.trim().to_ascii_lowercase().as_str() {
        "prod" => (true, true, true),
        "dev" => (false, false, false),
        "environmentcredential" => (true, false, false),
        "workloadidentitycredential" => (false, true, false),
        "managedidentitycredential" => (false, false, true),
        _ => {
            return Err(Error::invalid_argument(format!(
                "AZURE_TOKEN_CREDENTIALS={v:?} is none of dev, prod, EnvironmentCredential, \
                 WorkloadIdentityCredential, ManagedIdentityCredential"
            )))
        }
    })
}

/// `https://host[:port]` (or `http://` to a loopback address, for tests and
/// local emulators), without a trailing `/`.
fn authority(explicit: Option<&str>, env: &Env<'_>) -> Result<String> {
    let raw = explicit.map(str::to_owned).or_else(|| env("AZURE_AUTHORITY_HOST"));
    let Some(raw) = raw else { return Ok(DEFAULT_AUTHORITY.to_owned()) };
    let bad = |why: &str| Error::invalid_argument(format!("authority host {raw:?} (authority_host / AZURE_AUTHORITY_HOST) {why}"));
    let url = crate::endpoint::parse("authority host (authority_host / AZURE_AUTHORITY_HOST)", &raw)?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(bad("has no host")),
    };
    if !(url.scheme() == "https" || url.scheme() == "http" && loopback) {
        return Err(bad("must be https (http only to a loopback address): a client secret goes to it"));
    }
    if url.query().is_some() {
        return Err(bad("must not have a query"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn own(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// No step of the whole Azure chain applied: [`Error::PermissionDenied`]
/// listing each and why.
pub(crate) fn nothing_found(tried: &[String]) -> Error {
    Error::PermissionDenied {
        path: format!(
            "no Azure credentials found (tried: {}; configure one of them, or set skip_signature=true \
             for anonymous access to a public container)",
            tried.join("; ")
        ),
        remote: None,
        source: None,
    }
}

/// Runs the token steps of the chain; `tried` says what the steps before
/// them found.
pub(crate) fn choose(s: &Settings<'_>, env: &Env<'_>, mut tried: Vec<String>) -> Result<Spec> {
    let (sp_ok, wi_ok, mi_ok) = allowed(env)?;
    let client = own(s.client_id).or_else(|| env("AZURE_CLIENT_ID"));
    let tenant = own(s.tenant_id).or_else(|| env("AZURE_TENANT_ID"));
    let aad = |proof: Proof, what: &str| -> Result<Spec> {
        let (Some(client_id), Some(tenant)) = (client.clone(), tenant.as_deref()) else {
            return Err(Error::invalid_argument(format!(
                "{what} needs client_id (AZURE_CLIENT_ID) and tenant_id (AZURE_TENANT_ID)"
            )));
        };
        if tenant.is_empty() || !tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            return Err(Error::invalid_argument(format!("tenant_id {tenant:?} is not a tenant id or domain")));
        }
        let url = format!("{}/{tenant}/oauth2/v2.0/token", authority(s.authority_host, env)?);
        Ok(Spec::Aad { url, client_id, proof })
    };
    if s.managed_identity == Some(true) {
        tried.push("service principal and workload identity: skipped, use_managed_identity=true".into());
    } else {
        let sp_ok = sp_ok || s.client_secret.is_some();
        let wi_ok = wi_ok || s.federated_token_file.is_some();
        match own(s.client_secret).or_else(|| env("AZURE_CLIENT_SECRET")) {
            Some(secret) if sp_ok => return aad(Proof::Secret(secret), "a client secret"),
            Some(_) => tried.push("service principal: excluded by AZURE_TOKEN_CREDENTIALS".into()),
            None => tried.push("service principal: no client_secret, AZURE_CLIENT_SECRET not set".into()),
        }
        match own(s.federated_token_file).or_else(|| env("AZURE_FEDERATED_TOKEN_FILE")) {
            Some(file) if wi_ok => {
                let file = super::aws::expand_path(&file, env);
                return aad(Proof::TokenFile(file), "workload identity (a federated token file)");
            }
            Some(_) => tried.push("workload identity: excluded by AZURE_TOKEN_CREDENTIALS".into()),
            None => tried.push("workload identity: AZURE_FEDERATED_TOKEN_FILE not set".into()),
        }
    }
    if s.managed_identity == Some(false) || !mi_ok && s.managed_identity != Some(true) {
        let why = if mi_ok { "use_managed_identity=false" } else { "excluded by AZURE_TOKEN_CREDENTIALS" };
        tried.push(format!("managed identity: {why}"));
        return Err(nothing_found(&tried));
    }
    let last_resort = (s.managed_identity != Some(true)).then_some(tried);
    msi::choose(s, env, client, last_resort).map(Spec::Msi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned().filter(|v| !v.is_empty())
    }

    #[test]
    fn token_expiry_from_expires_on_or_expires_in() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let body = br#"{"access_token":"tok","expires_on":"1003600","expires_in":"3599","token_type":"Bearer"}"#;
        let t = parse_token(body, now).unwrap();
        assert_eq!(t.value, "tok");
        assert_eq!(t.expires, Some(UNIX_EPOCH + Duration::from_secs(1_003_600)));
        let t = parse_token(br#"{"access_token":"t","expires_in":120}"#, now).unwrap();
        assert_eq!(t.expires, Some(now + Duration::from_secs(120)));
        assert!(parse_token(br#"{"error":"x"}"#, now).is_none());
        assert!(parse_token(b"not json", now).is_none());
        assert!(!format!("{t:?}").contains("\"t\""));
    }

    /// An expiry past what SystemTime holds (`expires_on` of 20 digits)
    /// panicked in the addition; it is refused.
    #[test]
    fn absurd_expiry_times_are_refused_not_a_panic() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for body in [
            &br#"{"access_token":"t","expires_on":18446744073709551615}"#[..],
            br#"{"access_token":"t","expires_on":"9223372036854775808"}"#,
            br#"{"access_token":"t","expires_in":18446744073709551615}"#,
        ] {
            assert!(parse_token(body, now).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn the_chain_goes_secret_then_workload_then_app_service_then_imds() {
        let none = Settings::default();
        let all = [
            ("AZURE_CLIENT_ID", "cid"),
            ("AZURE_TENANT_ID", "tid"),
            ("AZURE_CLIENT_SECRET", "s3cr3t"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41/msi/token"),
            ("IDENTITY_HEADER", "hdr"),
        ];
        let pick = |n: usize, s: &Settings<'_>| choose(s, &env_of(&all[n..]), Vec::new());
        let spec = pick(0, &none).unwrap();
        assert_eq!(spec.source(), "client_secret");
        assert!(matches!(&spec, Spec::Aad { url, .. } if url == "https://login.microsoftonline.com/tid/oauth2/v2.0/token"));
        assert!(!format!("{spec:?}").contains("s3cr3t"));
        let e = pick(1, &none).err().unwrap();
        assert!(e.to_string().contains("client_id") && !e.to_string().contains("s3cr3t"), "{e}");
        let env = env_of(&[all[0], all[1], all[3], all[4], all[5]]);
        assert_eq!(choose(&none, &env, Vec::new()).unwrap().source(), "workload_identity");
        assert_eq!(pick(4, &none).unwrap().source(), "app_service");
        let imds = pick(6, &none).unwrap();
        assert_eq!(imds.source(), "managed_identity");
        // use_managed_identity=true skips the service principal.
        let mi = Settings { managed_identity: Some(true), ..Settings::default() };
        assert_eq!(pick(0, &mi).unwrap().source(), "app_service");
        let off = Settings { managed_identity: Some(false), ..Settings::default() };
        let e = pick(6, &off).err().unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied);
        for part in ["no Azure credentials found", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
            "use_managed_identity=false", "skip_signature"] {
            assert!(e.to_string().contains(part), "{part}: {e}");
        }
        let dev = env_of(&[("AZURE_TOKEN_CREDENTIALS", "dev"), all[2]]);
        assert_eq!(choose(&none, &dev, Vec::new()).err().unwrap().kind(), crate::ErrorKind::PermissionDenied);
        let only_mi = env_of(&[("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential"), all[0], all[1], all[2]]);
        assert_eq!(choose(&none, &only_mi, Vec::new()).unwrap().source(), "managed_identity");
    }

    #[test]
    fn authority_hosts_are_https_or_loopback_http() {
        let none = |_: &str| None;
        assert_eq!(authority(None, &none).unwrap(), DEFAULT_AUTHORITY);
        assert_eq!(authority(Some("https://login.microsoftonline.us/"), &none).unwrap(), "https://login.microsoftonline.us");
        assert_eq!(authority(Some("http://127.0.0.1:8080"), &none).unwrap(), "http://127.0.0.1:8080");
        assert!(authority(Some("http://login.example.com"), &none).is_err());
        assert!(authority(Some("login.microsoftonline.com"), &none).is_err());
        let s = Settings { client_secret: Some("x"), client_id: Some("c"), tenant_id: Some("t/../x"), ..Settings::default() };
        assert!(choose(&s, &none, Vec::new()).is_err());
    }
}
