//! Identifier newtypes.
//!
//! Every id flowvault hands out is a short type prefix (`ac_` for a vault connection, as in Auth0)
//! followed by 22 base62 characters drawn from the operating system's CSPRNG (about 131 bits),
//! so ids can't be guessed and never collide in practice. Parsing checks the prefix, the
//! alphabet and the length, so a value of one of these types is always well formed and safe to
//! put into a URL, a log line or the associated data of a ciphertext.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of random base62 characters after the prefix.
const RANDOM_LEN: usize = 22;
/// Auth0 caps ids at 30 characters; ours are `prefix + 22`.
const MAX_ID_LEN: usize = 30;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id does not start with the prefix of its kind.
    #[error("must start with `{prefix}`")]
    WrongPrefix {
        /// The expected prefix, e.g. `ac_`.
        prefix: &'static str,
    },
    /// The id has the wrong number of characters after its prefix.
    #[error("must be `{prefix}` followed by {RANDOM_LEN} letters or digits")]
    WrongLength {
        /// The expected prefix.
        prefix: &'static str,
    },
    /// The id contains a character outside `[0-9A-Za-z]` after its prefix.
    #[error("may only contain letters and digits after `{prefix}`")]
    BadCharacter {
        /// The expected prefix.
        prefix: &'static str,
    },
}

/// Fills `RANDOM_LEN` base62 characters from the OS CSPRNG, without modulo bias.
fn random_base62() -> String {
    let mut out = String::with_capacity(RANDOM_LEN);
    let mut buf = [0u8; 32];
    while out.len() < RANDOM_LEN {
        // The OS generator failing is not recoverable and not caused by input: there is no
        // safe fallback for generating an identifier, so this aborts the operation loudly.
        #[allow(clippy::expect_used, reason = "no safe fallback when the OS CSPRNG fails")]
        getrandom::fill(&mut buf).expect("the operating system's random generator failed");
        for b in buf {
            // 248 = 4 * 62: rejecting the top values keeps every character equally likely.
            if b < 248 && out.len() < RANDOM_LEN {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

fn check(prefix: &'static str, s: &str) -> Result<(), IdError> {
    let rest = s.strip_prefix(prefix).ok_or(IdError::WrongPrefix { prefix })?;
    if rest.len() != RANDOM_LEN || s.len() > MAX_ID_LEN {
        return Err(IdError::WrongLength { prefix });
    }
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(IdError::BadCharacter { prefix });
    }
    Ok(())
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            #[must_use]
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_base62()))
            }

            /// The id as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                check($prefix, s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A tenant: the isolation boundary every row and every query is scoped to.
    TenantId,
    "tn_"
);
prefixed_id!(
    /// A vault connection (`ac_…`, as Auth0 names them).
    ConnectionId,
    "ac_"
);
prefixed_id!(
    /// A management API client (`mc_…`): what `POST /oauth/token` knows as `client_id`.
    ClientId,
    "mc_"
);
prefixed_id!(
    /// A flow (`af_…`, as Auth0 names them).
    FlowId,
    "af_"
);
prefixed_id!(
    /// A dashboard user (`us_…`).
    UserId,
    "us_"
);
prefixed_id!(
    /// One run of a flow (`exc_…`).
    ExecutionId,
    "exc_"
);

/// A tenant's human name (`default`, `acme-prod`): what operators type after `--tenant`.
///
/// 1–64 characters of lower-case letters, digits, `-` and `_`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TenantName(String);

/// Why a string is not a valid tenant name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "tenant name must be 1-64 characters of a-z, 0-9, `-` and `_`, starting with a letter or digit"
)]
pub struct TenantNameError;

impl TenantName {
    /// The tenant used when none is named.
    #[must_use]
    pub fn default_tenant() -> Self {
        Self("default".to_owned())
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantName {
    type Err = TenantNameError;

    fn from_str(s: &str) -> Result<Self, TenantNameError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok { Ok(Self(s.to_owned())) } else { Err(TenantNameError) }
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        for _ in 0..100 {
            let id = ConnectionId::generate();
            assert_eq!(id.as_str().len(), 25);
            assert_eq!(id.as_str().parse::<ConnectionId>(), Ok(id.clone()));
        }
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(ConnectionId::generate(), ConnectionId::generate());
    }

    #[test]
    fn bad_ids_are_rejected_with_the_reason() {
        assert_eq!(
            "af_0123456789012345678901".parse::<ConnectionId>(),
            Err(IdError::WrongPrefix { prefix: "ac_" })
        );
        assert_eq!("ac_123".parse::<ConnectionId>(), Err(IdError::WrongLength { prefix: "ac_" }));
        assert_eq!(
            "ac_012345678901234567890:".parse::<ConnectionId>(),
            Err(IdError::BadCharacter { prefix: "ac_" })
        );
        assert!("ac_01234567890123456789é".parse::<ConnectionId>().is_err());
        assert!("tn_0123456789012345678901".parse::<TenantId>().is_ok());
    }

    #[test]
    fn tenant_names() {
        assert!("default".parse::<TenantName>().is_ok());
        assert!("acme-prod_2".parse::<TenantName>().is_ok());
        for bad in ["", "-x", "Acme", "a:b", "a b", &"x".repeat(65)] {
            assert!(bad.parse::<TenantName>().is_err(), "{bad:?} accepted");
        }
    }
}
