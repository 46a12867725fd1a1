//! Slowing down guessing: failed client authentications are counted per source, and a source
//! that fails too often is refused for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key in fixed windows.
#[derive(Debug)]
pub(crate) struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Past this many tracked keys, expired ones are dropped on the next failure (bounded memory).
const PRUNE_AT: usize = 10_000;

impl FailureLimiter {
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        Self { max_failures, window, entries: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds to wait)` if `key` has failed too often in the current window.
    pub(crate) fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(key) {
            Some(w)
                if now.duration_since(w.started) < self.window
                    && w.failures >= self.max_failures =>
            {
                let left = self.window.saturating_sub(now.duration_since(w.started));
                Err(left.as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `key`.
    pub(crate) fn record_failure(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= PRUNE_AT {
            let window = self.window;
            entries.retain(|_, w| now.duration_since(w.started) < window);
        }
        let w = entries.entry(key.to_owned()).or_insert(Window { started: now, failures: 0 });
        if now.duration_since(w.started) >= self.window {
            *w = Window { started: now, failures: 0 };
        }
        w.failures = w.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check("ip", t0), Ok(()));
            l.record_failure("ip", t0);
        }
        assert_eq!(l.check("ip", t0 + Duration::from_secs(10)), Err(50));
        assert_eq!(l.check("other", t0), Ok(()));
        assert_eq!(l.check("ip", t0 + Duration::from_secs(61)), Ok(()));
    }
}
