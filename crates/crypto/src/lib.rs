//! flowvault's cryptography: the master key, the keyring of key-encryption keys, the envelope
//! format that seals each secret object, and keyed fingerprints.
//!
//! This crate is pure: callers hand it bytes and get bytes back. It does not read key files or
//! environment variables (that is configuration, in the CLI and server), does not store anything,
//! and does not know what a connection is beyond the tenant, object and purpose strings that a
//! [`SealContext`] binds ciphertexts to.
//!
//! AES-256-GCM and AES Key Wrap come from aws-lc-rs; HMAC-SHA-256 and Argon2id from the
//! RustCrypto crates (`hmac`, `sha2`, `argon2`); randomness from the operating system
//! (`getrandom`). Key material lives in zeroizing buffers with redacting `Debug`.

mod client_secret;
mod envelope;
mod error;
mod keyring;
mod keys;
mod password;

pub use client_secret::{CLIENT_SECRET_PREFIX, generate_client_secret};
pub use envelope::{FORMAT_VERSION, OVERHEAD, SealContext};
pub use error::{CryptoError, UnlockError};
pub use keyring::{KeyKind, Keyring, MAC_LEN, SealedKey};
pub use keys::{KEY_LEN, KdfParams, MasterKey, generate_salt};
pub use password::{hash_password, verify_nothing, verify_password};
