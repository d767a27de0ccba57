//! The Azure Blob backend against Azurite: the shared conformance suite with
//! Shared Key, with a SAS and through a connection string; then what is
//! particular to Azure — refused credentials, the Blob Batch API, block
//! uploads, failing sources, interop with the Python SDK, HTTPS with a
//! private CA, and a managed identity's bearer tokens. Run by
//! `scripts/test`, which starts both Azurite instances.
#![cfg(feature = "server-tests")]

mod conformance;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use blobio::{AzureBlobBackend, AzureBlobConfig, Backend, Error, ErrorKind};
use support::azure::{account_sas, container_sas, Azurite};
use support::proxy::Proxy;
use support::{digest_via_read_to, pseudo_random, python, sha256_hex, StreamSource};

const MIB: u64 = 1024 * 1024;

/// Small blocks, so the conformance suite's multi-MiB objects go through Put
/// Block + Put Block List.
fn small_blocks(mut cfg: AzureBlobConfig) -> AzureBlobConfig {
    cfg.block_size = MIB;
    cfg.single_put_threshold = 2 * MIB;
    cfg
}

// ---------------------------------------------------------------------------
// The conformance suite, unchanged, three ways
// ---------------------------------------------------------------------------

/// One container per authorisation mode, shared by that mode's checks (each
/// check works under its own prefix).
fn shared_container(mode: &'static str) -> String {
    static CONTAINERS: OnceLock<std::sync::Mutex<Vec<(&'static str, String)>>> = OnceLock::new();
    let mut all = CONTAINERS.get_or_init(Default::default).lock().unwrap();
    if let Some((_, c)) = all.iter().find(|(m, _)| *m == mode) {
        return c.clone();
    }
    let c = Azurite::Http.new_container(&format!("conf-{mode}"));
    all.push((mode, c.clone()));
    c
}

fn boxed(cfg: AzureBlobConfig) -> (Box<dyn Backend>, conformance::Options) {
    let store = AzureBlobBackend::new(cfg).expect("Azure store");
    (Box::new(store), conformance::Options::default())
}

/// Shared Key, small blocks.
fn shared_key_store() -> (Box<dyn Backend>, conformance::Options) {
    boxed(small_blocks(Azurite::Http.config(&shared_container("key"))))
}

/// An account SAS made by the Python SDK, small blocks.
fn sas_store() -> (Box<dyn Backend>, conformance::Options) {
    let container = shared_container("sas");
    let mut cfg = AzureBlobConfig::with_sas(Azurite::account(), account_sas(), container);
    cfg.endpoint = Some(Azurite::Http.endpoint());
    boxed(small_blocks(cfg))
}

/// A connection string, default block settings.
fn connection_string_store() -> (Box<dyn Backend>, conformance::Options) {
    let container = shared_container("cs");
    boxed(AzureBlobConfig::from_connection_string(
        Azurite::Http.connection_string(),
        container,
    ))
}

mod conformance_shared_key {
    crate::conformance_tests!(super::shared_key_store);
}

mod conformance_sas {
    crate::conformance_tests!(super::sas_store);
}

mod conformance_connection_string {
    crate::conformance_tests!(super::connection_string_store);
}

/// Shared Key under a key prefix: every behaviour holds relative to it.
fn prefixed_store() -> (Box<dyn Backend>, conformance::Options) {
    let mut cfg = small_blocks(Azurite::Http.config(&shared_container("prefixed")));
    cfg.prefix = "tenant/data".into();
    boxed(cfg)
}

mod conformance_prefixed {
    crate::conformance_tests!(super::prefixed_store);
}

#[test]
fn stores_with_different_prefixes_never_see_each_others_blobs() {
    let container = Azurite::Http.new_container("prefixes");
    let with = |prefix: &str| {
        let mut cfg = Azurite::Http.config(&container);
        cfg.prefix = prefix.into();
        AzureBlobBackend::new(cfg).unwrap()
    };
    let (a, b, root) = (with("tenant-a"), with("/tenant-b/"), with(""));
    assert_eq!((a.prefix(), b.prefix(), root.prefix()), ("tenant-a/", "tenant-b/", ""));
    a.write("db/x", b"from a").unwrap();
    b.write("db/x", b"from b").unwrap();
    assert_eq!(a.read("db/x").unwrap(), b"from a");
    assert_eq!(b.read("db/x").unwrap(), b"from b");
    assert_eq!(a.list("").unwrap(), ["db/x"]);
    assert_eq!(root.list("").unwrap(), ["tenant-a/db/x", "tenant-b/db/x"]);
    assert_eq!(a.as_directory_lister().unwrap().list_directories("").unwrap(), ["db"]);
    assert_eq!(a.storage_root(), format!("azure://{container}/tenant-a/"));
    assert_eq!(a.get_azure_path("db/x"), format!("azure://{container}/tenant-a/db/x"));
    a.as_batch_deleter().unwrap().delete_batch(&["db/x"]).unwrap();
    assert!(!a.exists("db/x").unwrap());
    assert_eq!(root.list("").unwrap(), ["tenant-b/db/x"]);
    let json: serde_json::Value = serde_json::from_str(&a.config_json()).unwrap();
    assert_eq!(json["prefix"], "tenant-a/");
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

fn assert_permission_denied<T: std::fmt::Debug>(what: &str, result: blobio::Result<T>) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{what}: {err}");
    assert_eq!(err.http_status(), Some(403), "{what}: {err}");
    // Azurite says AuthorizationFailure where Azure says AuthenticationFailed.
    let code = err.provider_code().unwrap_or_default();
    assert!(
        code == "AuthorizationFailure" || code == "AuthenticationFailed",
        "{what}: code {code:?} in {err}"
    );
}

#[test]
fn wrong_key_is_permission_denied_on_every_operation() {
    let container = Azurite::Http.new_container("badkey");
    let good = AzureBlobBackend::new(Azurite::Http.config(&container)).unwrap();
    good.write("present", b"x").unwrap();
    let wrong = base64::engine::general_purpose::STANDARD.encode(b"definitely not the account key");
    let mut cfg = Azurite::Http.config(&container);
    cfg.account_key = Some(wrong.clone());
    let store = AzureBlobBackend::new(cfg).unwrap();
    assert_permission_denied("write", store.write("x", b"data"));
    assert_permission_denied("read", store.read("present"));
    // A refused HEAD is an error, never "missing".
    assert_permission_denied("exists", store.exists("present"));
    assert_permission_denied("stat_file", store.stat_file("present"));
    assert_permission_denied("list", store.list(""));
    assert_permission_denied("delete", store.delete("present"));
    let err = store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["present"])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{store:?}"),
        store.config_json(),
    ] {
        assert!(!text.contains(&wrong), "the key leaked: {text}");
    }
    assert_eq!(good.read("present").unwrap(), b"x");
}

