//! How any remote store deletes many objects: keys in chunks of what one
//! request may carry, chunks in parallel on the worker pool, failures
//! gathered per path.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Engine;
use crate::error::{BatchFailure, Error, ErrorKind, Result};
use crate::pool::{Pool, Ticket};
use crate::retry;

/// [`crate::BatchDeleter::delete_batch`] of any remote store.
pub(crate) fn delete_batch(e: &Arc<Engine>, paths: &[&str]) -> Result<()> {
    let mut failures = Vec::new();
    let mut batch: Vec<(String, String)> = Vec::new();
    for &path in paths {
        match e.key(path) {
            // A key the batch request cannot carry is deleted on its own.
            Ok(key) if !e.proto.batchable(&key) => {
                if let Err(error) = e.proto.delete(&e.client, path, &key) {
                    failures.push(BatchFailure {
                        path: path.to_owned(),
                        error,
                    });
                }
            }
            Ok(key) => batch.push((key, path.to_owned())),
            Err(error) => failures.push(BatchFailure {
                path: path.to_owned(),
                error,
            }),
        }
    }
    let (per_request, most_in_flight) = e.proto.batch_limits();
    let chunks: Vec<Vec<(String, String)>> = batch.chunks(per_request).map(<[_]>::to_vec).collect();
    let engine = Arc::clone(e);
    let budget = retry::current_budget();
    failures.extend(run_batches(
        chunks,
        e.settings.upload_concurrency.min(most_in_flight),
        || e.pool(),
        move |chunk| {
            retry::within(budget.clone(), || {
                engine.proto.delete_chunk(&engine.client, &chunk)
            })
        },
    ));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Batch { failures })
    }
}

/// Each path of a batch request that failed as a whole, failed the same
/// way: the kind is kept, so a throttled or dropped request stays transient
/// (a retrying wrapper retries the batch) and a refused one stays
/// PermissionDenied. `what` names the request in messages.
pub(crate) fn each_failed(chunk: &[(String, String)], e: &Error, what: &str) -> Vec<BatchFailure> {
    let message = format!("{what} failed: {e}");
    let remote = e.service_detail().cloned().map(Box::new);
    let one = |path: String| match e.kind() {
        ErrorKind::PermissionDenied => Error::PermissionDenied {
            path,
            remote: remote.clone(),
            source: None,
        },
        ErrorKind::NotFound => Error::NotFound {
            path,
            remote: remote.clone(),
        },
        ErrorKind::Server => Error::Server {
            path,
            remote: remote.clone(),
        },
        ErrorKind::Network => Error::Network {
            path,
            message: message.clone(),
            source: None,
        },
        ErrorKind::Timeout => Error::Timeout {
            path,
            message: message.clone(),
            remote: remote.clone(),
            source: None,
        },
        _ => Error::Other {
            path,
            message: message.clone(),
            remote: remote.clone(),
            source: None,
        },
    };
    chunk
        .iter()
        .map(|(_, path)| BatchFailure {
            path: path.clone(),
            error: one(path.clone()),
        })
        .collect()
}

/// Runs `work` on every chunk, up to `concurrency` chunks at once on the
/// pool (a single chunk runs on the calling thread, starting no thread), and
/// gathers the failures it reports.
fn run_batches<C, F>(
    chunks: Vec<C>,
    concurrency: usize,
    pool: impl FnOnce() -> Arc<Pool>,
    work: F,
) -> Vec<BatchFailure>
where
    C: Send + 'static,
    F: Fn(C) -> Vec<BatchFailure> + Send + Sync + 'static,
{
    let mut failures = Vec::new();
    if chunks.len() <= 1 {
        for chunk in chunks {
            failures.extend(work(chunk));
        }
        return failures;
    }
    let pool = pool();
    let work = Arc::new(work);
    let mut in_flight: VecDeque<Ticket<Vec<BatchFailure>>> = VecDeque::new();
    let collect = |ticket: Ticket<Vec<BatchFailure>>, failures: &mut Vec<BatchFailure>| {
        match ticket.wait() {
            Ok(f) => failures.extend(f),
            // Only a panic in the job gets here; say so rather than lose it.
            Err(error) => failures.push(BatchFailure {
                path: String::new(),
                error,
            }),
        }
    };
    for chunk in chunks {
        if in_flight.len() >= concurrency.max(1) {
            collect(in_flight.pop_front().expect("non-empty"), &mut failures);
        }
        let job = Arc::clone(&work);
        in_flight.push_back(pool.submit(move || Ok(job(chunk))));
    }
    for t in in_flight {
        collect(t, &mut failures);
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_batch_is_reported_not_lost() {
        let pool = Arc::new(Pool::new("t-batch", 2));
        let failures = run_batches(
            vec![1, 2, 3],
            2,
            || Arc::clone(&pool),
            |c| {
                if c == 2 {
                    panic!("chunk two");
                }
                vec![BatchFailure {
                    path: format!("k{c}"),
                    error: Error::not_found(&format!("k{c}")),
                }]
            },
        );
        let paths: Vec<&str> = failures.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["k1", "", "k3"]);
        assert!(failures[1].error.to_string().contains("chunk two"));
    }
}
