//! The S3 backend trusts the CA bundle named by `BLOBIO_CA_BUNDLE` when its
//! configuration names none, as the Azure backend does. The only HTTPS
//! server here is Azurite: an S3 request to it gets an HTTP answer (not an
//! S3 one) once TLS is trusted, and a TLS failure before. One test in this
//! file, as it sets a process-wide variable.
#![cfg(feature = "server-tests")]

mod support;

use blobio::{Backend, ErrorKind, S3Backend, S3Config};
use support::azure::Azurite;

fn https_store(ca_bundle: Option<&str>) -> blobio::Result<S3Backend> {
    let mut cfg = S3Config::new("bucket");
    cfg.endpoint = Some(format!("https://{}", Azurite::Https.host_port()));
    cfg.path_style = true;
    cfg.region = Some("us-east-1".into());
    cfg.access_key = Some("ak".into());
    cfg.secret_key = Some("sk".into());
    cfg.http.ca_bundle = ca_bundle.map(Into::into);
    S3Backend::new(cfg)
}

#[test]
fn s3_falls_back_to_blobio_ca_bundle() {
    let ca = Azurite::ca_bundle();
    std::env::remove_var("BLOBIO_CA_BUNDLE");
    let err = https_store(None).unwrap().exists("k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "untrusted server: {err}");
    assert!(err.to_string().to_lowercase().contains("issuer") || err.to_string().contains("TLS"), "{err}");

    std::env::set_var("BLOBIO_CA_BUNDLE", &ca);
    // Trusted: the request reaches Azurite, which answers it as HTTP.
    match https_store(None).unwrap().exists("k") {
        Ok(_) => {}
        Err(e) => assert_ne!(e.kind(), ErrorKind::Network, "TLS still failing: {e}"),
    }
    // An explicit bundle wins over the variable; an empty one does not.
    let err = https_store(Some("/nonexistent/ca.pem")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    assert!(https_store(Some("")).is_ok());

    std::env::set_var("BLOBIO_CA_BUNDLE", "/nonexistent/env-ca.pem");
    let err = https_store(None).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/env-ca.pem"), "{err}");
    std::env::remove_var("BLOBIO_CA_BUNDLE");
}
