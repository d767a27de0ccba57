//! Keys longer than the services allow are `InvalidPath` before any request,
//! on every backend alike: a key of more than 1,024 bytes of UTF-8 (S3's
//! limit, within Azure's 1,024 characters) everywhere, the local store
//! included; on a remote store with a prefix, a full object name (prefix
//! and key) beyond the service's 1,024 (bytes on S3, characters on Azure).
//! The counting proxy proves that no request left; on the local store,
//! nothing appears on disk.

mod common;
mod conformance;
mod support;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use blobio::{Backend, ErrorKind, LocalBackend, PresignMethod, PutMode, PutOptions, ReadRange};

/// A key of exactly `len` bytes, in components of 199 bytes (every file
/// system and s3s-fs, which stores keys as files, holds them).
fn long_key(len: usize) -> String {
    let key: String = (0..len).map(|i| if i % 200 == 199 { '/' } else { 'k' }).collect();
    assert!(!key.ends_with('/'), "choose a length that ends inside a component");
    key
}

/// A source that counts its reads: a refused key must not read it.
struct CountingReader<'a>(&'a AtomicUsize);

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.fetch_add(1, Ordering::Relaxed);
        buf.fill(b'x');
        Ok(buf.len().min(3))
    }
}

/// Every operation on `key` is InvalidPath saying `reason`, reads no
/// source, and leaves `valid` (an existing object) as it was.
fn every_operation_refuses(b: &dyn Backend, key: &str, valid: &str, reason: &str) {
    let what = |op: &str| format!("{op} of a {}-byte key on {}", key.len(), b.kind());
    let check = |op: &str, r: blobio::Result<()>| {
        let err = r.expect_err(&what(op));
        assert_eq!(err.kind(), ErrorKind::InvalidPath, "{}: {err}", what(op));
        assert!(err.to_string().contains(reason), "{}: {err}", what(op));
    };
    let plain = PutOptions::default();
    check("write", b.write(key, b"evil"));
    check("put (create)", b.put(key, b"evil", &PutOptions::with_mode(PutMode::Create)).map(drop));
    let reads = AtomicUsize::new(0);
    check("write_reader", b.write_reader(key, &mut CountingReader(&reads), Some(3)));
    check("write_reader (unknown size)", b.write_reader(key, &mut CountingReader(&reads), None));
    check(
        "put_reader",
        b.put_reader(key, &mut CountingReader(&reads), None, &plain).map(drop),
    );
    if let Some(app) = b.as_appending() {
        check("append_reader", app.append_reader(key, &mut CountingReader(&reads), 3));
    }
    assert_eq!(reads.load(Ordering::Relaxed), 0, "{}: the source was read", what("write_reader"));
    check("read", b.read(key).map(drop));
    let mut out = Vec::new();
    check("read_to", b.read_to(key, &mut out).map(drop));
    check("read_to_at", b.read_to_at(key, &mut out, 1).map(drop));
    assert!(out.is_empty());
    let mut buf = [0u8; 4];
    check("read_range", b.read_range(key, 0, &mut buf).map(drop));
    let mut ranges = [ReadRange::new(0, &mut buf)];
    check("read_ranges", b.read_ranges(key, &mut ranges));
    check("stat_file", b.stat_file(key).map(drop));
    check("exists", b.exists(key).map(drop));
    check("head", b.head(key).map(drop));
    check("delete", b.delete(key));
    let batch = b.as_batch_deleter().expect("every store deletes in batches");
    check("delete_batch", batch.delete_batch(&[key]));
    check("copy to it", b.copy(valid, key, &plain).map(drop));
    check("copy from it", b.copy(key, valid, &plain).map(drop));
    check("rename to it", b.rename(valid, key, &plain).map(drop));
    if b.kind() != "local" {
        check(
            "presign",
            b.presign(PresignMethod::Get, key, Duration::from_secs(60)).map(drop),
        );
    }
    // Over 1,024 bytes alone, the key is no prefix either: listing under it
    // is refused, not sent.
    if key.trim_start_matches('/').len() > blobio::MAX_KEY_BYTES {
        check("list", b.list(key).map(drop));
        if let Some(l) = b.as_object_lister() {
            check("list_objects", l.list_objects(key).map(drop));
        }
        if let Some(l) = b.as_directory_lister() {
            check("list_directories", l.list_directories(key).map(drop));
        }
        if let Some(r) = b.as_directory_remover() {
            check("remove_directory", r.remove_directory(key));
        }
    }
    assert_eq!(b.read(valid).unwrap(), b"valid", "{}: the other object", b.kind());
}

/// What every store says of a key beyond 1,024 bytes.
const KEY_TOO_LONG: &str = "longer than 1024 bytes of UTF-8";

