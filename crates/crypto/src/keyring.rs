//! The keyring: key-encryption keys (KEKs) by term, and the fingerprint key, all sealed by the
//! master key when stored.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::envelope::{self, SealContext, SealRandomness};
use crate::error::{CryptoError, UnlockError};
use crate::keys::{Key32, MasterKey};

/// What a stored key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// Wraps data keys.
    Kek,
    /// Keys the HMAC behind connection fingerprints.
    Fingerprint,
}

impl KeyKind {
    /// The stored name: `kek` or `fingerprint`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyKind::Kek => "kek",
            KeyKind::Fingerprint => "fingerprint",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "kek" => Some(KeyKind::Kek),
            "fingerprint" => Some(KeyKind::Fingerprint),
            _ => None,
        }
    }
}

/// A key as stored: sealed under the master key, bound to its kind and term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// What the key is for.
    pub kind: KeyKind,
    /// Its term (KEKs: 1, 2, …; the highest is the one new seals use).
    pub term: u32,
    /// `0x01 ‖ nonce ‖ key sealed under the master key`.
    pub sealed: Vec<u8>,
}

/// The unlocked keyring: what seals and opens vault objects.
pub struct Keyring {
    keks: BTreeMap<u32, Aes256Gcm>,
    active: u32,
    fingerprint: Key32,
}

impl Keyring {
    /// A new keyring for a new vault: KEK term 1 and a fingerprint key, returned also in the
    /// sealed form to store.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS generator fails.
    pub fn create(master: &MasterKey) -> Result<(Self, Vec<SealedKey>), CryptoError> {
        let kek = Key32::random()?;
        let fingerprint = Key32::random()?;
        let sealed = vec![
            seal_stored(master, KeyKind::Kek, 1, &kek)?,
            seal_stored(master, KeyKind::Fingerprint, 1, &fingerprint)?,
        ];
        let keks = BTreeMap::from([(1, Aes256Gcm::new(kek.bytes().into()))]);
        Ok((Self { keks, active: 1, fingerprint }, sealed))
    }

