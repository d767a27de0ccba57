//! The S3 backend against real servers: s3s-fs (checks SigV4 signatures)
//! and moto (wide S3 semantics). Run by `scripts/test`, which starts them.
#![cfg(feature = "server-tests")]

mod support;

use std::time::{Duration, Instant, UNIX_EPOCH};

use blobio::{Backend, ErrorKind, PutMode, PutOptions, S3Backend, S3Config};
use support::proxy::Proxy;
use support::{digest_via_read_to, pseudo_random, python, sha256_hex, unique, S3Server, StreamSource};

const MIB: u64 = 1024 * 1024;

fn small_parts(mut cfg: S3Config) -> S3Config {
    cfg.part_size = 5 * MIB;
    cfg.multipart_threshold = 8 * MIB;
    cfg
}

#[test]
fn wrong_secret_is_permission_denied_with_signature_does_not_match() {
    let bucket = S3Server::S3sFs.new_bucket("badsecret");
    let mut cfg = S3Server::S3sFs.config(&bucket);
    cfg.secret_key = Some("definitely-not-the-secret".into());
    let store = S3Backend::new(cfg).unwrap();
    let err = store.write("x", b"data").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.provider_code(), Some("SignatureDoesNotMatch"), "{err}");
    assert_eq!(err.http_status(), Some(403));
    // A refused HEAD is an error, never "missing".
    let err = store.exists("x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let err = store.stat_file("x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
}

