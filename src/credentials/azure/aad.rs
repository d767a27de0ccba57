//! Microsoft Entra ID (Azure AD) v2.0 client credentials: a form POST to
//! `{authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`,
//! `client_id` and `scope=https://storage.azure.com/.default`, proved by
//! `client_secret` (a service principal) or by `client_assertion` with the
//! `jwt-bearer` assertion type (workload identity: the federated token the
//! orchestrator writes to a file, read again for every fetch as it is
//! rotated). The answer is JSON (`access_token`, `expires_in`); an error
//! is JSON whose `error` and `error_description` the error shows (never
//! the request, which holds the secret).

use std::time::SystemTime;

use super::{parse_token, Proof, Token, STORAGE_SCOPE};
use crate::credentials::aws::web_identity::read_token;
use crate::credentials::http::{json_detail, Call, Endpoint, AAD_LIMITS};
use crate::credentials::Provider;
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::retry::RetryPolicy;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// One service principal at one token endpoint.
pub(crate) struct Aad {
    url: String,
    client_id: String,
    proof: Proof,
    what: String,
    client: Endpoint,
}

impl Aad {
    pub(crate) fn new(url: String, client_id: String, proof: Proof, http: &HttpConfig, retry: &RetryPolicy) -> Result<Self> {
        let kind = match proof {
            Proof::Secret(_) => "client secret",
            Proof::TokenFile(_) => "workload identity",
        };
        Ok(Aad {
            what: format!("Azure {kind} token endpoint {url}"),
            client: Endpoint::new(http, &AAD_LIMITS, retry)?,
            url,
            client_id,
            proof,
        })
    }
}

impl Provider<Token> for Aad {
    fn fetch(&self) -> Result<Token> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", STORAGE_SCOPE);
        match &self.proof {
            Proof::Secret(s) => form.append_pair("client_secret", s),
            Proof::TokenFile(f) => form
                .append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_assertion", &read_token(f, "workload identity")?),
        };
        let body = form.finish();
        let headers = [("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")];
        let call = Call { what: &self.what, method: "POST", url: &self.url, headers: &headers, body: body.as_bytes() };
        let answer = self.client.call(&call, &json_detail)?;
        parse_token(&answer, SystemTime::now()).ok_or_else(|| Error::Other {
            path: self.what.clone(),
            message: "the answer has no access_token".into(),
            remote: None,
            source: None,
        })
    }
}
