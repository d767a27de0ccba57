//! The Azure Blob protocol: requests signed by hand (Shared Key), or
//! carrying a SAS token or a bearer token (the credential chain's, see
//! `src/credentials/azure/`), or nothing (`skip_signature`), and every
//! answer read here; the rest is the remote engine's (`src/remote/`).
//!
//! Layout: `config.rs` (configuration, connection strings, environment
//! fallbacks, the chain's storage steps), `auth.rs` (Shared Key
//! string-to-sign and signature, SAS, bearer tokens), `request.rs` (URLs and authorising a
//! request), `get.rs` (Get Blob, Get Blob Properties), `put.rs` (Put Blob),
//! `blocks.rs` (Put Block + Put Block List), `list.rs` (List Blobs),
//! `delete.rs` (Delete Blob), `batch_delete.rs` (the Blob Batch API),
//! `error.rs` (error codes).

mod auth;
pub(crate) mod batch_delete;
mod blocks;
pub(crate) mod config;
mod copy;
mod delete;
pub(crate) mod error;
mod get;
pub(crate) mod list;
mod presign;
mod put;
mod request;

use std::fmt;
use crate::checksum::ChecksumAlgorithm;
use std::time::Duration;

use self::auth::Auth;
pub use self::config::{
    env, AzureBlobConfig, DEFAULT_BLOCK_SIZE, DEFAULT_IMDS_ENDPOINT, DEFAULT_SINGLE_PUT_THRESHOLD,
    DEFAULT_UPLOAD_CONCURRENCY, MAX_BLOCKS, MAX_BLOCK_SIZE, MAX_LIST_PAGE_SIZE, MAX_SINGLE_PUT_SIZE,
};
use self::request::Req;
use crate::error::{Error, Result};
use crate::http::{RequestBody, Transport};
use crate::paths::sanitize_s3_prefix;
use crate::remote::client::Client;
use crate::remote::settings::{no_control, Download, Limits, Names, Settings};
use crate::remote::{Ops, Protocol, RemoteStore};
pub use crate::remote::{
    DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_DOWNLOAD_PARALLEL_BELOW, DEFAULT_DOWNLOAD_PART_SIZE,
    DEFAULT_DOWNLOAD_THRESHOLD,
};

/// The header prefix of user metadata.
const META_PREFIX: &str = "x-ms-meta-";

/// Bound on the container check at open.
const CONTAINER_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in one Azure Blob container (Azure, or Azurite): the remote
/// engine over the Azure Blob protocol.
pub type AzureBlobBackend = RemoteStore<Azure>;

/// The Azure Blob protocol of one container: how its requests are
/// authorised and its answers read. Reached through [`AzureBlobBackend`].
pub struct Azure {
    account: String,
    container: String,
    /// The endpoint as configured, for config_json and messages.
    endpoint: String,
    /// `scheme://host[:port]`.
    origin: String,
    /// `<endpoint path>/<container>`, percent-encoded, e.g.
    /// `/devstoreaccount1/data` (path style) or `/data`.
    container_path: String,
    auth: Auth,
    list_page_size: u32,
    /// As configured (a child process applies its own BLOBIO_CA_BUNDLE).
    http: crate::http::HttpConfig,
}

/// Container names: 3-63 of `a-z 0-9 -`, starting and ending with a letter
/// or digit, no `--`; or the special `$root` / `$web`.
fn check_container_name(name: &str) -> Result<()> {
    if name == "$root" || name == "$web" {
        return Ok(());
    }
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "Azure container name {name:?} must be 3-63 lower-case letters, digits and single hyphens"
        )))
    }
}

