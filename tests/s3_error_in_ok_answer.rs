//! S3 answers CompleteMultipartUpload, CopyObject and UploadPartCopy with
//! 200 before the work is done, and puts a failure that comes later in the
//! body (`<Error>`). blobio treats such an answer as the error it carries:
//! retried through the retry policy when it is transient (InternalError,
//! SlowDown), reported at once when it is not, never taken as success.
//! The fault proxy in front of moto makes the answers.

#![cfg(feature = "server-tests")]

mod support;

use blobio::{Backend, ErrorKind, PutOptions, RetryPolicy, S3Backend};
use support::proxy::{Fault, Proxy, Rule};
use support::{pseudo_random, S3Server};

const MIB: u64 = 1024 * 1024;

fn store(tag: &str, copy_threshold: u64) -> (Proxy, S3Backend) {
    let server = S3Server::Moto;
    let bucket = server.new_bucket(tag);
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    cfg.part_size = 5 * MIB;
    cfg.multipart_threshold = 5 * MIB;
    cfg.copy_threshold = copy_threshold;
    cfg.retry = RetryPolicy {
        base_delay: std::time::Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    (proxy, S3Backend::new(cfg).unwrap())
}

/// An InternalError in the 200 of CompleteMultipartUpload (the proxy
/// answers it, so the upload is still open) is retried: the second
/// completion lands, and the object is whole.
#[test]
fn complete_answered_200_with_a_transient_error_is_retried_and_lands() {
    let (proxy, store) = store("okerr-complete", 5 * 1024 * MIB);
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
                <Message>We encountered an internal error. Please try again.</Message>\
                <RequestId>proxy-200</RequestId></Error>";
    proxy.push(
        Rule::new(Fault::Respond {
            status: 200,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: body.into(),
        })
        .method("POST")
        .target("uploadId=")
        .times(1),
    );
    let data = pseudo_random((11 * MIB) as usize, 5);
    let put = store
        .put_reader("big", &mut &data[..], None, &PutOptions::default())
        .unwrap();
    assert!(put.version.unwrap().ends_with("-3\""));
    assert_eq!(proxy.counters.count("POST", "uploadId="), 2, "one completion retried");
    assert_eq!(proxy.pending_rules(), 0);
    assert_eq!(store.read("big").unwrap(), data);
}

/// A 200 whose body says AccessDenied is PermissionDenied, with the code
/// and request id, sent once; the upload is aborted and nothing appears.
#[test]
fn complete_answered_200_with_a_final_error_fails_without_a_retry() {
    let (proxy, store) = store("okerr-denied", 5 * 1024 * MIB);
    proxy.push(
        Rule::new(Fault::s3_error(200, "AccessDenied"))
            .method("POST")
            .target("uploadId=")
            .times(1),
    );
    let data = pseudo_random((11 * MIB) as usize, 6);
    let err = store.write("denied", &data).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.http_status(), Some(200));
    assert_eq!(err.provider_code(), Some("AccessDenied"));
    assert_eq!(err.request_id(), Some("proxy-200"));
    assert_eq!(proxy.counters.count("POST", "uploadId="), 1, "a final error is not retried");
    assert_eq!(proxy.counters.count("DELETE", "uploadId="), 1, "the upload is aborted");
    assert!(!store.exists("denied").unwrap());
}

/// The proxy forwards a CopyObject (moto copies) and rewrites its 200 body
/// to an InternalError: blobio copies again, and the copy is there.
#[test]
fn copy_object_answered_200_with_a_transient_error_is_retried() {
    let (proxy, store) = store("okerr-copy", 5 * 1024 * MIB);
    store.write("src", b"source bytes").unwrap();
    proxy.push(
        Rule::new(Fault::s3_error_in_body("InternalError"))
            .method("PUT")
            .target("/dst")
            .times(1),
    );
    let put = store.copy("src", "dst", &PutOptions::default()).unwrap();
    assert!(put.version.is_some());
    assert_eq!(proxy.counters.count("PUT", "/dst"), 2, "the copy was sent again");
    assert_eq!(store.read("dst").unwrap(), b"source bytes");
}

/// Retries of a body that keeps failing stop at the policy's budget, with
/// the error the body carried.
#[test]
fn copy_object_answered_200_with_errors_until_the_budget_is_spent_fails_with_that_error() {
    let (proxy, store) = store("okerr-budget", 5 * 1024 * MIB);
    store.write("src", b"x").unwrap();
    proxy.push(
        Rule::new(Fault::s3_error_in_body("SlowDown"))
            .method("PUT")
            .target("/dst")
            .times(100),
    );
    let err = store
        .copy("src", "dst", &PutOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!(err.provider_code(), Some("SlowDown"));
    let sent = proxy.counters.count("PUT", "/dst");
    assert_eq!(sent, 1 + RetryPolicy::default().max_retries as usize, "{sent} attempts");
}

/// UploadPartCopy too (a copy above the lowered threshold): the part whose
/// 200 carries an InternalError is copied again, and the object is whole.
#[test]
fn upload_part_copy_answered_200_with_a_transient_error_is_retried() {
    let (proxy, store) = store("okerr-partcopy", 5 * MIB);
    let data = pseudo_random((11 * MIB) as usize, 7);
    store.write("src", &data).unwrap();
    let uploaded = proxy.counters.count("PUT", "partNumber=2");
    proxy.push(
        Rule::new(Fault::s3_error_in_body("InternalError"))
            .method("PUT")
            .target("partNumber=2")
            .times(1),
    );
    let put = store.copy("src", "dst", &PutOptions::default()).unwrap();
    assert!(put.version.unwrap().ends_with("-3\""));
    assert_eq!(
        proxy.counters.count("PUT", "partNumber=2") - uploaded,
        2,
        "the part was copied again"
    );
    assert_eq!(store.read("dst").unwrap(), data);
}
