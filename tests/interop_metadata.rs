//! Content type, user metadata and ETags as the official SDKs see them:
//! boto3 (on moto) and azure-storage-blob (on Azurite) read what blobio
//! wrote, and blobio reads what they wrote. Run by `scripts/test`.
#![cfg(feature = "server-tests")]

mod support;

use blobio::{AzureBlobBackend, Backend, PutMode, PutOptions, S3Backend};
use support::azure::Azurite;
use support::{python, S3Server};

fn attributes() -> PutOptions {
    PutOptions {
        content_type: Some("text/csv".into()),
        metadata: vec![
            ("owner".into(), "arc team".into()),
            ("rows".into(), "42".into()),
        ],
        ..PutOptions::default()
    }
}

/// boto3 reads an object (PutObject, and one in parts) with what blobio
/// gave it, and blobio's `head` reads what boto3 wrote.
#[test]
fn boto3_and_blobio_see_each_others_content_type_metadata_and_etag() {
    const PY: &str = r#"
import sys, boto3
endpoint, bucket, op, key = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="moto-access", aws_secret_access_key="moto-secret")
if op == "head":
    h = s3.head_object(Bucket=bucket, Key=key)
    meta = ",".join(f"{k}={v}" for k, v in sorted(h["Metadata"].items()))
    print(h["ContentType"], h["ETag"], h["ContentLength"], meta, sep="|")
else:
    r = s3.put_object(Bucket=bucket, Key=key, Body=b"from boto3", ContentType="application/json",
                      Metadata={"writer": "boto3", "n": "7"})
    print(r["ETag"])
"#;
    let server = S3Server::Moto;
    let bucket = server.new_bucket("interop-meta");
    let mut cfg = server.config(&bucket);
    cfg.multipart_threshold = 5 * 1024 * 1024;
    cfg.part_size = 5 * 1024 * 1024;
    let store = S3Backend::new(cfg).unwrap();
    let endpoint = server.endpoint();
    let py = |args: &[&str]| {
        let mut all = vec![endpoint.as_str(), bucket.as_str()];
        all.extend_from_slice(args);
        python(PY, &all).trim().to_owned()
    };

    let put = store.put("small.csv", b"a,b\n", &attributes()).unwrap();
    let etag = put.version.unwrap();
    assert_eq!(
        py(&["head", "small.csv"]),
        format!("text/csv|{etag}|4|owner=arc team,rows=42")
    );
    let big = vec![7u8; 11 * 1024 * 1024];
    let put = store
        .put_reader("big.csv", &mut &big[..], None, &attributes())
        .unwrap();
    let etag = put.version.unwrap();
    assert!(etag.ends_with("-3\""), "an ETag of 3 parts: {etag}");
    assert_eq!(
        py(&["head", "big.csv"]),
        format!("text/csv|{etag}|{}|owner=arc team,rows=42", big.len())
    );

    let etag = py(&["put", "from-boto3.json"]);
    let head = store.head("from-boto3.json").unwrap();
    assert_eq!(head.size, 10);
    assert_eq!(head.version.as_deref(), Some(etag.as_str()));
    assert_eq!(head.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        head.metadata,
        vec![("n".into(), "7".into()), ("writer".into(), "boto3".into())]
    );
    // The ETag boto3 got is the version an update takes.
    store
        .put("from-boto3.json", b"{}", &PutOptions::with_mode(PutMode::Update(etag)))
        .unwrap();
    assert_eq!(store.read("from-boto3.json").unwrap(), b"{}");
}

/// azure-storage-blob reads a blob (Put Blob, and one of staged blocks)
/// with what blobio gave it, and blobio's `head` reads what the SDK wrote.
#[test]
fn the_azure_sdk_and_blobio_see_each_others_content_type_metadata_and_etag() {
    const PY: &str = r#"
import sys
from azure.storage.blob import BlobServiceClient, ContentSettings
cs, container, op, name = sys.argv[1:5]
blob = BlobServiceClient.from_connection_string(cs).get_blob_client(container, name)
if op == "head":
    p = blob.get_blob_properties()
    meta = ",".join(f"{k}={v}" for k, v in sorted(p.metadata.items()))
    print(p.content_settings.content_type, p.etag, p.size, meta, sep="|")
else:
    r = blob.upload_blob(b"from the sdk", overwrite=True, metadata={"writer": "sdk", "n": "7"},
                         content_settings=ContentSettings(content_type="application/json"))
    print(r["etag"])
"#;
    let container = Azurite::Http.new_container("interop-meta");
    let mut cfg = Azurite::Http.config(&container);
    cfg.block_size = 1024 * 1024;
    let store = AzureBlobBackend::new(cfg).unwrap();
    let cs = Azurite::Http.connection_string();
    let py = |args: &[&str]| {
        let mut all = vec![cs.as_str(), container.as_str()];
        all.extend_from_slice(args);
        python(PY, &all).trim().to_owned()
    };
    // The SDK prints ETags without their quotes.
    let bare = |etag: &str| etag.trim_matches('"').to_owned();

    let put = store.put("small.csv", b"a,b\n", &attributes()).unwrap();
    let etag = bare(&put.version.unwrap());
    let seen = py(&["head", "small.csv"]);
    let seen: Vec<&str> = seen.split('|').collect();
    assert_eq!(seen[0], "text/csv");
    assert_eq!(bare(seen[1]), etag);
    assert_eq!(seen[2..], ["4", "owner=arc team,rows=42"]);
    let big = vec![7u8; 3 * 1024 * 1024 + 5];
    let put = store
        .put_reader("big.csv", &mut &big[..], None, &attributes())
        .unwrap();
    let etag = bare(&put.version.unwrap());
    let seen = py(&["head", "big.csv"]);
    let seen: Vec<&str> = seen.split('|').collect();
    assert_eq!(seen[0], "text/csv");
    assert_eq!(bare(seen[1]), etag);
    assert_eq!(seen[3], "owner=arc team,rows=42");

    let etag = py(&["put", "from-sdk.json"]);
    let head = store.head("from-sdk.json").unwrap();
    assert_eq!(head.size, 12);
    assert_eq!(head.version.as_deref().map(bare), Some(bare(&etag)));
    assert_eq!(head.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        head.metadata,
        vec![("n".into(), "7".into()), ("writer".into(), "sdk".into())]
    );
    store
        .put(
            "from-sdk.json",
            b"{}",
            &PutOptions::with_mode(PutMode::Update(head.version.unwrap())),
        )
        .unwrap();
    assert_eq!(store.read("from-sdk.json").unwrap(), b"{}");
}
