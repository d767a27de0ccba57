//! Azure Blob configuration: explicit fields, connection strings, the
//! `AZURE_STORAGE_*` environment fallbacks, and the precedence between the
//! four ways to authenticate.

use std::fmt;
use crate::checksum::ChecksumAlgorithm;
use std::path::PathBuf;

use base64::Engine as _;
use url::Url;

use crate::credentials::azure::Spec;
use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::remote::{
    DEFAULT_COALESCE_GAP, DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_DOWNLOAD_PARALLEL_BELOW,
    DEFAULT_DOWNLOAD_PART_SIZE, DEFAULT_DOWNLOAD_THRESHOLD,
};
use crate::retry::RetryPolicy;

/// Uploads of a known size below this go as one Put Blob. 32 MiB.
pub const DEFAULT_SINGLE_PUT_THRESHOLD: u64 = 32 * 1024 * 1024;
/// Size of every staged block but the last. 8 MiB.
pub const DEFAULT_BLOCK_SIZE: u64 = 8 * 1024 * 1024;
/// Blocks (and batch requests) in flight at once.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 8;
/// Azure's limit on one staged block (4,000 MiB).
pub const MAX_BLOCK_SIZE: u64 = 4000 * 1024 * 1024;
/// Azure's limit on committed blocks per blob.
pub const MAX_BLOCKS: u32 = 50_000;
/// Azure's limit on the results of one List Blobs request.
pub const MAX_LIST_PAGE_SIZE: u32 = 5000;
/// Azure's limit on one Put Blob (5,000 MiB).
pub const MAX_SINGLE_PUT_SIZE: u64 = 5000 * 1024 * 1024;

/// The account of the Azurite / storage-emulator development store.
pub(crate) const DEV_ACCOUNT: &str = "devstoreaccount1";
/// The well-known, public development key of that account (published in
/// Microsoft's Azurite documentation; not a secret).
pub(crate) const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Azurite's default blob endpoint.
const DEV_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// The instance-metadata (IMDS) token endpoint a managed identity uses.
pub const DEFAULT_IMDS_ENDPOINT: &str = crate::credentials::azure::DEFAULT_IMDS;

/// Environment variables read when the configuration leaves a field empty.
pub mod env {
    /// A full connection string.
    pub const CONNECTION_STRING: &str = "AZURE_STORAGE_CONNECTION_STRING";
    /// The storage account name.
    pub const ACCOUNT: &str = "AZURE_STORAGE_ACCOUNT";
    /// The storage account key.
    pub const KEY: &str = "AZURE_STORAGE_KEY";
    /// A SAS token.
    pub const SAS_TOKEN: &str = "AZURE_STORAGE_SAS_TOKEN";
    /// The client id of a service principal, a workload identity or a
    /// user-assigned managed identity.
    pub const CLIENT_ID: &str = "AZURE_CLIENT_ID";
    /// The tenant of a service principal or workload identity.
    pub const TENANT_ID: &str = "AZURE_TENANT_ID";
    /// A service principal's client secret.
    pub const CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
    /// The file of a workload identity's federated token.
    pub const FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
    /// Microsoft Entra ID's host (default `https://login.microsoftonline.com`).
    pub const AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
    /// The managed-identity token endpoint (as object_store names it).
    pub const MSI_ENDPOINT: &str = "AZURE_MSI_ENDPOINT";
    /// App Service / Functions: the identity endpoint, with
    /// [`IDENTITY_HEADER`].
    pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
    /// App Service / Functions: the header value proving the caller.
    pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
    /// Narrows the token steps of the chain as Azure Identity does (`dev`,
    /// `prod`, `EnvironmentCredential`, `WorkloadIdentityCredential`,
    /// `ManagedIdentityCredential`).
    pub const TOKEN_CREDENTIALS: &str = "AZURE_TOKEN_CREDENTIALS";
    /// A PEM file of CA certificates to trust instead of the system CA store.
    pub const CA_BUNDLE: &str = "BLOBIO_CA_BUNDLE";
}

