//! Timestamps as the Management API shows them, and the clock that makes them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike as _, SubsecRound, Timelike as _, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC with millisecond precision, written as ISO 8601 with a `Z`
/// (`2026-11-26T09:30:00.125Z`), as Auth0 writes them.
///
/// Timestamps lie between [`Timestamp::MIN`] (the Unix epoch) and [`Timestamp::MAX`] (the last
/// millisecond of year 9999), so the text form is always 24 characters and sorts in time
/// order — stores compare it as text. Arithmetic saturates at the bounds instead of
/// overflowing: a provider that says its token lasts 10^14 seconds gets a time far in the
/// future, not a panic or a year that sorts before today.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// A timestamp that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp")]
pub struct TimestampError;

impl Timestamp {
    /// The earliest timestamp: `1970-01-01T00:00:00.000Z`.
    pub const MIN: Timestamp = Timestamp(DateTime::<Utc>::UNIX_EPOCH);

    /// The latest timestamp: `9999-12-31T23:59:59.999Z`.
    pub const MAX: Timestamp =
        Timestamp(match DateTime::from_timestamp_millis(253_402_300_799_999) {
            Some(t) => t,
            None => DateTime::<Utc>::UNIX_EPOCH,
        });

    /// Wraps a `chrono` instant, dropping precision below a millisecond, and clamped to
    /// [`Timestamp::MIN`]..=[`Timestamp::MAX`].
    #[must_use]
    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(3).clamp(Self::MIN.0, Self::MAX.0))
    }

    /// `self + d`, or `None` past [`Timestamp::MAX`].
    #[must_use]
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let d = chrono::TimeDelta::from_std(d).ok()?;
        let t = self.0.checked_add_signed(d)?;
        (t <= Self::MAX.0).then(|| Self(t.trunc_subsecs(3)))
    }

    /// `self + d`, or [`Timestamp::MAX`] past it.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::MAX)
    }

    /// `self - d`, or [`Timestamp::MIN`] before it.
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        chrono::TimeDelta::from_std(d)
            .ok()
            .and_then(|d| self.0.checked_sub_signed(d))
            .map_or(Self::MIN, Self::from_datetime)
    }

    /// How long after `earlier` this is; zero if it is not after it.
    #[must_use]
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        (self.0 - earlier.0).to_std().unwrap_or(Duration::ZERO)
    }

    /// The instant as `chrono` sees it.
    #[must_use]
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written field by field: `format` parses its pattern on every call, and timestamps
        // are written on every API answer and stored row. Years are 1970..=9999 (see above).
        let t = &self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis().min(999)
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    /// Parses RFC 3339; an instant outside [`Timestamp::MIN`]..=[`Timestamp::MAX`] is an
    /// error, not clamped (a stored time out of range was not written by flowvault).
    fn from_str(s: &str) -> Result<Self, TimestampError> {
        let t = DateTime::parse_from_rfc3339(s).map_err(|_| TimestampError)?.with_timezone(&Utc);
        if t < Self::MIN.0 || t > Self::MAX.0 {
            return Err(TimestampError);
        }
        Ok(Self(t.trunc_subsecs(3)))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Reads what [`Serialize`] writes (and any RFC 3339 time [`FromStr`] takes).
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        text.parse().map_err(|_| serde::de::Error::custom("not an RFC 3339 time"))
    }
}

/// Where "now" comes from, so tests can set it.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_has_milliseconds_and_z() {
        let t: Timestamp =
            "2026-11-26T09:30:00.125678+01:00".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(t.to_string(), "2026-11-26T08:30:00.125Z");
        assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        assert!("yesterday".parse::<Timestamp>().is_err());
    }

    #[test]
    fn the_text_form_has_a_fixed_width_and_arithmetic_saturates() {
        assert_eq!(Timestamp::MIN.to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        let now: Timestamp = "2026-12-03T10:00:00Z".parse().unwrap_or_else(|_| unreachable!());
        for secs in [0, 1, 1_000_000_000_000, 100_000_000_000_000, u64::MAX] {
            let t = now.saturating_add(Duration::from_secs(secs));
            assert_eq!(t.to_string().len(), 24, "{secs}");
            assert!(t >= now);
            assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        }
        // The field-by-field writer says what chrono's RFC 3339 pattern says.
        for millis in [0u64, 1, 999, 86_399_999, 1_764_755_999_123, 253_402_300_799_999] {
            let t = Timestamp::MIN.saturating_add(Duration::from_millis(millis));
            assert_eq!(t.to_string(), t.0.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }
        assert_eq!(now.checked_add(Duration::from_secs(1_000_000_000_000)), None);
        assert_eq!(now.saturating_add(Duration::from_secs(u64::MAX)), Timestamp::MAX);
        assert_eq!(now.saturating_sub(Duration::from_secs(u64::MAX)), Timestamp::MIN);
        assert_eq!(Timestamp::MAX.duration_since(Timestamp::MIN).as_secs(), 253_402_300_799);
        assert_eq!(Timestamp::MIN.duration_since(now), Duration::ZERO);
        // What a wedged refresher once stored: a year past 9999 does not parse.
        assert!("+33715-01-01T00:00:00.000Z".parse::<Timestamp>().is_err());
        assert!("1969-12-31T23:59:59.999Z".parse::<Timestamp>().is_err());
        let far = chrono::DateTime::<Utc>::MAX_UTC;
        assert_eq!(Timestamp::from_datetime(far), Timestamp::MAX);
    }
}
