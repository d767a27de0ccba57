//! Credentials: where a store's identity comes from, and how it is kept
//! fresh.
//!
//! A [`Provider`] fetches one set of [`AwsCredentials`] (from the
//! environment, a profile, a process, STS, the container or instance
//! metadata endpoint) or one Azure bearer token ([`azure::Token`], from
//! Microsoft Entra ID, a federated token, IMDS or App Service). The
//! [`cache::Cached`] in front of it is what a store
//! holds: it hands out the current credentials, refreshes them before they
//! expire (one refresh at a time, however many threads ask), keeps using
//! unexpired ones when a refresh fails and tries again later.
//!
//! Layout: `cache.rs` (the per-store cache), `http.rs` (how every identity
//! endpoint is called: short timeouts, the retry policy), `aws/` (the AWS
//! chain and its providers), `azure/` (the Azure chain's token providers).
//!
//! Nothing here ever prints a secret: [`AwsCredentials`]'s `Debug` shows
//! the key id only, errors name the provider and what the endpoint said,
//! never a request.

pub(crate) mod aws;
pub(crate) mod azure;
pub(crate) mod cache;
pub(crate) mod http;

use std::fmt;
use std::time::SystemTime;

use crate::error::Result;

/// One set of AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AwsCredentials {
    pub(crate) key_id: String,
    pub(crate) secret: String,
    pub(crate) token: Option<String>,
    /// When they stop working; `None`: never (static keys).
    pub(crate) expires: Option<SystemTime>,
}

impl AwsCredentials {
    pub(crate) fn new(key_id: String, secret: String, token: Option<String>) -> Self {
        AwsCredentials {
            key_id,
            secret,
            token: token.filter(|t| !t.is_empty()),
            expires: None,
        }
    }
}

/// The key id only: secrets and tokens are never printed.
impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("expires", &self.expires)
            .finish()
    }
}

/// Reads an environment variable: the process's, or a test's map. Unset
/// and blank are the same.
pub(crate) type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// What the cache needs to know of a credential.
pub(crate) trait Expiring: Send + Sync + 'static {
    /// Names the kind in messages.
    const WHAT: &'static str;
    /// When it stops working; `None`: never.
    fn expires(&self) -> Option<SystemTime>;
}

impl Expiring for AwsCredentials {
    const WHAT: &'static str = "AWS credentials";
    fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

/// A source of credentials.
pub(crate) trait Provider<C = AwsCredentials>: Send + Sync {
    /// Fetches a fresh set (a network call or a process, for most).
    fn fetch(&self) -> Result<C>;
}

impl<F, C> Provider<C> for F
where
    F: Fn() -> Result<C> + Send + Sync,
{
    fn fetch(&self) -> Result<C> {
        self()
    }
}
