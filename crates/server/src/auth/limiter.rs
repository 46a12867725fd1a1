//! Slowing down guessing without handing anyone a way to lock a client out.
//!
//! Failed client authentications are counted per *(source address, client id)*: after a few
//! free failures, each further one makes that pair wait longer (1 s, 2 s, 4 s, … up to 15
//! minutes). The right secret from another address is never slowed by someone else's failures;
//! a success clears the pair. (Client ids and secrets are 128 and 256 random bits: there is
//! nothing to enumerate, so nothing is throttled per address alone — which behind a proxy
//! would let anyone lock everyone out.) Ids that name no client all count as one key per
//! source, and the table is capped, so made-up ids cannot grow memory without bound. Behind a reverse proxy, the source address is the
//! proxy's unless the proxy is configured as trusted (see [`crate::Config::trusted_proxies`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Growing delays per key.
#[derive(Debug)]
pub(crate) struct FailureThrottle {
    /// Failures allowed before delays start.
    free: u32,
    /// The first delay, doubled per further failure…
    base: Duration,
    /// …up to this.
    max: Duration,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    entries: HashMap<String, Entry>,
    /// When quiet entries were last dropped: at most once a second, so a flood of failures
    /// does not turn every one of them into a scan of the table.
    pruned: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Option<Instant>,
    last: Instant,
}

/// Past this many tracked keys, entries quiet for longer than the longest delay are dropped
/// (at most once a second).
const PRUNE_AT: usize = 10_000;

/// The table never holds more keys than this: at the cap, the tenth of entries least recently
/// failed is forgotten. (Unknown client ids share one key per source, so reaching it takes
/// that many distinct sources or real client ids.)
const CAP: usize = 50_000;

impl FailureThrottle {
    pub(crate) fn new(free: u32, base: Duration, max: Duration) -> Self {
        Self { free, base, max, table: Mutex::new(Table { entries: HashMap::new(), pruned: None }) }
    }

    /// `Err(seconds to wait)` while `key` is made to wait.
    pub(crate) fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match table.entries.get(key).and_then(|e| e.blocked_until) {
            Some(until) if until > now => {
                let left = until.duration_since(now);
                Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `key`: past the free ones, `key` waits `base · 2^(n−free−1)`.
    pub(crate) fn record_failure(&self, key: &str, now: Instant) {
        let mut table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Table { entries, pruned } = &mut *table;
        if entries.len() >= PRUNE_AT
            && pruned.is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1))
        {
            *pruned = Some(now);
            let quiet = self.max;
            entries.retain(|_, e| now.saturating_duration_since(e.last) < quiet);
        }
        if entries.len() >= CAP && !entries.contains_key(key) {
            let mut by_age: Vec<(Instant, String)> =
                entries.iter().map(|(k, e)| (e.last, k.clone())).collect();
            by_age.sort_unstable();
            for (_, k) in by_age.into_iter().take(CAP / 10) {
                entries.remove(&k);
            }
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            blocked_until: None,
            last: now,
        });
        // A key left alone for as long as the longest delay starts over.
        if now.saturating_duration_since(entry.last) >= self.max {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        if let Some(over) = entry.failures.checked_sub(self.free).filter(|n| *n > 0) {
            let delay = self.base.saturating_mul(1u32 << (over - 1).min(20)).min(self.max);
            entry.blocked_until = Some(now + delay);
        }
    }

    /// Forgets `key`'s failures (it just succeeded).
    pub(crate) fn record_success(&self, key: &str) {
        let mut table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_and_a_success_clears_them() {
        let t = FailureThrottle::new(3, Duration::from_secs(1), Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.check("a|mc_1", t0), Ok(()));
            t.record_failure("a|mc_1", t0);
        }
        assert_eq!(t.check("a|mc_1", t0), Ok(()), "three free failures");
        t.record_failure("a|mc_1", t0);
        assert_eq!(t.check("a|mc_1", t0), Err(1));
        let t1 = t0 + Duration::from_secs(1);
        t.record_failure("a|mc_1", t1);
        assert_eq!(t.check("a|mc_1", t1), Err(2));
        let t2 = t1 + Duration::from_secs(2);
        t.record_failure("a|mc_1", t2);
        assert_eq!(t.check("a|mc_1", t2), Err(4));
        for i in 0..20 {
            t.record_failure("a|mc_1", t2 + Duration::from_secs(i));
        }
        assert_eq!(t.check("a|mc_1", t2 + Duration::from_secs(19)), Err(60), "capped");
        // Another source, or another client, is not affected.
        assert_eq!(t.check("b|mc_1", t2), Ok(()));
        assert_eq!(t.check("a|mc_2", t2), Ok(()));
        t.record_success("a|mc_1");
        assert_eq!(t.check("a|mc_1", t2), Ok(()));
    }

    #[test]
    fn the_table_stays_bounded_and_keeps_the_most_recent_failures() {
        let t = FailureThrottle::new(0, Duration::from_secs(1), Duration::from_secs(900));
        let t0 = Instant::now();
        t.record_failure("victim", t0 + Duration::from_secs(10));
        for i in 0..(CAP + 5_000) {
            t.record_failure(&format!("flood-{i}"), t0);
        }
        let len = t.table.lock().map(|t| t.entries.len()).unwrap_or(usize::MAX);
        assert!(len <= CAP, "{len} entries");
        assert!(t.check("victim", t0 + Duration::from_secs(10)).is_err(), "recent failures kept");
    }
}
