//! Management client secrets: generated here, shown once, stored only as a hash.
//!
//! A secret is 32 random bytes, written `fvs_` + unpadded base64url (the prefix lets secret
//! scanners recognise a leaked one). With 256 bits of entropy there is no dictionary to attack,
//! so a single SHA-256 (domain-separated) is the right hash: a slow password hash would only
//! hand an attacker a cheap way to burn CPU on the token endpoint.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// The prefix of every client secret.
pub const CLIENT_SECRET_PREFIX: &str = "fvs_";

/// A new client secret.
///
/// # Errors
/// [`CryptoError::Rng`] if the OS generator fails.
pub fn generate_client_secret() -> Result<SecretString, CryptoError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|_| CryptoError::Rng)?;
    Ok(SecretString::from(format!("{CLIENT_SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(*bytes))))
}

/// The stored form of a client secret.
#[must_use]
pub fn hash_client_secret(secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"flowvault:v1:client-secret\0");
    h.update(secret.as_bytes());
    h.finalize().into()
}

/// Whether `secret` hashes to `stored`, compared in constant time.
#[must_use]
pub fn verify_client_secret(secret: &str, stored: &[u8]) -> bool {
    hash_client_secret(secret).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_verify() {
        let a = generate_client_secret().unwrap_or_else(|_| unreachable!());
        let b = generate_client_secret().unwrap_or_else(|_| unreachable!());
        assert!(a.expose_secret().starts_with("fvs_"));
        assert_eq!(a.expose_secret().len(), 4 + 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
        let stored = hash_client_secret(a.expose_secret());
        assert!(verify_client_secret(a.expose_secret(), &stored));
        assert!(!verify_client_secret(b.expose_secret(), &stored));
        assert!(!verify_client_secret(a.expose_secret(), &stored[..31]));
    }
}
