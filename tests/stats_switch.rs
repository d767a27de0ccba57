//! `set_stats_enabled(false)` stops every store counting, process-wide,
//! and the counts keep their values; on again, counting resumes. A test
//! binary of its own: the switch is global to the process.

mod common;

use blobio::{set_stats_enabled, stats_enabled, Backend, LocalBackend};
use common::TempDir;

fn reads_counted(store: &dyn Backend) -> u64 {
    let json = store.stats_json().expect("the local store counts");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["calls"]["read"]["count"].as_u64().unwrap_or(0)
}

#[test]
fn counting_stops_and_resumes_with_the_switch() {
    let dir = TempDir::new("stats-switch");
    let store = LocalBackend::new(dir.join("s")).unwrap();
    store.write("k", b"abc").unwrap();
    assert!(stats_enabled(), "on by default");
    store.read("k").unwrap();
    assert_eq!(reads_counted(&store), 1);
    set_stats_enabled(false);
    for _ in 0..5 {
        assert_eq!(store.read("k").unwrap(), b"abc");
    }
    assert_eq!(reads_counted(&store), 1, "nothing counted while off");
    set_stats_enabled(true);
    store.read("k").unwrap();
    assert_eq!(reads_counted(&store), 2, "counting again");
}