#[test]
fn tampered_sas_is_permission_denied() {
    let container = Azurite::Http.new_container("badsas");
    let good = account_sas();
    // Change one base64 character of the signature, keeping its URL
    // encoding valid (a broken %XX escape makes Azurite answer 500).
    let tampered: String = good
        .split('&')
        .map(|p| match p.strip_prefix("sig=") {
            Some(sig) => {
                let decoded = percent_encoding::percent_decode_str(sig).decode_utf8().unwrap();
                let mut s: Vec<char> = decoded.chars().collect();
                s[3] = if s[3] == 'A' { 'B' } else { 'A' };
                let s: String = s.into_iter().collect();
                let enc = percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC);
                format!("sig={enc}")
            }
            None => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    assert_ne!(good, tampered);
    let mut cfg = AzureBlobConfig::with_sas(Azurite::account(), tampered.clone(), &container);
    cfg.endpoint = Some(Azurite::Http.endpoint());
    let store = AzureBlobBackend::new(cfg).unwrap();
    assert_permission_denied("write", store.write("x", b"data"));
    assert_permission_denied("read", store.read("x"));
    assert_permission_denied("list", store.list(""));
    let err = store.write("x", b"data").unwrap_err();
    assert!(!err.to_string().contains("sig="), "{err}");
    // Neither the token nor its signature (`skip_signature` is a setting).
    let json = store.config_json();
    assert!(!json.contains("sig=") && !json.contains(&tampered), "{json}");

    // The untampered token works on the same container.
    let mut cfg = AzureBlobConfig::with_sas(Azurite::account(), format!("?{good}"), &container);
    cfg.endpoint = Some(Azurite::Http.endpoint());
    let store = AzureBlobBackend::new(cfg).unwrap();
    store.write("x", b"data").unwrap();
    assert_eq!(store.read("x").unwrap(), b"data");
}

/// A store on `container` whose requests go through a counting proxy.
fn proxied(cfg: AzureBlobConfig) -> (AzureBlobBackend, Proxy) {
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut cfg = cfg;
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    (AzureBlobBackend::new(cfg).unwrap(), proxy)
}

#[test]
fn container_sas_reads_writes_lists_and_batch_deletes() {
    let container = Azurite::Http.new_container("csas");
    let cfg = small_blocks(AzureBlobConfig::with_sas(
        Azurite::account(),
        container_sas(&container),
        &container,
    ));
    let (store, proxy) = proxied(cfg);
    let big = pseudo_random((3 * MIB + 5) as usize, 4);
    store.write("d/big", &big).unwrap();
    store.write("d/small", b"s").unwrap();
    assert_eq!(store.read("d/big").unwrap(), big);
    assert_eq!(store.list("d/").unwrap(), ["d/big", "d/small"]);
    store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["d/big", "d/small", "d/missing"])
        .unwrap();
    assert_eq!(proxy.counters.count("POST", "comp=batch"), 1);
    assert_eq!(
        proxy.counters.count("DELETE", ""),
        0,
        "sub-requests carry the SAS"
    );
    assert!(store.list("").unwrap().is_empty());
}

#[test]
fn account_sas_batch_refused_by_azurite_falls_back_to_single_deletes() {
    // Azurite 3.35 answers a batch authorised by an account SAS with a bare
    // 500 ("OPERATION_ACCOUNT_SAS_PERMISSIONS doesn't have configuration for
    // operation Container_SubmitBatch"); Azure accepts it.
    let container = Azurite::Http.new_container("asas");
    let cfg = AzureBlobConfig::with_sas(Azurite::account(), account_sas(), &container);
    let (store, proxy) = proxied(cfg);
    for k in ["a", "b", "c"] {
        store.write(k, b"x").unwrap();
    }
    store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["a", "b", "c", "missing"])
        .unwrap();
    assert_eq!(proxy.counters.count("POST", "comp=batch"), 1);
    assert_eq!(proxy.counters.count("DELETE", ""), 4);
    assert!(store.list("").unwrap().is_empty());
}

#[test]
fn development_storage_connection_string_with_an_endpoint_override() {
    let container = Azurite::Http.new_container("devstore");
    let mut cfg = AzureBlobConfig::from_connection_string("UseDevelopmentStorage=true", &container);
    cfg.endpoint = Some(Azurite::Http.endpoint());
    let store = AzureBlobBackend::new(cfg).unwrap();
    store.write("k", b"dev").unwrap();
    assert_eq!(store.read("k").unwrap(), b"dev");
    assert_eq!(store.account_name(), "devstoreaccount1");
}

