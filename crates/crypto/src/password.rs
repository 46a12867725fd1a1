//! Dashboard passwords: Argon2id hashes in the PHC string format
//! (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), with the parameters inside, so stronger ones
//! can be adopted later without breaking the hashes already stored.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

use crate::error::CryptoError;

/// Hashes a password with Argon2id (OWASP's first choice: 19 MiB, 2 passes, 1 lane) and a fresh
/// random salt.
///
/// # Errors
/// [`CryptoError::Rng`] if the random generator fails, [`CryptoError::KdfParams`] if Argon2
/// refuses the input.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| CryptoError::Rng)?;
    let hash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| CryptoError::KdfParams)?;
    Ok(hash.to_string())
}

/// Whether `password` is the one `phc` was made from. A hash that does not parse matches
/// nothing. Takes as long as hashing the password does, whatever the outcome.
#[must_use]
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// Spends the time of one [`verify_password`] and matches nothing: for a sign-in with an
/// unknown name, so it takes as long as one with a wrong password.
///
/// # Panics
/// If the random generator fails the first time (making the decoy hash): without it, a
/// sign-in with an unknown name would answer faster than one with a wrong password.
#[allow(clippy::expect_used, reason = "no decoy, no equal timing: refusing to go on is safer")]
pub fn verify_nothing(password: &str) {
    static DECOY: OnceLock<String> = OnceLock::new();
    let decoy = DECOY.get_or_init(|| {
        hash_password("flowvault decoy password").expect("the random generator works")
    });
    // Its outcome is known (no password matches the decoy's unknown one): only the time counts.
    let _matched = verify_password(password, decoy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse battery").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batter", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        // Salted: the same password hashes differently each time.
        assert_ne!(h, hash_password("correct horse battery").unwrap_or_else(|e| panic!("{e:?}")));
        verify_nothing("anything");
    }
}
