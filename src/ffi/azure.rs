//! Azure Blob stores: `blobio_azure_new`.

use std::ffi::c_char;

use super::boundary::{arg_out, arg_ref, arg_str, boundary};
use super::config::{apply_downloads, apply_http, opt_str, TimeoutsMs};
use super::status::blobio_status;
use super::store::blobio_store;
use crate::azure::{AzureBlobBackend, AzureBlobConfig};

/// Configuration of an Azure Blob store for `blobio_azure_new()`.
/// Zero-initialise it (`blobio_azure_config cfg = {0};`) and set what you
/// need: a NULL string or a 0 number means the default. Strings are only
/// read during the call.
///
/// Credentials are taken in this order: `connection_string`; else
/// `account_name` + `sas_token`; else `account_name` + `account_key`; else
/// `account_name` + `use_managed_identity`. When none of
/// `connection_string`, `sas_token`, `account_key` and
/// `use_managed_identity` is set, the same order applies to the variables
/// `AZURE_STORAGE_CONNECTION_STRING`, `AZURE_STORAGE_SAS_TOKEN` and
/// `AZURE_STORAGE_KEY`; a NULL `account_name` falls back to
/// `AZURE_STORAGE_ACCOUNT`. Nothing usable: `BLOBIO_STATUS_INVALID_ARGUMENT`.
#[repr(C)]
pub struct blobio_azure_config {
    /// A storage connection string (`AccountName=...;AccountKey=...`,
    /// `BlobEndpoint=...;SharedAccessSignature=...`,
    /// `UseDevelopmentStorage=true`, ...).
    pub connection_string: *const c_char,
    /// Storage account name.
    pub account_name: *const c_char,
    /// Storage account key (base64), for Shared Key signing.
    pub account_key: *const c_char,
    /// A SAS token, with or without its leading `?`.
    pub sas_token: *const c_char,
    /// Container name (required).
    pub container_name: *const c_char,
    /// Blob service endpoint; NULL: what the connection string says, else
    /// `https://<account>.blob.core.windows.net`. A path-style endpoint such
    /// as Azurite's `http://127.0.0.1:10000/devstoreaccount1` works too.
    pub endpoint: *const c_char,
    /// PEM file of CA certificates to trust instead of the system CA store;
    /// NULL: `BLOBIO_CA_BUNDLE`, then the system store (`SSL_CERT_FILE`, else
    /// the distribution bundle, as listed in the README).
    pub ca_bundle_path: *const c_char,
    /// Authenticate with bearer tokens of the machine's managed identity
    /// (from the instance metadata endpoint).
    pub use_managed_identity: bool,
    /// Connect timeout in milliseconds; 0: 10 s.
    pub connect_timeout_ms: u32,
    /// Time allowed to send a request and receive the response headers, in
    /// milliseconds; 0: 60 s.
    pub request_timeout_ms: u32,
    /// Client id of a user-assigned managed identity; NULL:
    /// `AZURE_CLIENT_ID`, then the system-assigned identity.
    pub managed_identity_client_id: *const c_char,
    /// Token endpoint of the managed identity; NULL: `AZURE_MSI_ENDPOINT`,
    /// then `http://169.254.169.254/metadata/identity/oauth2/token`.
    pub managed_identity_endpoint: *const c_char,
    /// Size of every staged block but the last, in bytes; 0: 8 MiB.
    pub block_size: u64,
    /// Uploads of a known size below this many bytes go as one request;
    /// 0: 32 MiB.
    pub single_put_threshold: u64,
    /// Blocks uploaded at once; 0: 8.
    pub upload_concurrency: u32,
    /// Longest silence while a body is sent or received (a stalled
    /// transfer), in milliseconds; 0: 30 s. (Added after the other fields so
    /// that their offsets never move.)
    pub stall_timeout_ms: u32,
    /// Objects at least this many bytes long are read as parallel ranged
    /// GETs (each with If-Match, so a replaced object is an error, never a
    /// mix); 0: 32 MiB; `UINT64_MAX`: always one stream.
    pub download_threshold: u64,
    /// Size of each range of a parallel read, in bytes; 0: 8 MiB.
    pub download_part_size: u64,
    /// Ranges in flight in a parallel read; 0: 4. Memory is bounded by
    /// (download_concurrency + 1) × download_part_size.
    pub download_concurrency: u32,
}

/// Opens a store in an Azure Blob Storage container (or Azurite). Requests
/// are signed with the account key (Shared Key), or carry a SAS token or a
/// managed identity's bearer token. The container is checked once (at most
/// 10 s); a missing container is only logged, so a store can be opened
/// before its container exists. On success `*out` receives a store to
/// release with `blobio_store_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_azure_new(
    cfg: *const blobio_azure_config,
    out: *mut *mut blobio_store,
) -> blobio_status {
    boundary("blobio_azure_new", || {
        // SAFETY (every `arg_*`/`opt_str` call in this module): the C caller
        // upholds the module's safety contract for every pointer argument.
        let c = unsafe { arg_ref(cfg, "cfg") }?;
        let out = unsafe { arg_out(out, "out") }?;
        let container = unsafe { arg_str(c.container_name, "cfg->container_name") }?;
        let mut config = AzureBlobConfig::new(container);
        config.connection_string =
            unsafe { opt_str(c.connection_string, "cfg->connection_string") }?;
        config.account_name = unsafe { opt_str(c.account_name, "cfg->account_name") }?;
        config.account_key = unsafe { opt_str(c.account_key, "cfg->account_key") }?;
        config.sas_token = unsafe { opt_str(c.sas_token, "cfg->sas_token") }?;
        config.endpoint = unsafe { opt_str(c.endpoint, "cfg->endpoint") }?;
        config.use_managed_identity = c.use_managed_identity;
        config.managed_identity_client_id = unsafe {
            opt_str(
                c.managed_identity_client_id,
                "cfg->managed_identity_client_id",
            )
        }?;
        config.managed_identity_endpoint = unsafe {
            opt_str(
                c.managed_identity_endpoint,
                "cfg->managed_identity_endpoint",
            )
        }?;
        let timeouts = TimeoutsMs {
            connect: c.connect_timeout_ms,
            request: c.request_timeout_ms,
            stall: c.stall_timeout_ms,
        };
        unsafe { apply_http(&mut config.http, timeouts, c.ca_bundle_path) }?;
        if c.block_size != 0 {
            config.block_size = c.block_size;
        }
        if c.single_put_threshold != 0 {
            config.single_put_threshold = c.single_put_threshold;
        }
        if c.upload_concurrency != 0 {
            config.upload_concurrency = c.upload_concurrency as usize;
        }
        apply_downloads(
            (
                &mut config.download_threshold,
                &mut config.download_part_size,
                &mut config.download_concurrency,
            ),
            c.download_threshold,
            c.download_part_size,
            c.download_concurrency,
        );
        let store = blobio_store::new(Box::new(AzureBlobBackend::new(config)?))?;
        out.write(Box::into_raw(store));
        Ok(())
    })
}