#[test]
fn missing_credentials_are_permission_denied_and_bad_connection_strings_invalid_argument() {
    let mut cfg = AzureBlobConfig::new("c-none");
    cfg.account_name = Some("acct".into());
    // No managed identity: this machine must never ask an instance
    // metadata endpoint. The other steps find nothing when the variables
    // are unset in the test environment.
    cfg.use_managed_identity = Some(false);
    let vars = ["AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS"];
    if vars.iter().all(|v| std::env::var_os(v).is_none()) {
        let err = AzureBlobBackend::new(cfg).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        for way in ["connection_string", "sas_token", "account_key", "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE", "use_managed_identity=false", "skip_signature"] {
            assert!(err.to_string().contains(way), "{way}: {err}");
        }
    }
    let key = Azurite::key();
    let cs = format!("AccountName=devstoreaccount1;AccountKey={key}x%;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1");
    let err =
        AzureBlobBackend::new(AzureBlobConfig::from_connection_string(cs, "c-bad")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("AccountKey"), "{err}");
    assert!(!err.to_string().contains(&key[..20]), "{err}");
    let err =
        AzureBlobBackend::new(AzureBlobConfig::with_shared_key("a", &key, "Bad_Name")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}

// ---------------------------------------------------------------------------
// The Blob Batch API
// ---------------------------------------------------------------------------

fn write_all_parallel(store: &AzureBlobBackend, keys: &[String]) {
    std::thread::scope(|s| {
        for chunk in keys.chunks(keys.len() / 8 + 1) {
            s.spawn(move || {
                for k in chunk {
                    store.write(k, k.as_bytes()).unwrap();
                }
            });
        }
    });
}

#[test]
fn batch_delete_of_600_blobs_takes_3_batch_requests_and_missing_ones_are_fine() {
    let container = Azurite::Http.new_container("batch600");
    let direct = AzureBlobBackend::new(Azurite::Http.config(&container)).unwrap();
    let keys: Vec<String> = (0..600).map(|i| format!("del/{i:04}")).collect();
    // Every third blob is never written: missing, and not a failure.
    let present: Vec<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, k)| k.clone())
        .collect();
    write_all_parallel(&direct, &present);
    direct.write("keep/me", b"keep").unwrap();
    assert_eq!(direct.list("del/").unwrap().len(), 400);

    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut cfg = Azurite::Http.config(&container);
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    let store = AzureBlobBackend::new(cfg).unwrap();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&refs)
        .unwrap();
    assert_eq!(
        proxy.counters.count("POST", "comp=batch"),
        3,
        "600 blobs = 256 + 256 + 88"
    );
    assert_eq!(proxy.counters.count("DELETE", ""), 0, "no single deletes");
    assert!(direct.list("del/").unwrap().is_empty());
    assert_eq!(direct.list("").unwrap(), ["keep/me"]);
}

const PY_BLOB: &str = r#"
import sys, hashlib
from azure.storage.blob import BlobServiceClient, ContentSettings
op, cs, container = sys.argv[1:4]
svc = BlobServiceClient.from_connection_string(cs)
cc = svc.get_container_client(container)
if op == "lease":
    cc.get_blob_client(sys.argv[4]).acquire_lease(lease_duration=-1)
elif op == "digest":
    body = cc.download_blob(sys.argv[4]).readall()
    print(len(body), hashlib.sha256(body).hexdigest())
elif op == "props":
    p = cc.get_blob_client(sys.argv[4]).get_blob_properties()
    print(p.content_settings.content_type, getattr(p.blob_type, "value", p.blob_type), p.size)
elif op == "blocks":
    committed, uncommitted = cc.get_blob_client(sys.argv[4]).get_block_list("all")
    print("committed=" + ",".join(str(b.size) for b in committed))
    print("uncommitted=%d" % len(uncommitted))
elif op == "list":
    for b in cc.list_blobs(name_starts_with=sys.argv[4]):
        print(b.name.encode("unicode_escape").decode("ascii"))