/// Configuration of an [`super::AzureBlobBackend`].
///
/// Credentials (the chain, `docs/azure-credentials.md`): `skip_signature`
/// (anonymous); else a connection string; else `account_name` +
/// `sas_token`; else `account_name` + `account_key`; else a bearer token
/// from Microsoft Entra ID: a service principal's `client_secret`, a
/// workload identity's `federated_token_file`, a managed identity (App
/// Service's endpoint, else IMDS). When none of the explicit credential
/// fields (`connection_string`, `sas_token`, `account_key`,
/// `client_secret`, `federated_token_file`, `use_managed_identity=true`,
/// `skip_signature`) is set, `AZURE_STORAGE_CONNECTION_STRING`,
/// `AZURE_STORAGE_SAS_TOKEN` and `AZURE_STORAGE_KEY` come first, in that
/// order, then the `AZURE_*` identity variables. An empty `account_name`
/// falls back to `AZURE_STORAGE_ACCOUNT` either way. Explicit credentials
/// therefore always win over the environment.
///
/// `Debug` never shows the key, the SAS token, a client secret or a
/// connection string.
#[derive(Clone)]
pub struct AzureBlobConfig {
    /// A storage connection string (`AccountName=...;AccountKey=...`,
    /// `BlobEndpoint=...;SharedAccessSignature=...`,
    /// `UseDevelopmentStorage=true`, ...).
    pub connection_string: Option<String>,
    /// Storage account name.
    pub account_name: Option<String>,
    /// Storage account key (base64), for Shared Key signing.
    pub account_key: Option<String>,
    /// A SAS token (with or without its leading `?`).
    pub sas_token: Option<String>,
    /// Send requests unsigned (anonymous access to a public container),
    /// whatever the other fields and the environment say.
    pub skip_signature: bool,
    /// The client id of a service principal or workload identity (and of
    /// a user-assigned managed identity when
    /// `managed_identity_client_id` is not set); falls back to
    /// `AZURE_CLIENT_ID`.
    pub client_id: Option<String>,
    /// The tenant (directory) id of the service principal or workload
    /// identity; falls back to `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// A service principal's client secret; falls back to
    /// `AZURE_CLIENT_SECRET`.
    pub client_secret: Option<String>,
    /// A workload identity's federated token file (read again for every
    /// token); falls back to `AZURE_FEDERATED_TOKEN_FILE`.
    pub federated_token_file: Option<String>,
    /// Microsoft Entra ID's host; falls back to `AZURE_AUTHORITY_HOST`,
    /// then `https://login.microsoftonline.com`. https, or http to a
    /// loopback address only.
    pub authority_host: Option<String>,
    /// `Some(true)`: a managed identity's token and nothing else of the
    /// chain (no service principal, no workload identity); `Some(false)`:
    /// never a managed identity; `None` (default): a managed identity as
    /// the chain's last step.
    pub use_managed_identity: Option<bool>,
    /// Client id of a user-assigned managed identity; falls back to
    /// `client_id`, then `AZURE_CLIENT_ID`. None (and no `object_id` or
    /// `msi_res_id`) uses the system-assigned identity.
    pub managed_identity_client_id: Option<String>,
    /// Object (principal) id of a user-assigned managed identity.
    pub object_id: Option<String>,
    /// Azure resource id of a user-assigned managed identity.
    pub msi_res_id: Option<String>,
    /// The token endpoint of the managed identity; falls back to
    /// `AZURE_MSI_ENDPOINT`, then [`DEFAULT_IMDS_ENDPOINT`]. A URL without a
    /// path gets IMDS's `/metadata/identity/oauth2/token`.
    pub managed_identity_endpoint: Option<String>,
    /// Container name (required).
    pub container_name: String,
    /// Blob service endpoint. Default `https://<account>.blob.core.windows.net`
    /// (or what the connection string says). A path-style endpoint such as
    /// Azurite's `http://127.0.0.1:10000/devstoreaccount1` works too.
    pub endpoint: Option<String>,
    /// Timeouts and TLS roots. An empty `ca_bundle` falls back to
    /// `BLOBIO_CA_BUNDLE`.
    pub http: HttpConfig,
    /// Uploads of a known size below this go as one Put Blob; larger and
    /// unknown-size ones as staged blocks. Default 32 MiB, at most 5,000 MiB.
    pub single_put_threshold: u64,
    /// Size of every staged block but the last. Default 8 MiB, at most
    /// 4,000 MiB (a blob has at most 50,000 blocks).
    pub block_size: u64,
    /// Blocks in flight at once per upload (and batch-delete requests at
    /// once), 1 to [`crate::remote::MAX_CONCURRENCY`]. Memory held by an
    /// upload is about `block_size` times this. Default 8.
    pub upload_concurrency: usize,
    /// Reads (`read`, `read_to`, `read_to_at` and their checked variants)
    /// of more than this many bytes fetch ranges in parallel (reads to a
    /// writer as `download_parallel_below` says). Default 32 MiB.
    pub download_threshold: u64,
    /// Bytes per range of a parallel read (at least 1). Default 8 MiB.
    pub download_part_size: u64,
    /// Ranges of one read in flight at once (at least 1); memory held by a
    /// read is about `download_part_size` times this plus one. Default 4.
    /// The store's worker pool has as many threads as the larger of this
    /// and `upload_concurrency`, started on first use.
    pub download_concurrency: usize,
    /// Reads to a writer (`read_to`, `read_to_at` and their checked
    /// variants) of more than `download_threshold` bytes fetch the rest in
    /// parallel ranges only when the first answer arrives slower than this
    /// many bytes per second (time waiting on the network only); faster,
    /// the rest comes as one more request, since ranges ahead of the writer
    /// cost a copy and memory that one fast connection does not need. 0:
    /// always parallel. `read` into memory is always parallel above the
    /// threshold (its ranges land in place). Default 256 MiB/s.
    pub download_parallel_below: u64,
    /// `read_ranges`: ranges closer than this many bytes are read in one
    /// request (the bytes between are fetched and dropped), as long as it
    /// stays within `download_part_size`. 0: only touching ranges merge.
    /// Default 1 MiB.
    pub coalesce_gap: u64,
    /// What uploads send so that Azure refuses damaged bytes. Azure
    /// carries only MD5 and CRC-64: [`ChecksumAlgorithm::Md5`] sends
    /// `Content-MD5` with Put Blob and every Put Block and gives the blob
    /// its MD5 at Put Block List (computed as the blocks are read);
    /// [`ChecksumAlgorithm::Crc64Nvme`] sends `x-ms-content-crc64`. The
    /// default, [`ChecksumAlgorithm::Crc32c`], and `Sha256` have no Azure
    /// header and send nothing. Reads check the MD5 Azure keeps of a blob
    /// (it computes one for every Put Blob) unless this is
    /// [`ChecksumAlgorithm::None`].
    pub checksum: ChecksumAlgorithm,
    /// Blobs asked for per List Blobs request (`maxresults`), 1 to 5,000.
    /// Default 5,000, Azure's maximum.
    pub list_page_size: u32,
    /// Blob-name prefix under which this store lives (normalised as S3's
    /// prefix is, by [`crate::sanitize_s3_prefix`]): keys, listings and
    /// `storage_root` are relative to it. Default empty.
    pub prefix: String,
    /// Retries of failed requests, blocks and ranges; the budget of one
    /// call. Default: 3 retries from 100 ms up to 5 s, within 180 s.
    pub retry: RetryPolicy,
}

