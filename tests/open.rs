//! Stores opened the way users configure them: a URL and string options
//! (`blobio::open`), and again from what a store printed of itself
//! (`blobio::open_config`), against the real servers. Environment
//! fallbacks are set in a child process's environment, never this one's.

#![cfg(feature = "server-tests")]

mod support;


use blobio::{open, open_config, store_option, Backend, ErrorKind, Options};
use support::azure::Azurite;
use support::{pseudo_random, S3Server};

/// Runs the test `name` again in a child process of this test binary with
/// `env` added to (and `remove` taken from) its environment; `body` is what
/// the child runs. Fails unless the child passed.
fn in_child(name: &str, env: &[(&str, String)], remove: &[&str], body: impl FnOnce()) {
    if support::is_child(name) {
        body();
        return;
    }
    support::run_child(name, remove, env);
}

/// The variables a developer's shell may have that would change what a
/// test sees.
const CLOUD_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
];

fn opts(pairs: &[(&str, &str)]) -> Options {
    let mut o = Options::new();
    for (k, v) in pairs {
        o.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    o
}

fn round_trip(store: &dyn Backend, key: &str) {
    let data = pseudo_random(100_000, 7);
    store.write(key, &data).unwrap();
    assert!(store.read(key).unwrap() == data, "{key}");
    assert!(store.list("").unwrap().contains(&key.to_owned()));
    store.delete(key).unwrap();
    assert!(!store.exists(key).unwrap());
}

fn s3s_options(extra: &[(&str, &str)]) -> Options {
    let (ak, sk) = S3Server::S3sFs.keys();
    let endpoint = S3Server::S3sFs.endpoint();
    let mut o = opts(&[
        ("endpoint", &endpoint),
        ("access_key_id", &ak),
        ("secret_access_key", &sk),
        ("region", "us-east-1"),
    ]);
    for (k, v) in extra {
        o.set(k, v).unwrap();
    }
    o
}

#[test]
fn an_s3_url_with_options_opens_a_signed_store_with_its_prefix() {
    let bucket = S3Server::S3sFs.new_bucket("open-s3");
    let store = open(&format!("s3://{bucket}/tenant/a"), &s3s_options(&[])).unwrap();
    assert_eq!(store.kind(), "s3");
    round_trip(&*store, "db/x.parquet");
    for (key, want) in [
        ("bucket", bucket.as_str()),
        ("prefix", "tenant/a/"),
        ("region", "us-east-1"),
        ("url_style", "path"),
        ("AWS_REGION", "us-east-1"),
    ] {
        assert_eq!(store_option(&*store, key).unwrap(), want, "{key}");
    }
    assert_eq!(store_option(&*store, "endpoint").unwrap(), S3Server::S3sFs.endpoint());
    for secret in ["secret_access_key", "access_key_id", "aws_session_token"] {
        let e = store_option(&*store, secret).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{secret}");
    }
    let (_, sk) = S3Server::S3sFs.keys();
    assert!(!store.config_json().contains(&sk));
    assert!(!format!("{store:?}").contains(&sk));
    // s3a:// and the aliases object_store and DuckDB secrets use.
    let (ak, sk) = S3Server::S3sFs.keys();
    let aliased = opts(&[
        ("aws_endpoint", &S3Server::S3sFs.endpoint()),
        ("KEY_ID", &ak),
        ("secret", &sk),
        ("aws_region", "us-east-1"),
        ("aws_virtual_hosted_style_request", "false"),
    ]);
    let store = open(&format!("s3a://{bucket}"), &aliased).unwrap();
    round_trip(&*store, "aliased");
}

#[test]
fn wrong_credentials_through_options_are_permission_denied_without_the_secret() {
    let bucket = S3Server::S3sFs.new_bucket("open-bad");
    let store = open(&format!("s3://{bucket}"), &s3s_options(&[("secret", "not-the-secret-x9")])).unwrap();
    let e = store.write("k", b"v").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.to_string().contains("not-the-secret-x9"), "{e}");
}

