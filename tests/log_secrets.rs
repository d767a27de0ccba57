//! No log record carries a secret: a callback registered through the C
//! ABI's `blobio_set_log_callback` keeps every record delivered, at every
//! level (the TLS and HTTP libraries' wire dumps included, as a debug build
//! has them), from whatever thread made it, while stores on s3s-fs, moto and
//! Azurite (shared key, SAS, connection string) write, read, list, delete,
//! fail with a wrong key and retry through the fault proxy; then every
//! record is searched for the test secrets, the SAS signature and anything
//! that looks like a request signature.
//!
//! One test in its own binary: the `log` logger is per process.
#![cfg(feature = "server-tests")]

mod support;

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use blobio::ffi::{blobio_set_log_callback, blobio_status, BLOBIO_LOG_TRACE};

use blobio::{AzureBlobBackend, AzureBlobConfig, Backend, ReadRange, S3Backend};
use support::azure::{container_sas, Azurite};
use support::proxy::{Fault, Proxy};
use support::{pseudo_random, S3Server};

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The C callback: level, target and message of each record, kept.
unsafe extern "C" fn keep(user: *mut c_void, level: i32, target: *const c_char, message: *const c_char) {
    assert_eq!(user as usize, 0x5eed, "the user pointer comes back as given");
    // SAFETY: blobio hands over two NUL-terminated strings for the call.
    let (target, message) = unsafe { (CStr::from_ptr(target), CStr::from_ptr(message)) };
    let line = format!("{level} {}: {}", target.to_string_lossy(), message.to_string_lossy());
    RECORDS.lock().unwrap().push(line);
}

/// Every operation a store has, including a multipart upload, a parallel
/// read and a vectored one.
fn exercise(store: &dyn Backend) {
    let big = pseudo_random(6 * 1024 * 1024 + 3, 81);
    store.write("logs/small.txt", b"hello").unwrap();
    store.write_reader("logs/big.bin", &mut &big[..], None).unwrap();
    assert!(store.read("logs/big.bin").unwrap() == big);
    let mut sink = Vec::new();
    store.read_to_at("logs/big.bin", &mut sink, 1000).unwrap();
    let mut a = vec![0u8; 100];
    let mut b = vec![0u8; 100];
    let mut ranges = [ReadRange::new(10, &mut a), ReadRange::new(5_000_000, &mut b)];
    store.read_ranges("logs/big.bin", &mut ranges).unwrap();
    assert!(store.exists("logs/small.txt").unwrap());
    store.stat_file("logs/missing").unwrap();
    store.list("logs/").unwrap();
    store.as_object_lister().unwrap().list_objects("logs/").unwrap();
    store.as_batch_deleter().unwrap().delete_batch(&["logs/small.txt", "logs/big.bin"]).unwrap();
    let _ = store.read("logs/missing");
}

fn small_parts_s3(mut cfg: blobio::S3Config) -> S3Backend {
    cfg.multipart_threshold = 5 * 1024 * 1024;
    cfg.part_size = 5 * 1024 * 1024;
    cfg.download_threshold = 1024 * 1024;
    cfg.download_part_size = 1024 * 1024;
    S3Backend::new(cfg).unwrap()
}

fn small_blocks_azure(mut cfg: AzureBlobConfig) -> AzureBlobBackend {
    cfg.single_put_threshold = 1024 * 1024;
    cfg.block_size = 1024 * 1024;
    cfg.download_threshold = 1024 * 1024;
    cfg.download_part_size = 1024 * 1024;
    AzureBlobBackend::new(cfg).unwrap()
}

#[test]
fn no_log_record_carries_a_secret() {
    // Buckets, containers and the SAS are made before anything is kept:
    // the test's own helpers presign URLs.
    let (s3s_key, s3s_secret) = S3Server::S3sFs.keys();
    let buckets: Vec<(S3Server, String)> =
        [S3Server::S3sFs, S3Server::Moto].into_iter().map(|s| (s, s.new_bucket("logs"))).collect();
    let container = Azurite::Http.new_container("logs");
    let sas = container_sas(&container);
    let key = Azurite::key();

    // SAFETY: `keep` is a valid callback for the life of the process.
    let st = unsafe { blobio_set_log_callback(BLOBIO_LOG_TRACE, Some(keep), 0x5eed as *mut c_void) };
    assert_eq!(st, blobio_status::Ok);

    for (server, bucket) in &buckets {
        let cfg = server.config(bucket);
        exercise(&small_parts_s3(cfg.clone()));
        // A wrong secret, and retries through a proxy that fails requests.
        let mut wrong = cfg.clone();
        wrong.secret_key = Some("wrong-secret-for-the-log-test".into());
        let _ = S3Backend::new(wrong).map(|s| s.write("x", b"x"));
        let proxy = Proxy::start(server.endpoint().split("://").nth(1).unwrap());
        let mut proxied = cfg.clone();
        proxied.endpoint = Some(proxy.url.clone());
        let store = small_parts_s3(proxied);
        proxy.fail_next(2, Fault::s3_slow_down());
        store.write("retried", b"x").unwrap();
    }

    exercise(&small_blocks_azure(Azurite::Http.config(&container)));
    exercise(&small_blocks_azure({
        let mut c = AzureBlobConfig::with_sas(Azurite::account(), sas.clone(), &container);
        c.endpoint = Some(Azurite::Http.endpoint());
        c
    }));
    exercise(&small_blocks_azure(AzureBlobConfig::from_connection_string(
        Azurite::Http.connection_string(),
        &container,
    )));
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut proxied = Azurite::Http.config(&container);
    proxied.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    let store = small_blocks_azure(proxied);
    proxy.fail_next(2, Fault::azure_server_busy());
    store.write("retried", b"x").unwrap();

    // SAFETY: no callback.
    assert_eq!(unsafe { blobio_set_log_callback(0, None, std::ptr::null_mut()) }, blobio_status::Ok);
    let records = RECORDS.lock().unwrap();
    let kept = records.len();
    assert!(records.len() > 20, "the stores logged hardly anything: {records:?}");
    assert!(records.iter().any(|r| r.contains("retry")), "no retry was logged");
    let sig = sas
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .expect("the SAS has a signature")
        .to_owned();
    let secrets = [
        s3s_secret.as_str(),
        "moto-secret",
        "wrong-secret-for-the-log-test",
        key.as_str(),
        sig.as_str(),
        "Signature=",
        "SharedKey ",
        "X-Amz-Signature",
        "x-amz-security-token",
    ];
    for r in records.iter() {
        for s in secrets {
            assert!(!r.contains(s), "a log record shows {s:?}: {r}");
        }
    }
    assert!(records.iter().any(|r| r.contains("<redacted>")), "no URL query was seen to redact");
    assert!(records.iter().any(|r| r.contains(&s3s_key) || r.contains("blobio")));
    drop(records);
    // Stopped: nothing more arrives.
    exercise(&small_blocks_azure(Azurite::Http.config(&container)));
    assert_eq!(RECORDS.lock().unwrap().len(), kept, "records after the callback was removed");
}