#[test]
fn local_store_refuses_keys_longer_than_1024_bytes_and_creates_nothing() {
    let dir = common::TempDir::new("key-length");
    let store = LocalBackend::new(dir.path()).unwrap();
    store.write("valid", b"valid").unwrap();
    // The longest key is a key: written, read, listed, deleted.
    let longest = long_key(1024);
    store.write(&longest, b"longest").unwrap();
    assert_eq!(store.read(&format!("/{longest}")).unwrap(), b"longest");
    assert_eq!(store.list("kkk").unwrap(), vec![longest.clone()]);
    store.delete(&longest).unwrap();

    for key in [long_key(1025), "\u{20ac}".repeat(342), long_key(3990)] {
        every_operation_refuses(&store, &key, "valid", KEY_TOO_LONG);
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with(".blobio"))
        .collect();
    assert_eq!(names, ["valid"], "only the valid object is on disk");
}

#[cfg(feature = "server-tests")]
mod remote {
    use super::*;
    use blobio::{AzureBlobBackend, S3Backend};
    use support::azure::Azurite;
    use support::proxy::Proxy;
    use support::S3Server;

    fn host_port(url: &str) -> String {
        url.split("://").nth(1).unwrap().split('/').next().unwrap().to_owned()
    }

    /// The prefix of the stores here: 12 bytes, 12 characters.
    const PREFIX: &str = "tenant/data/";

    /// Runs the refusals through `proxy` and checks it saw no request;
    /// then that the longest name the service allows does round-trip
    /// (where the server holds it: `conformance::Options::longest_key`).
    fn refuses_without_a_request(
        b: &dyn Backend,
        proxy: &Proxy,
        prefixed: &str,
        server: conformance::Options,
    ) {
        b.write("valid", b"valid").unwrap();
        let before = proxy.counters.total();
        every_operation_refuses(b, &long_key(1025), "valid", KEY_TOO_LONG);
        every_operation_refuses(b, &"\u{20ac}".repeat(342), "valid", KEY_TOO_LONG);
        // Within 1,024 bytes alone, beyond the service's limit with the prefix.
        every_operation_refuses(b, &long_key(1024 - PREFIX.len() + 1), "valid", prefixed);
        assert_eq!(
            proxy.counters.total(),
            before + 3,
            "{}: only the three reads of the valid object reached the server: {:#?}",
            b.kind(),
            &proxy.counters.seen()[before..]
        );
        let longest = long_key(1024 - PREFIX.len());
        if PREFIX.len() + longest.len() > server.longest_key {
            return;
        }
        b.write(&longest, b"longest").unwrap();
        assert_eq!(b.read(&longest).unwrap(), b"longest", "{}", b.kind());
        assert_eq!(b.list("kkk").unwrap(), vec![longest.clone()], "{}", b.kind());
        b.delete(&longest).unwrap();
    }

    fn s3_behind_proxy(server: S3Server) -> (S3Backend, Proxy) {
        let proxy = Proxy::start(&host_port(&server.endpoint()));
        let mut cfg = server.config(&server.new_bucket("keylen"));
        cfg.endpoint = Some(proxy.url.clone());
        cfg.prefix = PREFIX.into();
        (S3Backend::new(cfg).unwrap(), proxy)
    }

    #[test]
    fn s3s_refuses_names_longer_than_1024_bytes_without_a_request() {
        let (store, proxy) = s3_behind_proxy(S3Server::S3sFs);
        let server = conformance::Options::s3s_fs();
        refuses_without_a_request(&store, &proxy, "longest object name S3 accepts", server);
    }

    #[test]
    fn moto_refuses_names_longer_than_1024_bytes_without_a_request() {
        let (store, proxy) = s3_behind_proxy(S3Server::Moto);
        let server = conformance::Options::moto();
        refuses_without_a_request(&store, &proxy, "longest object name S3 accepts", server);
    }

    #[test]
    fn azurite_refuses_names_longer_than_1024_characters_without_a_request() {
        let proxy = Proxy::start(&Azurite::Http.host_port());
        let mut cfg = Azurite::Http.config(&Azurite::Http.new_container("keylen"));
        cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
        cfg.prefix = PREFIX.into();
        let store = AzureBlobBackend::new(cfg).unwrap();
        let server = conformance::Options::azurite();
        refuses_without_a_request(&store, &proxy, "longest blob name Azure Blob Storage accepts", server);

        // Characters, not bytes: 1,000 two-byte characters after the
        // prefix (2,012 bytes) are a blob name Azure accepts, but not a
        // key, which is at most 1,024 bytes on every store.
        let before = proxy.counters.total();
        every_operation_refuses(&store, &"\u{e9}".repeat(1000), "valid", KEY_TOO_LONG);
        assert_eq!(proxy.counters.total(), before + 1, "only the read of the valid object");
    }
}
