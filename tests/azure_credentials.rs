//! The Azure credential chain against real storage: Azurite over HTTPS
//! with `--oauth basic` checks every bearer token (audience, issuer,
//! validity) and the storage requests it authorises; the token endpoints
//! that do not exist here (Microsoft Entra ID, IMDS, App Service) are a
//! loopback server speaking their documented protocols
//! (`support/identity.rs`). Every store is opened in a child process whose
//! environment the test sets (tests run in parallel; this process's
//! environment is never changed).

#![cfg(feature = "server-tests")]

mod support;
#[path = "common/mod.rs"]
mod common;
#[path = "support/identity.rs"]
mod identity;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use blobio::{open, store_option, Backend, ErrorKind, Options};
use identity::{Reply, Server, TENANT};
use support::azure::Azurite;
use support::{is_child, pseudo_random, python};

/// Variables of a developer's shell (or of Azure itself) that would change
/// the chain.
const AZURE_ENV: &[&str] = &[
    "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST", "AZURE_MSI_ENDPOINT", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_TOKEN_CREDENTIALS",
    "MSI_ENDPOINT", "MSI_SECRET", "BLOBIO_CA_BUNDLE",
];

/// Runs test `name` in a child of this binary with a clean Azure
/// environment plus `vars`; fails unless the child passed.
fn run_child(name: &str, vars: &[(&str, String)]) {
    support::run_child(name, AZURE_ENV, vars);
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set in the child"))
}

/// The HTTPS Azurite's endpoint and CA, plus `extra`.
fn https_opts(extra: &[(&str, &str)]) -> Options {
    let mut o = Options::new();
    o.set("endpoint", &Azurite::Https.endpoint()).unwrap();
    o.set("ca_bundle_path", &Azurite::ca_bundle()).unwrap();
    for (k, v) in extra {
        o.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    o
}

fn store_at(container: &str, o: &Options) -> Box<dyn Backend> {
    open(&format!("az://{container}"), o).unwrap_or_else(|e| panic!("open az://{container}: {e}"))
}

/// Writes (one Put Blob and, at 3 MiB with 1 MiB blocks, staged blocks),
/// reads, lists and batch-deletes: every kind of request Azurite checks
/// the token of.
fn round_trip(store: &dyn Backend) {
    let small = pseudo_random(10_000, 3);
    store.write("creds/x.bin", &small).unwrap();
    let big = pseudo_random(3 * 1024 * 1024 + 5, 4);
    store.write("creds/big.bin", &big).unwrap();
    assert!(store.read("creds/x.bin").unwrap() == small);
    assert!(store.read("creds/big.bin").unwrap() == big);
    assert_eq!(store.list("creds/").unwrap(), ["creds/big.bin", "creds/x.bin"]);
    store.as_batch_deleter().unwrap().delete_batch(&["creds/x.bin", "creds/big.bin"]).unwrap();
    assert!(store.list("creds/").unwrap().is_empty());
}

/// Nothing secret in what a store shows of itself.
fn shows_no_secret(store: &dyn Backend, secrets: &[&str]) {
    let shown = format!("{}\n{store:?}", store.config_json());
    for s in secrets {
        assert!(!shown.contains(s), "{s} shown: {shown}");
    }
    assert!(!shown.contains("eyJ"), "a token shown: {shown}");
}

/// Every log record of this (child) process at debug level and above. (At
/// trace level ureq-proto dumps the bytes on the wire, tokens and secrets
/// included: that is a dependency's trace output, compiled out of release
/// builds by log's release_max_level_info.)
struct Capture(std::sync::Mutex<String>);

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
    }
    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = format!("{} {}: {}\n", r.level(), r.target(), r.args());
        self.0.lock().unwrap().push_str(&line);
    }
    fn flush(&self) {}
}

static LOGS: Capture = Capture(std::sync::Mutex::new(String::new()));

fn capture_logs() {
    log::set_logger(&LOGS).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
}

/// Nothing secret in any log record so far, and some records there.
fn logs_show_no_secret(secrets: &[&str]) {
    let logs = LOGS.0.lock().unwrap();
    assert!(logs.contains("credentials from client_secret"), "no log records captured: {logs}");
    for s in secrets.iter().chain(&["eyJ"]) {
        assert!(!logs.contains(s), "{s} logged: {logs}");
    }
}

fn source(store: &dyn Backend) -> String {
    store_option(store, "credential_source").unwrap()
}

const SECRET: &str = "sp-secret-value-1";

// --- service principal ----------------------------------------------------

