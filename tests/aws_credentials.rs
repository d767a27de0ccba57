//! The AWS credential chain against real endpoints: moto's STS
//! (AssumeRole, AssumeRoleWithWebIdentity) and IMDSv2, s3s-fs checking the
//! signatures made with what they handed out, and for the protocols no
//! server here speaks (container credentials; IMDS that hangs, is absent or
//! says another region) a loopback server (`support/identity.rs`).
//! `credential_process` is a small script. Every store is opened in a
//! child process whose environment the test sets (tests run in parallel;
//! this process's environment is never changed); `HOME` is an empty
//! directory there, so no developer's `~/.aws` is read.

#![cfg(feature = "server-tests")]

mod support;
#[path = "common/mod.rs"]
mod common;
#[path = "support/identity.rs"]
mod identity;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use blobio::{open, store_option, Backend, ErrorKind, Options};
use identity::{credentials_json, Reply, Server};
use support::{env, is_child, pseudo_random, unique, S3Server};

/// Variables of a developer's shell that would change the chain.
const AWS_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_PROFILE", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_STS_REGIONAL_ENDPOINTS",
];

/// Runs test `name` in a child of this binary with a clean AWS
/// environment plus `vars` (IMDS disabled unless `vars` say otherwise);
/// fails unless the child passed.
fn run_child(name: &str, vars: &[(&str, String)]) {
    let home = common::TempDir::new(&format!("{name}-home"));
    let mut set = vec![
        ("HOME", home.path().display().to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    set.extend(vars.iter().cloned());
    support::run_child(name, AWS_ENV, &set);
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set in the child"))
}

fn opts(pairs: &[(&str, &str)]) -> Options {
    let mut o = Options::new();
    for (k, v) in pairs {
        o.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    o
}

fn round_trip(store: &dyn Backend) {
    let data = pseudo_random(10_000, 3);
    store.write("creds/x.bin", &data).unwrap();
    assert!(store.read("creds/x.bin").unwrap() == data);
    assert!(store.list("creds/").unwrap().contains(&"creds/x.bin".to_owned()));
    store.delete("creds/x.bin").unwrap();
}

/// The s3s-fs that accepts only test-key / test-secret-key (what moto's
/// IMDS hands out), with a fresh bucket on it.
fn s3s_imds_bucket(tag: &str) -> (String, String) {
    let endpoint = env("BLOBIO_TEST_S3S_IMDS_ENDPOINT");
    let name = unique(tag);
    let bucket = rusty_s3::Bucket::new(endpoint.parse().unwrap(), rusty_s3::UrlStyle::Path, name.clone(), "us-east-1")
        .unwrap();
    let creds = rusty_s3::Credentials::new("test-key", "test-secret-key");
    use rusty_s3::S3Action;
    let url = bucket.create_bucket(&creds).sign(Duration::from_secs(60));
    let resp = ureq::put(url.as_str()).config().http_status_as_error(false).build().send_empty().unwrap();
    assert!(resp.status().is_success(), "create bucket: {}", resp.status());
    (endpoint, name)
}

/// Nothing secret in what a store shows of itself.
fn shows_no_secret(store: &dyn Backend, secrets: &[&str]) {
    let shown = format!("{}\n{store:?}", store.config_json());
    for s in secrets {
        assert!(!shown.contains(s), "{s} shown: {shown}");
    }
}

fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

// --- environment and profiles ---------------------------------------------

#[test]
fn environment_keys_sign_for_s3s_and_are_never_shown() {
    const NAME: &str = "environment_keys_sign_for_s3s_and_are_never_shown";
    if is_child(NAME) {
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &var("T_ENDPOINT"))])).unwrap();
        round_trip(&*store);
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "env");
        assert_eq!(store_option(&*store, "region").unwrap(), "eu-west-3", "AWS_DEFAULT_REGION");
        shows_no_secret(&*store, &[&var("AWS_SECRET_ACCESS_KEY")]);
        // Setting it is refused: it is only read back.
        assert!(Options::new().with("credential_source", "env").is_ok());
        let e = open("s3://b", &opts(&[("credential_source", "env")])).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        return;
    }
    let (ak, sk) = S3Server::S3sFs.keys();
    let bucket = S3Server::S3sFs.new_bucket("creds-env");
    run_child(NAME, &[
        ("T_BUCKET", bucket),
        ("T_ENDPOINT", S3Server::S3sFs.endpoint()),
        ("AWS_ACCESS_KEY_ID", ak),
        ("AWS_SECRET_ACCESS_KEY", sk),
        ("AWS_DEFAULT_REGION", "eu-west-3".into()),
    ]);
}