impl RemoteStore<Azure> {
    /// Connects to the container described by `cfg`.
    ///
    /// Credentials follow the precedence documented on [`AzureBlobConfig`].
    /// Every setting is checked first ([`crate::ErrorKind::InvalidArgument`]
    /// naming the setting). The container is checked with Get Container
    /// Properties (at most 10 s); a failure is only logged, so a store can
    /// be created before its container.
    pub fn new(cfg: AzureBlobConfig) -> Result<Self> {
        let container = cfg.container_name.trim().to_owned();
        if container.is_empty() {
            return Err(Error::invalid_argument("Azure container name is required"));
        }
        check_container_name(&container)?;
        for (what, value) in [
            ("prefix", Some(&cfg.prefix)),
            ("account_name", cfg.account_name.as_ref()),
            ("endpoint", cfg.endpoint.as_ref()),
            ("connection string", cfg.connection_string.as_ref()),
            ("client secret", cfg.client_secret.as_ref()),
            ("client_id", cfg.client_id.as_ref()),
            ("tenant_id", cfg.tenant_id.as_ref()),
            ("federated_token_file", cfg.federated_token_file.as_ref()),
            ("object_id", cfg.object_id.as_ref()),
            ("msi_res_id", cfg.msi_res_id.as_ref()),
        ] {
            if let Some(v) = value {
                // A connection string or secret is never shown.
                if what.contains(' ') && v.chars().any(char::is_control) {
                    return Err(Error::invalid_argument(format!(
                        "Azure {what} contains a control character"
                    )));
                }
                no_control("Azure", what, v)?;
            }
        }
        if !(1..=MAX_LIST_PAGE_SIZE).contains(&cfg.list_page_size) {
            return Err(Error::invalid_argument(format!(
                "Azure list_page_size {} must be between 1 and {MAX_LIST_PAGE_SIZE}",
                cfg.list_page_size
            )));
        }
        let settings = Settings {
            prefix: sanitize_s3_prefix(&cfg.prefix),
            single_put_threshold: cfg.single_put_threshold,
            part_size: cfg.block_size,
            upload_concurrency: cfg.upload_concurrency,
            // Copy Blob copies any size on its own.
            copy_threshold: u64::MAX,
            download: Download {
                threshold: cfg.download_threshold,
                part_size: cfg.download_part_size,
                concurrency: cfg.download_concurrency,
                parallel_below: cfg.download_parallel_below,
                coalesce_gap: cfg.coalesce_gap,
            },
            checksum: cfg.checksum,
            retry: cfg.retry,
            limits: Limits {
                unit: "block",
                min_part: 1,
                max_part: MAX_BLOCK_SIZE,
                max_parts: MAX_BLOCKS,
                max_single_put: MAX_SINGLE_PUT_SIZE,
            },
            names: Names {
                store: "Azure",
                single_put_threshold: "single_put_threshold",
                part_size: "block_size",
            },
        };
        let resolved = config::resolve(&cfg, &config::ProcessEnv)?;
        let mut http = cfg.http.clone();
        http.ca_bundle = resolved.ca_bundle.clone();
        let auth = Auth::new(&resolved.account, resolved.credential.clone(), &http, &cfg.retry)?;
        let url = &resolved.endpoint;
        let origin = url.origin().ascii_serialization();
        let base_path = url.path().trim_end_matches('/');
        let endpoint = format!("{origin}{base_path}");
        let proto = Azure {
            account: resolved.account.clone(),
            container_path: format!("{base_path}/{container}"),
            container,
            endpoint,
            origin,
            auth,
            list_page_size: cfg.list_page_size,
            http: cfg.http.clone(),
        };
        log::info!(
            "Azure Blob store: container {} at {}, credentials from {}",
            proto.container,
            proto.endpoint,
            resolved.credential.method()
        );
        let name = proto.container.clone();
        let client = Client::new(Transport::new(&http)?, cfg.retry, error::answer(&name));
        let check = Transport::new(&http.bounded(CONTAINER_CHECK_TIMEOUT))
            .ok()
            .map(|t| Client::new(t, crate::RetryPolicy::none(), error::answer(&name)));
        RemoteStore::open(proto, client, settings, check)
    }

