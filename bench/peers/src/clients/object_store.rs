//! object_store on tokio: the crate most Rust users would pick instead of
//! blobio, and the baseline of every ratio. Each row is written the way its
//! documentation suggests, with its defaults.

use std::sync::Arc;
use std::time::Duration;

use futures::{stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::data::FILL;
use crate::spec::{keys, Spec};

/// Ranges of the parallel GET: what a user of `get_range` would pick.
const RANGE: u64 = 8 * 1024 * 1024;
/// Ranges in flight in the parallel GET (BufWriter's default for uploads).
const RANGES_IN_FLIGHT: usize = 8;
/// Chunk handed to the upload writer, as a reader loop would.
const CHUNK: usize = 1024 * 1024;

/// The same patience as blobio's stores here (see clients/blobio.rs): its
/// default 30 s request timeout fails Blob Batch deletes on a loaded Azurite.
fn patient() -> ClientOptions {
    ClientOptions::new().with_timeout(Duration::from_secs(600))
}

fn store(spec: &Spec) -> Arc<dyn ObjectStore> {
    match spec.server() {
        "moto" => Arc::new(
            AmazonS3Builder::new()
                .with_client_options(patient())
                .with_endpoint(spec.str("endpoint"))
                .with_bucket_name(spec.str("bucket"))
                .with_region("us-east-1")
                .with_access_key_id(spec.str("access_key"))
                .with_secret_access_key(spec.str("secret_key"))
                .with_allow_http(true)
                .build()
                .expect("object_store S3"),
        ),
        // The emulator URL comes from AZURITE_BLOB_STORAGE_URL, set by the parent.
        "azurite" => Arc::new(
            MicrosoftAzureBuilder::new()
                .with_client_options(patient())
                .with_use_emulator(true)
                .with_account(spec.str("account"))
                .with_access_key(spec.str("account_key"))
                .with_container_name(spec.str("bucket"))
                .build()
                .expect("object_store Azure"),
        ),
        "local" => Arc::new(
            LocalFileSystem::new_with_prefix(spec.str("root")).expect("object_store local"),
        ),
        other => panic!("unknown server {other}"),
    }
}

/// Runs the spec's row on a multi-threaded tokio runtime and reports it.
pub fn run(spec: &Spec) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let store = store(spec);
        let timed = crate::Timer::start();
        let moved = row(spec, store).await;
        timed.report(moved);
    });
}

async fn row(spec: &Spec, store: Arc<dyn ObjectStore>) -> (u64, u64) {
    let sizes = spec.sizes();
    let fixture = Path::from(keys::FIXTURE);
    match spec.row() {
        "startup" => (0, 0),
        "put_single" | "put_parallel" => {
            let path = Path::from(keys::put(spec.client()));
            let mut writer = BufWriter::new(store, path);
            if spec.row() == "put_single" {
                writer = writer.with_max_concurrency(1);
            }
            let mut chunk = vec![0u8; CHUNK];
            let mut left = sizes.big;
            while left > 0 {
                let n = (CHUNK as u64).min(left) as usize;
                chunk[..n].fill(FILL);
                writer.write_all(&chunk[..n]).await.expect("object_store write");
                left -= n as u64;
            }
            writer.shutdown().await.expect("object_store upload");
            (sizes.big, 1)
        }
        "get_single" => {
            let got = store.get(&fixture).await.expect("object_store get");
            (count_stream(got.into_stream()).await, 1)
        }
        "get_parallel" => {
            let size = store.head(&fixture).await.expect("object_store head").size;
            let ranges: Vec<_> = (0..size)
                .step_by(RANGE as usize)
                .map(|start| start..(start + RANGE).min(size))
                .collect();
            let bytes = stream::iter(ranges)
                .map(|r| store.get_range(&fixture, r))
                .buffered(RANGES_IN_FLIGHT)
                .try_fold(0u64, |n, b| async move { Ok(n + b.len() as u64) })
                .await
                .expect("object_store get_range");
            (bytes, 1)
        }
        "get_memory" => {
            // One GET, its body collected into one Bytes.
            let got = store.get(&fixture).await.expect("object_store get");
            let data = got.bytes().await.expect("object_store body");
            (data.len() as u64, 1)
        }
        "read_at" => {
            let options = GetOptions {
                range: Some(GetRange::Offset(sizes.read_at_offset())),
                ..Default::default()
            };
            let got = store.get_opts(&fixture, options).await.expect("object_store get_opts");
            (count_stream(got.into_stream()).await, 1)
        }
        "small_put" => {
            let payload = PutPayload::from(vec![FILL; sizes.small]);
            let names = spec.own_small_keys();
            let n = names.len() as u64;
            stream::iter(names)
                .map(|name| {
                    let (store, payload) = (&store, payload.clone());
                    async move { store.put(&Path::from(name), payload).await }
                })
                .buffer_unordered(sizes.threads)
                .try_for_each(|_| async { Ok(()) })
                .await
                .expect("object_store put");
            (n * sizes.small as u64, n)
        }
        "small_get" => {
            let names = spec.fixture_small_keys();
            let n = names.len() as u64;
            let bytes = stream::iter(names)
                .map(|name| {
                    let store = &store;
                    async move { store.get(&Path::from(name)).await?.bytes().await }
                })
                .buffer_unordered(sizes.threads)
                .try_fold(0u64, |n, b| async move { Ok(n + b.len() as u64) })
                .await
                .expect("object_store get");
            (bytes, n)
        }
        "list" => {
            let prefix = Path::from(keys::FIX_PREFIX);
            let listed: Vec<_> = store
                .list(Some(&prefix))
                .try_collect()
                .await
                .expect("object_store list");
            (0, listed.len() as u64)
        }
        "delete" => {
            let paths = stream::iter(spec.own_small_keys())
                .map(|k| Ok(Path::from(k)))
                .boxed();
            let deleted: Vec<_> = store
                .delete_stream(paths)
                .try_collect()
                .await
                .expect("object_store delete_stream");
            (0, deleted.len() as u64)
        }
        other => panic!("object_store: no row {other}"),
    }
}

async fn count_stream(
    mut body: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
) -> u64 {
    let mut n = 0;
    while let Some(chunk) = body.next().await {
        n += chunk.expect("object_store body").len() as u64;
    }
    n
}