#[test]
fn a_profile_gives_static_keys_and_its_region() {
    const NAME: &str = "a_profile_gives_static_keys_and_its_region";
    if is_child(NAME) {
        let endpoint = var("T_ENDPOINT");
        let o = opts(&[("endpoint", &endpoint), ("profile", "dev")]);
        let store = open(&format!("s3://{}", var("T_BUCKET")), &o).unwrap();
        round_trip(&*store);
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "profile:dev");
        assert_eq!(store_option(&*store, "region").unwrap(), "ap-southeast-2");
        // AWS_PROFILE names the profile when the option does not.
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &endpoint)])).unwrap();
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "profile:dev");
        round_trip(&*store);
        // A profile that is not there is an error of open.
        let e = open("s3://b", &opts(&[("endpoint", &endpoint), ("profile", "nope")])).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("\"nope\""), "{e}");
        return;
    }
    let dir = common::TempDir::new("creds-profile");
    let (ak, sk) = S3Server::S3sFs.keys();
    write_file(&dir.join("config"), "[profile dev]\nregion = ap-southeast-2\n");
    write_file(&dir.join("credentials"), &format!("[dev]\naws_access_key_id = {ak}\naws_secret_access_key = {sk}\n"));
    run_child(NAME, &[
        ("T_BUCKET", S3Server::S3sFs.new_bucket("creds-profile")),
        ("T_ENDPOINT", S3Server::S3sFs.endpoint()),
        ("AWS_CONFIG_FILE", dir.join("config").display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials").display().to_string()),
        ("AWS_PROFILE", "dev".into()),
    ]);
}

#[test]
fn chained_source_profiles_assume_roles_at_moto_sts_and_loops_are_named() {
    const NAME: &str = "chained_source_profiles_assume_roles_at_moto_sts_and_loops_are_named";
    if is_child(NAME) {
        let moto = var("T_MOTO");
        let o = opts(&[("endpoint", &moto), ("sts_endpoint", &moto), ("profile", "top")]);
        let store = open(&format!("s3://{}", var("T_BUCKET")), &o).unwrap();
        // moto's S3 does not check signatures, but its STS answered twice
        // (mid, then top): AssumeRole was signed for the sts service (moto
        // routes an unsigned one to S3, whose answer is no credentials).
        round_trip(&*store);
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "profile:top");
        shows_no_secret(&*store, &["SKBASE"]);
        // A profile's web identity token file, and a role whose source is
        // the environment (the profile option skips the environment's own
        // step, not credential_source = Environment).
        for profile in ["webprof", "envsrc"] {
            let o = opts(&[("endpoint", &moto), ("sts_endpoint", &moto), ("profile", profile)]);
            let store = open(&format!("s3://{}", var("T_BUCKET")), &o).unwrap();
            round_trip(&*store);
            assert_eq!(store_option(&*store, "credential_source").unwrap(), format!("profile:{profile}"));
        }
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &moto)])).unwrap();
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "env", "without the option");
        let o = opts(&[("endpoint", &moto), ("sts_endpoint", &moto), ("profile", "loop1")]);
        let e = open("s3://b", &o).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("loop1 -> loop2 -> loop1"), "{e}");
        // A role STS refuses: the error says STS's code, never the request.
        let o = opts(&[("endpoint", &moto), ("sts_endpoint", &format!("{moto}/nowhere/")), ("profile", "top")]);
        let store = open(&format!("s3://{}", var("T_BUCKET")), &o).unwrap();
        let e = store.read("x").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("AssumeRole") && !msg.contains("SKBASE") && !msg.contains("Signature="), "{msg}");
        assert_ne!(e.kind(), ErrorKind::NotFound, "never taken for a missing object: {e}");
        return;
    }
    let dir = common::TempDir::new("creds-chain");
    write_file(&dir.join("config"), &"\
[profile base]
aws_access_key_id = AKBASE
aws_secret_access_key = SKBASE
[profile mid]
role_arn = arn:aws:iam::123456789012:role/mid
source_profile = base
[profile top]
role_arn = arn:aws:iam::123456789012:role/top
source_profile = mid
external_id = ext-1
role_session_name = blobio-test
duration_seconds = 900
[profile webprof]
role_arn = arn:aws:iam::123456789012:role/web
web_identity_token_file = TOKEN_FILE
[profile envsrc]
role_arn = arn:aws:iam::123456789012:role/fromenv
credential_source = Environment
[profile loop1]
role_arn = arn:aws:iam::123456789012:role/l1
source_profile = loop2
[profile loop2]
role_arn = arn:aws:iam::123456789012:role/l2
source_profile = loop1
".replace("TOKEN_FILE", &dir.join("token").display().to_string()));
    write_file(&dir.join("token"), "eyJ-profile-token");
    run_child(NAME, &[
        ("T_BUCKET", S3Server::Moto.new_bucket("creds-chain")),
        ("T_MOTO", S3Server::Moto.endpoint()),
        ("AWS_CONFIG_FILE", dir.join("config").display().to_string()),
        ("AWS_ACCESS_KEY_ID", "AKENV".into()),
        ("AWS_SECRET_ACCESS_KEY", "SKENV".into()),
    ]);
}

