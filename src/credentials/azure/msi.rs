//! Managed identity tokens, from the instance metadata endpoint (IMDS) or
//! the App Service / Functions identity endpoint.
//!
//! - IMDS: `GET {endpoint}?api-version=2018-02-01&resource=https://storage.azure.com/`
//!   with `Metadata: true`; a user-assigned identity by `client_id`,
//!   `object_id` or `msi_res_id`. The endpoint: the
//!   `managed_identity_endpoint` option, else `AZURE_MSI_ENDPOINT`, else
//!   `http://169.254.169.254/metadata/identity/oauth2/token`.
//! - App Service: `GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=...`
//!   with `X-IDENTITY-HEADER: $IDENTITY_HEADER`; a user-assigned identity
//!   by `client_id`, `principal_id` or `mi_res_id`.
//!
//! Both answer JSON with `access_token` and `expires_on` (unix seconds, a
//! string). Errors are JSON with `error` and `error_description`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{nothing_found, own, parse_token, Settings, Token, DEFAULT_IMDS, STORAGE_RESOURCE};
use crate::credentials::http::{json_detail, Call, Endpoint, APP_SERVICE_LIMITS, AZURE_IMDS_LIMITS};
use crate::credentials::{Env, Provider};
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

/// A managed identity's token endpoint and which identity.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Msi {
    endpoint: String,
    /// App Service's `IDENTITY_HEADER`; `None`: IMDS.
    header: Option<String>,
    /// A user-assigned identity: the query parameter and its value.
    id: Option<(&'static str, String)>,
    /// When IMDS is the chain's last step: what the others said.
    pub(super) last_resort: Option<Vec<String>>,
}

impl fmt::Debug for Msi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msi")
            .field("endpoint", &self.endpoint)
            .field("app_service", &self.header.is_some())
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The endpoint and identity the settings and the environment name.
pub(crate) fn choose(
    s: &Settings<'_>,
    env: &Env<'_>,
    client_id: Option<String>,
    last_resort: Option<Vec<String>>,
) -> Result<Msi> {
    let ids: Vec<(usize, String)> = [s.msi_client_id, s.object_id, s.msi_res_id]
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| own(v).map(|v| (i, v)))
        .collect();
    if ids.len() > 1 {
        return Err(Error::invalid_argument(
            "a managed identity is named by one of managed_identity_client_id, object_id and msi_res_id, not several",
        ));
    }
    let which = ids.into_iter().next().or_else(|| client_id.map(|c| (0, c)));
    let explicit = own(s.msi_endpoint).or_else(|| env("AZURE_MSI_ENDPOINT"));
    let app = match (&explicit, env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
        (None, Some(e), Some(h)) => Some((e, h)),
        _ => None,
    };
    let names: [&'static str; 3] =
        if app.is_some() { ["client_id", "principal_id", "mi_res_id"] } else { ["client_id", "object_id", "msi_res_id"] };
    let id = which.map(|(i, v)| (names[i], v));
    let (raw, header) = match app {
        Some((e, h)) => (e, Some(h)),
        None => (explicit.unwrap_or_else(|| DEFAULT_IMDS.to_owned()), None),
    };
    let field = "managed identity endpoint (managed_identity_endpoint, AZURE_MSI_ENDPOINT or IDENTITY_ENDPOINT)";
    let mut url = crate::endpoint::parse(field, &raw)?;
    if url.query().is_some() {
        return Err(Error::invalid_argument(format!("{field} must not have a query")));
    }
    if header.is_none() && (url.path().is_empty() || url.path() == "/") {
        url.set_path("/metadata/identity/oauth2/token");
    }
    let last_resort = if header.is_some() { None } else { last_resort };
    Ok(Msi { endpoint: url.into(), header, id, last_resort })
}

impl Msi {
    /// Its `credential_source`.
    pub(crate) fn source(&self) -> &'static str {
        if self.header.is_some() {
            "app_service"
        } else {
            "managed_identity"
        }
    }

    pub(crate) fn provider(self, http: &HttpConfig, retry: &RetryPolicy) -> Result<MsiProvider> {
        let limits = if self.header.is_some() { &APP_SERVICE_LIMITS } else { &AZURE_IMDS_LIMITS };
        let version = if self.header.is_some() { "2019-08-01" } else { "2018-02-01" };
        let mut url = format!(
            "{}?api-version={version}&resource={}",
            self.endpoint,
            enc(STORAGE_RESOURCE)
        );
        if let Some((name, value)) = &self.id {
            url.push('&');
            url.push_str(name);
            url.push('=');
            url.push_str(&enc(value));
        }
        let what = match self.header {
            Some(_) => format!("App Service managed identity endpoint {}", self.endpoint),
            None => format!("managed identity token endpoint {}", self.endpoint),
        };
        Ok(MsiProvider { client: Endpoint::new(http, limits, retry)?, url, what, msi: self, answered: AtomicBool::new(false) })
    }
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Fetches the managed identity's tokens.
pub(crate) struct MsiProvider {
    msi: Msi,
    url: String,
    what: String,
    client: Endpoint,
    answered: AtomicBool,
}

impl MsiProvider {
    fn ask(&self) -> Result<Token> {
        let headers = match &self.msi.header {
            Some(h) => [("x-identity-header", h.as_str())],
            None => [("metadata", "true")],
        };
        let call = Call { what: &self.what, method: "GET", url: &self.url, headers: &headers, body: b"" };
        let body = self.client.call(&call, &json_detail)?;
        parse_token(&body, std::time::SystemTime::now()).ok_or_else(|| Error::Other {
            path: self.what.clone(),
            message: "the answer has no access_token".into(),
            remote: None,
            source: None,
        })
    }
}

impl Provider<Token> for MsiProvider {
    fn fetch(&self) -> Result<Token> {
        match self.ask() {
            Ok(t) => {
                self.answered.store(true, Ordering::Relaxed);
                Ok(t)
            }
            // IMDS as the last resort, never answered: nothing was found.
            Err(e) => match &self.msi.last_resort {
                Some(tried) if !self.answered.load(Ordering::Relaxed) => {
                    let mut tried = tried.clone();
                    tried.push(format!("managed identity: {e}"));
                    Err(nothing_found(&tried))
                }
                _ => Err(e),
            },
        }
    }
}
