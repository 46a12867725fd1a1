//! The jwt-bearer grant's assertion (RFC 7523 §3): an RS256 JWT a registered service account
//! signed, checked against the injected clock rather than jsonwebtoken's system time.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, dangerous, decode};
use serde::Deserialize;

use super::error::OAuthError;

/// The longest an assertion may live, as Google allows (`exp` at most an hour away).
const MAX_LIFETIME_SECS: i64 = 3600;

/// Tolerated difference between the signer's clock and ours.
const CLOCK_SKEW_SECS: i64 = 60;

/// What a verified assertion grants.
#[derive(Debug)]
pub(super) struct Verified {
    /// `sub` when the account acts for someone (domain-wide delegation), else `iss`.
    pub(super) subject: String,
    pub(super) scope: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    sub: Option<String>,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Checks `assertion`'s signature against its issuer's registered key, then its `aud`, `exp`
/// and `iat` against `now_millis`. Every failure is `invalid_grant`.
pub(super) fn verify(
    accounts: &HashMap<String, Option<Vec<u8>>>,
    assertion: &str,
    now_millis: i64,
) -> Result<Verified, OAuthError> {
    // The issuer names the key, so it is read before the signature can be checked; nothing
    // else from the unverified claims is used.
    #[derive(Deserialize)]
    struct Issuer {
        iss: String,
    }
    let issuer: Issuer = dangerous::insecure_decode_claims(assertion)
        .map_err(|_| OAuthError::invalid_grant("the assertion is not a JWT with an iss claim"))?;
    let key = match accounts.get(&issuer.iss) {
        Some(Some(der)) => DecodingKey::from_rsa_der(der),
        Some(None) => {
            return Err(OAuthError::invalid_grant("the service account's key is not a PEM key"));
        }
        None => {
            return Err(OAuthError::invalid_grant(
                "the issuer is not a registered service account",
            ));
        }
    };

    let mut validation = Validation::new(Algorithm::RS256);
    // jsonwebtoken would read the system clock; time is checked below with the injected one.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = decode::<Claims>(assertion, &key, &validation)
        .map_err(|e| {
            OAuthError::invalid_grant(match e.kind() {
                ErrorKind::InvalidSignature => "the assertion's signature does not verify",
                ErrorKind::InvalidAlgorithm => "the assertion must be signed with RS256",
                _ => "the assertion is malformed or lacks iss, aud or exp",
            })
        })?
        .claims;

    let audiences = match &claims.aud {
        Audience::One(aud) => std::slice::from_ref(aud),
        Audience::Many(auds) => auds.as_slice(),
    };
    if !audiences.iter().any(|aud| aud.ends_with("/token")) {
        return Err(OAuthError::invalid_grant("the assertion's aud is not a token endpoint"));
    }
    let now = now_millis.div_euclid(1000);
    if claims.exp <= now {
        return Err(OAuthError::invalid_grant("the assertion has expired"));
    }
    if claims.exp > now.saturating_add(MAX_LIFETIME_SECS + CLOCK_SKEW_SECS) {
        return Err(OAuthError::invalid_grant("the assertion's exp is more than an hour away"));
    }
    if let Some(iat) = claims.iat {
        if iat > now.saturating_add(CLOCK_SKEW_SECS) {
            return Err(OAuthError::invalid_grant("the assertion's iat is in the future"));
        }
        if claims.exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
            return Err(OAuthError::invalid_grant("the assertion lives longer than an hour"));
        }
    }
    Ok(Verified { subject: claims.sub.unwrap_or(claims.iss), scope: claims.scope })
}

/// The DER inside a `PUBLIC KEY` or `RSA PUBLIC KEY` PEM block. aws-lc-rs, jsonwebtoken's
/// backend here, reads either encoding from [`DecodingKey::from_rsa_der`].
pub(super) fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let mut lines = pem.lines().map(str::trim).skip_while(|l| l.is_empty());
    let label = lines.next()?.strip_prefix("-----BEGIN ")?.strip_suffix("-----")?;
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return None;
    }
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    for line in lines {
        if line == end {
            return STANDARD.decode(body).ok().filter(|der| !der.is_empty());
        }
        body.push_str(line);
    }
    None
}