#[test]
fn web_identity_from_the_environment_goes_through_moto_sts() {
    const NAME: &str = "web_identity_from_the_environment_goes_through_moto_sts";
    if is_child(NAME) {
        let o = opts(&[("endpoint", &var("T_MOTO"))]);
        let store = open(&format!("s3://{}", var("T_BUCKET")), &o).unwrap();
        round_trip(&*store);
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "web_identity");
        // Without the token file, the first request says which file.
        std::fs::remove_file(var("AWS_WEB_IDENTITY_TOKEN_FILE")).unwrap();
        let store = open(&format!("s3://{}", var("T_BUCKET")), &o).unwrap();
        let e = store.read("x").unwrap_err();
        assert!(e.to_string().contains("token file"), "{e}");
        assert!(!e.to_string().contains("eyJ-web-identity"), "{e}");
        return;
    }
    let dir = common::TempDir::new("creds-webid");
    write_file(&dir.join("token"), "eyJ-web-identity-token\n");
    run_child(NAME, &[
        ("T_BUCKET", S3Server::Moto.new_bucket("creds-webid")),
        ("T_MOTO", S3Server::Moto.endpoint()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", dir.join("token").display().to_string()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web".into()),
        ("AWS_ROLE_SESSION_NAME", "blobio-web".into()),
        ("AWS_ENDPOINT_URL_STS", S3Server::Moto.endpoint()),
    ]);
}

#[test]
fn credential_process_runs_without_a_shell_and_its_failures_are_explained() {
    const NAME: &str = "credential_process_runs_without_a_shell_and_its_failures_are_explained";
    if is_child(NAME) {
        let endpoint = var("T_ENDPOINT");
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &endpoint), ("profile", "proc")]))
            .unwrap();
        round_trip(&*store);
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "profile:proc");
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &endpoint), ("profile", "broken")]))
            .unwrap();
        let e = store.read("x").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("profile broken") && msg.contains("the vault is locked") && msg.contains("3"), "{msg}");
        assert!(!msg.contains("--password"), "arguments are never shown: {msg}");
        return;
    }
    let dir = common::TempDir::new("creds-process");
    let (ak, sk) = S3Server::S3sFs.keys();
    let good = dir.join("good creds.sh");
    write_file(&good, &format!(
        "#!/bin/sh\n[ \"$1\" = 'one arg' ] || exit 9\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"{ak}\", \"SecretAccessKey\": \"{sk}\", \"Expiration\": \"{}\"}}'\n",
        identity::rfc3339_in(3600)
    ));
    let bad = dir.join("bad.sh");
    write_file(&bad, "#!/bin/sh\necho 'error: the vault is locked' >&2\nexit 3\n");
    for f in [&good, &bad] {
        Command::new("chmod").arg("+x").arg(f).status().unwrap();
    }
    write_file(&dir.join("config"), &format!(
        "[profile proc]\ncredential_process = \"{}\" 'one arg'\n[profile broken]\ncredential_process = {} --password hunter2\n",
        good.display(),
        bad.display()
    ));
    run_child(NAME, &[
        ("T_BUCKET", S3Server::S3sFs.new_bucket("creds-process")),
        ("T_ENDPOINT", S3Server::S3sFs.endpoint()),
        ("AWS_CONFIG_FILE", dir.join("config").display().to_string()),
    ]);
}

// --- container credentials ------------------------------------------------