impl AzureBlobConfig {
    /// A configuration for `container` with every other field at its
    /// default (credentials from the environment).
    pub fn new(container: impl Into<String>) -> Self {
        AzureBlobConfig {
            container_name: container.into(),
            ..Default::default()
        }
    }

    /// A configuration for `container` from a connection string.
    pub fn from_connection_string(
        connection_string: impl Into<String>,
        container: impl Into<String>,
    ) -> Self {
        AzureBlobConfig {
            connection_string: Some(connection_string.into()),
            ..Self::new(container)
        }
    }

    /// A configuration for `container` signed with an account key.
    pub fn with_shared_key(
        account: impl Into<String>,
        key: impl Into<String>,
        container: impl Into<String>,
    ) -> Self {
        AzureBlobConfig {
            account_name: Some(account.into()),
            account_key: Some(key.into()),
            ..Self::new(container)
        }
    }

    /// A configuration for `container` authorised by a SAS token.
    pub fn with_sas(
        account: impl Into<String>,
        sas_token: impl Into<String>,
        container: impl Into<String>,
    ) -> Self {
        AzureBlobConfig {
            account_name: Some(account.into()),
            sas_token: Some(sas_token.into()),
            ..Self::new(container)
        }
    }

    /// A configuration for `container` authorised by the managed identity.
    pub fn with_managed_identity(account: impl Into<String>, container: impl Into<String>) -> Self {
        AzureBlobConfig {
            account_name: Some(account.into()),
            use_managed_identity: Some(true),
            ..Self::new(container)
        }
    }
}

impl Default for AzureBlobConfig {
    fn default() -> Self {
        AzureBlobConfig {
            connection_string: None,
            account_name: None,
            account_key: None,
            sas_token: None,
            skip_signature: false,
            client_id: None,
            tenant_id: None,
            client_secret: None,
            federated_token_file: None,
            authority_host: None,
            use_managed_identity: None,
            managed_identity_client_id: None,
            object_id: None,
            msi_res_id: None,
            managed_identity_endpoint: None,
            container_name: String::new(),
            endpoint: None,
            http: HttpConfig::default(),
            single_put_threshold: DEFAULT_SINGLE_PUT_THRESHOLD,
            block_size: DEFAULT_BLOCK_SIZE,
            upload_concurrency: DEFAULT_UPLOAD_CONCURRENCY,
            download_threshold: DEFAULT_DOWNLOAD_THRESHOLD,
            download_part_size: DEFAULT_DOWNLOAD_PART_SIZE,
            download_concurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
            download_parallel_below: DEFAULT_DOWNLOAD_PARALLEL_BELOW,
            coalesce_gap: DEFAULT_COALESCE_GAP,
            checksum: ChecksumAlgorithm::default(),
            list_page_size: MAX_LIST_PAGE_SIZE,
            prefix: String::new(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Secrets are never printed.
impl fmt::Debug for AzureBlobConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("AzureBlobConfig")
            .field("connection_string", &set(&self.connection_string))
            .field("account_name", &self.account_name)
            .field("account_key", &set(&self.account_key))
            .field("sas_token", &set(&self.sas_token))
            .field("skip_signature", &self.skip_signature)
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("client_secret", &set(&self.client_secret))
            .field("federated_token_file", &self.federated_token_file)
            .field("authority_host", &self.authority_host)
            .field("use_managed_identity", &self.use_managed_identity)
            .field(
                "managed_identity_client_id",
                &self.managed_identity_client_id,
            )
            .field("object_id", &self.object_id)
            .field("msi_res_id", &self.msi_res_id)
            .field("managed_identity_endpoint", &self.managed_identity_endpoint)
            .field("container_name", &self.container_name)
            .field("endpoint", &self.endpoint)
            .field("http", &self.http)
            .field("single_put_threshold", &self.single_put_threshold)
            .field("block_size", &self.block_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("download_threshold", &self.download_threshold)
            .field("download_part_size", &self.download_part_size)
            .field("download_concurrency", &self.download_concurrency)
            .field("download_parallel_below", &self.download_parallel_below)
            .field("coalesce_gap", &self.coalesce_gap)
            .field("checksum", &self.checksum)
            .field("list_page_size", &self.list_page_size)
            .field("prefix", &self.prefix)
            .field("retry", &self.retry)
            .finish()
    }
}

/// How requests are authorised, after precedence and fallbacks.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// Shared Key: the decoded account key.
    SharedKey(Vec<u8>),
    /// A SAS token, without its leading `?`.
    Sas(String),
    /// No authorisation at all (`skip_signature`).
    Anonymous,
    /// Bearer tokens from this provider.
    Token(Spec),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::SharedKey(_) => f.write_str("SharedKey(<redacted>)"),
            Credential::Sas(_) => f.write_str("Sas(<redacted>)"),
            Credential::Anonymous => f.write_str("Anonymous"),
            Credential::Token(spec) => spec.fmt(f),
        }
    }
}