elif op in ("put", "upload"):
    name, n, seed = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    data = bytes((i * seed + i // 7) % 251 for i in range(n))
    if op == "put":
        cc.upload_blob(name, data, overwrite=True)
    else:
        small = BlobServiceClient.from_connection_string(
            cs, max_single_put_size=1024 * 1024, max_block_size=1024 * 1024)
        small.get_container_client(container).upload_blob(name, data, overwrite=True, max_concurrency=4)
    print(len(data), hashlib.sha256(data).hexdigest())
"#;

fn py_blob(args: &[&str]) -> String {
    let cs = Azurite::Http.connection_string();
    let mut all = vec![args[0], cs.as_str()];
    all.extend_from_slice(&args[1..]);
    python(PY_BLOB, &all).trim().to_owned()
}

#[test]
fn batch_delete_reports_a_leased_blob_by_path_and_deletes_the_rest() {
    let store = Azurite::Http.new_store("batchlease");
    let container = store.container().to_owned();
    for k in ["a", "leased", "b"] {
        store.write(k, k.as_bytes()).unwrap();
    }
    py_blob(&["lease", &container, "leased"]);
    let err = store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["a", "missing", "leased", "../bad", "b"])
        .unwrap_err();
    let Error::Batch { failures } = &err else {
        panic!("expected a batch error, got {err}")
    };
    let mut failed: Vec<(&str, ErrorKind)> = failures
        .iter()
        .map(|f| (f.path.as_str(), f.error.kind()))
        .collect();
    failed.sort_by_key(|(p, _)| *p);
    assert_eq!(
        failed,
        [
            ("../bad", ErrorKind::InvalidPath),
            ("leased", ErrorKind::PreconditionFailed)
        ],
        "{err}"
    );
    let leased = failures.iter().find(|f| f.path == "leased").unwrap();
    assert_eq!(leased.error.http_status(), Some(412));
    assert_eq!(
        leased.error.provider_code(),
        Some("LeaseIdMissing"),
        "{}",
        leased.error
    );
    assert_eq!(store.list("").unwrap(), ["leased"]);
    // A single delete of the leased blob says the same.
    let err = store.delete("leased").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
}

// ---------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------

#[test]
fn listing_pages_with_the_marker() {
    let container = Azurite::Http.new_container("pages");
    let direct = AzureBlobBackend::new(Azurite::Http.config(&container)).unwrap();
    // Names that sort and escape in interesting ways, 25 of them.
    let keys: Vec<String> = (0..25)
        .map(|i| format!("many/{i:02} a+b%{}", ["x", "ü", "日"][i % 3]))
        .collect();
    write_all_parallel(&direct, &keys);
    for d in 0..7 {
        direct.write(&format!("dirs/d{d}/x"), b"x").unwrap();
    }
    let mut cfg = Azurite::Http.config(&container);
    cfg.list_page_size = 10;
    let (store, proxy) = proxied(cfg);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(store.list("many/").unwrap(), sorted);
    assert_eq!(
        proxy.counters.count("GET", "comp=list"),
        3,
        "25 blobs take 3 pages of 10"
    );
    let objects = store
        .as_object_lister()
        .unwrap()
        .list_objects("many/")
        .unwrap();
    assert_eq!(
        objects.iter().map(|o| o.path.clone()).collect::<Vec<_>>(),
        sorted
    );
    for o in &objects {
        assert_eq!(o.size, o.path.len() as u64, "{o:?}");
        let age = SystemTime::now()
            .duration_since(o.last_modified)
            .unwrap_or_default();
        assert!(age < Duration::from_secs(600), "{o:?}");
    }
    // Directory listings page too (BlobPrefix entries count toward a page).
    let mut cfg = Azurite::Http.config(&container);
    cfg.list_page_size = 2;
    let (store, proxy) = proxied(cfg);
    let dirs = store
        .as_directory_lister()
        .unwrap()
        .list_directories("dirs")
        .unwrap();
    assert_eq!(dirs, ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]);
    assert_eq!(proxy.counters.count("GET", "comp=list"), 4);
    let mut all = store.list("").unwrap();
    all.sort();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&refs)
        .unwrap();
    assert!(store.list("").unwrap().is_empty());
    let bad = AzureBlobConfig {
        list_page_size: 5001,
        ..Azurite::Http.config(&container)
    };
    assert_eq!(
        AzureBlobBackend::new(bad).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn list_directories_skips_hidden_names() {
    let store = Azurite::Http.new_store("dirs");
    for k in [
        "db/.hidden/x",
        "db/cpu/a",
        "db/mem/b",
        "db/file",
        ".top/x",
        "top/y",
    ] {
        store.write(k, b"x").unwrap();
    }
    let dirs = store.as_directory_lister().unwrap();
    assert_eq!(dirs.list_directories("db").unwrap(), ["cpu", "mem"]);
    assert_eq!(dirs.list_directories("").unwrap(), ["db", "top"]);
    assert_eq!(dirs.list_directories("/db/").unwrap(), ["cpu", "mem"]);
}

// ---------------------------------------------------------------------------
// Block uploads and failing sources
// ---------------------------------------------------------------------------

#[test]
fn upload_of_50_mib_in_4_mib_blocks_reads_back_byte_exact() {
    let container = Azurite::Http.new_container("blocks50");
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut cfg = Azurite::Http.config(&container);
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    cfg.block_size = 4 * MIB;
    cfg.upload_concurrency = 4;
    let store = AzureBlobBackend::new(cfg).unwrap();
    let len = 50 * MIB;
    let mut src = StreamSource::new(len, 21, None);
    store
        .write_reader("big/known.parquet", &mut src, Some(len))
        .unwrap();
    assert_eq!(
        digest_via_read_to(&store, "big/known.parquet"),
        (len, src.digest())
    );
    assert_eq!(
        proxy.counters.count("PUT", "comp=block&"),
        13,
        "12 blocks of 4 MiB and one of 2 MiB"
    );
    assert_eq!(proxy.counters.count("PUT", "comp=blocklist"), 1);
    let blocks = py_blob(&["blocks", &container, "big/known.parquet"]);
    let four = (4 * MIB).to_string();
    let committed = blocks
        .lines()
        .next()
        .unwrap()
        .strip_prefix("committed=")
        .unwrap();
    let sizes: Vec<&str> = committed.split(',').collect();
    assert_eq!(sizes.len(), 13, "{blocks}");
    assert!(sizes[..12].iter().all(|s| *s == four), "{blocks}");
    assert_eq!(sizes[12], (2 * MIB).to_string());
    assert_eq!(
        py_blob(&["props", &container, "big/known.parquet"]),
        format!("application/vnd.apache.parquet BlockBlob {len}")
    );

    // An unknown-size stream, 17 bytes past a block boundary.
    let len = 50 * MIB + 17;
    let mut src = StreamSource::new(len, 22, None);
    store
        .write_reader("big/stream.bin", &mut src, None)
        .unwrap();
    assert_eq!(
        digest_via_read_to(&store, "big/stream.bin"),
        (len, src.digest())
    );
    let mut tail = Vec::new();
    assert_eq!(
        store
            .read_to_at("big/stream.bin", &mut tail, len - 100)
            .unwrap(),
        100
    );
    let mut buf = vec![0u8; 1000];
    assert_eq!(
        store
            .read_range("big/stream.bin", len - 10, &mut buf)
            .unwrap(),
        10
    );
    assert_eq!(&buf[..10], &tail[90..]);
    // `write` of a slice above the single-put threshold goes in blocks too.
    let data = pseudo_random((40 * MIB + 1) as usize, 23);
    store.write("big/slice.bin", &data).unwrap();
    assert_eq!(store.read("big/slice.bin").unwrap(), data);
    assert_eq!(proxy.counters.count("PUT", "comp=blocklist"), 3);
}

#[test]
fn source_failing_midway_leaves_no_blob_and_keeps_the_old_version() {
    let store = AzureBlobBackend::new(small_blocks(
        Azurite::Http.config(&Azurite::Http.new_container("failsrc")),
    ))
    .unwrap();
    let container = store.container().to_owned();
    store.write("victim", b"old version").unwrap();
    // Blocks: fails while the fourth block is read.
    for size in [None, Some(10 * MIB)] {
        let mut src = StreamSource::new(10 * MIB, 5, Some(3 * MIB + MIB / 2));
        let err = store.write_reader("victim", &mut src, size).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(
            err.to_string().contains("source failed on purpose"),
            "{err}"
        );
        assert_eq!(store.read("victim").unwrap(), b"old version");
        let mut src = StreamSource::new(10 * MIB, 5, Some(3 * MIB + MIB / 2));
        assert_eq!(
            store
                .write_reader("fresh", &mut src, size)
                .unwrap_err()
                .kind(),
            ErrorKind::Io
        );
        assert!(!store.exists("fresh").unwrap());
    }
    // The staged blocks stay uncommitted: the blob is still the old one.
    let blocks = py_blob(&["blocks", &container, "victim"]);
    assert_eq!(
        blocks.lines().next(),
        Some("committed="),
        "no committed blocks: {blocks}"
    );
    assert_ne!(blocks.lines().nth(1), Some("uncommitted=0"), "{blocks}");
    // Single Put Blob: fails halfway through the body.
    let mut src = StreamSource::new(MIB, 6, Some(MIB / 2));
    let err = store
        .write_reader("single", &mut src, Some(MIB))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(!store.exists("single").unwrap());
    // Announced size larger than the source.
    let mut short = StreamSource::new(3 * MIB, 7, None);
    let err = store
        .write_reader("short", &mut short, Some(5 * MIB))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(!store.exists("short").unwrap());
    assert_eq!(store.list("").unwrap(), ["victim"]);
}

// ---------------------------------------------------------------------------
// Interop with the Python SDK
// ---------------------------------------------------------------------------

const ODD_NAMES: [&str; 6] = [
    "odd/with space.bin",
    "odd/ünïcödé 日本語.bin",
    "odd/a+b.bin",
    "odd/100%.bin",
    "odd/%2F not a slash",
    "odd/sub!$&'()*,;=@~.bin",
];

#[test]
fn blobs_written_by_blobio_read_back_identically_with_the_python_sdk() {
    let store = AzureBlobBackend::new(small_blocks(
        Azurite::Http.config(&Azurite::Http.new_container("interopw")),
    ))
    .unwrap();
    let container = store.container().to_owned();
    let single = pseudo_random(300_000, 1);
    store.write("dir/single key.parquet", &single).unwrap();
    assert_eq!(
        py_blob(&["digest", &container, "dir/single key.parquet"]),
        format!("{} {}", single.len(), sha256_hex(&single))
    );
    assert_eq!(
        py_blob(&["props", &container, "dir/single key.parquet"]),
        format!("application/vnd.apache.parquet BlockBlob {}", single.len())
    );
    let mut src = StreamSource::new(6 * MIB + 3, 9, None);
    store
        .write_reader("dir/blocks.bin", &mut src, None)
        .unwrap();
    assert_eq!(
        py_blob(&["digest", &container, "dir/blocks.bin"]),
        format!("{} {}", 6 * MIB + 3, src.digest())
    );
    assert_eq!(
        py_blob(&["props", &container, "dir/blocks.bin"]),
        format!("application/octet-stream BlockBlob {}", 6 * MIB + 3)
    );
    for (i, name) in ODD_NAMES.iter().enumerate() {
        let data = format!("odd #{i}");
        store.write(name, data.as_bytes()).unwrap();
        assert_eq!(
            py_blob(&["digest", &container, name]),
            format!("{} {}", data.len(), sha256_hex(data.as_bytes()))
        );
    }
    let mut expected: Vec<String> = ODD_NAMES
        .iter()
        .map(|n| n.escape_unicode().to_string())
        .collect();
    expected.sort();
    let listed = py_blob(&["list", &container, "odd/"]);
    let mut listed: Vec<String> = listed
        .lines()
        .map(|l| unescape_python(l).escape_unicode().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, expected, "names as the SDK lists them");
}

/// Undoes Python's `unicode_escape` of ASCII-safe output.
fn unescape_python(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (len, _) = match chars.next() {
            Some('x') => (2, 'x'),
            Some('u') => (4, 'u'),
            Some('U') => (8, 'U'),
            Some('\\') => {
                out.push('\\');
                continue;
            }
            Some(other) => panic!("unexpected escape \\{other} in {line}"),
            None => panic!("dangling escape in {line}"),
        };
        let hex: String = (0..len).map(|_| chars.next().unwrap()).collect();
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
    }
    out
}