#[test]
fn moto_and_skip_signature_and_settings_through_options() {
    let bucket = S3Server::Moto.new_bucket("open-moto");
    let o = opts(&[
        ("endpoint", &S3Server::Moto.endpoint()),
        ("skip_signature", "true"),
        ("part_size", "5MiB"),
        ("multipart_threshold", "6 MiB"),
        ("upload_concurrency", "2"),
        ("download_threshold", "2MiB"),
        ("download_part_size", "1MiB"),
        ("download_concurrency", "3"),
        ("download_parallel_below", "64 MiB"),
        ("request_timeout_ms", "20000"),
        ("max_retries", "1"),
    ]);
    let store = open(&format!("s3://{bucket}/p"), &o).unwrap();
    let big = pseudo_random(13 << 20, 3);
    store.write("big", &big).unwrap();
    assert!(store.read("big").unwrap() == big);
    let json: serde_json::Value = serde_json::from_str(&store.config_json()).unwrap();
    assert_eq!(json["part_size"], 5 << 20);
    assert_eq!(json["multipart_threshold"], 6 << 20);
    assert_eq!(json["download_concurrency"], 3);
    assert_eq!(json["download_parallel_below"], 64 << 20);
    assert_eq!(json["max_retries"], 1);
    assert_eq!(store_option(&*store, "download_part_size").unwrap(), (1 << 20).to_string());
    store.delete("big").unwrap();
}

fn azurite_options() -> Options {
    opts(&[
        ("account_name", &Azurite::account()),
        ("account_key", &Azurite::key()),
        ("endpoint", &Azurite::Http.endpoint()),
    ])
}

#[test]
fn an_azure_url_with_options_opens_a_shared_key_store() {
    let container = Azurite::Http.new_container("open-az");
    for url in [format!("az://{container}/pre"), format!("azure://{container}/pre")] {
        let store = open(&url, &azurite_options()).unwrap();
        assert_eq!(store.kind(), "azure");
        round_trip(&*store, "db/y");
        assert_eq!(store_option(&*store, "container").unwrap(), container);
        assert_eq!(store_option(&*store, "account_name").unwrap(), Azurite::account());
        assert_eq!(store_option(&*store, "prefix").unwrap(), "pre/");
        let e = store_option(&*store, "azure_storage_account_key").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(!store.config_json().contains(&Azurite::key()));
    }
    let cs = opts(&[("azure_storage_connection_string", &Azurite::Http.connection_string())]);
    round_trip(&*open(&format!("az://{container}"), &cs).unwrap(), "cs");
}

#[test]
fn a_resilient_store_through_options_has_a_breaker_and_comes_back_from_its_json() {
    let container = Azurite::Http.new_container("open-res");
    let mut o = azurite_options();
    for (k, v) in [("resilient", "true"), ("circuit_max_failures", "7"), ("max_retries", "2"), ("retry_delay_ms", "5")] {
        o.set(k, v).unwrap();
    }
    let store = open(&format!("az://{container}"), &o).unwrap();
    round_trip(&*store, "r");
    assert_eq!(store_option(&*store, "resilient").unwrap(), "true");
    assert_eq!(store_option(&*store, "circuit_max_failures").unwrap(), "7");
    store.write("kept", b"still here").unwrap();
    let creds = opts(&[("account_name", &Azurite::account()), ("account_key", &Azurite::key())]);
    let again = open_config(store.kind(), &store.config_json(), &creds).unwrap();
    assert_eq!(again.read("kept").unwrap(), b"still here");
    assert_eq!(store_option(&*again, "circuit_max_failures").unwrap(), "7");
    assert_eq!(store_option(&*again, "max_retries").unwrap(), "2");
}

#[test]
fn bad_urls_keys_and_values_are_invalid_arguments_naming_what_is_wrong() {
    let none = Options::new();
    for (url, why) in [
        ("gs://b", "unknown scheme"),
        ("s3://", "no bucket"),
        ("s3://b/p?versionId=1", "no query"),
        ("https://example.com/b", "not an AWS or Azure URL"),
    ] {
        let e = open(url, &none).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{url}");
        assert!(e.to_string().contains(why), "{url}: {e}");
    }
    let e = open("s3://b", &opts(&[("account_name", "x")])).unwrap_err();
    assert!(e.to_string().contains("account_name"), "{e}");
    let e = open("az://c", &opts(&[("region", "x")])).unwrap_err();
    assert!(e.to_string().contains("region"), "{e}");
    let e = open("s3://b", &opts(&[("circuit_max_failures", "3")])).unwrap_err();
    assert!(e.to_string().contains("resilient=true"), "{e}");
    let e = open("s3://b/p", &opts(&[("prefix", "q")])).unwrap_err();
    assert!(e.to_string().contains("prefix"), "{e}");
    let mut o = Options::new();
    assert!(o.set("endpoint", "http://127.0.0.1:9000\r\nX-Evil: 1").is_err());
    assert!(o.set("account_name", "dev\nstore").is_err());
    assert!(o.set("part_size", "1 PiB").is_err());
    let e = o.set("upload_concurrency", "4294967295").unwrap_err();
    assert!(e.to_string().contains("upload_concurrency"), "{e}");
}

