//! Every store's counters (`stats_json`) against what the counting proxy
//! saw: requests by method and answer class, retries, calls and their
//! errors; and the local store's calls.

mod common;
mod support;

use blobio::{Backend, LocalBackend};

fn json(store: &dyn Backend) -> serde_json::Value {
    serde_json::from_str(&store.stats_json().expect("the store keeps stats")).unwrap()
}

/// Calls of a few operations, one failing with NotFound.
fn exercise(store: &dyn Backend) {
    for i in 0..3 {
        store.write(&format!("st/{i}"), b"twelve bytes").unwrap();
    }
    assert_eq!(store.read("st/0").unwrap(), b"twelve bytes");
    assert_eq!(store.read("st/1").unwrap(), b"twelve bytes");
    assert!(store.read("st/missing").is_err());
    assert!(store.exists("st/2").unwrap());
    assert_eq!(store.list("st/").unwrap().len(), 3);
    store.delete("st/0").unwrap();
}

fn check_calls(j: &serde_json::Value, writes: u64) {
    let calls = &j["calls"];
    assert_eq!(calls["write"]["count"], writes, "{j}");
    assert_eq!(calls["read"]["count"], 3, "{j}");
    assert_eq!(calls["read"]["errors"], 1, "{j}");
    assert_eq!(calls["exists"]["count"], 1, "{j}");
    assert_eq!(calls["list"]["count"], 1, "{j}");
    assert_eq!(calls["delete"]["count"], 1, "{j}");
    assert_eq!(j["errors"]["not_found"], 1, "{j}");
    let (p50, p99) = (calls["read"]["p50_us"].as_u64().unwrap(), calls["read"]["p99_us"].as_u64().unwrap());
    assert!(p50 > 0 && p99 >= p50, "{j}");
}

#[test]
fn local_store_counts_calls_and_sends_no_requests() {
    let dir = common::TempDir::new("stats");
    let store = LocalBackend::new(dir.path()).unwrap();
    exercise(&store);
    let j = json(&store);
    check_calls(&j, 3);
    assert_eq!(j["requests_total"], 0);
    store.reset_stats();
    assert!(json(&store)["calls"].as_object().unwrap().is_empty());
}

#[cfg(feature = "server-tests")]
mod servers {
    use super::*;
    use blobio::{AzureBlobBackend, S3Backend};
    use support::azure::Azurite;
    use support::proxy::{Fault, Proxy};
    use support::S3Server;

    fn host_port(url: &str) -> String {
        url.split("://").nth(1).unwrap().split('/').next().unwrap().to_owned()
    }

    /// The counts match the proxy's, method by method, and a request the
    /// proxy failed once is one 5xx answer and one retry.
    fn counts_match_the_proxy(store: &dyn Backend, proxy: &Proxy, busy: Fault) {
        store.reset_stats();
        let before = proxy.counters.total();
        exercise(store);
        proxy.fail_next(1, busy);
        store.write("st/retried", b"x").unwrap();
        let j = json(store);
        check_calls(&j, 4);
        let seen = &proxy.counters.seen()[before..];
        assert_eq!(j["requests_total"].as_u64().unwrap(), seen.len() as u64, "{j}");
        for method in ["GET", "PUT", "HEAD", "DELETE"] {
            let want = seen.iter().filter(|r| r.method == method).count() as u64;
            let got: u64 = j["requests"][method]
                .as_object()
                .map_or(0, |classes| classes.values().map(|v| v.as_u64().unwrap()).sum());
            assert_eq!(got, want, "{method}: {j}");
        }
        assert_eq!(j["requests"]["PUT"]["5xx"], 1, "{j}");
        assert_eq!(j["requests"]["GET"]["4xx"], 1, "the missing object: {j}");
        assert_eq!(j["retries"], 1, "{j}");
        // Three 12-byte bodies and the retried one-byte "x", at least.
        let least_sent = 3 * 12 + 1;
        assert!(j["bytes_sent"].as_u64().unwrap() >= least_sent, "{j}");
        assert!(j["bytes_received"].as_u64().unwrap() >= 2 * 12, "{j}");
        store.reset_stats();
        assert_eq!(json(store)["requests_total"], 0);
    }

    #[test]
    fn s3s_counts_match_the_proxy() {
        let server = S3Server::S3sFs;
        let proxy = Proxy::start(&host_port(&server.endpoint()));
        let mut cfg = server.config(&server.new_bucket("stats"));
        cfg.endpoint = Some(proxy.url.clone());
        counts_match_the_proxy(&S3Backend::new(cfg).unwrap(), &proxy, Fault::s3_slow_down());
    }

    #[test]
    fn azurite_counts_match_the_proxy() {
        let proxy = Proxy::start(&Azurite::Http.host_port());
        let mut cfg = Azurite::Http.config(&Azurite::Http.new_container("stats"));
        cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
        counts_match_the_proxy(&AzureBlobBackend::new(cfg).unwrap(), &proxy, Fault::azure_server_busy());
    }
}
