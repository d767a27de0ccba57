#![allow(dead_code)]
//! Counting this process's threads by name, from `/proc/self/task` (Linux).
//! Shared by the pool's unit tests (`src/pool.rs`) and `tests/pool_threads.rs`.

/// Threads of this process whose name starts with `prefix`.
pub fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Every thread of this process.
pub fn all_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// [`threads_named`] once it equals `want`, or after 5 s whatever it is:
/// a new thread names itself shortly after it starts.
pub fn settled_threads_named(prefix: &str, want: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let n = threads_named(prefix);
        if n == want || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