    /// Opens the stored keys with the master key.
    ///
    /// # Errors
    /// [`UnlockError::WrongMasterKey`] if no stored key opens (the usual sign of a wrong master
    /// key), [`UnlockError::Damaged`] if some open and others don't or are malformed,
    /// [`UnlockError::Incomplete`] if there is no KEK or no fingerprint key.
    pub fn unlock(master: &MasterKey, stored: &[SealedKey]) -> Result<Self, UnlockError> {
        let mut keks = BTreeMap::new();
        let mut fingerprint = None;
        let mut opened = 0usize;
        let mut failure = None;
        for k in stored {
            match envelope::open_key(master.key(), &label(k.kind, k.term), &k.sealed) {
                Ok(key) => {
                    opened += 1;
                    match k.kind {
                        KeyKind::Kek => {
                            keks.insert(k.term, Aes256Gcm::new(key.bytes().into()));
                        }
                        KeyKind::Fingerprint => fingerprint = Some(key),
                    }
                }
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(CryptoError::DecryptionFailed) if opened == 0 => {
                return Err(UnlockError::WrongMasterKey);
            }
            Some(e) => return Err(UnlockError::Damaged(e)),
            None => {}
        }
        let active =
            *keks.keys().next_back().ok_or(UnlockError::Incomplete("no key-encryption key"))?;
        let fingerprint = fingerprint.ok_or(UnlockError::Incomplete("no fingerprint key"))?;
        Ok(Self { keks, active, fingerprint })
    }

    /// The term new seals use.
    #[must_use]
    pub fn active_term(&self) -> u32 {
        self.active
    }

    /// Seals `plaintext` for `ctx` under a fresh data key wrapped by the active KEK.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS generator fails.
    pub fn seal(&self, ctx: &SealContext, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let kek = self.keks.get(&self.active).ok_or(CryptoError::UnknownTerm(self.active))?;
        envelope::seal(kek, self.active, &SealRandomness::draw()?, ctx, plaintext)
    }

    /// Opens what [`Keyring::seal`] wrote for the same `ctx`.
    ///
    /// # Errors
    /// [`CryptoError::DecryptionFailed`] if the bytes were changed, moved to another context or
    /// sealed under another keyring; [`CryptoError::Malformed`],
    /// [`CryptoError::UnsupportedVersion`] or [`CryptoError::UnknownTerm`] if the envelope's
    /// layout, version or term is not one this keyring reads.
    pub fn open(&self, ctx: &SealContext, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let term = envelope::term_of(blob)?;
        let kek = self.keks.get(&term).ok_or(CryptoError::UnknownTerm(term))?;
        envelope::open(kek, ctx, blob)
    }

    /// A keyed fingerprint of `parts` (length-prefixed, so part boundaries count): HMAC-SHA-256
    /// under the vault's fingerprint key, as unpadded base64url. Without the key, a fingerprint
    /// can't be checked against guessed credentials.
    #[must_use]
    pub fn fingerprint(&self, parts: &[&[u8]]) -> String {
        // HMAC accepts keys of any length, so building it cannot fail; the fallback only keeps
        // this function total.
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(self.fingerprint.bytes())
        else {
            return String::new();
        };
        mac.update(b"flowvault:v1:fingerprint");
        for part in parts {
            mac.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            mac.update(part);
        }
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("terms", &self.keks.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

fn label(kind: KeyKind, term: u32) -> String {
    format!("{}:{term}", kind.as_str())
}

fn seal_stored(
    master: &MasterKey,
    kind: KeyKind,
    term: u32,
    key: &Key32,
) -> Result<SealedKey, CryptoError> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Rng)?;
    let sealed = envelope::seal_key(master.key(), &label(kind, term), key, nonce)?;
    Ok(SealedKey { kind, term, sealed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&[byte; 32]).unwrap_or_else(|_| unreachable!())
    }

    fn ctx(object: &str) -> SealContext {
        SealContext::new("tn_t", object, "setup").unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn create_then_unlock_opens_what_was_sealed() {
        let (ring, stored) = Keyring::create(&master(1)).unwrap_or_else(|_| unreachable!());
        let blob = ring.seal(&ctx("ac_1"), b"secret").unwrap_or_default();
        let again = Keyring::unlock(&master(1), &stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.open(&ctx("ac_1"), &blob).map(|p| p.to_vec()), Ok(b"secret".to_vec()));
        assert_eq!(again.fingerprint(&[b"a"]), ring.fingerprint(&[b"a"]));
    }

    #[test]
    fn wrong_master_key_is_named_as_such() {
        let (_, stored) = Keyring::create(&master(1)).unwrap_or_else(|_| unreachable!());
        assert!(matches!(Keyring::unlock(&master(2), &stored), Err(UnlockError::WrongMasterKey)));
    }

    #[test]
    fn a_key_sealed_for_one_slot_does_not_open_in_another() {
        let (_, mut stored) = Keyring::create(&master(1)).unwrap_or_else(|_| unreachable!());
        stored[0].term = 2;
        assert!(matches!(Keyring::unlock(&master(1), &stored), Err(UnlockError::Damaged(_))));
        assert!(matches!(Keyring::unlock(&master(1), &[]), Err(UnlockError::Incomplete(_))));
    }

    #[test]
    fn fingerprints_are_keyed_and_length_prefixed() {
        let (a, _) = Keyring::create(&master(1)).unwrap_or_else(|_| unreachable!());
        let (b, _) = Keyring::create(&master(1)).unwrap_or_else(|_| unreachable!());
        assert_eq!(a.fingerprint(&[b"x", b"y"]), a.fingerprint(&[b"x", b"y"]));
        assert_ne!(a.fingerprint(&[b"x", b"y"]), b.fingerprint(&[b"x", b"y"]));
        assert_ne!(a.fingerprint(&[b"xy", b""]), a.fingerprint(&[b"x", b"y"]));
        assert_eq!(a.fingerprint(&[b"x"]).len(), 43);
    }
}