    /// Creates the container; one that already exists is fine.
    pub fn create_container(&self) -> Result<()> {
        let az = &*self.proto;
        let label = format!("azure://{}", az.container);
        let req = Req::new("PUT", az.container_path.clone()).query("restype", "container");
        match az.send(&self.inner.client, &label, &req, RequestBody::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.provider_code() == Some("ContainerAlreadyExists") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The container name.
    pub fn container(&self) -> &str {
        &self.proto.container
    }

    /// The storage account name.
    pub fn account_name(&self) -> &str {
        &self.proto.account
    }

    /// The blob service endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.proto.endpoint
    }

    /// `azure://<container>/<prefix><path>`, the form DuckDB's azure
    /// extension reads.
    pub fn get_azure_path(&self, path: &str) -> String {
        format!(
            "azure://{}/{}{}",
            self.proto.container,
            self.prefix(),
            path.trim_start_matches('/')
        )
    }
}

impl Protocol for Azure {
    const KIND: &'static str = "azure";
    const POOL_NAME: &'static str = "blobio-azure";
    const TYPE_NAME: &'static str = "AzureBlobBackend";
}

impl Ops for Azure {
    /// Azure turns a backslash in a blob name into `/`, so `a\b` would be
    /// written, read and deleted as `a/b`: refused.
    fn check_key(&self, original: &str, key: &str) -> Result<()> {
        if key.contains('\\') {
            return Err(Error::invalid_path(
                original,
                "contains a backslash, which Azure Blob Storage treats as '/'",
            ));
        }
        Ok(())
    }

    /// Azure limits a blob name to 1,024 characters.
    fn name_unit(&self) -> crate::paths::NameUnit {
        crate::paths::NameUnit::Chars
    }

    fn check_root(&self, c: &Client) -> Result<()> {
        get::container_properties(self, c)
    }

    fn config_json(&self, out: &mut serde_json::Map<String, serde_json::Value>) {
        out.insert("container".into(), self.container.clone().into());
        out.insert("account_name".into(), self.account.clone().into());
        out.insert("endpoint".into(), self.endpoint.clone().into());
        // `auth` is the older name of `credential_source`.
        out.insert("auth".into(), self.auth.method().into());
        out.insert("credential_source".into(), self.auth.method().into());
        out.insert("skip_signature".into(), (self.auth.method() == "anonymous").into());
        out.insert("list_page_size".into(), self.list_page_size.into());
        self.http.config_json(out);
    }

    fn storage_root(&self) -> String {
        format!("azure://{}/", self.container)
    }

    /// Azure carries MD5 and CRC-64 only.
    fn upload_checksum(&self, a: ChecksumAlgorithm) -> ChecksumAlgorithm {
        match a {
            ChecksumAlgorithm::Md5 | ChecksumAlgorithm::Crc64Nvme => a,
            _ => ChecksumAlgorithm::None,
        }
    }

    /// Put Block List gives the blob the MD5 it is sent.
    fn whole_checksum(&self, a: ChecksumAlgorithm) -> bool {
        a == ChecksumAlgorithm::Md5
    }

    fn meta_prefix(&self) -> &'static str {
        META_PREFIX
    }

    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        f.field("account", &self.account)
            .field("container", &self.container)
            .field("endpoint", &self.endpoint)
            .field("auth", &self.auth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpConfig;

    #[test]
    fn container_names_follow_azure_rules() {
        for good in ["abc", "data-2024", "$root", &"a".repeat(63)] {
            assert!(check_container_name(good).is_ok(), "{good}");
        }
        for bad in ["ab", "Data", "a--b", "-ab", "ab-", "a_b", "a/b", &"a".repeat(64)] {
            assert!(check_container_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blob_paths_escape_everything_but_unreserved_and_slash() {
        let cfg = AzureBlobConfig {
            endpoint: Some("http://127.0.0.1:1/devstoreaccount1/".into()),
            ..AzureBlobConfig::from_connection_string("UseDevelopmentStorage=true", "data")
        };
        let resolved = config::resolve(&cfg, &config::ProcessEnv).unwrap();
        assert_eq!(resolved.endpoint.path(), "/devstoreaccount1/");
        let az = Azure {
            account: "devstoreaccount1".into(),
            container: "data".into(),
            endpoint: String::new(),
            origin: "http://127.0.0.1:1".into(),
            container_path: "/devstoreaccount1/data".into(),
            auth: Auth::new("devstoreaccount1", resolved.credential, &HttpConfig::default(), &crate::RetryPolicy::default())
                .unwrap(),
            list_page_size: 1,
            http: HttpConfig::default(),
        };
        assert_eq!(
            az.blob_path("db/a b+c%d!$&'()*,;=@~_.-/ü.parquet"),
            "/devstoreaccount1/data/db/a%20b%2Bc%25d%21%24%26%27%28%29%2A%2C%3B%3D%40~_.-/%C3%BC.parquet"
        );
    }
}