/// A container endpoint handing out test-key / test-secret-key to callers
/// with the authorization `token`, living `life(n)` seconds for request n.
fn ecs_server(token: &'static str, life: impl Fn(u64) -> u64 + Send + Sync + 'static, delay: Duration) -> Server {
    Server::start(move |req, n| {
        if req.headers.get("authorization").map(String::as_str) != Some(token) {
            return Reply::status(401, r#"{"code":"AccessDenied","message":"bad authorization token"}"#);
        }
        Reply::ok(credentials_json("test-key", "test-secret-key", "ecs-session-token", life(n))).after(delay)
    })
}

#[test]
fn container_credentials_with_a_token_file_sign_for_s3s() {
    const NAME: &str = "container_credentials_with_a_token_file_sign_for_s3s";
    if is_child(NAME) {
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &var("T_ENDPOINT"))])).unwrap();
        round_trip(&*store);
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "ecs");
        shows_no_secret(&*store, &["test-secret-key", "ecs-session-token", "pod-token-1"]);
        // A token the endpoint refuses.
        std::fs::write(var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), "wrong").unwrap();
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &var("T_ENDPOINT"))])).unwrap();
        let e = store.read("x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("AccessDenied") && !e.to_string().contains("wrong"), "{e}");
        return;
    }
    let server = ecs_server("pod-token-1", |_| 3600, Duration::ZERO);
    let dir = common::TempDir::new("creds-ecs");
    write_file(&dir.join("token"), "pod-token-1\n");
    let (endpoint, bucket) = s3s_imds_bucket("creds-ecs");
    run_child(NAME, &[
        ("T_BUCKET", bucket),
        ("T_ENDPOINT", endpoint),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/v1/credentials")),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", dir.join("token").display().to_string()),
        // The file wins over the variable.
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "stale".into()),
    ]);
    assert!(server.requests().iter().all(|r| r.path == "/v1/credentials" && r.method == "GET"));
}

#[test]
fn expired_container_credentials_are_refreshed_once_for_eight_threads() {
    const NAME: &str = "expired_container_credentials_are_refreshed_once_for_eight_threads";
    if is_child(NAME) {
        let store: Arc<dyn Backend> =
            Arc::from(open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &var("T_ENDPOINT"))])).unwrap());
        store.write("k", b"value").unwrap();
        // The token file is rotated (the refresh must read it again), and
        // the first credentials (2 s) expire.
        std::fs::write(var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), "rotated-token").unwrap();
        std::thread::sleep(Duration::from_millis(2600));
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
        return;
    }
    let server = Server::start(|req, n| {
        let want = if n == 1 { "first-token" } else { "rotated-token" };
        if req.headers.get("authorization").map(String::as_str) != Some(want) {
            return Reply::status(401, r#"{"code":"AccessDenied","message":"stale token"}"#);
        }
        let life = if n == 1 { 2 } else { 3600 };
        Reply::ok(credentials_json("test-key", "test-secret-key", "t", life)).after(Duration::from_millis(300))
    });
    let dir = common::TempDir::new("creds-refresh");
    write_file(&dir.join("token"), "first-token");
    let (endpoint, bucket) = s3s_imds_bucket("creds-refresh");
    run_child(NAME, &[
        ("T_BUCKET", bucket),
        ("T_ENDPOINT", endpoint),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds")),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", dir.join("token").display().to_string()),
    ]);
    assert_eq!(server.count(), 2, "the first fetch and exactly one refresh");
}

#[test]
fn a_container_endpoint_that_hangs_fails_the_store_within_its_bound() {
    const NAME: &str = "a_container_endpoint_that_hangs_fails_the_store_within_its_bound";
    if is_child(NAME) {
        let o = opts(&[("endpoint", &var("T_ENDPOINT")), ("request_timeout_ms", "800"), ("max_retries", "1")]);
        let store = open("s3://never-reached", &o).unwrap();
        let t0 = Instant::now();
        let e = store.read("x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.to_string().contains("container endpoint"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
        return;
    }
    let server = Server::start(|_, _| Reply::hang());
    run_child(NAME, &[
        ("T_ENDPOINT", env("BLOBIO_TEST_S3S_IMDS_ENDPOINT")),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds")),
    ]);
}

// --- instance metadata ----------------------------------------------------

#[test]
fn moto_imds_credentials_sign_for_the_s3s_that_knows_them() {
    const NAME: &str = "moto_imds_credentials_sign_for_the_s3s_that_knows_them";
    if is_child(NAME) {
        let store = open(&format!("s3://{}", var("T_BUCKET")), &opts(&[("endpoint", &var("T_ENDPOINT"))])).unwrap();
        round_trip(&*store);
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "imds");
        assert_eq!(store_option(&*store, "region").unwrap(), "us-east-1", "moto's instance region");
        shows_no_secret(&*store, &["test-secret-key", "test-session-token"]);
        return;
    }
    let (endpoint, bucket) = s3s_imds_bucket("creds-imds");
    run_child(NAME, &[
        ("T_BUCKET", bucket),
        ("T_ENDPOINT", endpoint),
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", S3Server::Moto.endpoint()),
    ]);
}

