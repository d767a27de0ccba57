//! Transfer buffers kept between the calls of one store: a steady stream
//! of large reads or writes reuses the same pages instead of faulting in
//! fresh ones (a fresh buffer of several MiB costs the kernel a zeroed
//! page every 4 KiB, as much CPU as the copy into it).
//!
//! Bounded: at most `cap` buffers are kept. Released when idle: a buffer
//! nobody took for [`IDLE`] is dropped by the store's idle worker threads
//! (or its next take or give), and all go with the store. Never blocking: a lock that is busy
//! (or was held by a thread lost in `fork()`) means a fresh buffer, not a
//! wait.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a kept buffer may go unused.
pub(crate) const IDLE: Duration = Duration::from_secs(5);

pub(crate) struct Buffers {
    kept: Mutex<Vec<(Vec<u8>, Instant)>>,
    cap: usize,
}

impl Buffers {
    /// Keeps at most `cap` buffers.
    pub(crate) fn new(cap: usize) -> Self {
        Buffers {
            kept: Mutex::new(Vec::new()),
            cap,
        }
    }

    /// A buffer able to hold `len` bytes without growing, kept or new
    /// (empty: its length is the caller's to set).
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        if let Ok(mut kept) = self.kept.try_lock() {
            expire(&mut kept);
            if let Some(i) = kept.iter().rposition(|(b, _)| b.capacity() >= len) {
                return kept.swap_remove(i).0;
            }
        }
        Vec::new()
    }

    /// Keeps `buf` for a later take, if there is room.
    pub(crate) fn give(&self, buf: Vec<u8>) {
        if buf.capacity() == 0 {
            return;
        }
        if let Ok(mut kept) = self.kept.try_lock() {
            expire(&mut kept);
            if kept.len() < self.cap {
                kept.push((buf, Instant::now()));
            }
        }
    }

    /// Releases the buffers unused for [`IDLE`]; whether any are left.
    pub(crate) fn trim(&self) -> bool {
        match self.kept.try_lock() {
            Ok(mut kept) => {
                expire(&mut kept);
                !kept.is_empty()
            }
            Err(_) => true,
        }
    }

    /// Bytes held now (for tests and stats).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.kept.lock().map(|k| k.iter().map(|(b, _)| b.capacity()).sum()).unwrap_or(0)
    }
}

fn expire(kept: &mut Vec<(Vec<u8>, Instant)>) {
    kept.retain(|(_, at)| at.elapsed() < IDLE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_and_the_pool_stays_bounded() {
        let pool = Buffers::new(2);
        let a = vec![1u8; 1000];
        let ptr = a.as_ptr();
        pool.give(a);
        let again = pool.take(800);
        assert_eq!(again.as_ptr(), ptr, "the same allocation");
        assert!(pool.take(10).capacity() == 0, "none left: a new one");
        for _ in 0..5 {
            pool.give(vec![0u8; 100]);
        }
        assert_eq!(pool.held(), 200, "at most two kept");
        assert_eq!(pool.take(101).capacity(), 0, "none large enough");
    }

    #[test]
    fn buffers_unused_for_the_idle_time_are_released() {
        let pool = Buffers::new(4);
        pool.give(vec![0u8; 64]);
        if let Ok(mut kept) = pool.kept.lock() {
            kept[0].1 -= IDLE;
        }
        assert_eq!(pool.take(1).capacity(), 0);
        assert_eq!(pool.held(), 0);
    }
}
