//! Without a configured CA bundle, blobio trusts the system's CA store: the
//! PEM file `SSL_CERT_FILE` names, else the distribution's bundle. Here
//! `SSL_CERT_FILE` names the test CA, so the HTTPS Azurite is trusted with
//! no `ca_bundle` anywhere. The store is read once per process, so this
//! file holds one test and sets the variable before any store exists.
#![cfg(feature = "server-tests")]

mod support;

use blobio::{AzureBlobBackend, Backend, ErrorKind, S3Backend, S3Config};
use support::azure::Azurite;

#[test]
fn ssl_cert_file_names_the_trusted_cas_when_no_bundle_is_configured() {
    std::env::remove_var("BLOBIO_CA_BUNDLE");
    std::env::set_var("SSL_CERT_FILE", Azurite::ca_bundle());

    let container = Azurite::Https.new_container("sysca");
    let mut cfg = Azurite::Https.config(&container);
    cfg.http.ca_bundle = None;
    let store = AzureBlobBackend::new(cfg).unwrap();
    store.write("k", b"trusted through SSL_CERT_FILE").unwrap();
    assert_eq!(store.read("k").unwrap(), b"trusted through SSL_CERT_FILE");

    // S3 goes through the same transport: TLS succeeds, and the S3 request
    // gets Azurite's HTTP answer (an error, but not a network one).
    let mut s3 = S3Config::new("bucket");
    s3.endpoint = Some(format!("https://{}", Azurite::Https.host_port()));
    s3.path_style = true;
    s3.region = Some("us-east-1".into());
    s3.access_key = Some("ak".into());
    s3.secret_key = Some("sk".into());
    match S3Backend::new(s3).unwrap().exists("k") {
        Ok(_) => {}
        Err(e) => assert_ne!(e.kind(), ErrorKind::Network, "TLS failed: {e}"),
    }
}
