#!/usr/bin/env python3
"""Records real answers from moto, s3s-fs and Azurite as fuzz corpus seeds.

Run it with the test venv's Python (it has boto3 and azure-storage-blob)
while the test servers run:

    scripts/test --servers-only > /tmp/servers.log 2>&1 &
    grep ^export /tmp/servers.log > /tmp/env.sh; source /tmp/env.sh
    "$BLOBIO_TEST_PYTHON" fuzz/record.py

Every answer body a parser of blobio reads is written, as the server sent
it, to fuzz/corpus/<target>/<server>-<what> (existing files of the same name
are replaced; other seeds are left alone). The SDKs only drive the
requests: the bodies are taken before the SDK parses them (botocore's
before-parse event, azure-core's raw response hook). The servers are fresh
and in memory, so the answers hold no secret; request ids and dates differ
between runs, nothing else.
"""

import os
import sys
import uuid

import boto3
import botocore.config
from azure.storage.blob import BlobServiceClient

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
# Keys that exercise the listing decoders: unicode, spaces, `+`, `%`, XML
# metacharacters, a control character, prefixes of other keys.
KEYS = ["a.txt", "dir/b c.parquet", "dir/sub/ü+%25&<x>.bin", "dir/sub/q?=#~", "dir", "ctl\x01char"]


def save(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)
    print(f"  {target}/{name} ({len(data)} bytes)")


def answer(status, headers, body):
    """A whole answer as the error_answers target reads it: the status less
    100 in two bytes, header lines, a blank line, the body."""
    head = "".join(f"{k}: {v}\n" for k, v in headers.items())
    return (status - 100).to_bytes(2, "big") + head.encode() + b"\n" + (body or b"")


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"record.py: {name} is not set; start the servers (scripts/test --servers-only) and source their exports")
    return value


class Bodies:
    """The raw answer bodies and headers of the last botocore calls."""

    def __init__(self):
        self.last = {}

    def hook(self, event_name, response_dict=None, **_):
        op = event_name.split(".")[-1]
        self.last[op] = response_dict

    def body(self, op):
        return self.last[op]["body"]

    def headers(self, op):
        return self.last[op]["headers"]


def s3_client(endpoint, key, secret, bodies, service="s3"):
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    client.meta.events.register(f"before-parse.{service}.*", bodies.hook)
    return client


def record_s3(server, endpoint, key, secret, keys=KEYS):
    print(f"{server} at {endpoint}")
    bodies = Bodies()
    s3 = s3_client(endpoint, key, secret, bodies)
    bucket = "fuzz-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    for k in keys:
        try:
            s3.put_object(Bucket=bucket, Key=k, Body=b"x" * 10)
        except Exception as e:  # s3s-fs refuses some names on its file system
            print(f"  (put {k!r}: {e})")
    dates = []

    s3.list_objects_v2(Bucket=bucket)
    save("s3_list", f"{server}-flat.xml", bodies.body("ListObjectsV2"))
    dates.append(bodies.headers("ListObjectsV2").get("date", ""))
    s3.list_objects_v2(Bucket=bucket, Delimiter="/", Prefix="dir/")
    save("s3_list", f"{server}-delimiter.xml", bodies.body("ListObjectsV2"))
    s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    save("s3_list", f"{server}-truncated.xml", bodies.body("ListObjectsV2"))
    s3.list_objects_v2(Bucket=bucket, Prefix="nothing/")
    save("s3_list", f"{server}-empty.xml", bodies.body("ListObjectsV2"))

    for what, op, call in [
        ("no-such-key", "GetObject", lambda: s3.get_object(Bucket=bucket, Key="missing")),
        ("no-such-bucket", "GetObject", lambda: s3.get_object(Bucket=bucket + "-gone", Key="k")),
        ("bad-range", "GetObject", lambda: s3.get_object(Bucket=bucket, Key="a.txt", Range="bytes=100-200")),
        ("exists", "PutObject", lambda: s3.put_object(Bucket=bucket, Key="a.txt", Body=b"y", IfNoneMatch="*")),
    ]:
        bodies.last.pop(op, None)
        try:
            call()
        except Exception:
            pass
        if bodies.last.get(op, {}).get("body"):
            save("s3_error", f"{server}-{what}.xml", bodies.body(op))
        if op in bodies.last:
            r = bodies.last[op]
            save("error_answers", f"{server}-{what}", answer(r["status_code"], r["headers"], r["body"]))

    head = s3.head_object(Bucket=bucket, Key="a.txt")
    dates.append(head["ResponseMetadata"]["HTTPHeaders"].get("last-modified", ""))

    up = s3.create_multipart_upload(Bucket=bucket, Key="mp.bin")
    save("s3_multipart", f"{server}-initiate.xml", bodies.body("CreateMultipartUpload"))
    part = s3.upload_part(Bucket=bucket, Key="mp.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 100)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp.bin", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    save("s3_multipart", f"{server}-complete.xml", bodies.body("CompleteMultipartUpload"))
    try:
        s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "a.txt"})
        save("s3_multipart", f"{server}-copy.xml", bodies.body("CopyObject"))
        up = s3.create_multipart_upload(Bucket=bucket, Key="mp2.bin")
        s3.upload_part_copy(Bucket=bucket, Key="mp2.bin", UploadId=up["UploadId"], PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "a.txt"})
        save("s3_multipart", f"{server}-copy-part.xml", bodies.body("UploadPartCopy"))
        s3.abort_multipart_upload(Bucket=bucket, Key="mp2.bin", UploadId=up["UploadId"])
    except Exception as e:
        print(f"  (copy: {e})")

    # XML 1.0 cannot carry a control character (moto answers 500).
    objects = [{"Key": k} for k in keys + ["never-there"] if k.isprintable()]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": False})
    save("s3_delete_result", f"{server}-verbose.xml", bodies.body("DeleteObjects"))
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "mp.bin"}], "Quiet": True})
    save("s3_delete_result", f"{server}-quiet.xml", bodies.body("DeleteObjects"))
    save("http_dates", f"{server}-dates.txt", dates[0])
    save("http_dates", f"{server}-last-modified.txt", dates[1])