#[test]
fn open_config_rebuilds_every_kind_in_another_process() {
    // Made here, rebuilt in a child from kind + JSON alone, credentials
    // from the child's environment.
    let bucket = S3Server::S3sFs.new_bucket("open-cfg");
    let s3 = open(&format!("s3://{bucket}/sub"), &s3s_options(&[])).unwrap();
    s3.write("obj", b"s3 bytes").unwrap();
    let container = Azurite::Http.new_container("open-cfg");
    let az = open(&format!("az://{container}/sub"), &azurite_options()).unwrap();
    az.write("obj", b"azure bytes").unwrap();
    let dir = std::env::temp_dir().join(support::unique("open-cfg"));
    let local = open(dir.to_str().unwrap(), &Options::new()).unwrap();
    local.write("obj", b"local bytes").unwrap();
    let (ak, sk) = S3Server::S3sFs.keys();
    let env = vec![
        ("OPEN_CFG_S3", format!("{}\n{}", s3.kind(), s3.config_json())),
        ("OPEN_CFG_AZ", format!("{}\n{}", az.kind(), az.config_json())),
        ("OPEN_CFG_LOCAL", format!("{}\n{}", local.kind(), local.config_json())),
        ("AWS_ACCESS_KEY_ID", ak),
        ("AWS_SECRET_ACCESS_KEY", sk),
        ("AZURE_STORAGE_KEY", Azurite::key()),
    ];
    in_child("open_config_rebuilds_every_kind_in_another_process", &env, CLOUD_ENV, || {
        for (var, want) in [("OPEN_CFG_S3", "s3 bytes"), ("OPEN_CFG_AZ", "azure bytes"), ("OPEN_CFG_LOCAL", "local bytes")] {
            let spec = std::env::var(var).unwrap();
            let (kind, json) = spec.split_once('\n').unwrap();
            let store = open_config(kind, json, &Options::new()).unwrap_or_else(|e| panic!("{var}: {e}"));
            assert_eq!(store.read("obj").unwrap(), want.as_bytes(), "{var}");
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn environment_fallbacks_fill_what_the_options_leave_out() {
    let bucket = S3Server::S3sFs.new_bucket("open-env");
    let container = Azurite::Http.new_container("open-env");
    let (ak, sk) = S3Server::S3sFs.keys();
    let env = vec![
        ("AWS_ACCESS_KEY_ID", ak),
        ("AWS_SECRET_ACCESS_KEY", sk),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", S3Server::S3sFs.endpoint()),
        ("AZURE_STORAGE_CONNECTION_STRING", Azurite::Http.connection_string()),
        ("OPEN_ENV_BUCKET", bucket),
        ("OPEN_ENV_CONTAINER", container),
    ];
    in_child("environment_fallbacks_fill_what_the_options_leave_out", &env, CLOUD_ENV, || {
        let bucket = std::env::var("OPEN_ENV_BUCKET").unwrap();
        // No option at all: keys, region and endpoint from AWS_*; path
        // style because the endpoint is an IP address.
        let s3 = open(&format!("s3://{bucket}"), &Options::new()).unwrap();
        round_trip(&*s3, "from-env");
        assert_eq!(store_option(&*s3, "region").unwrap(), "us-east-1");
        let container = std::env::var("OPEN_ENV_CONTAINER").unwrap();
        let az = open(&format!("az://{container}"), &Options::new()).unwrap();
        round_trip(&*az, "from-env");
    });
}

#[test]
fn azure_account_and_key_come_from_the_environment_too() {
    let container = Azurite::Http.new_container("open-env-az");
    let env = vec![
        ("AZURE_STORAGE_ACCOUNT", Azurite::account()),
        ("AZURE_STORAGE_KEY", Azurite::key()),
        ("OPEN_ENV_CONTAINER", container),
        ("OPEN_ENV_ENDPOINT", Azurite::Http.endpoint()),
    ];
    in_child("azure_account_and_key_come_from_the_environment_too", &env, CLOUD_ENV, || {
        let container = std::env::var("OPEN_ENV_CONTAINER").unwrap();
        let o = opts(&[("endpoint", &std::env::var("OPEN_ENV_ENDPOINT").unwrap())]);
        let az = open(&format!("az://{container}"), &o).unwrap();
        round_trip(&*az, "account-from-env");
        assert_eq!(store_option(&*az, "account_name").unwrap(), "devstoreaccount1");
    });
}
