//! The crypto crate's errors. Deliberately terse: they say *that* something failed to open, not
//! which byte or which check, and they never carry key material or plaintext.

/// A cryptographic operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The ciphertext is shorter than the smallest valid one, or its layout is wrong.
    #[error("ciphertext is malformed")]
    Malformed,
    /// The ciphertext was written by a format version this build does not know.
    #[error("ciphertext format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The ciphertext names a key term that is not in the keyring.
    #[error("ciphertext refers to key term {0}, which the keyring does not hold")]
    UnknownTerm(u32),
    /// Authentication failed: wrong key, wrong context, or the bytes were changed.
    #[error("decryption failed")]
    DecryptionFailed,
    /// Key material has the wrong length or encoding.
    #[error("invalid key material: {0}")]
    InvalidKey(&'static str),
    /// A sealing context component is empty or contains a `:` or a non-printable character.
    #[error("invalid sealing context")]
    InvalidContext,
    /// The passphrase key derivation rejected its parameters.
    #[error("invalid key derivation parameters")]
    KdfParams,
    /// The operating system's random generator failed.
    #[error("the random generator failed")]
    Rng,
    /// The keyring has no key of this kind (an integrity key, before the vault is upgraded).
    #[error("the keyring has no {0} key")]
    MissingKey(&'static str),
}

/// The keyring could not be unlocked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    /// The master key does not open the keyring: it is not the key this vault was created with.
    #[error(
        "the master key does not open this vault's keyring: it is not the key the vault was created with"
    )]
    WrongMasterKey,
    /// The stored keyring has no key-encryption key or no fingerprint key.
    #[error("the stored keyring is incomplete: {0}")]
    Incomplete(&'static str),
    /// A stored key is malformed.
    #[error("the stored keyring is damaged: {0}")]
    Damaged(CryptoError),
}
