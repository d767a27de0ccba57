//! blobio through its public Rust API, with its defaults: whatever blobio
//! does by default (parallel parts, parallel ranged GETs once they land) is
//! what these rows measure.

use std::time::Duration;

use blobio::{
    AzureBlobBackend, AzureBlobConfig, Backend, HttpConfig, LocalBackend, S3Backend, S3Config,
};

use crate::data::{on_threads, Counter, OrDie, Pattern};
use crate::spec::{keys, Spec};

/// Azurite on a loaded machine can be silent for longer than blobio's default
/// 30 s stall timeout while it works through Blob Batch deletes (256 blobs
/// each, 8 batches in flight). A timeout changes none of the work a row does,
/// so every store here waits longer rather than fail the run.
fn patient(http: &mut HttpConfig) {
    http.timeouts.request = Duration::from_secs(600);
    http.timeouts.stall = Duration::from_secs(600);
}

/// The store a spec names. `single_stream` asks for one request at a time:
/// one part in flight for uploads, and no ranged GETs for reads.
pub fn store(spec: &Spec, single_stream: bool) -> Box<dyn Backend> {
    match spec.server() {
        "moto" => {
            let mut cfg = S3Config::new(spec.str("bucket"));
            cfg.endpoint = Some(spec.str("endpoint").to_owned());
            cfg.path_style = true;
            cfg.region = Some("us-east-1".into());
            cfg.access_key = Some(spec.str("access_key").to_owned());
            cfg.secret_key = Some(spec.str("secret_key").to_owned());
            patient(&mut cfg.http);
            if single_stream {
                cfg.upload_concurrency = 1;
                cfg.download_threshold = u64::MAX;
            }
            Box::new(S3Backend::new(cfg).or_die("blobio S3 store"))
        }
        "azurite" => {
            let mut cfg = AzureBlobConfig::with_shared_key(
                spec.str("account"),
                spec.str("account_key"),
                spec.str("bucket"),
            );
            cfg.endpoint = Some(spec.str("endpoint").to_owned());
            patient(&mut cfg.http);
            if single_stream {
                cfg.upload_concurrency = 1;
                cfg.download_threshold = u64::MAX;
            }
            Box::new(AzureBlobBackend::new(cfg).or_die("blobio Azure store"))
        }
        "local" => Box::new(LocalBackend::new(spec.str("root")).or_die("blobio local store")),
        other => panic!("unknown server {other}"),
    }
}

/// Runs the spec's row and reports it.
pub fn run(spec: &Spec) {
    let sizes = spec.sizes();
    let store = store(spec, spec.row().ends_with("_single"));
    let timed = crate::Timer::start();
    let moved = match spec.row() {
        "startup" => (0, 0),
        "put_single" | "put_parallel" => {
            let mut src = Pattern::new(sizes.big);
            store
                .write_reader(&keys::put(spec.client()), &mut src, Some(sizes.big))
                .or_die("blobio write_reader");
            (sizes.big, 1)
        }
        "get_single" | "get_parallel" => {
            let mut sink = Counter::default();
            store.read_to(keys::FIXTURE, &mut sink).or_die("blobio read_to");
            (sink.0, 1)
        }
        "get_memory" => {
            // The whole object in one Vec, by the store's defaults (ranged GETs
            // above the threshold); kept until counted.
            let data = store.read(keys::FIXTURE).or_die("blobio read");
            let n = data.len() as u64;
            drop(data);
            (n, 1)
        }
        "read_at" => {
            let mut sink = Counter::default();
            store
                .read_to_at(keys::FIXTURE, &mut sink, sizes.read_at_offset())
                .or_die("blobio read_to_at");
            (sink.0, 1)
        }
        "small_put" => {
            let names = spec.own_small_keys();
            let payload = vec![crate::data::FILL; sizes.small];
            let bytes = on_threads(names.len(), sizes.threads, |i| {
                store.write(&names[i], &payload).or_die("blobio write");
                payload.len() as u64
            });
            (bytes, names.len() as u64)
        }
        "small_get" => {
            let names = spec.fixture_small_keys();
            let bytes = on_threads(names.len(), sizes.threads, |i| {
                store.read(&names[i]).or_die("blobio read").len() as u64
            });
            (bytes, names.len() as u64)
        }
        "list" => {
            let listed = store.list(keys::FIX_PREFIX).or_die("blobio list");
            (0, listed.len() as u64)
        }
        "delete" => {
            let names = spec.own_small_keys();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let deleter = store.as_batch_deleter().expect("blobio batch delete");
            deleter.delete_batch(&refs).or_die("blobio delete_batch");
            (0, refs.len() as u64)
        }
        other => panic!("blobio: no row {other}"),
    };
    timed.report(moved);
}