#[test]
fn blobs_written_by_the_python_sdk_read_back_identically_with_blobio() {
    let store = Azurite::Http.new_store("interopr");
    let container = store.container().to_owned();
    for (op, name, n) in [
        ("put", "b/put.bin", 100_000u64),
        ("upload", "b/blocks.bin", 5 * MIB + 77),
    ] {
        let expected = py_blob(&[op, &container, name, &n.to_string(), "13"]);
        let data = store.read(name).unwrap();
        assert_eq!(
            expected,
            format!("{} {}", data.len(), sha256_hex(&data)),
            "{name}"
        );
        assert_eq!(store.stat_file(name).unwrap(), Some(n));
        let mut tail = Vec::new();
        store.read_to_at(name, &mut tail, n - 10).unwrap();
        assert_eq!(tail, data[data.len() - 10..]);
    }
    for name in ODD_NAMES {
        let expected = py_blob(&["put", &container, name, "1000", "3"]);
        let data = store.read(name).unwrap();
        assert_eq!(
            expected,
            format!("{} {}", data.len(), sha256_hex(&data)),
            "{name}"
        );
    }
    let mut expected: Vec<String> = ODD_NAMES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(store.list("odd/").unwrap(), expected);
}

// ---------------------------------------------------------------------------
// Store-level behaviour
// ---------------------------------------------------------------------------