impl Credential {
    /// Which provider of the chain: `credential_source` in config_json.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Credential::SharedKey(_) => "shared_key",
            Credential::Sas(_) => "sas",
            Credential::Anonymous => "anonymous",
            Credential::Token(spec) => spec.source(),
        }
    }
}

/// A configuration with precedence and fallbacks applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Account name (may be empty for a SAS-only connection string whose
    /// endpoint does not name the account).
    pub(crate) account: String,
    /// Blob service endpoint, without a trailing `/`.
    pub(crate) endpoint: Url,
    pub(crate) credential: Credential,
    /// CA bundle after the environment fallback.
    pub(crate) ca_bundle: Option<PathBuf>,
}

/// The message of a configuration that names no account.
const NO_ACCOUNT: &str = "Azure Blob needs a storage account: set account_name (or \
     AZURE_STORAGE_ACCOUNT), a connection_string, or an endpoint naming it";

/// Where values come from: the process environment, or a map in tests.
pub(crate) trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment; empty values count as unset.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Applies precedence and fallbacks to `cfg`: the chain's storage steps
/// here, its token steps in `src/credentials/azure/`.
pub(crate) fn resolve(cfg: &AzureBlobConfig, env: &dyn Env) -> Result<Resolved> {
    let explicit_cs = non_empty(&cfg.connection_string);
    let explicit_sas = non_empty(&cfg.sas_token);
    let explicit_key = non_empty(&cfg.account_key);
    let explicit_any = explicit_cs.is_some()
        || explicit_sas.is_some()
        || explicit_key.is_some()
        || non_empty(&cfg.client_secret).is_some()
        || non_empty(&cfg.federated_token_file).is_some()
        || cfg.use_managed_identity == Some(true)
        || cfg.skip_signature;
    let (cs, sas, key) = if explicit_any {
        (explicit_cs, explicit_sas, explicit_key)
    } else {
        (
            env.get(env::CONNECTION_STRING),
            env.get(env::SAS_TOKEN),
            env.get(env::KEY),
        )
    };
    let account = non_empty(&cfg.account_name).or_else(|| env.get(env::ACCOUNT));
    let explicit_endpoint = match non_empty(&cfg.endpoint) {
        Some(e) => Some(parse_endpoint("endpoint", &e)?),
        None => None,
    };
    let ca_bundle = cfg
        .http
        .ca_bundle
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(|| env.get(env::CA_BUNDLE).map(PathBuf::from));

    let (account, endpoint, credential) = match cs {
        Some(cs) if !cfg.skip_signature => {
            let parsed = parse_connection_string(&cs)?;
            let account = match (&parsed.account, account) {
                (Some(a), _) => a.clone(),
                (None, Some(a)) => a,
                (None, None) => parsed
                    .endpoint
                    .as_ref()
                    .map(account_from_endpoint)
                    .unwrap_or_default(),
            };
            let endpoint = match explicit_endpoint.or(parsed.endpoint) {
                Some(e) => e,
                None => default_endpoint(
                    &account,
                    parsed.protocol.as_deref(),
                    parsed.suffix.as_deref(),
                )?,
            };
            (account, endpoint, parsed.credential)
        }
        _ => {
            let account = account
                .or_else(|| explicit_endpoint.as_ref().map(account_from_endpoint))
                .filter(|a| !a.is_empty())
                .ok_or_else(|| Error::invalid_argument(NO_ACCOUNT))?;
            let endpoint = match explicit_endpoint {
                Some(e) => e,
                None => default_endpoint(&account, None, None)?,
            };
            let credential = if cfg.skip_signature {
                Credential::Anonymous
            } else if let Some(sas) = sas {
                Credential::Sas(clean_sas("sas_token", &sas)?)
            } else if let Some(key) = key {
                Credential::SharedKey(decode_key("account_key", &key)?)
            } else {
                token(cfg, env, explicit_any, endpoint.scheme() == "https")?
            };
            (account, endpoint, credential)
        }
    };
    Ok(Resolved {
        account,
        endpoint,
        credential,
        ca_bundle,
    })
}