def record_sts(endpoint):
    print(f"moto STS at {endpoint}")
    bodies = Bodies()
    sts = s3_client(endpoint, "AKIDFUZZ", "fuzz-secret", bodies, service="sts")
    arn = "arn:aws:iam::123456789012:role/fuzz"
    sts.assume_role(RoleArn=arn, RoleSessionName="fuzz")
    save("aws_identity", "moto-assume-role.xml", bodies.body("AssumeRole"))
    sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="fuzz", WebIdentityToken="e30.e30.sig")
    save("aws_identity", "moto-assume-role-web-identity.xml", bodies.body("AssumeRoleWithWebIdentity"))


def record_azure(endpoint, account, key):
    print(f"Azurite at {endpoint}")
    raw = {}

    def hook(response):
        raw["status"] = response.http_response.status_code
        raw["body"] = response.http_response.body()
        raw["headers"] = {k.lower(): v for k, v in response.http_response.headers.items()}

    service = BlobServiceClient(account_url=endpoint, credential={"account_name": account, "account_key": key})
    name = "fuzz-" + uuid.uuid4().hex[:12]
    container = service.create_container(name)
    # Azurite 3.35.0 answers List Blobs with an empty 500 once a name holds
    # a control character (Azure itself sends it percent-encoded).
    for k in [k for k in KEYS if k.isprintable()]:
        container.upload_blob(k, b"x" * 10, overwrite=True)

    list(container.list_blobs(raw_response_hook=hook))
    save("azure_list", "azurite-flat.xml", raw["body"])
    save("http_dates", "azurite-date.txt", raw["headers"].get("date", ""))
    list(container.walk_blobs(name_starts_with="dir/", delimiter="/", raw_response_hook=hook))
    save("azure_list", "azurite-delimiter.xml", raw["body"])
    pages = container.list_blobs(results_per_page=2, raw_response_hook=hook).by_page()
    list(next(pages))
    save("azure_list", "azurite-marker.xml", raw["body"])

    for what, call in [
        ("blob-not-found", lambda: container.get_blob_client("missing").download_blob(raw_response_hook=hook).readall()),
        ("container-not-found", lambda: list(service.get_container_client(name + "-gone").list_blobs(raw_response_hook=hook))),
        ("blob-exists", lambda: container.upload_blob("a.txt", b"y", raw_response_hook=hook)),
        ("bad-range", lambda: container.get_blob_client("a.txt").download_blob(offset=100, length=10, raw_response_hook=hook).readall()),
    ]:
        raw.clear()
        try:
            call()
        except Exception:
            pass
        if raw.get("body"):
            save("azure_error", f"azurite-{what}.xml", raw["body"])
        if raw.get("status"):
            save("error_answers", f"azurite-{what}", answer(raw["status"], raw["headers"], raw["body"]))

    bad = BlobServiceClient(account_url=endpoint, credential={"account_name": account, "account_key": "AAAA" + key[4:]})
    raw.clear()
    try:
        list(bad.get_container_client(name).list_blobs(raw_response_hook=hook))
    except Exception:
        pass
    if raw.get("body"):
        save("azure_error", "azurite-bad-signature.xml", raw["body"])

    # A HEAD answer: the code is in x-ms-error-code only.
    raw.clear()
    try:
        container.get_blob_client("missing").get_blob_properties(raw_response_hook=hook)
    except Exception:
        pass
    if raw.get("status"):
        save("error_answers", "azurite-head-not-found", answer(raw["status"], raw["headers"], raw["body"]))

    # Blob Batch: deleted, missing, and deleted again.
    raw.clear()
    container.delete_blobs("a.txt", "never-there", "dir/b c.parquet", raise_on_any_failure=False, raw_response_hook=hook)
    if raw.get("body"):
        content_type = raw["headers"].get("content-type", "")
        save("azure_batch", "azurite-delete.txt", content_type.encode() + b"\n" + raw["body"])
    service.delete_container(name)


def main():
    record_s3("moto", env("BLOBIO_TEST_MOTO_ENDPOINT"), "fuzz", "fuzz")
    # s3s-fs 0.14.1 keeps objects as files: "dir" beside "dir/..." is a 500
    # (InternalError), and a key with a control character makes every
    # ListObjectsV2 of the bucket a 500.
    s3s_keys = [k for k in KEYS if k != "dir" and k.isprintable()]
    record_s3("s3s", env("BLOBIO_TEST_S3S_ENDPOINT"), env("BLOBIO_TEST_S3S_ACCESS_KEY"), env("BLOBIO_TEST_S3S_SECRET_KEY"), s3s_keys)
    record_sts(env("BLOBIO_TEST_MOTO_ENDPOINT"))
    record_azure(env("BLOBIO_TEST_AZURITE_ENDPOINT"), env("BLOBIO_TEST_AZURITE_ACCOUNT"), env("BLOBIO_TEST_AZURITE_KEY"))


if __name__ == "__main__":
    main()