#[test]
fn missing_container_is_not_found_naming_the_container() {
    let name = support::unique("nocontainer").replace('_', "-");
    let store =
        AzureBlobBackend::new(Azurite::Http.config(&name)).expect("created before its container");
    for err in [
        store.write("k", b"v").unwrap_err(),
        store.list("").unwrap_err(),
        store.read("k").unwrap_err(),
        store.exists("k").unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(err.provider_code(), Some("ContainerNotFound"), "{err}");
        assert!(
            err.to_string().contains(&format!("azure://{name}")),
            "{err}"
        );
    }
    store.create_container().unwrap();
    store.create_container().unwrap();
    store.write("k", b"v").unwrap();
}

#[test]
fn config_json_debug_and_paths_never_show_secrets() {
    let store = Azurite::Http.new_store("secrets");
    let key = Azurite::key();
    let json: serde_json::Value = serde_json::from_str(&store.config_json()).unwrap();
    assert_eq!(json["container"], store.container());
    assert_eq!(json["account_name"], "devstoreaccount1");
    assert_eq!(json["endpoint"], Azurite::Http.endpoint());
    assert_eq!(json["auth"], "shared_key");
    let cfg = AzureBlobConfig::from_connection_string(
        Azurite::Http.connection_string(),
        store.container(),
    );
    for text in [
        store.config_json(),
        format!("{store:?}"),
        format!("{cfg:?}"),
    ] {
        assert!(!text.contains(&key[..16]), "{text}");
    }
    assert_eq!(store.kind(), "azure");
    assert_eq!(
        store.storage_root(),
        format!("azure://{}/", store.container())
    );
    assert_eq!(
        blobio::get_storage_path(&store, "mydb", "cpu").unwrap(),
        format!("azure://{}/mydb/cpu/**/*.parquet", store.container())
    );
    assert_eq!(
        store.get_azure_path("/a/b"),
        format!("azure://{}/a/b", store.container())
    );
    assert_eq!(
        blobio::get_local_base_path(&store, "Retention", "/fallback"),
        ""
    );
}

#[test]
fn append_reader_is_resume_not_supported() {
    let store = Azurite::Http.new_store("append");
    let err = store
        .as_appending()
        .unwrap()
        .append_reader("x", &mut std::io::empty(), 0)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ResumeNotSupported);
}

#[test]
fn dead_endpoint_is_a_network_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut cfg = Azurite::Http.config("dead");
    cfg.endpoint = Some(format!("http://127.0.0.1:{port}/devstoreaccount1"));
    let store = AzureBlobBackend::new(cfg).unwrap();
    let err = store.read("k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
}

#[test]
fn construction_against_a_black_hole_is_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cfg = Azurite::Http.config("blackhole");
    cfg.endpoint = Some(format!("http://127.0.0.1:{port}/devstoreaccount1"));
    cfg.http.timeouts.request = Duration::from_millis(500);
    cfg.http.timeouts.stall = Duration::from_millis(500);
    let started = Instant::now();
    let store = AzureBlobBackend::new(cfg).unwrap();
    assert!(started.elapsed() < Duration::from_secs(11));
    let err = store.read("k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    drop(listener);
}

// ---------------------------------------------------------------------------
// HTTPS and managed identity (the second Azurite: TLS, --oauth basic)
// ---------------------------------------------------------------------------

#[test]
fn https_without_the_ca_is_a_clear_tls_error_and_with_it_works() {
    let container = Azurite::Https.new_container("tls");
    let mut cfg = Azurite::Https.config(&container);
    cfg.http.ca_bundle = None;
    let store = AzureBlobBackend::new(cfg).unwrap();
    let err = store.write("k", b"v").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    let msg = err.to_string();
    // "request: TLS: invalid peer certificate: UnknownIssuer"
    assert!(msg.contains("TLS") && msg.contains("certificate"), "{msg}");

    let mut cfg = Azurite::Https.config(&container);
    cfg.http.ca_bundle = Some("/nonexistent/ca.pem".into());
    let err = AzureBlobBackend::new(cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("CA bundle /nonexistent/ca.pem"), "{err}");

    let store = AzureBlobBackend::new(Azurite::Https.config(&container)).unwrap();
    store.write("k", b"over https").unwrap();
    assert_eq!(store.read("k").unwrap(), b"over https");
    let big = pseudo_random((3 * MIB) as usize, 8);
    let store = AzureBlobBackend::new(small_blocks(Azurite::Https.config(&container))).unwrap();
    store.write("big", &big).unwrap();
    assert_eq!(store.read("big").unwrap(), big);
    store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["k", "big"])
        .unwrap();
    assert!(store.list("").unwrap().is_empty());
}

/// A loopback stand-in for the instance metadata token endpoint: it checks
/// the request as IMDS does and mints unsigned JWTs with the claims Azurite's
/// `--oauth basic` checks.
struct TokenServer {
    url: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    port: u16,
}

#[derive(Clone, Copy)]
enum TokenMode {
    /// Tokens valid for this many seconds.
    Valid(u64),
    /// 400 "Identity not found", as IMDS answers on a VM without one.
    NoIdentity,
}