#[test]
fn a_client_secret_gets_an_entra_token_that_azurite_accepts() {
    const NAME: &str = "a_client_secret_gets_an_entra_token_that_azurite_accepts";
    if is_child(NAME) {
        capture_logs();
        let container = var("T_CONTAINER");
        let o = https_opts(&[("block_size", "1MiB"), ("multipart_threshold", "1MiB")]);
        let store = store_at(&container, &o);
        round_trip(&*store);
        assert_eq!(source(&*store), "client_secret");
        assert!(store.config_json().contains(r#""auth":"client_secret""#), "{}", store.config_json());
        shows_no_secret(&*store, &[SECRET]);
        // The same through options (object_store's names), and a secret
        // Entra ID refuses: its error and description, never the secret.
        let o = https_opts(&[
            ("azure_client_id", "app-2"),
            ("azure_tenant_id", TENANT),
            ("azure_client_secret", "wrong-secret-value"),
            ("azure_authority_host", &var("AZURE_AUTHORITY_HOST")),
        ]);
        let store = store_at(&container, &o);
        let e = store.read("x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        let msg = e.to_string();
        assert!(msg.contains("invalid_client") && msg.contains("AADSTS7000215"), "{msg}");
        assert!(!msg.contains("wrong-secret-value") && !msg.contains("client_assertion"), "{msg}");
        assert!(!format!("{o:?}").contains("wrong-secret-value"));
        // Setting credential_source is refused: it is only read back.
        let e = open(&format!("az://{container}"), &https_opts(&[("credential_source", "sas")])).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        // Nor in the logs: rustls, ureq and blobio, debug and above.
        logs_show_no_secret(&[SECRET, "wrong-secret-value", "client_secret="]);
        return;
    }
    let aad = identity::aad(
        |f, _| f.get("client_id").map(String::as_str) == Some("app-1") && f.get("client_secret").map(String::as_str) == Some(SECRET),
        |_| 3600,
    );
    run_child(NAME, &[
        ("T_CONTAINER", Azurite::Https.new_container("az-sp")),
        ("AZURE_CLIENT_ID", "app-1".into()),
        ("AZURE_TENANT_ID", TENANT.into()),
        ("AZURE_CLIENT_SECRET", SECRET.into()),
        ("AZURE_AUTHORITY_HOST", aad.url("")),
    ]);
    // One token for the first store's every request; one refused fetch
    // for the second.
    assert_eq!(aad.count(), 2, "{:?}", aad.requests().iter().map(|r| r.form()).collect::<Vec<_>>());
}

// --- workload identity ----------------------------------------------------

#[test]
fn workload_identity_reads_the_token_file_again_for_every_refresh() {
    const NAME: &str = "workload_identity_reads_the_token_file_again_for_every_refresh";
    if is_child(NAME) {
        let store = store_at(&var("T_CONTAINER"), &https_opts(&[]));
        store.write("k", b"first").unwrap();
        assert_eq!(source(&*store), "workload_identity");
        // The orchestrator rotates the file; the first token (2 s) runs out.
        std::fs::write(var("AZURE_FEDERATED_TOKEN_FILE"), "federated-token-2\n").unwrap();
        std::thread::sleep(Duration::from_millis(2300));
        assert_eq!(store.read("k").unwrap(), b"first");
        shows_no_secret(&*store, &["federated-token"]);
        // A missing file: the error names the file, never a token.
        std::fs::remove_file(var("AZURE_FEDERATED_TOKEN_FILE")).unwrap();
        let store = store_at(&var("T_CONTAINER"), &https_opts(&[]));
        let e = store.read("k").unwrap_err();
        assert!(e.to_string().contains("token file") && !e.to_string().contains("federated-token-2"), "{e}");
        return;
    }
    let aad = identity::aad(
        |f, n| {
            let want = if n == 1 { "federated-token-1" } else { "federated-token-2" };
            f.get("client_assertion").map(String::as_str) == Some(want)
                && f.get("client_assertion_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                && !f.contains_key("client_secret")
        },
        |n| if n == 1 { 2 } else { 3600 },
    );
    let dir = common::TempDir::new("az-workload");
    std::fs::write(dir.join("token"), "federated-token-1\n").unwrap();
    run_child(NAME, &[
        ("T_CONTAINER", Azurite::Https.new_container("az-wi")),
        ("AZURE_CLIENT_ID", "wi-app".into()),
        ("AZURE_TENANT_ID", TENANT.into()),
        ("AZURE_FEDERATED_TOKEN_FILE", dir.join("token").display().to_string()),
        ("AZURE_AUTHORITY_HOST", aad.url("")),
    ]);
    assert_eq!(aad.count(), 2, "the first token and one refresh with the rotated file");
}

// --- managed identity -----------------------------------------------------

#[test]
fn eight_threads_share_one_refresh_of_a_short_lived_imds_token() {
    const NAME: &str = "eight_threads_share_one_refresh_of_a_short_lived_imds_token";
    if is_child(NAME) {
        let o = https_opts(&[("managed_identity_endpoint", &var("T_IMDS")), ("object_id", "oid-7")]);
        let store: Arc<dyn Backend> = Arc::from(store_at(&var("T_CONTAINER"), &o));
        store.write("k", b"value").unwrap();
        assert_eq!(source(&*store), "managed_identity");
        std::thread::sleep(Duration::from_millis(2300));
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..5 {
                        assert_eq!(store.read("k").unwrap(), b"value");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        shows_no_secret(&*store, &[]);
        return;
    }
    // A user-assigned identity named by its object id; the first token
    // lives 2 s, each answer takes 300 ms.
    let imds = identity::msi(None, Some(("object_id", "oid-7")), |n| if n == 1 { 2 } else { 3600 }, Duration::from_millis(300));
    run_child(NAME, &[
        ("T_CONTAINER", Azurite::Https.new_container("az-imds")),
        ("T_IMDS", imds.url("")),
        // Not the identity asked for: object_id wins over AZURE_CLIENT_ID.
        ("AZURE_CLIENT_ID", "not-this-one".into()),
    ]);
    assert_eq!(imds.count(), 2, "the first token and exactly one refresh");
}

#[test]
fn app_service_tokens_come_with_its_header_and_a_user_assigned_client_id() {
    const NAME: &str = "app_service_tokens_come_with_its_header_and_a_user_assigned_client_id";
    if is_child(NAME) {
        let store = store_at(&var("T_CONTAINER"), &https_opts(&[("block_size", "1MiB"), ("multipart_threshold", "1MiB")]));
        round_trip(&*store);
        assert_eq!(source(&*store), "app_service");
        shows_no_secret(&*store, &["identity-header-secret"]);
        return;
    }
    let app = identity::msi(Some("identity-header-secret"), Some(("client_id", "uami-1")), |_| 3600, Duration::ZERO);
    run_child(NAME, &[
        ("T_CONTAINER", Azurite::Https.new_container("az-app")),
        ("IDENTITY_ENDPOINT", app.url("/msi/token")),
        ("IDENTITY_HEADER", "identity-header-secret".into()),
        ("AZURE_CLIENT_ID", "uami-1".into()),
    ]);
    assert_eq!(app.count(), 1);
}

// --- the chain's order ----------------------------------------------------

#[test]
fn the_chain_goes_key_then_service_principal_then_managed_identity() {
    const NAME: &str = "the_chain_goes_key_then_service_principal_then_managed_identity";
    if is_child(NAME) {
        let container = var("T_CONTAINER");
        // A service principal and App Service both configured: the
        // service principal wins.
        let store = store_at(&container, &https_opts(&[]));
        assert_eq!(source(&*store), "client_secret");
        store.write("order", b"sp").unwrap();
        // use_managed_identity=true: the managed identity only.
        let store = store_at(&container, &https_opts(&[("use_managed_identity", "true")]));
        assert_eq!(source(&*store), "app_service");
        assert_eq!(store.read("order").unwrap(), b"sp");
        // AZURE_TOKEN_CREDENTIALS narrows the chain as Azure Identity does.
        std::env::set_var("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential");
        assert_eq!(source(&*store_at(&container, &https_opts(&[]))), "app_service");
        std::env::remove_var("AZURE_TOKEN_CREDENTIALS");
        // An account key in the options wins over all of them, and one in
        // the environment over the token steps.
        let store = store_at(&container, &https_opts(&[("account_key", &Azurite::key())]));
        assert_eq!(source(&*store), "shared_key");
        assert_eq!(store.read("order").unwrap(), b"sp");
        std::env::set_var("AZURE_STORAGE_KEY", Azurite::key());
        let store = store_at(&container, &https_opts(&[]));
        assert_eq!(source(&*store), "shared_key");
        shows_no_secret(&*store, &[&Azurite::key(), SECRET]);
        return;
    }
    let aad = identity::aad(|f, _| f.get("client_secret").map(String::as_str) == Some(SECRET), |_| 3600);
    let app = identity::msi(Some("hdr"), Some(("client_id", "app-1")), |_| 3600, Duration::ZERO);
    run_child(NAME, &[
        ("T_CONTAINER", Azurite::Https.new_container("az-order")),
        ("AZURE_CLIENT_ID", "app-1".into()),
        ("AZURE_TENANT_ID", TENANT.into()),
        ("AZURE_CLIENT_SECRET", SECRET.into()),
        ("AZURE_AUTHORITY_HOST", aad.url("")),
        ("IDENTITY_ENDPOINT", app.url("/msi/token")),
        ("IDENTITY_HEADER", "hdr".into()),
    ]);
    assert_eq!((aad.count(), app.count()), (1, 2), "one token per store that used each");
}

#[test]
fn skip_signature_reads_a_public_container_anonymously() {
    const NAME: &str = "skip_signature_reads_a_public_container_anonymously";
    if is_child(NAME) {
        let mut o = Options::new();
        o.set("endpoint", &Azurite::Http.endpoint()).unwrap();
        o.set("azure_skip_signature", "true").unwrap();
        let store = store_at(&var("T_CONTAINER"), &o);
        assert_eq!(source(&*store), "anonymous");
        assert_eq!(store_option(&*store, "skip_signature").unwrap(), "true");
        assert_eq!(store.read("public.txt").unwrap(), b"for everyone");
        assert_eq!(store.list("").unwrap(), ["public.txt"]);
        // Writing needs credentials: Azurite refuses, nothing is signed.
        let e = store.write("mine", b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        return;
    }
    let container: String = support::unique("az-public")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    python(
        r#"
import sys
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
svc = BlobServiceClient(account_url=sys.argv[1], credential={"account_name": sys.argv[2], "account_key": sys.argv[3]})
# The name is fresh: "already exists" is the SDK's own resend of a slow
# create (Azurite under load), which the first attempt made.
try:
    svc.create_container(sys.argv[4], public_access="container")
except ResourceExistsError:
    pass
c = svc.get_container_client(sys.argv[4])
c.upload_blob("public.txt", b"for everyone", overwrite=True)
"#,
        &[&Azurite::Http.endpoint(), &Azurite::account(), &Azurite::key(), &container],
    );
    run_child(NAME, &[
        ("T_CONTAINER", container),
        // Credentials in the environment do not matter with skip_signature.
        ("AZURE_STORAGE_ACCOUNT", Azurite::account()),
        ("AZURE_STORAGE_KEY", Azurite::key()),
    ]);
}

// --- failures -------------------------------------------------------------

#[test]
fn a_token_endpoint_that_hangs_fails_the_store_within_its_bound() {
    const NAME: &str = "a_token_endpoint_that_hangs_fails_the_store_within_its_bound";
    if is_child(NAME) {
        let o = https_opts(&[("request_timeout_ms", "800"), ("max_retries", "1")]);
        for (what, extra) in [("service principal", None), ("managed identity", Some(var("T_HANG")))] {
            let mut o = o.clone();
            if let Some(url) = &extra {
                o.set("use_managed_identity", "true").unwrap();
                o.set("managed_identity_endpoint", url).unwrap();
            }
            let store = store_at("never-reached", &o);
            let t0 = Instant::now();
            let e = store.read("x").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{what}: {e}");
            assert!(e.to_string().contains("token endpoint"), "{what}: {e}");
            assert!(t0.elapsed() < Duration::from_secs(4), "{what}: {:?}", t0.elapsed());
        }
        return;
    }
    let hang = Server::start(|_, _| Reply::hang());
    run_child(NAME, &[
        ("AZURE_CLIENT_ID", "app-1".into()),
        ("AZURE_TENANT_ID", TENANT.into()),
        ("AZURE_CLIENT_SECRET", SECRET.into()),
        ("AZURE_AUTHORITY_HOST", hang.url("")),
        ("T_HANG", hang.url("")),
    ]);
}

#[test]
fn absent_imds_fails_fast_listing_what_was_tried() {
    const NAME: &str = "absent_imds_fails_fast_listing_what_was_tried";
    if is_child(NAME) {
        let t0 = Instant::now();
        let store = store_at("some-container", &https_opts(&[("managed_identity_endpoint", &var("T_CLOSED"))]));
        let e = store.read("x").unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert_eq!(source(&*store), "managed_identity");
        let msg = e.to_string();
        for part in ["no Azure credentials found", "connection_string", "AZURE_STORAGE_KEY", "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE", "managed identity", "skip_signature"] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
        assert!(took < Duration::from_millis(4500), "{took:?}");
        // The next calls do not wait for the endpoint again at once.
        let t1 = Instant::now();
        assert!(store.exists("y").is_err());
        assert!(t1.elapsed() < Duration::from_millis(500), "{:?}", t1.elapsed());
        // use_managed_identity=false: open itself says nothing was found.
        let e = open("az://some-container", &https_opts(&[("use_managed_identity", "false")])).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("use_managed_identity=false"), "{e}");
        return;
    }
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    run_child(NAME, &[("T_CLOSED", closed)]);
}
