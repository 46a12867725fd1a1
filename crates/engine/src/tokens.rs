//! A connection's tokens: what is sealed in `tokens_sealed`, and when to refresh them.

use std::fmt;
use std::time::Duration;

use flowvault_core::Timestamp;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::clock::{after, between};

/// The longest access-token lifetime flowvault believes: a provider's larger `expires_in` is
/// clamped to it (the token is refreshed within that time anyway).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

/// The longest refresh-token lifetime flowvault believes (`refresh_token_expires_in`).
pub const MAX_REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The longest `Retry-After` a token endpoint is obeyed for: a provider can't park a connection
/// for longer than this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The tokens of one connection. `Debug` shows no token; the only way out is [`TokenSet::seal_bytes`]
/// (sealed at once) or [`TokenSet::access_token`] for the request about to use it.
pub struct TokenSet {
    pub(crate) access_token: SecretString,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) token_type: String,
    pub(crate) expires_at: Option<Timestamp>,
    /// When the refresh token stops working, if the provider said.
    pub(crate) refresh_expires_at: Option<Timestamp>,
    pub(crate) scope: Option<String>,
    pub(crate) obtained_at: Timestamp,
    /// The connection's own API host, from the token response (Salesforce's `instance_url`).
    pub(crate) api_base: Option<url::Url>,
}

/// The serialised form, only ever built to be sealed right away.
#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    obtained_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_base: Option<String>,
}

impl Drop for Stored {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.access_token.zeroize();
        if let Some(r) = self.refresh_token.as_mut() {
            r.zeroize();
        }
    }
}

/// Stored token bytes that do not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stored tokens are unreadable")]
pub struct TokensUnreadable;

impl TokenSet {
    /// The access token, exposed for the request about to use it.
    #[must_use]
    pub fn access_token(&self) -> &str {
        self.access_token.expose_secret()
    }

    /// The token type (`Bearer` for every provider flowvault knows).
    #[must_use]
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// When the access token expires, if the provider said.
    #[must_use]
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// The connection's own API host, if the provider named one.
    #[must_use]
    pub fn api_base(&self) -> Option<&url::Url> {
        self.api_base.as_ref()
    }

    /// Whether the access token is still good `margin` after `now`.
    #[must_use]
    pub fn valid_for(&self, now: Timestamp, margin: Duration) -> bool {
        valid_for(self.expires_at, now, margin)
    }

    /// When the refresher should act next: before the access token expires, and before the
    /// refresh token does (a refresh then gets a new one), as `policy` says; `None` if neither
    /// expires.
    #[must_use]
    pub fn next_refresh(&self, policy: &RefreshPolicy, now: Timestamp) -> Option<Timestamp> {
        let access = self.expires_at.map(|e| policy.refresh_at(now, e));
        let refresh = self
            .refresh_token
            .as_ref()
            .and(self.refresh_expires_at)
            .map(|e| policy.refresh_at(now, e));
        let at = match (access, refresh) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        };
        // A provider that issues second-long tokens is not refreshed more often than this by
        // the schedule (an action that needs a token still gets a fresh one).
        at.map(|at| at.max(now.saturating_add(policy.min_interval)))
    }

    /// The bytes to seal.
    ///
    /// # Errors
    /// If serialisation fails (it does not for strings; the error is passed on rather than
    /// sealing empty bytes in place of tokens).
    pub fn seal_bytes(&self) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
        let stored = Stored {
            access_token: self.access_token.expose_secret().to_owned(),
            refresh_token: self.refresh_token.as_ref().map(|r| r.expose_secret().to_owned()),
            token_type: self.token_type.clone(),
            expires_at: self.expires_at.map(|t| t.to_string()),
            refresh_expires_at: self.refresh_expires_at.map(|t| t.to_string()),
            scope: self.scope.clone(),
            obtained_at: self.obtained_at.to_string(),
            api_base: self.api_base.as_ref().map(ToString::to_string),
        };
        serde_json::to_vec(&stored).map(Zeroizing::new)
    }

    /// Reads back what [`TokenSet::seal_bytes`] wrote.
    ///
    /// # Errors
    /// [`TokensUnreadable`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokensUnreadable> {
        let s: Stored = serde_json::from_slice(bytes).map_err(|_| TokensUnreadable)?;
        let time = |t: &str| t.parse::<Timestamp>().map_err(|_| TokensUnreadable);
        Ok(Self {
            access_token: SecretString::from(s.access_token.clone()),
            refresh_token: s.refresh_token.clone().map(SecretString::from),
            token_type: s.token_type.clone(),
            expires_at: s.expires_at.as_deref().map(time).transpose()?,
            refresh_expires_at: s.refresh_expires_at.as_deref().map(time).transpose()?,
            scope: s.scope.clone(),
            obtained_at: time(&s.obtained_at)?,
            api_base: s
                .api_base
                .as_deref()
                .map(url::Url::parse)
                .transpose()
                .map_err(|_| TokensUnreadable)?,
        })
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