impl TokenServer {
    fn start(mode: TokenMode) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = serve_token(conn, mode, &r);
                }
            }
        });
        TokenServer {
            url: format!("http://127.0.0.1:{port}"),
            requests,
            stop,
            port,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_token(conn: TcpStream, mode: TokenMode, requests: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut metadata = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("metadata:") && lower.trim_end().ends_with("true") {
            metadata = true;
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let well_formed = target.starts_with("/metadata/identity/oauth2/token?")
        && target.contains("api-version=2018-02-01")
        && target.contains("resource=https%3A%2F%2Fstorage.azure.com%2F");
    let (status, body) = match mode {
        _ if !metadata => (400, r#"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#.to_owned()),
        _ if !well_formed => (400, format!(r#"{{"error":"invalid_request","error_description":"unexpected request {target}"}}"#)),
        TokenMode::NoIdentity => (400, r#"{"error":"invalid_request","error_description":"Identity not found"}"#.to_owned()),
        TokenMode::Valid(lifetime) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
            let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            let tenant = "dd0d0b8f-0000-4000-8000-000000000001";
            let jwt = format!(
                "{}.{}.",
                b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
                b64(serde_json::json!({
                    "aud": "https://storage.azure.com",
                    "iss": format!("https://sts.windows.net/{tenant}/"),
                    "iat": now - 60, "nbf": now - 60, "exp": now + lifetime,
                    "oid": "0b0b0b0b-0000-4000-8000-000000000002", "tid": tenant,
                    "sub": "0b0b0b0b-0000-4000-8000-000000000002",
                }))
            );
            let json = serde_json::json!({
                "access_token": jwt,
                "client_id": "0c0c0c0c-0000-4000-8000-000000000003",
                "expires_in": lifetime.to_string(),
                "expires_on": (now + lifetime).to_string(),
                "ext_expires_in": lifetime.to_string(),
                "not_before": (now - 60).to_string(),
                "resource": "https://storage.azure.com/",
                "token_type": "Bearer",
            });
            (200, json.to_string())
        }
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        if status == 200 { "OK" } else { "Bad Request" },
        body.len()
    )?;
    conn.flush()
}

fn managed_identity_config(container: &str, token: &TokenServer) -> AzureBlobConfig {
    let mut cfg = AzureBlobConfig::with_managed_identity(Azurite::account(), container);
    cfg.endpoint = Some(Azurite::Https.endpoint());
    cfg.http.ca_bundle = Some(Azurite::ca_bundle().into());
    cfg.managed_identity_endpoint = Some(token.url.clone());
    cfg
}

/// The HTTPS Azurite checks `x-ms-version` (the other one cannot: the newer
/// Python SDK talks to it). Every test on it proves blobio's pinned version
/// is accepted; this one proves the check is really on, so they would fail
/// if the pin moved past what Azurite supports.
#[test]
fn pinned_api_version_is_checked_by_the_https_azurite() {
    let container = Azurite::Https.new_container("apiversion");
    let store = AzureBlobBackend::new(Azurite::Https.config(&container)).unwrap();
    store.write("v", b"accepted").unwrap();
    assert_eq!(store.read("v").unwrap(), b"accepted");

    let answer = |version: &str| -> String {
        let out = std::process::Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(Azurite::ca_bundle())
            .args(["-H", &format!("x-ms-version: {version}")])
            .arg(format!("{}?comp=list", Azurite::Https.endpoint()))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let refused = answer("2099-01-01");
    assert!(
        refused.ends_with("\n400") && refused.contains("InvalidHeaderValue"),
        "an unsupported version must be refused: {refused}"
    );
    // Unsigned, so refused for want of credentials, not for its version.
    let pinned = answer("2025-11-05");
    assert!(pinned.ends_with("\n403"), "{pinned}");
}

#[test]
fn managed_identity_works_end_to_end_over_https_with_one_cached_token() {
    let container = Azurite::Https.new_container("msi");
    let token = TokenServer::start(TokenMode::Valid(3600));
    let store =
        AzureBlobBackend::new(small_blocks(managed_identity_config(&container, &token))).unwrap();
    assert!(
        store
            .config_json()
            .contains("\"credential_source\":\"managed_identity\""),
        "{}",
        store.config_json()
    );
    store.write("db/a.parquet", b"parquet bytes").unwrap();
    let big = pseudo_random((5 * MIB + 3) as usize, 12);
    store.write("db/big.bin", &big).unwrap();
    assert_eq!(store.read("db/big.bin").unwrap(), big);
    assert_eq!(store.list("db/").unwrap(), ["db/a.parquet", "db/big.bin"]);
    assert_eq!(store.stat_file("db/a.parquet").unwrap(), Some(13));
    let mut buf = [0u8; 5];
    assert_eq!(store.read_range("db/a.parquet", 8, &mut buf).unwrap(), 5);
    assert_eq!(&buf, b"bytes");
    store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["db/a.parquet", "db/big.bin", "db/missing"])
        .unwrap();
    assert!(store.list("").unwrap().is_empty());
    // The container check, eleven operations and six blocks: one token.
    assert_eq!(token.requests(), 1, "the token is cached");
    let text = format!("{store:?}");
    assert!(!text.contains("eyJ"), "a token leaked into Debug: {text}");
}

#[test]
fn managed_identity_token_is_refreshed_before_it_expires() {
    let container = Azurite::Https.new_container("msirefresh");
    // Four seconds of life: refreshed after about two.
    let token = TokenServer::start(TokenMode::Valid(4));
    let store = AzureBlobBackend::new(managed_identity_config(&container, &token)).unwrap();
    store.write("k", b"1").unwrap();
    store.write("k", b"2").unwrap();
    assert_eq!(token.requests(), 1);
    std::thread::sleep(Duration::from_millis(2500));
    store.write("k", b"3").unwrap();
    assert_eq!(token.requests(), 2, "refreshed at half of a short life");
    assert_eq!(store.read("k").unwrap(), b"3");
}

#[test]
fn managed_identity_failures_are_clear() {
    let container = Azurite::Https.new_container("msifail");
    let token = TokenServer::start(TokenMode::NoIdentity);
    let store = AzureBlobBackend::new(managed_identity_config(&container, &token)).unwrap();
    let err = store.write("k", b"v").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("Identity not found"), "{err}");
    assert!(err.to_string().contains("managed identity"), "{err}");

    // Never a bearer token in clear text.
    let mut cfg = managed_identity_config(&container, &token);
    cfg.endpoint = Some(Azurite::Http.endpoint());
    let err = AzureBlobBackend::new(cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("https"), "{err}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut cfg = managed_identity_config(&container, &token);
    cfg.managed_identity_endpoint = Some(format!("http://127.0.0.1:{port}"));
    let store = AzureBlobBackend::new(cfg).unwrap();
    let err = store.read("k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(
        err.to_string().contains("managed identity token endpoint"),
        "{err}"
    );
}

#[test]
fn shared_key_keeps_working_on_the_https_oauth_instance() {
    let store = Azurite::Https.new_store("httpskey");
    let mut src = StreamSource::new(9 * MIB, 31, None);
    store.write_reader("s", &mut src, None).unwrap();
    assert_eq!(digest_via_read_to(&store, "s"), (9 * MIB, src.digest()));
    let mut rest = Vec::new();
    let mut all = Vec::new();
    store.read_to("s", &mut all).unwrap();
    store.read_to_at("s", &mut rest, 5).unwrap();
    assert_eq!(rest, all[5..]);
}

// ---------------------------------------------------------------------------
// Connections closed under a request, keys Azure would alias, checked reads
// ---------------------------------------------------------------------------

/// A proxy in front of Azurite that, while its budget lasts, reads the first
/// request of a new connection and closes the connection without answering
/// (a request body, if any, left unread, so the client gets a reset): what a
/// client sees when it sends on a pooled connection the server has just
/// closed (Azurite closes idle ones after 5 s). Everything else is passed
/// through untouched. Returns the proxy URL and the budget.
fn dropping_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/{}",
        listener.local_addr().unwrap(),
        Azurite::account()
    );
    let budget = Arc::new(AtomicUsize::new(0));
    let left = budget.clone();
    let upstream = Azurite::Http.host_port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let (left, upstream) = (left.clone(), upstream.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut head = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    head.extend_from_slice(line.as_bytes());
                    if line == "\r\n" {
                        break;
                    }
                }
                if left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    return; // both handles dropped: closed without an answer
                }
                let mut server = TcpStream::connect(&upstream).unwrap();
                server.write_all(&head).unwrap();
                server.write_all(reader.buffer()).unwrap();
                let mut to_client = client;
                let mut from_server = server.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(reader.get_mut(), &mut server);
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (url, budget)
}

#[test]
fn requests_on_connections_the_server_closed_are_sent_again() {
    let container = Azurite::Http.new_container("stale");
    let (url, budget) = dropping_proxy();
    let mut cfg = Azurite::Http.config(&container);
    cfg.endpoint = Some(url);
    // A fresh store for each step: a new agent has no pooled connection,
    // so the proxy sees the step's request first on a new connection.
    let fresh = || AzureBlobBackend::new(cfg.clone()).unwrap();
    let data = pseudo_random(100_000, 3);
    // Put Blob (a reset: its body is left unread), Get Blob (closed after
    // the request), Blob Batch: each loses two connections and still works.
    let store = fresh();
    budget.store(2, Ordering::SeqCst);
    store.write("k", &data).unwrap();
    assert_eq!(budget.load(Ordering::SeqCst), 0);
    let store = fresh();
    budget.store(2, Ordering::SeqCst);
    assert_eq!(store.read("k").unwrap(), data);
    assert_eq!(budget.load(Ordering::SeqCst), 0);
    let store = fresh();
    budget.store(2, Ordering::SeqCst);
    store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["k"])
        .unwrap();
    assert_eq!(budget.load(Ordering::SeqCst), 0);
    assert!(!store.exists("k").unwrap());
    // A streamed Put Blob whose source was not read yet is sent again too.
    let store = fresh();
    budget.store(1, Ordering::SeqCst);
    store
        .write_reader("s", &mut &data[..], Some(data.len() as u64))
        .unwrap();
    assert_eq!(budget.load(Ordering::SeqCst), 0);
    assert_eq!(store.read("s").unwrap(), data);
    // Nothing gets through: a clear network error after the first attempt
    // and the retry policy's 3 retries (the default), no more.
    let store = fresh();
    budget.store(1000, Ordering::SeqCst);
    let err = store.read("s").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(1000 - budget.load(Ordering::SeqCst), 4);
}

#[test]
fn keys_with_a_backslash_are_invalid_because_azure_reads_them_as_slashes() {
    let store = Azurite::Http.new_store("backslash");
    store.write("a/b", b"slash").unwrap();
    for op in [
        store.write("a\\b", b"x").map(|_| ()),
        store.read("a\\b").map(|_| ()),
        store.delete("a\\b"),
        store.exists("a\\b").map(|_| ()),
        store.list("a\\").map(|_| ()),
        store.as_batch_deleter().unwrap().delete_batch(&["a\\b"]),
    ] {
        assert_eq!(op.unwrap_err().kind(), ErrorKind::InvalidPath);
    }
    assert_eq!(store.read("a/b").unwrap(), b"slash");
}

#[test]
fn checked_reads_report_the_etag_and_refuse_a_changed_blob() {
    let store = Azurite::Http.new_store("checked");
    let v1 = pseudo_random(10_000, 1);
    store.write("k", &v1).unwrap();
    let mut seen = None;
    let mut out = Vec::new();
    assert_eq!(
        store.read_to_checked("k", &mut out, &mut seen).unwrap(),
        10_000
    );
    assert_eq!(out, v1);
    let etag = seen.clone().expect("an ETag");
    // Resuming the same version from an offset, and at its very end.
    let mut rest = Vec::new();
    let mut again = None;
    assert_eq!(
        store
            .read_to_at_checked("k", &mut rest, 4000, Some(&etag), &mut again)
            .unwrap(),
        6000
    );
    assert_eq!(rest, v1[4000..]);
    assert_eq!(again.as_deref(), Some(etag.as_str()));
    let mut none = Vec::new();
    assert_eq!(
        store
            .read_to_at_checked("k", &mut none, 10_000, Some(&etag), &mut again)
            .unwrap(),
        0
    );
    assert!(none.is_empty());
    let err = store
        .read_to_at_checked("k", &mut none, 10_001, Some(&etag), &mut again)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    // Replaced: the resumption is refused and writes nothing.
    store.write("k", &pseudo_random(10_000, 2)).unwrap();
    let err = store
        .read_to_at_checked("k", &mut none, 4000, Some(&etag), &mut again)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(none.is_empty());
    let err = store
        .read_to_at_checked("k", &mut none, 10_000, Some(&etag), &mut again)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
}