#[test]
fn the_region_comes_from_imds_and_a_profile_wins_over_imds() {
    const NAME: &str = "the_region_comes_from_imds_and_a_profile_wins_over_imds";
    if is_child(NAME) {
        let endpoint = var("T_ENDPOINT");
        let bucket = var("T_BUCKET");
        let o = opts(&[("endpoint", &endpoint), ("imds_endpoint", &var("T_IMDS"))]);
        let store = open(&format!("s3://{bucket}"), &o).unwrap();
        assert_eq!(store_option(&*store, "region").unwrap(), "eu-central-1");
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "imds");
        round_trip(&*store);
        // A default profile with keys: IMDS is never asked.
        std::fs::write(var("AWS_SHARED_CREDENTIALS_FILE"), var("T_PROFILE_TEXT")).unwrap();
        let store = open(&format!("s3://{bucket}"), &o).unwrap();
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "profile:default");
        round_trip(&*store);
        return;
    }
    let imds = identity::imds("eu-central-1", || credentials_json("test-key", "test-secret-key", "imds-tok", 3600));
    let (endpoint, bucket) = s3s_imds_bucket("creds-region");
    let dir = common::TempDir::new("creds-region");
    run_child(NAME, &[
        ("T_BUCKET", bucket),
        ("T_ENDPOINT", endpoint),
        ("T_IMDS", imds.url("")),
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials").display().to_string()),
        ("T_PROFILE_TEXT", "[default]\naws_access_key_id = test-key\naws_secret_access_key = test-secret-key\n".into()),
    ]);
    let asked = imds.count();
    // Token, role, credentials, then token and region, all for the first
    // store; none for the second.
    assert_eq!(asked, 5, "{:?}", imds.requests().iter().map(|r| &r.path).collect::<Vec<_>>());
}

#[test]
fn absent_or_hanging_imds_fails_fast_listing_what_was_tried() {
    const NAME: &str = "absent_or_hanging_imds_fails_fast_listing_what_was_tried";
    if is_child(NAME) {
        for imds in [var("T_CLOSED"), var("T_HANG")] {
            let t0 = Instant::now();
            let o = opts(&[("endpoint", &var("T_ENDPOINT")), ("imds_endpoint", &imds)]);
            let store = open("s3://some-bucket", &o).unwrap();
            let e = store.read("x").unwrap_err();
            let took = t0.elapsed();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            let msg = e.to_string();
            for part in ["no AWS credentials found", "environment", "web identity", "profile \"default\"",
                "container", "instance metadata at", "skip_signature"] {
                assert!(msg.contains(part), "{part}: {msg}");
            }
            assert!(took < Duration::from_millis(4500), "{imds}: {took:?}");
            // The next calls do not wait for the endpoint again at once.
            let t1 = Instant::now();
            assert!(store.exists("y").is_err());
            assert!(t1.elapsed() < Duration::from_millis(500), "{:?}", t1.elapsed());
        }
        // With IMDS disabled, open itself says so.
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        let e = open("s3://b", &opts(&[("endpoint", &var("T_ENDPOINT"))])).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("disabled by AWS_EC2_METADATA_DISABLED"), "{e}");
        // And skip_signature opens an unsigned store without asking anyone.
        let store = open("s3://b", &opts(&[("endpoint", &var("T_ENDPOINT")), ("skip_signature", "true")])).unwrap();
        assert_eq!(store_option(&*store, "credential_source").unwrap(), "anonymous");
        return;
    }
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let hang = Server::start(|_, _| Reply::hang());
    run_child(NAME, &[
        ("T_ENDPOINT", env("BLOBIO_TEST_S3S_IMDS_ENDPOINT")),
        ("T_CLOSED", closed),
        ("T_HANG", hang.url("")),
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
    ]);
}