/// When tokens are refreshed, and how failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// Refresh at this fraction of a token's lifetime (default 0.8)…
    pub fraction: f64,
    /// …but at least this long before it expires (default 15 min), as long as that leaves at
    /// least half the lifetime.
    pub min_lead: Duration,
    /// A token with less validity left than this is not handed out (default 60 s).
    pub margin: Duration,
    /// How long a refresh lease lasts (default 60 s); longer than `request_timeout`.
    pub lease: Duration,
    /// Time limit of one token request (default 15 s).
    pub request_timeout: Duration,
    /// First retry delay after a transient failure (default 5 s), doubling per attempt…
    pub backoff_base: Duration,
    /// …up to this (default 10 min).
    pub backoff_max: Duration,
    /// Refreshes in flight at once (default 64).
    pub concurrency: usize,
    /// Connections claimed per round (default 256).
    pub batch: u32,
    /// The refresher looks for due connections at least this often (default 30 s).
    pub poll: Duration,
    /// The schedule refreshes a token no sooner than this after it was obtained, however short
    /// its life (default 30 s): a provider can't make its connection refresh in a loop.
    pub min_interval: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            fraction: 0.8,
            min_lead: Duration::from_secs(15 * 60),
            margin: Duration::from_secs(60),
            lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(15),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(10 * 60),
            concurrency: 64,
            batch: 256,
            poll: Duration::from_secs(30),
            min_interval: Duration::from_secs(30),
        }
    }
}

impl RefreshPolicy {
    /// When to refresh a token obtained at `obtained` that expires at `expires`: at `fraction`
    /// of its lifetime, or `min_lead` before expiry if that is earlier — but never before half
    /// of the lifetime has passed.
    #[must_use]
    pub fn refresh_at(&self, obtained: Timestamp, expires: Timestamp) -> Timestamp {
        let lifetime = between(obtained, expires);
        let lead = lifetime
            .mul_f64((1.0 - self.fraction).clamp(0.0, 1.0))
            .max(self.min_lead.min(lifetime / 2));
        after(obtained, lifetime.saturating_sub(lead))
    }

    /// The delay before retry `attempt` (1 for the first retry), with jitter in [½, 1].
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.backoff_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.backoff_max);
        let mut b = [0u8; 2];
        let jitter = match getrandom::fill(&mut b) {
            Ok(()) => f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX),
            Err(_) => 0.5,
        };
        capped.mul_f64(0.5 + jitter / 2.0)
    }
}

/// Whether a token that expires at `expires_at` (never, for `None`) has at least `margin` of
/// validity left at `now`.
pub(crate) fn valid_for(expires_at: Option<Timestamp>, now: Timestamp, margin: Duration) -> bool {
    expires_at.is_none_or(|e| after(now, margin) < e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn refresh_points() {
        let p = RefreshPolicy::default();
        let start = t("2026-01-01T00:00:00Z");
        let at = |lifetime_secs: u64| {
            between(start, p.refresh_at(start, after(start, Duration::from_secs(lifetime_secs))))
                .as_secs()
        };
        assert_eq!(
            at(600),
            300,
            "10 min: half-way (15 min before expiry would be before it was issued)"
        );
        assert_eq!(at(3600), 2700, "1 h: 15 min before expiry");
        assert_eq!(at(86_400), 69_120, "24 h: at 80 %");
        assert_eq!(at(7200), 5760, "2 h: 80 % is earlier than 15 min before");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RefreshPolicy::default();
        for attempt in 1..30 {
            let d = p.backoff(attempt);
            let full =
                p.backoff_base.saturating_mul(1u32 << (attempt - 1).min(20)).min(p.backoff_max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Stored token bytes are hostile too (a row written by hand): anything reads as a token
        /// set or an error, never a panic; a set that reads seals back to bytes that read.
        #[test]
        fn stored_token_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            expires in ".{0,30}",
            api_base in ".{0,40}",
        ) {
            let _ = TokenSet::from_bytes(&bytes);
            let shaped = serde_json::json!({"access_token": "a", "token_type": "Bearer",
                "expires_at": expires, "obtained_at": "2026-01-01T00:00:00Z", "api_base": api_base});
            if let Ok(set) = TokenSet::from_bytes(shaped.to_string().as_bytes()) {
                let again = set.seal_bytes().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                proptest::prop_assert!(TokenSet::from_bytes(&again).is_ok());
            }
        }
    }

    #[test]
    fn token_sets_round_trip_and_hide_tokens() {
        let set = TokenSet {
            access_token: SecretString::from("at-123".to_owned()),
            refresh_token: Some(SecretString::from("rt-456".to_owned())),
            token_type: "Bearer".into(),
            expires_at: Some(t("2026-01-01T01:00:00Z")),
            refresh_expires_at: Some(t("2026-01-02T00:00:00Z")),
            scope: Some("a b".into()),
            obtained_at: t("2026-01-01T00:00:00Z"),
            api_base: url::Url::parse("https://eu12.my.salesforce.com").ok(),
        };
        let bytes = set.seal_bytes().unwrap_or_else(|e| panic!("{e}"));
        let back = TokenSet::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.access_token(), "at-123");
        assert_eq!(
            back.refresh_token.as_ref().map(|r| r.expose_secret().to_owned()).as_deref(),
            Some("rt-456")
        );
        assert_eq!(back.expires_at, set.expires_at);
        assert_eq!(back.refresh_expires_at, set.refresh_expires_at);
        // Refreshed before either token runs out: 15 min before the access token here.
        let p = RefreshPolicy::default();
        assert_eq!(back.next_refresh(&p, set.obtained_at), Some(t("2026-01-01T00:45:00Z")));
        let debug = format!("{back:?}");
        assert!(!debug.contains("at-123") && !debug.contains("rt-456"));
        assert!(back.valid_for(t("2026-01-01T00:58:00Z"), Duration::from_secs(60)));
        assert!(!back.valid_for(t("2026-01-01T00:59:30Z"), Duration::from_secs(60)));
    }
}