fn t(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The chain's token steps, after the storage ones found nothing. A
/// bearer token is as good as a key for an hour: never sent over http
/// (Azure and Azurite refuse it there anyway).
fn token(cfg: &AzureBlobConfig, env: &dyn Env, explicit_any: bool, https: bool) -> Result<Credential> {
    use crate::credentials::azure as chain;
    let mut tried = vec!["options: no connection_string, sas_token or account_key".to_owned()];
    if !explicit_any {
        tried.push(format!(
            "environment: {}, {} and {} not set",
            env::CONNECTION_STRING,
            env::SAS_TOKEN,
            env::KEY
        ));
    }
    let settings = chain::Settings {
        client_id: t(&cfg.client_id),
        tenant_id: t(&cfg.tenant_id),
        client_secret: t(&cfg.client_secret),
        federated_token_file: t(&cfg.federated_token_file),
        authority_host: t(&cfg.authority_host),
        managed_identity: cfg.use_managed_identity,
        msi_client_id: t(&cfg.managed_identity_client_id),
        object_id: t(&cfg.object_id),
        msi_res_id: t(&cfg.msi_res_id),
        msi_endpoint: t(&cfg.managed_identity_endpoint),
    };
    let spec = chain::choose(&settings, &|k: &str| env.get(k), tried)?;
    if !https {
        if let Some(tried) = spec.last_resort() {
            let mut tried = tried.to_vec();
            tried.push("managed identity: not tried, the endpoint is not https".into());
            return Err(chain::nothing_found(&tried));
        }
        return Err(Error::invalid_argument(format!(
            "bearer tokens ({}) are only sent over https; the endpoint is http",
            spec.source()
        )));
    }
    Ok(Credential::Token(spec))
}

/// A SAS token as it goes into a query string: no leading `?`. It must look
/// like one (query characters only, a `sig`), so that it can never break
/// the URL it is appended to; the error never shows it.
pub(crate) fn clean_sas(field: &str, sas: &str) -> Result<String> {
    let token = sas.trim().trim_start_matches('?');
    let query_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~%&=+/:,;!$'()*@".contains(&b);
    if !token.bytes().all(query_char) {
        return Err(Error::invalid_argument(format!(
            "{field} is not a URL query string (it holds a character a SAS token cannot)"
        )));
    }
    if !token.split('&').any(|p| p.starts_with("sig=")) {
        return Err(Error::invalid_argument(format!(
            "{field} has no sig= parameter: not a SAS token"
        )));
    }
    Ok(token.to_owned())
}

/// Decodes an account key; the error never shows it.
pub(crate) fn decode_key(field: &str, key: &str) -> Result<Vec<u8>> {
    let key = key.trim();
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(k) if !k.is_empty() => Ok(k),
        _ => Err(Error::invalid_argument(format!(
            "{field} is not a valid base64 storage account key"
        ))),
    }
}


/// Parses an endpoint URL (http or https, a host, no query).
fn parse_endpoint(field: &str, raw: &str) -> Result<Url> {
    // The checks every endpoint gets (src/endpoint.rs), then Azure's own.
    let url = crate::endpoint::parse(field, raw)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_argument(format!(
            "{field} must not contain a query or fragment (give a SAS token as sas_token)"
        )));
    }
    Ok(url)
}

fn default_endpoint(account: &str, protocol: Option<&str>, suffix: Option<&str>) -> Result<Url> {
    let valid = !account.is_empty()
        && account
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !valid {
        return Err(Error::invalid_argument(format!(
            "account name {account:?} must be lower-case letters and digits to form the default endpoint; \
             give an endpoint for anything else"
        )));
    }
    let protocol = protocol.unwrap_or("https");
    let suffix = suffix.unwrap_or("core.windows.net");
    parse_endpoint("endpoint", &format!("{protocol}://{account}.blob.{suffix}"))
}

/// The account an endpoint names: `<account>.blob.<suffix>`, or the first
/// path segment of a path-style endpoint.
fn account_from_endpoint(url: &Url) -> String {
    if let Some(seg) = url.path_segments().and_then(|mut s| s.next()) {
        if !seg.is_empty() {
            return seg.to_owned();
        }
    }
    match url.host_str() {
        Some(host) if host.contains(".blob.") => host.split('.').next().unwrap_or("").to_owned(),
        _ => String::new(),
    }
}

/// What a connection string says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ConnectionString {
    pub(crate) account: Option<String>,
    pub(crate) endpoint: Option<Url>,
    pub(crate) protocol: Option<String>,
    pub(crate) suffix: Option<String>,
    pub(crate) credential: Credential,
}