#[test]
fn missing_bucket_is_not_found_naming_the_bucket() {
    let name = unique("nobucket");
    let store = S3Backend::new(S3Server::Moto.config(&name)).expect("created before its bucket");
    for err in [
        store.write("k", b"v").unwrap_err(),
        store.list("").unwrap_err(),
        store.read("k").unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(err.provider_code(), Some("NoSuchBucket"), "{err}");
        assert!(err.to_string().contains(&format!("s3://{name}")), "{err}");
    }
    // s3s-fs creates a bucket on PutObject (a quirk of its file layout), and
    // answers NoSuchKey for reads in a missing bucket.
    let store = S3Backend::new(S3Server::S3sFs.config(&unique("nobucket"))).unwrap();
    assert_eq!(store.read("k").unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn dead_endpoint_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut cfg = S3Server::Moto.config("dead");
    cfg.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let store = S3Backend::new(cfg).unwrap();
    let err = store.read("k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
}

#[test]
fn bare_host_port_endpoint_uses_the_use_ssl_scheme() {
    let server = S3Server::Moto;
    let bucket = server.new_bucket("bare");
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(server.endpoint().trim_start_matches("http://").to_owned());
    cfg.use_ssl = false;
    let store = S3Backend::new(cfg).unwrap();
    store.write("k", b"plain http").unwrap();
    assert_eq!(store.read("k").unwrap(), b"plain http");
    assert!(store.config_json().contains("\"endpoint\":\"http://127.0.0.1:"));
}

fn multipart_round_trip(server: S3Server, len: u64) {
    let store = S3Backend::new(server.config(&server.new_bucket("mp"))).unwrap();
    let mut src = StreamSource::new(len, 7, None);
    store.write_reader("big/object.parquet", &mut src, Some(len)).unwrap();
    let (n, digest) = digest_via_read_to(&store, "big/object.parquet");
    assert_eq!(n, len);
    assert_eq!(digest, src.digest());
    assert_eq!(store.stat_file("big/object.parquet").unwrap(), Some(len));
}

#[test]
fn upload_of_120_mib_goes_multipart_and_reads_back_byte_exact_on_moto() {
    multipart_round_trip(S3Server::Moto, 120 * MIB);
}

#[test]
fn upload_of_120_mib_goes_multipart_and_reads_back_byte_exact_on_s3s() {
    multipart_round_trip(S3Server::S3sFs, 120 * MIB);
}

#[test]
fn unknown_size_stream_goes_multipart_with_equal_parts() {
    let server = S3Server::Moto;
    let bucket = server.new_bucket("unknown");
    let store = S3Backend::new(small_parts(server.config(&bucket))).unwrap();
    let len = 23 * MIB + 12345;
    let mut src = StreamSource::new(len, 11, None);
    store.write_reader("stream.bin", &mut src, None).unwrap();
    let (n, digest) = digest_via_read_to(&store, "stream.bin");
    assert_eq!((n, digest), (len, src.digest()));
    // Five parts: four of exactly 5 MiB and the rest. boto3 reads the parts
    // back from the server's record of the upload.
    let parts = python(
        r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
sizes = []
for n in range(1, 10):
    try:
        h = s3.head_object(Bucket=sys.argv[2], Key="stream.bin", PartNumber=n)
    except Exception:
        break
    sizes.append(h["ContentLength"])
    if h.get("PartsCount", 1) == n:
        break
print(",".join(map(str, sizes)))
"#,
        &[&server.endpoint(), &bucket],
    );
    let five = (5 * MIB).to_string();
    let sizes: Vec<&str> = parts.trim().split(',').collect();
    assert_eq!(sizes.len(), 5, "{parts}");
    assert!(sizes[..4].iter().all(|s| *s == five), "{parts}");
    assert_eq!(sizes[4], (len - 20 * MIB).to_string());
}

#[test]
fn small_unknown_size_stream_is_one_put() {
    let store = S3Server::S3sFs.new_store("smallstream");
    let data = pseudo_random(1000, 3);
    store.write_reader("s", &mut data.as_slice(), None).unwrap();
    assert_eq!(store.read("s").unwrap(), data);
}

fn open_uploads(server: S3Server, bucket: &str) -> String {
    python(
        r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
print(len(s3.list_multipart_uploads(Bucket=sys.argv[2]).get("Uploads", [])))
"#,
        &[&server.endpoint(), bucket],
    )
    .trim()
    .to_owned()
}

#[test]
fn source_failing_at_part_3_leaves_no_object_and_no_open_upload() {
    let server = S3Server::Moto;
    let bucket = server.new_bucket("failsrc");
    let store = S3Backend::new(small_parts(server.config(&bucket))).unwrap();
    store.write("victim", b"old version").unwrap();
    let mut src = StreamSource::new(40 * MIB, 5, Some(12 * MIB));
    let err = store.write_reader("victim", &mut src, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("source failed on purpose"), "{err}");
    assert_eq!(store.read("victim").unwrap(), b"old version");
    assert_eq!(open_uploads(server, &bucket), "0");

    // Announced size larger than the source: same outcome.
    let mut short = StreamSource::new(11 * MIB, 5, None);
    let err = store
        .write_reader("short", &mut short, Some(30 * MIB))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(!store.exists("short").unwrap());
    assert_eq!(open_uploads(server, &bucket), "0");
}

#[test]
fn source_failing_in_a_single_put_leaves_no_object() {
    let store = S3Server::S3sFs.new_store("failput");
    let mut src = StreamSource::new(MIB, 5, Some(MIB / 2));
    let err = store.write_reader("p", &mut src, Some(MIB)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("source failed on purpose"), "{err}");
    assert!(!store.exists("p").unwrap());
}

#[test]
fn listing_2500_keys_pages_through_every_one() {
    let server = S3Server::Moto;
    let bucket = server.new_bucket("pages");
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    let store = S3Backend::new(cfg).unwrap();
    let keys: Vec<String> = (0..2500).map(|i| format!("many/{i:05}")).collect();
    std::thread::scope(|s| {
        for chunk in keys.chunks(313) {
            let store = &store;
            s.spawn(move || {
                for k in chunk {
                    store.write(k, k.as_bytes()).unwrap();
                }
            });
        }
    });
    let listed = store.list("many/").unwrap();
    assert_eq!(listed, keys);
    let lists = proxy.counters.count("GET", "list-type=2");
    assert_eq!(lists, 3, "2,500 keys take 3 pages of 1,000");
    let objects = store.as_object_lister().unwrap().list_objects("many/0249").unwrap();
    assert_eq!(objects.len(), 10);
    assert!(objects.iter().all(|o| o.size == 10));
}

#[test]
fn batch_delete_of_2500_keys_takes_3_requests_and_reports_nothing_for_missing() {
    let server = S3Server::S3sFs;
    let bucket = server.new_bucket("batch");
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    let store = S3Backend::new(cfg).unwrap();
    let keys: Vec<String> = (0..2500).map(|i| format!("del/{i:05}")).collect();
    std::thread::scope(|s| {
        for chunk in keys.chunks(313) {
            let store = &store;
            s.spawn(move || {
                for k in chunk.iter().step_by(2) {
                    store.write(k, b"x").unwrap();
                }
            });
        }
    });
    store.write("keep/me", b"keep").unwrap();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    store.as_batch_deleter().unwrap().delete_batch(&refs).unwrap();
    assert_eq!(proxy.counters.count("POST", "delete"), 3);
    assert!(store.list("del/").unwrap().is_empty());
    assert_eq!(store.list("").unwrap(), vec!["keep/me".to_owned()]);
}

#[test]
fn batch_delete_reports_invalid_paths_by_name_and_deletes_the_rest() {
    let store = S3Server::Moto.new_store("batchbad");
    store.write("a", b"1").unwrap();
    store.write("b", b"2").unwrap();
    let err = store
        .as_batch_deleter()
        .unwrap()
        .delete_batch(&["a", "../escape", "b", "bad\u{1}key"])
        .unwrap_err();
    let blobio::Error::Batch { failures } = &err else {
        panic!("expected a batch error, got {err}")
    };
    let failed: Vec<&str> = failures.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(failed, vec!["../escape"], "{err}");
    assert!(store.list("").unwrap().is_empty());
}

#[test]
fn stores_with_different_prefixes_never_see_each_others_keys() {
    let server = S3Server::S3sFs;
    let bucket = server.new_bucket("prefixes");
    let mut a_cfg = server.config(&bucket);
    a_cfg.prefix = "tenant-a".into();
    let mut b_cfg = server.config(&bucket);
    b_cfg.prefix = "/tenant-b/".into();
    let a = S3Backend::new(a_cfg).unwrap();
    let b = S3Backend::new(b_cfg).unwrap();
    a.write("db/x", b"from a").unwrap();
    b.write("db/x", b"from b").unwrap();
    b.write("db/only-b", b"b").unwrap();
    assert_eq!(a.read("db/x").unwrap(), b"from a");
    assert_eq!(b.read("db/x").unwrap(), b"from b");
    assert_eq!(a.list("").unwrap(), vec!["db/x".to_owned()]);
    assert_eq!(b.list("db/").unwrap(), vec!["db/only-b".to_owned(), "db/x".to_owned()]);
    assert!(!a.exists("db/only-b").unwrap());
    a.as_batch_deleter().unwrap().delete_batch(&["db/x", "db/only-b"]).unwrap();
    assert_eq!(b.list("").unwrap().len(), 2);
    let root = S3Backend::new(server.config(&bucket)).unwrap();
    assert_eq!(
        root.list("").unwrap(),
        vec!["tenant-b/db/only-b".to_owned(), "tenant-b/db/x".to_owned()]
    );
    assert_eq!(a.get_s3_path("db/x"), format!("s3://{bucket}/tenant-a/db/x"));
}

#[test]
fn query_path_helpers_include_bucket_and_prefix() {
    let server = S3Server::Moto;
    let mut cfg = server.config("qp-bucket");
    cfg.prefix = "arc".into();
    let store = S3Backend::new(cfg).unwrap();
    assert_eq!(
        store.get_query_path("mydb", "cpu", 2025, Some(11), Some(25), Some(16)),
        "s3://qp-bucket/arc/mydb/cpu/2025/11/25/16/*.parquet"
    );
    assert_eq!(
        store.get_query_path("mydb", "cpu", 2025, None, None, None),
        "s3://qp-bucket/arc/mydb/cpu/2025/*/*/*/*.parquet"
    );
    let day = 86_400;
    let start = UNIX_EPOCH + Duration::from_secs(20_000 * day + 3600);
    let end = start + Duration::from_secs(day);
    assert_eq!(
        store.get_query_path_range("mydb", "cpu", start, end),
        vec![
            "s3://qp-bucket/arc/mydb/cpu/2024/10/04/*/*.parquet".to_owned(),
            "s3://qp-bucket/arc/mydb/cpu/2024/10/05/*/*.parquet".to_owned(),
        ]
    );
    assert_eq!(
        blobio::get_storage_path(&store, "mydb", "cpu").unwrap(),
        "s3://qp-bucket/arc/mydb/cpu/**/*.parquet"
    );
    assert_eq!(blobio::get_local_base_path(&store, "Retention", "/fallback"), "");
}

#[test]
fn config_json_and_debug_never_show_secrets() {
    let mut cfg = S3Server::Moto.config("secrets");
    cfg.secret_key = Some("SECRET-sk-value".into());
    cfg.session_token = Some("SECRET-token-value".into());
    cfg.access_key = Some("AKIA-visible-id".into());
    let debug_cfg = format!("{cfg:?}");
    let store = S3Backend::new(cfg).unwrap();
    for text in [store.config_json(), format!("{store:?}"), debug_cfg] {
        assert!(!text.contains("SECRET"), "{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&store.config_json()).unwrap();
    for field in ["bucket", "prefix", "region", "endpoint", "path_style", "use_ssl"] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
}

#[test]
fn content_type_is_parquet_for_parquet_keys() {
    let server = S3Server::Moto;
    let bucket = server.new_bucket("ctype");
    let store = S3Backend::new(server.config(&bucket)).unwrap();
    store.write("a.parquet", b"PAR1").unwrap();
    store.write("a.bin", b"x").unwrap();
    let out = python(
        r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
print(s3.head_object(Bucket=sys.argv[2], Key="a.parquet")["ContentType"])
print(s3.head_object(Bucket=sys.argv[2], Key="a.bin")["ContentType"])
"#,
        &[&server.endpoint(), &bucket],
    );
    assert_eq!(out, "application/vnd.apache.parquet\napplication/octet-stream\n");
}

#[test]
fn append_reader_is_resume_not_supported() {
    let store = S3Server::Moto.new_store("append");
    let err = store
        .as_appending()
        .unwrap()
        .append_reader("x", &mut std::io::empty(), 0)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ResumeNotSupported);
}

const BOTO: &str = r#"
import boto3, hashlib, sys
op, endpoint, bucket, key = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=sys.argv[5], aws_secret_access_key=sys.argv[6], region_name="us-east-1")
if op == "digest":
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    print(len(body), hashlib.sha256(body).hexdigest())
else:
    n, seed = int(sys.argv[7]), int(sys.argv[8])
    data = bytes((i * seed + i // 7) % 251 for i in range(n))
    if op == "put":
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    else:
        from boto3.s3.transfer import TransferConfig
        s3.upload_fileobj(__import__("io").BytesIO(data), bucket, key,
                          Config=TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024))
    print(len(data), hashlib.sha256(data).hexdigest())
"#;

fn boto(server: S3Server, args: &[&str]) -> String {
    let (ak, sk) = server.keys();
    let mut all: Vec<&str> = args[..4].to_vec();
    all.push(&ak);
    all.push(&sk);
    all.extend_from_slice(&args[4..]);
    python(BOTO, &all).trim().to_owned()
}

#[test]
fn objects_written_by_blobio_read_back_identically_with_boto3() {
    for server in [S3Server::S3sFs, S3Server::Moto] {
        let bucket = server.new_bucket("interop-w");
        let store = S3Backend::new(small_parts(server.config(&bucket))).unwrap();
        let ep = server.endpoint();
        let single = pseudo_random(300_000, 1);
        store.write("dir/single key.bin", &single).unwrap();
        assert_eq!(
            boto(server, &["digest", &ep, &bucket, "dir/single key.bin"]),
            format!("{} {}", single.len(), sha256_hex(&single))
        );
        let mut src = StreamSource::new(12 * MIB + 3, 9, None);
        store.write_reader("dir/multi.parquet", &mut src, None).unwrap();
        assert_eq!(
            boto(server, &["digest", &ep, &bucket, "dir/multi.parquet"]),
            format!("{} {}", 12 * MIB + 3, src.digest())
        );
    }
}

#[test]
fn objects_written_by_boto3_read_back_identically_with_blobio() {
    for server in [S3Server::S3sFs, S3Server::Moto] {
        let bucket = server.new_bucket("interop-r");
        let store = S3Backend::new(server.config(&bucket)).unwrap();
        let ep = server.endpoint();
        for (op, key, n) in [("put", "b/put.bin", 100_000u64), ("upload", "b/multi.bin", 11 * MIB)] {
            let expected = boto(server, &[op, &ep, &bucket, key, &n.to_string(), "13"]);
            let data = store.read(key).unwrap();
            assert_eq!(expected, format!("{} {}", data.len(), sha256_hex(&data)), "{server:?} {key}");
            let mut tail = Vec::new();
            store.read_to_at(key, &mut tail, n - 10).unwrap();
            assert_eq!(tail, data[data.len() - 10..]);
        }
    }
}

#[test]
fn read_to_streams_without_holding_the_object() {
    // read_to hands bytes to the writer as they arrive: the writer sees
    // many chunks, none larger than the copy buffer.
    let store = S3Server::Moto.new_store("stream");
    let mut src = StreamSource::new(20 * MIB, 2, None);
    store.write_reader("s", &mut src, Some(20 * MIB)).unwrap();
    struct Chunks(usize, usize);
    impl std::io::Write for Chunks {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            self.1 = self.1.max(b.len());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = Chunks(0, 0);
    assert_eq!(store.read_to("s", &mut w).unwrap(), 20 * MIB);
    assert!(w.0 > 10 && w.1 <= 256 * 1024, "chunks {} max {}", w.0, w.1);
}

#[test]
fn construction_against_a_dead_endpoint_is_bounded() {
    // A black-hole endpoint: accepts TCP, never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cfg = S3Server::Moto.config("blackhole");
    cfg.endpoint = Some(format!("http://127.0.0.1:{port}"));
    cfg.http.timeouts.request = Duration::from_millis(500);
    cfg.http.timeouts.stall = Duration::from_millis(500);
    let started = Instant::now();
    let store = S3Backend::new(cfg).unwrap();
    assert!(started.elapsed() < Duration::from_secs(11));
    let err = store.read("k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    drop(listener);
}

#[path = "conformance/mod.rs"]
#[macro_use]
mod conformance;

/// Above the copy threshold (lowered here from 5 GiB to 5 MiB) a copy is a
/// multipart upload of parts the server copies (UploadPartCopy, pinned to
/// the source's ETag): the bytes, content type and metadata arrive, the
/// ETag is a multipart one, and a create onto an object (the condition on
/// CompleteMultipartUpload, which moto honours) is AlreadyExists and
/// changes nothing.
#[test]
fn a_copy_above_the_copy_threshold_goes_in_parts_with_its_attributes() {
    for server in [S3Server::Moto, S3Server::S3sFs] {
        let mut cfg = small_parts(server.config(&server.new_bucket("copyparts")));
        cfg.copy_threshold = 5 * MIB;
        let store = S3Backend::new(cfg).unwrap();
        let data = pseudo_random((11 * MIB + 123) as usize, 77);
        let opts = PutOptions {
            content_type: Some("text/csv".into()),
            metadata: vec![("rows".into(), "42".into())],
            ..PutOptions::default()
        };
        store.put("src.csv", &data, &opts).unwrap();
        let put = store.copy("src.csv", "dst.csv", &PutOptions::default()).unwrap();
        let etag = put.version.unwrap();
        assert!(etag.ends_with("-3\""), "{server:?}: three parts copied: {etag}");
        assert_eq!(sha256_hex(&store.read("dst.csv").unwrap()), sha256_hex(&data), "{server:?}");
        let head = store.head("dst.csv").unwrap();
        assert_eq!(head.version.as_deref(), Some(etag.as_str()), "{server:?}");
        assert_eq!(head.content_type.as_deref(), Some("text/csv"), "{server:?}");
        assert_eq!(head.metadata_value("rows"), Some("42"), "{server:?}");
        if server == S3Server::Moto {
            store.write("small", b"small").unwrap();
            let err = store
                .copy("src.csv", "small", &PutOptions::with_mode(PutMode::Create))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
            assert_eq!(store.read("small").unwrap(), b"small");
        }
        let moved = store.rename("dst.csv", "moved.csv", &PutOptions::default()).unwrap();
        assert!(moved.version.unwrap().ends_with("-3\""));
        assert!(!store.exists("dst.csv").unwrap());
        assert_eq!(store.stat_file("moved.csv").unwrap(), Some(data.len() as u64));
    }
}

/// A store as the conformance macros take it.
struct Store(S3Backend);

impl AsRef<dyn Backend> for Store {
    fn as_ref(&self) -> &(dyn Backend + 'static) {
        &self.0
    }
}

/// The shared conformance suite, unchanged, on s3s-fs (signatures checked).
mod conformance_on_s3s {
    use super::*;

    fn store() -> (Store, conformance::Options) {
        // s3s-fs's quirks are declared in one place, beside the options.
        (Store(S3Server::S3sFs.new_store("conf")), conformance::Options::s3s_fs())
    }

    conformance_tests!(store);
}

/// The shared conformance suite, unchanged, on moto (wide S3 semantics),
/// with a store prefix, and with objects large enough to go multipart.
mod conformance_on_moto {
    use super::*;

    fn store() -> (Store, conformance::Options) {
        let server = S3Server::Moto;
        let mut cfg = small_parts(server.config(&server.new_bucket("conf")));
        cfg.prefix = "tenant/data".into();
        let options = conformance::Options {
            large_object_size: 9 * 1024 * 1024 + 17,
            ..conformance::Options::moto()
        };
        (Store(S3Backend::new(cfg).unwrap()), options)
    }

    conformance_tests!(store);
}
