//! A wall clock that follows tokio's clock, so tests that pause and advance tokio time see
//! timestamps move with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use flowvault_core::{Clock, Timestamp};
use tokio::time::Instant;

/// Wall time = a fixed start plus tokio's elapsed time. In production it advances like the
/// system clock; under `tokio::time::pause()` it advances exactly as the test advances time.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: DateTime<Utc>,
    start: Instant,
}

impl TokioClock {
    /// A clock starting at the current wall time.
    #[must_use]
    pub fn new() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock starting at `wall`.
    #[must_use]
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Self { wall, start: Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(self.wall).saturating_add(self.start.elapsed())
    }
}

/// `t + d`, saturating at [`Timestamp::MAX`]: no time computation can overflow.
#[must_use]
pub(crate) fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(d)
}

/// `b - a`, zero if `b` is earlier.
#[must_use]
pub(crate) fn between(a: Timestamp, b: Timestamp) -> Duration {
    b.duration_since(a)
}
