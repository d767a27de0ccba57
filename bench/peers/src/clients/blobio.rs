//! blobio through its public Rust API, with its defaults: whatever blobio
//! does by default (parallel parts, parallel ranged GETs once they land) is
//! what these rows measure.

use blobio::{AzureBlobBackend, AzureBlobConfig, Backend, LocalBackend, S3Backend, S3Config};

use crate::data::{on_threads, Counter, Pattern};
use crate::spec::{keys, Spec};

/// The store a spec names. `single_stream` asks for one request at a time
/// where blobio has a knob for it (today: uploads).
pub fn store(spec: &Spec, single_stream: bool) -> Box<dyn Backend> {
    match spec.server() {
        "moto" => {
            let mut cfg = S3Config::new(spec.str("bucket"));
            cfg.endpoint = Some(spec.str("endpoint").to_owned());
            cfg.path_style = true;
            cfg.region = Some("us-east-1".into());
            cfg.access_key = Some(spec.str("access_key").to_owned());
            cfg.secret_key = Some(spec.str("secret_key").to_owned());
            if single_stream {
                cfg.upload_concurrency = 1;
            }
            Box::new(S3Backend::new(cfg).expect("blobio S3 store"))
        }
        "azurite" => {
            let mut cfg = AzureBlobConfig::with_shared_key(
                spec.str("account"),
                spec.str("account_key"),
                spec.str("bucket"),
            );
            cfg.endpoint = Some(spec.str("endpoint").to_owned());
            if single_stream {
                cfg.upload_concurrency = 1;
            }
            Box::new(AzureBlobBackend::new(cfg).expect("blobio Azure store"))
        }
        "local" => Box::new(LocalBackend::new(spec.str("root")).expect("blobio local store")),
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
                .expect("blobio write_reader");
            (sizes.big, 1)
        }
        "get_single" | "get_parallel" => {
            let mut sink = Counter::default();
            store.read_to(keys::FIXTURE, &mut sink).expect("blobio read_to");
            (sink.0, 1)
        }
        "read_at" => {
            let mut sink = Counter::default();
            store
                .read_to_at(keys::FIXTURE, &mut sink, sizes.read_at_offset())
                .expect("blobio read_to_at");
            (sink.0, 1)
        }
        "small_put" => {
            let names = spec.own_small_keys();
            let payload = vec![crate::data::FILL; sizes.small];
            let bytes = on_threads(names.len(), sizes.threads, |i| {
                store.write(&names[i], &payload).expect("blobio write");
                payload.len() as u64
            });
            (bytes, names.len() as u64)
        }
        "small_get" => {
            let names = spec.fixture_small_keys();
            let bytes = on_threads(names.len(), sizes.threads, |i| {
                store.read(&names[i]).expect("blobio read").len() as u64
            });
            (bytes, names.len() as u64)
        }
        "list" => {
            let listed = store.list(keys::FIX_PREFIX).expect("blobio list");
            (0, listed.len() as u64)
        }
        "delete" => {
            let names = spec.own_small_keys();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let deleter = store.as_batch_deleter().expect("blobio batch delete");
            deleter.delete_batch(&refs).expect("blobio delete_batch");
            (0, refs.len() as u64)
        }
        other => panic!("blobio: no row {other}"),
    };
    timed.report(moved);
}
