//! When the system's CA store cannot be found, HTTPS requests fail at once
//! with an error that says what was looked for and how to fix it (no
//! connection is made), while plain-HTTP endpoints keep working. The store
//! is read once per process: one test in this file, which points
//! `SSL_CERT_FILE` at a file that does not exist before any store is made.
#![cfg(feature = "server-tests")]

mod support;

use std::net::TcpListener;

use blobio::{Backend, ErrorKind, S3Backend, S3Config};
use support::S3Server;

#[test]
fn without_any_trusted_ca_https_fails_fast_and_says_why() {
    std::env::remove_var("BLOBIO_CA_BUNDLE");
    std::env::set_var("SSL_CERT_FILE", "/nonexistent/blobio-test/ca.pem");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut cfg = S3Config::new("bucket");
    cfg.endpoint = Some(format!("https://{}", listener.local_addr().unwrap()));
    cfg.path_style = true;
    cfg.region = Some("us-east-1".into());
    cfg.access_key = Some("ak".into());
    cfg.secret_key = Some("sk".into());
    let store = S3Backend::new(cfg).unwrap();
    let err = store.write("k", b"v").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("TLS") && msg.contains("/nonexistent/blobio-test/ca.pem"), "{msg}");
    assert!(msg.contains("ca_bundle_path"), "the fix is named: {msg}");
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection is made: {accepted:?}"
    );

    // Plain HTTP needs no CA.
    let store = S3Server::S3sFs.new_store("noca");
    store.write("k", b"plain http").unwrap();
    assert_eq!(store.read("k").unwrap(), b"plain http");
}
