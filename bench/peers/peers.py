"""The Python SDK peers of bench/peers: boto3 on moto, azure-storage-blob on
Azurite. Run by the bench binary, one (client, row) a process, so that its
rusage is the client's alone:

    BENCH_SPEC='{...}' python peers.py run      one row; prints {"wall","bytes","ops"}
    BENCH_SPEC='{...}' python peers.py setup    create the bucket / container;
                                                on Azurite, print a container SAS for curl

The spec is the JSON object src/spec.rs describes. Wall time excludes the
imports and the construction of the client; CPU and peak RSS (taken by the
parent) include them, and the parent subtracts the "startup" row's CPU.
"""
import io
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

SPEC = json.loads(os.environ["BENCH_SPEC"])
FILL = b"b"
CHUNK = 1 << 20


class Pattern(io.RawIOBase):
    """`n` bytes of FILL, made on demand."""

    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.left)
        b[:k] = FILL * k
        self.left -= k
        return k


class Counter(io.RawIOBase):
    """Counts what is written; seekable, as the parallel downloaders want."""

    def __init__(self):
        self.n = 0
        self.pos = 0

    def writable(self):
        return True

    def seekable(self):
        return True

    def seek(self, pos, whence=0):
        self.pos = pos if whence == 0 else self.pos + pos
        return self.pos

    def tell(self):
        return self.pos

    def write(self, b):
        k = len(b)
        self.n += k
        self.pos += k
        return k


def own_small_keys():
    return ["sm/%s/%05d" % (SPEC["client"], i) for i in range(SPEC["count"])]


def fixture_small_keys():
    return ["fix/%05d" % i for i in range(SPEC["count"])]


def in_chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def boto3_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=SPEC["endpoint"], region_name="us-east-1",
        aws_access_key_id=SPEC["access_key"], aws_secret_access_key=SPEC["secret_key"],
        config=Config(max_pool_connections=32))


def boto3_row(s3, row):
    from boto3.s3.transfer import TransferConfig

    bucket, big = SPEC["bucket"], SPEC["big"]
    if row == "startup":
        return 0, 0
    if row in ("put_single", "put_parallel"):
        cfg = (TransferConfig(max_concurrency=1, use_threads=False)
               if row == "put_single" else TransferConfig())
        src = io.BufferedReader(Pattern(big), CHUNK)
        s3.upload_fileobj(src, bucket, "put/%s" % SPEC["client"], Config=cfg)
        return big, 1
    if row == "get_single":
        body = s3.get_object(Bucket=bucket, Key="big/fixture")["Body"]
        return sum(len(c) for c in body.iter_chunks(CHUNK)), 1
    if row == "get_parallel":
        sink = Counter()
        s3.download_fileobj(bucket, "big/fixture", sink, Config=TransferConfig())
        return sink.n, 1
    if row == "get_memory":
        return len(s3.get_object(Bucket=bucket, Key="big/fixture")["Body"].read()), 1
    if row == "read_at":
        start = big - SPEC["read_at"]
        body = s3.get_object(Bucket=bucket, Key="big/fixture", Range="bytes=%d-" % start)["Body"]
        return sum(len(c) for c in body.iter_chunks(CHUNK)), 1
    if row == "small_put":
        payload = FILL * SPEC["small"]
        keys = own_small_keys()
        with ThreadPoolExecutor(SPEC["threads"]) as ex:
            list(ex.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=payload), keys))
        return len(keys) * len(payload), len(keys)
    if row == "small_get":
        keys = fixture_small_keys()
        with ThreadPoolExecutor(SPEC["threads"]) as ex:
            sizes = ex.map(lambda k: len(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), keys)
            return sum(sizes), len(keys)
    if row == "list":
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="fix/")
        return 0, sum(len(p.get("Contents", [])) for p in pages)
    if row == "delete":
        keys = own_small_keys()
        for chunk in in_chunks(keys, 1000):
            out = s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in chunk], "Quiet": True})
            if out.get("Errors"):
                raise RuntimeError("delete_objects: %r" % out["Errors"][:3])
        return 0, len(keys)
    raise SystemExit("boto3: no row %s" % row)


def azure_container():
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(SPEC["endpoint"], credential={
        "account_name": SPEC["account"], "account_key": SPEC["account_key"]})
    return service.get_container_client(SPEC["bucket"])


def azure_row(container, row):
    big = SPEC["big"]
    if row == "startup":
        return 0, 0
    if row in ("put_single", "put_parallel"):
        conc = 1 if row == "put_single" else 8
        container.upload_blob("put/%s" % SPEC["client"], Pattern(big), length=big,
                              overwrite=True, max_concurrency=conc)
        return big, 1
    if row in ("get_single", "get_parallel"):
        conc = 1 if row == "get_single" else 8
        sink = Counter()
        container.download_blob("big/fixture", max_concurrency=conc).readinto(sink)
        return sink.n, 1
    if row == "get_memory":
        return len(container.download_blob("big/fixture").readall()), 1
    if row == "read_at":
        start, length = big - SPEC["read_at"], SPEC["read_at"]
        sink = Counter()
        container.download_blob("big/fixture", offset=start, length=length).readinto(sink)
        return sink.n, 1
    if row == "small_put":
        payload = FILL * SPEC["small"]
        keys = own_small_keys()
        with ThreadPoolExecutor(SPEC["threads"]) as ex:
            list(ex.map(lambda k: container.upload_blob(k, payload, overwrite=True), keys))
        return len(keys) * len(payload), len(keys)
    if row == "small_get":
        keys = fixture_small_keys()
        with ThreadPoolExecutor(SPEC["threads"]) as ex:
            sizes = ex.map(lambda k: len(container.download_blob(k).readall()), keys)
            return sum(sizes), len(keys)
    if row == "list":
        return 0, sum(1 for _ in container.list_blobs(name_starts_with="fix/"))
    if row == "delete":
        keys = own_small_keys()
        for chunk in in_chunks(keys, 256):  # the Blob Batch API's limit
            container.delete_blobs(*chunk)
        return 0, len(keys)
    raise SystemExit("azure sdk: no row %s" % row)


def setup():
    if SPEC["server"] == "moto":
        s3 = boto3_client()
        s3.create_bucket(Bucket=SPEC["bucket"])
        return
    from datetime import datetime, timedelta, timezone
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    azure_container().create_container()
    print(generate_container_sas(
        SPEC["account"], SPEC["bucket"], account_key=SPEC["account_key"],
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=12)))


def run():
    if SPEC["server"] == "moto":
        client, row_fn = boto3_client(), boto3_row
    else:
        client, row_fn = azure_container(), azure_row
    t0 = time.perf_counter()
    moved, ops = row_fn(client, SPEC["row"])
    print(json.dumps({"wall": time.perf_counter() - t0, "bytes": moved, "ops": ops}))


if __name__ == "__main__":
    {"run": run, "setup": setup}[sys.argv[1]]()
