//! Access to the Azurite instances that `scripts/test` starts: the plain
//! HTTP one (Shared Key, SAS) and the HTTPS one with `--oauth basic`
//! (bearer tokens), plus SAS tokens made by the Python SDK.

use std::sync::OnceLock;

use blobio::{AzureBlobBackend, AzureBlobConfig};

use super::{env, python, unique};

/// Which Azurite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Azurite {
    /// Plain HTTP, Shared Key and SAS.
    Http,
    /// HTTPS with a test CA and `--oauth basic`.
    Https,
}

impl Azurite {
    /// The path-style endpoint, `http(s)://127.0.0.1:<port>/devstoreaccount1`.
    pub fn endpoint(self) -> String {
        match self {
            Azurite::Http => env("BLOBIO_TEST_AZURITE_ENDPOINT"),
            Azurite::Https => env("BLOBIO_TEST_AZURITE_HTTPS_ENDPOINT"),
        }
    }

    /// `host:port` of the server.
    pub fn host_port(self) -> String {
        let ep = self.endpoint();
        let rest = ep.split("://").nth(1).unwrap();
        rest.split('/').next().unwrap().to_owned()
    }

    /// The account name.
    pub fn account() -> String {
        env("BLOBIO_TEST_AZURITE_ACCOUNT")
    }

    /// The account key.
    pub fn key() -> String {
        env("BLOBIO_TEST_AZURITE_KEY")
    }

    /// The PEM file of the test CA that signed the HTTPS server's
    /// certificate.
    pub fn ca_bundle() -> String {
        env("BLOBIO_TEST_CA_BUNDLE")
    }

    /// A Shared Key configuration for `container` (with the CA for HTTPS).
    pub fn config(self, container: &str) -> AzureBlobConfig {
        let mut cfg = AzureBlobConfig::with_shared_key(Self::account(), Self::key(), container);
        cfg.endpoint = Some(self.endpoint());
        if self == Azurite::Https {
            cfg.http.ca_bundle = Some(Self::ca_bundle().into());
        }
        cfg
    }

    /// A connection string naming this server's endpoint.
    pub fn connection_string(self) -> String {
        format!(
            "DefaultEndpointsProtocol={};AccountName={};AccountKey={};BlobEndpoint={};",
            if self == Azurite::Http {
                "http"
            } else {
                "https"
            },
            Self::account(),
            Self::key(),
            self.endpoint()
        )
    }

    /// Creates a fresh container and returns its name.
    pub fn new_container(self, tag: &str) -> String {
        let mut name: String = unique(tag)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        name.truncate(63);
        let name = name.trim_end_matches('-').to_owned();
        let store = AzureBlobBackend::new(self.config(&name)).expect("Azure store");
        store.create_container().expect("create container");
        name
    }

    /// A Shared Key store on a fresh container.
    pub fn new_store(self, tag: &str) -> AzureBlobBackend {
        AzureBlobBackend::new(self.config(&self.new_container(tag))).expect("Azure store")
    }
}

/// An account SAS (services b, resource types sco, permissions rwdlac, valid
/// for two hours) made by azure-storage-blob's `generate_account_sas`, so
/// blobio's SAS handling is checked against the SDK's signer rather than
/// one written beside it. Made once per test process.
pub fn account_sas() -> String {
    static SAS: OnceLock<String> = OnceLock::new();
    SAS.get_or_init(|| {
        python(
            r#"
import sys, datetime
from azure.storage.blob import generate_account_sas, ResourceTypes, AccountSasPermissions
now = datetime.datetime.now(datetime.timezone.utc)
print(generate_account_sas(sys.argv[1], sys.argv[2],
    resource_types=ResourceTypes(service=True, container=True, object=True),
    permission=AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
    start=now - datetime.timedelta(minutes=5), expiry=now + datetime.timedelta(hours=2)))
"#,
            &[&Azurite::account(), &Azurite::key()],
        )
        .trim()
        .to_owned()
    })
    .clone()
}

/// A SAS for one container (permissions racwdl), by `generate_container_sas`.
pub fn container_sas(container: &str) -> String {
    python(
        r#"
import sys, datetime
from azure.storage.blob import generate_container_sas, ContainerSasPermissions
now = datetime.datetime.now(datetime.timezone.utc)
print(generate_container_sas(sys.argv[1], sys.argv[3], account_key=sys.argv[2],
    permission=ContainerSasPermissions(read=True, add=True, create=True, write=True, delete=True, list=True),
    start=now - datetime.timedelta(minutes=5), expiry=now + datetime.timedelta(hours=2)))
"#,
        &[&Azurite::account(), &Azurite::key(), container],
    )
    .trim()
    .to_owned()
}
