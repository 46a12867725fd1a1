//! Management client secrets: generated here, shown once, stored only as a keyed hash.
//!
//! A secret is 32 random bytes, written `fvs_` + unpadded base64url (the prefix lets secret
//! scanners recognise a leaked one). With 256 bits of entropy there is no dictionary to attack,
//! so a fast hash is the right one: a slow password hash would only hand an attacker a cheap way
//! to burn CPU on the token endpoint. The digest is keyed by the vault's integrity key
//! ([`crate::Keyring::client_secret_hash`]), so someone who can write the database can't store
//! the hash of a secret of their own.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
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

/// The unkeyed, domain-separated SHA-256 of a secret: what earlier builds stored, and what the
/// keyed hash is computed over.
#[must_use]
pub(crate) fn digest(secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"flowvault:v1:client-secret\0");
    h.update(secret.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn secrets_are_random_and_prefixed() {
        let a = generate_client_secret().unwrap_or_else(|_| unreachable!());
        let b = generate_client_secret().unwrap_or_else(|_| unreachable!());
        assert!(a.expose_secret().starts_with("fvs_"));
        assert_eq!(a.expose_secret().len(), 4 + 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(digest(a.expose_secret()), digest(b.expose_secret()));
    }
}
