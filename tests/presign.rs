//! Presigned URLs used by a real client: curl PUTs, GETs and HEADs through
//! them against s3s-fs (which checks presigned signatures and their expiry)
//! and Azurite (which checks a SAS), and the servers refuse an expired URL,
//! a tampered one and one used for another method.
#![cfg(feature = "server-tests")]

mod common;
mod support;

use std::process::Command;
use std::time::Duration;

use blobio::{AzureBlobConfig, Backend, ErrorKind, LocalBackend, PresignMethod, S3Backend};
use support::azure::{container_sas, Azurite};
use support::{pseudo_random, S3Server};

/// curl's HTTP status for `args` + `url`, and what it wrote to stdout.
fn curl(args: &[&str], url: &str) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut body = out.stdout;
    let at = body.iter().rposition(|&b| b == b'\n').expect("a status line");
    let status = std::str::from_utf8(&body[at + 1..]).unwrap().trim().parse().unwrap();
    body.truncate(at);
    (status, body)
}

fn presigned_urls_work_for_curl_and_expire(store: &dyn Backend, dir: &common::TempDir) {
    let data = pseudo_random(300_000, 91);
    let file = dir.join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let hour = Duration::from_secs(3600);

    // PUT through the URL; the store reads what curl sent.
    let put = store.presign(PresignMethod::Put, "pre/a b+c.bin", hour).unwrap();
    let (status, _) = curl(&["-X", "PUT", "-H", "x-ms-blob-type: BlockBlob", "-T", file.to_str().unwrap()], &put);
    assert!((200..300).contains(&status), "PUT through the URL: HTTP {status}");
    assert!(store.read("pre/a b+c.bin").unwrap() == data);

    // GET and HEAD through theirs.
    let get = store.presign(PresignMethod::Get, "pre/a b+c.bin", hour).unwrap();
    let (status, body) = curl(&[], &get);
    assert_eq!(status, 200);
    assert!(body == data, "GET through the URL is not byte-exact");
    let head = store.presign(PresignMethod::Head, "pre/a b+c.bin", hour).unwrap();
    let (status, _) = curl(&["-I"], &head);
    assert_eq!(status, 200, "HEAD through the URL");

    // The URL grants its method and its object, nothing else.
    let (status, _) = curl(&["-X", "PUT", "-H", "x-ms-blob-type: BlockBlob", "-T", file.to_str().unwrap()], &get);
    assert!((400..500).contains(&status), "a GET URL used to PUT: HTTP {status}");
    let other = get.replacen("a%20b", "x%20b", 1);
    assert_ne!(other, get);
    let (status, _) = curl(&[], &other);
    assert!((400..500).contains(&status), "a URL for another object: HTTP {status}");
    assert!(store.read("pre/a b+c.bin").unwrap() == data, "the object is unchanged");

    // Expired: refused by the server.
    let short = store.presign(PresignMethod::Get, "pre/a b+c.bin", Duration::from_secs(1)).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (status, _) = curl(&[], &short);
    assert!((400..500).contains(&status), "an expired URL: HTTP {status}");

    // Lifetimes outside 1 s to 7 days.
    for bad in [Duration::ZERO, Duration::from_secs(8 * 24 * 3600)] {
        let err = store.presign(PresignMethod::Get, "pre/a b+c.bin", bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    let err = store.presign(PresignMethod::Get, "../x", hour).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidPath, "{err}");
    store.delete("pre/a b+c.bin").unwrap();
}

#[test]
fn s3s_presigned_urls() {
    let dir = common::TempDir::new("presign-s3s");
    let store = S3Server::S3sFs.new_store("presign");
    presigned_urls_work_for_curl_and_expire(&store, &dir);
    // The key id shows in the URL (that is how SigV4 names it); the secret never.
    let url = store.presign(PresignMethod::Get, "k", Duration::from_secs(60)).unwrap();
    assert!(url.contains("X-Amz-Signature=") && !url.contains(&S3Server::S3sFs.keys().1));
}

#[test]
fn azurite_presigned_urls() {
    let dir = common::TempDir::new("presign-az");
    let store = Azurite::Http.new_store("presign");
    presigned_urls_work_for_curl_and_expire(&store, &dir);
    let url = store.presign(PresignMethod::Get, "k", Duration::from_secs(60)).unwrap();
    assert!(url.contains("sig=") && !url.contains(&Azurite::key()));
}

#[test]
fn stores_without_a_key_cannot_presign() {
    let container = Azurite::Http.new_container("presign-sas");
    let mut cfg = AzureBlobConfig::with_sas(Azurite::account(), container_sas(&container), &container);
    cfg.endpoint = Some(Azurite::Http.endpoint());
    let sas_store = blobio::AzureBlobBackend::new(cfg).unwrap();
    let err = sas_store.presign(PresignMethod::Get, "k", Duration::from_secs(60)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");

    let dir = common::TempDir::new("presign-local");
    let local = LocalBackend::new(dir.path()).unwrap();
    let err = local.presign(PresignMethod::Get, "k", Duration::from_secs(60)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");

    // An anonymous S3 store hands out the plain URL (a public bucket's).
    // (moto answers unsigned requests.)
    let bucket = S3Server::Moto.new_bucket("presign-anon");
    let mut cfg = S3Server::Moto.config(&bucket);
    cfg.access_key = None;
    cfg.secret_key = None;
    cfg.skip_signature = true;
    let anon = S3Backend::new(cfg).unwrap();
    let url = anon.presign(PresignMethod::Get, "k", Duration::from_secs(60)).unwrap();
    assert!(url.ends_with(&format!("/{bucket}/k")), "{url}");
}