/// Parses `Key=Value;...` as the Azure SDKs do: keys case-insensitive,
/// values split at the first `=` (keys and SAS tokens contain `=`), empty
/// segments ignored, unknown keys (QueueEndpoint, ...) ignored. Errors name
/// the field, never its value.
pub(crate) fn parse_connection_string(cs: &str) -> Result<ConnectionString> {
    let bad = |what: String| Error::invalid_argument(format!("connection string: {what}"));
    let (mut protocol, mut account, mut key, mut endpoint, mut suffix, mut sas, mut dev) =
        (None, None, None, None, None, None, false);
    for (i, segment) in cs.split(';').enumerate() {
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        let Some((name, value)) = segment.split_once('=') else {
            return Err(bad(format!("segment {} is not Name=Value", i + 1)));
        };
        let value = value.trim().to_owned();
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "defaultendpointsprotocol" => {
                let v = value.to_ascii_lowercase();
                if v != "http" && v != "https" {
                    return Err(bad("DefaultEndpointsProtocol must be http or https".into()));
                }
                protocol = Some(v);
                continue;
            }
            "accountname" => &mut account,
            "accountkey" => &mut key,
            "blobendpoint" => &mut endpoint,
            "endpointsuffix" => &mut suffix,
            "sharedaccesssignature" => &mut sas,
            "usedevelopmentstorage" => {
                if !value.eq_ignore_ascii_case("true") {
                    return Err(bad("UseDevelopmentStorage must be true".into()));
                }
                dev = true;
                continue;
            }
            _ => continue,
        };
        if value.is_empty() {
            return Err(bad(format!("{} is empty", name.trim())));
        }
        *slot = Some(value);
    }
    if dev {
        account.get_or_insert_with(|| DEV_ACCOUNT.to_owned());
        if key.is_none() && sas.is_none() {
            key = Some(DEV_KEY.to_owned());
        }
        endpoint.get_or_insert_with(|| DEV_BLOB_ENDPOINT.to_owned());
    }
    let endpoint = match endpoint {
        Some(e) => Some(parse_endpoint("connection string BlobEndpoint", &e)?),
        None => None,
    };
    if let Some(s) = &suffix {
        if s.contains('/') || s.contains(':') || s.starts_with('.') {
            return Err(bad(
                "EndpointSuffix must be a domain such as core.windows.net".into(),
            ));
        }
    }
    let credential = if let Some(sas) = sas {
        Credential::Sas(clean_sas("connection string SharedAccessSignature", &sas)?)
    } else if let Some(key) = key {
        if account.is_none() {
            return Err(bad("AccountKey needs AccountName".into()));
        }
        Credential::SharedKey(decode_key("connection string AccountKey", &key)?)
    } else {
        return Err(bad(
            "no credential: it needs AccountKey or SharedAccessSignature (or UseDevelopmentStorage=true)"
                .into(),
        ));
    };
    if endpoint.is_none() && account.is_none() {
        return Err(bad("needs AccountName or BlobEndpoint".into()));
    }
    Ok(ConnectionString {
        account,
        endpoint,
        protocol,
        suffix,
        credential,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }
    fn no_env() -> MapEnv {
        MapEnv(HashMap::new())
    }
    fn env_of(pairs: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv(pairs.iter().copied().collect())
    }

    const KEY_B64: &str = "a2V5LWJ5dGVz"; // "key-bytes"

    /// Found by the azure_connection_string fuzz target: a host mixing
    /// upper-case ASCII with other characters hit a debug assertion of the
    /// ASCII-only IDNA adapter inside `Url::parse` (a panic in debug
    /// builds). Non-ASCII endpoints are an error.
    #[test]
    fn endpoints_the_fuzzer_broke_are_errors_not_panics_or_odd_urls() {
        for endpoint in [
            "http://UseD\u{fffd}127.0.0.1:30000/devstoreaccount1",
            "https://ACCT\u{e9}.blob.core.windows.net",
            "http:/+063urg=rv&cpsai0bdc'e2B%fb%3",
            "http://127.0.0.1:10000/devstoreac\0\0c,unt1",
            "http://127.0.0.1:10000/dev store",
        ] {
            let cs = format!("BlobEndpoint={endpoint};SharedAccessSignature=sv=1&sig=x");
            let e = parse_connection_string(&cs).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert!(e.to_string().contains("not plain ASCII"), "{e}");
        }
        // The same target: a user name (and a password) in an endpoint.
        for endpoint in ["http://127@@@@2024-11-04&ss=b0000/devstoreaccount1", "https://u:p@acct.blob.core.windows.net"] {
            let cs = format!("BlobEndpoint={endpoint};SharedAccessSignature=sv=1&sig=x");
            let e = parse_connection_string(&cs).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert!(e.to_string().contains("user name or password"), "{e}");
            assert!(!e.to_string().contains("u:p"), "{e}");
        }
    }

    #[test]
    fn connection_string_with_key_and_suffix() {
        let cs = format!(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY_B64};EndpointSuffix=core.chinacloudapi.cn"
        );
        let r = resolve(&AzureBlobConfig::from_connection_string(cs, "c"), &no_env()).unwrap();
        assert_eq!(r.account, "acct");
        assert_eq!(
            r.endpoint.as_str(),
            "https://acct.blob.core.chinacloudapi.cn/"
        );
        assert_eq!(r.credential, Credential::SharedKey(b"key-bytes".to_vec()));
    }

    #[test]
    fn connection_string_keys_are_case_insensitive_and_values_keep_equals() {
        let cs = "blobendpoint=http://h:1/acct;sharedaccesssignature=?sv=1&sig=a%3D=;;";
        let r = resolve(&AzureBlobConfig::from_connection_string(cs, "c"), &no_env()).unwrap();
        assert_eq!(r.credential, Credential::Sas("sv=1&sig=a%3D=".into()));
        assert_eq!(r.endpoint.as_str(), "http://h:1/acct");
        assert_eq!(r.account, "acct", "account from a path-style endpoint");
    }

    #[test]
    fn development_storage_is_azurite_defaults() {
        let cs = "UseDevelopmentStorage=true";
        let r = resolve(&AzureBlobConfig::from_connection_string(cs, "c"), &no_env()).unwrap();
        assert_eq!(r.account, "devstoreaccount1");
        assert_eq!(
            r.endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert!(matches!(r.credential, Credential::SharedKey(ref k) if k.len() == 64));
    }

    #[test]
    fn malformed_connection_strings_name_the_field_and_never_the_key() {
        let secret = "c2VjcmV0LWtleS12YWx1ZQ==";
        let cases = [
            (format!("AccountName=a;AccountKey=%%{secret}"), "AccountKey"),
            (
                format!("AccountName=a;{}", secret.trim_end_matches('=')),
                "segment 2",
            ),
            (format!("AccountKey={secret}"), "AccountName"),
            (
                "DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey=a2V5".into(),
                "DefaultEndpointsProtocol",
            ),
            ("AccountName=a".into(), "no credential"),
            (
                format!("AccountName=a;AccountKey={secret};BlobEndpoint=not a url"),
                "BlobEndpoint",
            ),
            ("UseDevelopmentStorage=yes".into(), "UseDevelopmentStorage"),
            (
                format!("AccountName=a;AccountKey={secret};EndpointSuffix=http://x"),
                "EndpointSuffix",
            ),
        ];
        for (cs, field) in cases {
            let err = resolve(
                &AzureBlobConfig::from_connection_string(cs.clone(), "c"),
                &no_env(),
            )
            .unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{cs}");
            let msg = err.to_string();
            assert!(msg.contains(field), "{msg} should name {field}");
            assert!(
                !msg.contains(secret) && !msg.contains("c2VjcmV0"),
                "{msg} echoes the key"
            );
        }
    }

    #[test]
    fn precedence_is_connection_string_then_sas_then_key_then_managed_identity() {
        let mut cfg = AzureBlobConfig::with_shared_key("acct", KEY_B64, "c");
        cfg.sas_token = Some("?sv=x&sig=a".into());
        cfg.use_managed_identity = Some(true);
        assert_eq!(
            resolve(&cfg, &no_env()).unwrap().credential,
            Credential::Sas("sv=x&sig=a".into())
        );
        cfg.sas_token = None;
        assert!(matches!(
            resolve(&cfg, &no_env()).unwrap().credential,
            Credential::SharedKey(_)
        ));
        cfg.account_key = None;
        assert_eq!(resolve(&cfg, &no_env()).unwrap().credential.method(), "managed_identity");
        cfg.connection_string = Some("BlobEndpoint=http://h/x;SharedAccessSignature=sv=cs&sig=c".into());
        assert_eq!(
            resolve(&cfg, &no_env()).unwrap().credential,
            Credential::Sas("sv=cs&sig=c".into())
        );
    }

    #[test]
    fn without_an_account_the_error_says_how_to_name_one() {
        let err = resolve(&AzureBlobConfig::new("c"), &no_env()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        for way in ["account_name", "AZURE_STORAGE_ACCOUNT", "connection_string", "endpoint"] {
            assert!(err.to_string().contains(way), "{err}");
        }
        let cfg = AzureBlobConfig { account_key: Some(KEY_B64.into()), ..AzureBlobConfig::new("c") };
        assert!(resolve(&cfg, &no_env()).unwrap_err().to_string().contains("account_name"));
        // A path-style endpoint names it.
        let cfg = AzureBlobConfig {
            account_key: Some(KEY_B64.into()),
            endpoint: Some("http://127.0.0.1:1/devstoreaccount1".into()),
            ..AzureBlobConfig::new("c")
        };
        assert_eq!(resolve(&cfg, &no_env()).unwrap().account, "devstoreaccount1");
    }

    #[test]
    fn environment_fills_in_but_never_overrides_explicit_credentials() {
        let env = env_of(&[
            (env::ACCOUNT, "envacct"),
            (env::KEY, KEY_B64),
            (env::SAS_TOKEN, "sv=env&sig=e"),
        ]);
        // Nothing explicit: the environment's SAS beats its key.
        let r = resolve(&AzureBlobConfig::new("c"), &env).unwrap();
        assert_eq!(
            (r.account.as_str(), r.credential),
            ("envacct", Credential::Sas("sv=env&sig=e".into()))
        );
        // An explicit key wins over the environment's SAS.
        let r = resolve(
            &AzureBlobConfig::with_shared_key("mine", KEY_B64, "c"),
            &env,
        )
        .unwrap();
        assert_eq!(r.account, "mine");
        assert!(matches!(r.credential, Credential::SharedKey(_)));
        // An explicit account with an environment key.
        let env = env_of(&[(env::KEY, KEY_B64)]);
        let cfg = AzureBlobConfig {
            account_name: Some("mine".into()),
            ..AzureBlobConfig::new("c")
        };
        let r = resolve(&cfg, &env).unwrap();
        assert_eq!(r.endpoint.as_str(), "https://mine.blob.core.windows.net/");
        // The connection string variable comes first among the variables.
        let env = env_of(&[
            (env::CONNECTION_STRING, "UseDevelopmentStorage=true"),
            (env::SAS_TOKEN, "sv=env&sig=e"),
        ]);
        assert_eq!(
            resolve(&AzureBlobConfig::new("c"), &env).unwrap().account,
            "devstoreaccount1"
        );
    }

    #[test]
    fn explicit_endpoint_wins_and_must_be_a_url() {
        let mut cfg = AzureBlobConfig::from_connection_string("UseDevelopmentStorage=true", "c");
        cfg.endpoint = Some("http://127.0.0.1:4444/devstoreaccount1".into());
        assert_eq!(
            resolve(&cfg, &no_env()).unwrap().endpoint.port(),
            Some(4444)
        );
        cfg.endpoint = Some("127.0.0.1:4444".into());
        let err = resolve(&cfg, &no_env()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        cfg.endpoint = Some("https://a.blob.core.windows.net/?sv=1&sig=SECRET".into());
        let err = resolve(&cfg, &no_env()).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        cfg.endpoint = Some("nope://?sig=SECRET".into());
        let err = resolve(&cfg, &no_env()).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[test]
    fn managed_identity_endpoint_gets_the_imds_path_and_client_id_from_env() {
        let mut cfg = AzureBlobConfig::with_managed_identity("acct", "c");
        cfg.managed_identity_endpoint = Some("http://127.0.0.1:9999".into());
        let env = env_of(&[(env::CLIENT_ID, "cid")]);
        let shown = |cfg: &AzureBlobConfig, env: &MapEnv| format!("{:?}", resolve(cfg, env).unwrap().credential);
        let text = shown(&cfg, &env);
        assert!(text.contains("\"http://127.0.0.1:9999/metadata/identity/oauth2/token\""), "{text}");
        assert!(text.contains("(\"client_id\", \"cid\")"), "{text}");
        cfg.managed_identity_endpoint = None;
        let env = env_of(&[(env::MSI_ENDPOINT, "http://127.0.0.1:1/custom/token")]);
        let text = shown(&cfg, &env);
        assert!(text.contains("\"http://127.0.0.1:1/custom/token\"") && text.contains("id: None"), "{text}");
        assert!(shown(&cfg, &no_env()).contains(DEFAULT_IMDS_ENDPOINT));
        // object_id and msi_res_id name the identity instead; two is an error.
        cfg.object_id = Some("oid".into());
        assert!(shown(&cfg, &no_env()).contains("(\"object_id\", \"oid\")"));
        cfg.msi_res_id = Some("/subscriptions/x".into());
        assert!(resolve(&cfg, &no_env()).is_err());
        // App Service's endpoint and header, when no endpoint is configured.
        let env = env_of(&[(env::IDENTITY_ENDPOINT, "http://127.0.0.1:2/msi/token"), (env::IDENTITY_HEADER, "h")]);
        cfg.msi_res_id = None;
        let r = resolve(&cfg, &env).unwrap();
        assert_eq!(r.credential.method(), "app_service");
        assert!(format!("{:?}", r.credential).contains("(\"principal_id\", \"oid\")"));
    }

    #[test]
    fn nothing_found_is_permission_denied_listing_the_chain() {
        let mut cfg = AzureBlobConfig { account_name: Some("acct".into()), ..AzureBlobConfig::new("c") };
        cfg.use_managed_identity = Some(false);
        let err = resolve(&cfg, &no_env()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::PermissionDenied);
        for part in ["no Azure credentials found", "connection_string", "AZURE_STORAGE_KEY",
            "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "use_managed_identity=false"] {
            assert!(err.to_string().contains(part), "{part}: {err}");
        }
        // IMDS as the last step, with an http endpoint: not tried.
        cfg.use_managed_identity = None;
        cfg.endpoint = Some("http://127.0.0.1:1/acct".into());
        let err = resolve(&cfg, &no_env()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("not https"), "{err}");
        // Asked for explicitly, over http: refused.
        cfg.use_managed_identity = Some(true);
        assert_eq!(resolve(&cfg, &no_env()).unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
        // skip_signature wins over everything.
        cfg.skip_signature = true;
        cfg.account_key = Some(KEY_B64.into());
        assert_eq!(resolve(&cfg, &no_env()).unwrap().credential, Credential::Anonymous);
        let err = resolve(&AzureBlobConfig::new("c"), &no_env()).unwrap_err();
        assert!(err.to_string().contains("account_name"), "{err}");
    }

    #[test]
    fn ca_bundle_falls_back_to_the_environment() {
        let cfg = AzureBlobConfig::with_shared_key("acct", KEY_B64, "c");
        let env = env_of(&[(env::CA_BUNDLE, "/etc/ca.pem")]);
        assert_eq!(
            resolve(&cfg, &env).unwrap().ca_bundle,
            Some(PathBuf::from("/etc/ca.pem"))
        );
        let mut cfg = cfg;
        cfg.http.ca_bundle = Some("/mine.pem".into());
        assert_eq!(
            resolve(&cfg, &env).unwrap().ca_bundle,
            Some(PathBuf::from("/mine.pem"))
        );
    }

    #[test]
    fn sas_tokens_must_be_query_strings_with_a_signature() {
        let bad = |sas: &str| {
            let cfg = AzureBlobConfig::with_sas("acct", sas, "c");
            resolve(&cfg, &no_env()).unwrap_err().to_string()
        };
        let msg = bad("sv=1&sig=SECRET SIG");
        assert!(msg.contains("sas_token") && !msg.contains("SECRET"), "{msg}");
        assert!(bad("sv=1&se=2").contains("sig="));
        assert!(bad("sig=a#frag").contains("query string"));
        let cfg = AzureBlobConfig::with_sas("acct", " ?sv=1&sig=a%2Bb ", "c");
        assert_eq!(resolve(&cfg, &no_env()).unwrap().credential, Credential::Sas("sv=1&sig=a%2Bb".into()));
    }

    #[test]
    fn debug_redacts_every_secret() {
        let mut cfg = AzureBlobConfig::with_shared_key("acct", "SECRETKEY", "c");
        cfg.sas_token = Some("sig=SECRETSAS".into());
        cfg.connection_string = Some("AccountKey=SECRETCS".into());
        let text = format!("{cfg:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("acct"));
        let cred = format!("{:?}", Credential::Sas("sig=SECRET".into()));
        assert!(!cred.contains("SECRET"));
    }
}
