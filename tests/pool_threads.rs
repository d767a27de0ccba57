//! The worker pool of a network store is lazy and leaves nothing behind:
//! small reads start no thread, a large streamed read starts the pool (a
//! large read into memory uses threads of its own, joined before it
//! returns), and closing or dropping the store joins every worker. Threads are counted in
//! `/proc/self/task`; this file holds one test so no other test's threads
//! are counted with it.
#![cfg(feature = "server-tests")]

mod support;
#[path = "support/threads.rs"]
mod threads;

use blobio::{Backend, LocalBackend, S3Backend};
use support::azure::Azurite;
use support::{pseudo_random, S3Server};
use threads::{all_threads, settled_threads_named, threads_named};

#[test]
fn pools_start_only_for_large_transfers_and_stop_on_close_and_drop() {
    let start = all_threads();

    // A local store never starts a thread.
    let dir = std::env::temp_dir().join(support::unique("pool-local"));
    let local = LocalBackend::new(&dir).unwrap();
    local.write("a", &pseudo_random(3 << 20, 1)).unwrap();
    assert_eq!(local.read("a").unwrap().len(), 3 << 20);
    assert_eq!(all_threads(), start, "the local backend started a thread");
    drop(local);
    let _ = std::fs::remove_dir_all(&dir);

    // S3: small objects go without the pool.
    let mut cfg = S3Server::Moto.config(&S3Server::Moto.new_bucket("pool"));
    cfg.download_threshold = 1 << 20;
    cfg.download_part_size = 1 << 20;
    cfg.download_concurrency = 3;
    cfg.upload_concurrency = 2;
    let s3 = S3Backend::new(cfg).unwrap();
    s3.write("small", b"0123456789").unwrap();
    assert_eq!(s3.read("small").unwrap(), b"0123456789");
    let mut sink = Vec::new();
    s3.read_to_at("small", &mut sink, 4).unwrap();
    assert_eq!(sink, b"456789");
    assert_eq!(threads_named("blobio-s3"), 0, "a small read started the pool");

    // A large read into memory fills its buffer in place from threads of
    // its own, joined before it returns: the pool stays unstarted.
    let big = pseudo_random(6 << 20, 2);
    s3.write("big", &big).unwrap();
    assert_eq!(threads_named("blobio-s3"), 0, "a single PUT started the pool");
    assert!(s3.read("big").unwrap() == big);
    assert_eq!(settled_threads_named("blobio-range", 0), 0, "read() left threads running");
    assert_eq!(threads_named("blobio-s3"), 0, "read() started the pool");
    // A large read into a writer starts it, sized by the larger concurrency.
    let streamed = |store: &dyn Backend| {
        let mut out = Vec::new();
        store.read_to("big", &mut out).unwrap();
        out == big
    };
    assert!(streamed(&s3));
    assert_eq!(settled_threads_named("blobio-s3", 3), 3);
    // close() joins the workers; the store still works (a new pool).
    s3.close().unwrap();
    assert_eq!(settled_threads_named("blobio-s3", 0), 0, "close left workers running");
    assert!(streamed(&s3));
    assert_eq!(settled_threads_named("blobio-s3", 3), 3);
    drop(s3);
    assert_eq!(settled_threads_named("blobio-s3", 0), 0, "drop left workers running");

    // Azure alike, dropped without close().
    let mut cfg = Azurite::Http.config(&Azurite::Http.new_container("pool"));
    cfg.download_threshold = 1 << 20;
    cfg.download_part_size = 1 << 20;
    cfg.download_concurrency = 2;
    cfg.upload_concurrency = 1;
    let az = blobio::AzureBlobBackend::new(cfg).unwrap();
    az.write("small", b"abc").unwrap();
    assert_eq!(az.read("small").unwrap(), b"abc");
    assert_eq!(threads_named("blobio-azure"), 0, "a small read started the pool");
    az.write("big", &big).unwrap();
    assert!(az.read("big").unwrap() == big);
    assert!(streamed(&az));
    assert_eq!(settled_threads_named("blobio-azure", 2), 2);
    az.delete("big").unwrap();
    drop(az);
    assert_eq!(settled_threads_named("blobio-azure", 0), 0, "drop left workers running");
}
