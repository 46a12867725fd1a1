//! The keyring: key-encryption keys (KEKs), the fingerprint key and the integrity key, by term,
//! all sealed by the master key when stored.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::client_secret;
use crate::envelope::{self, FORMAT_VERSION, SealContext, SealRandomness};
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
    /// Keys the MACs over rows that decide who may use a credential and where it goes
    /// (management clients, flows), and the hash of client secrets.
    Integrity,
}

impl KeyKind {
    /// The stored name: `kek`, `fingerprint` or `integrity`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyKind::Kek => "kek",
            KeyKind::Fingerprint => "fingerprint",
            KeyKind::Integrity => "integrity",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "kek" => Some(KeyKind::Kek),
            "fingerprint" => Some(KeyKind::Fingerprint),
            "integrity" => Some(KeyKind::Integrity),
            _ => None,
        }
    }
}

/// A key as stored: sealed under the master key, bound to its kind and term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// What the key is for.
    pub kind: KeyKind,
    /// Its term (1, 2, …; for each kind, the highest is the one new seals and MACs use).
    pub term: u32,
    /// `version ‖ nonce ‖ key sealed under the master key`.
    pub sealed: Vec<u8>,
}

/// The length of a [`Keyring::mac`]: the integrity key's term (4 bytes) and HMAC-SHA-256.
pub const MAC_LEN: usize = 4 + 32;

/// The unlocked keyring: what seals and opens vault objects, fingerprints setups and
/// authenticates rows.
pub struct Keyring {
    keks: BTreeMap<u32, Key32>,
    active: u32,
    fingerprint: Key32,
    integrity: BTreeMap<u32, Key32>,
    /// Every stored key was sealed in the current format and an integrity key exists.
    current: bool,
}

impl Keyring {
    /// A new keyring for a new vault: KEK term 1, a fingerprint key and an integrity key,
    /// returned also in the sealed form to store.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS generator fails.
    pub fn create(master: &MasterKey) -> Result<(Self, Vec<SealedKey>), CryptoError> {
        let ring = Self {
            keks: BTreeMap::from([(1, Key32::random()?)]),
            active: 1,
            fingerprint: Key32::random()?,
            integrity: BTreeMap::from([(1, Key32::random()?)]),
            current: true,
        };
        let sealed = ring.sealed_all(master)?;
        Ok((ring, sealed))
    }

    /// Opens the stored keys with the master key.
    ///
    /// A keyring written before rows were authenticated (format 1 seals, no integrity key)
    /// opens too; [`Keyring::needs_upgrade`] then says so.
    ///
    /// # Errors
    /// [`UnlockError::WrongMasterKey`] if no stored key opens (the usual sign of a wrong master
    /// key), [`UnlockError::Damaged`] if some open and others don't or are malformed, or if the
    /// keyring mixes formats; [`UnlockError::Incomplete`] if there is no KEK, no fingerprint key,
    /// or (in the current format) no integrity key.
    pub fn unlock(master: &MasterKey, stored: &[SealedKey]) -> Result<Self, UnlockError> {
        let mut keks = BTreeMap::new();
        let mut fingerprint = None;
        let mut integrity = BTreeMap::new();
        let mut versions = Vec::new();
        let mut opened = 0usize;
        let mut failure = None;
        for k in stored {
            match envelope::open_key(master.key(), &label(k.kind, k.term), &k.sealed) {
                Ok((key, version)) => {
                    opened += 1;
                    versions.push(version);
                    match k.kind {
                        KeyKind::Kek => {
                            keks.insert(k.term, key);
                        }
                        KeyKind::Fingerprint => fingerprint = Some(key),
                        KeyKind::Integrity => {
                            integrity.insert(k.term, key);
                        }
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
        let current = versions.iter().all(|v| *v == FORMAT_VERSION);
        let legacy = versions.iter().all(|v| *v != FORMAT_VERSION);
        // A keyring is either wholly current (with an integrity key) or wholly as earlier
        // builds wrote it (without one). Anything else was put together by hand: an older copy
        // of a key row restored into an upgraded vault, or an integrity key removed, which would
        // make flowvault bless rows it never wrote.
        match (current, legacy, integrity.is_empty()) {
            (true, _, false) | (_, true, true) => {}
            (true, _, true) => return Err(UnlockError::Incomplete("no integrity key")),
            _ => return Err(UnlockError::Damaged(CryptoError::Malformed)),
        }
        Ok(Self { keks, active, fingerprint, integrity, current })
    }

    /// Whether this keyring was written before rows were authenticated: the vault must then
    /// [`Keyring::upgrade`] it (and authenticate its rows) before using it.
    #[must_use]
    pub fn needs_upgrade(&self) -> bool {
        !self.current
    }

    /// Brings a keyring written by an earlier build up to date: adds an integrity key and
    /// re-seals every key in the current format. Returns the whole keyring to store in place of
    /// the old one. The keys themselves (and so every envelope) stay the same.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS generator fails.
    pub fn upgrade(&mut self, master: &MasterKey) -> Result<Vec<SealedKey>, CryptoError> {
        if self.integrity.is_empty() {
            self.integrity.insert(1, Key32::random()?);
        }
        let sealed = self.sealed_all(master)?;
        self.current = true;
        Ok(sealed)
    }

    fn sealed_all(&self, master: &MasterKey) -> Result<Vec<SealedKey>, CryptoError> {
        let mut out = Vec::new();
        for (term, key) in &self.keks {
            out.push(seal_stored(master, KeyKind::Kek, *term, key)?);
        }
        out.push(seal_stored(master, KeyKind::Fingerprint, 1, &self.fingerprint)?);
        for (term, key) in &self.integrity {
            out.push(seal_stored(master, KeyKind::Integrity, *term, key)?);
        }
        Ok(out)
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

    /// Opens what [`Keyring::seal`] wrote for the same `ctx` (in this format or the earlier
    /// one).
    ///
    /// # Errors
    /// [`CryptoError::DecryptionFailed`] if the bytes were changed, moved to another context or
    /// sealed under another keyring; [`CryptoError::Malformed`],
    /// [`CryptoError::UnsupportedVersion`] or [`CryptoError::UnknownTerm`] if the envelope's
    /// layout, version or term is not one this keyring reads.
    pub fn open(&self, ctx: &SealContext, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (_, term) = envelope::header_of(blob)?;
        let kek = self.keks.get(&term).ok_or(CryptoError::UnknownTerm(term))?;
        envelope::open(kek, ctx, blob)
    }

    /// A keyed fingerprint of `parts` (length-prefixed, so part boundaries count): HMAC-SHA-256
    /// under the vault's fingerprint key, as unpadded base64url. Without the key, a fingerprint
    /// can't be checked against guessed credentials.
    #[must_use]
    pub fn fingerprint(&self, parts: &[&[u8]]) -> String {
        URL_SAFE_NO_PAD.encode(hmac_parts(&self.fingerprint, b"flowvault:v1:fingerprint", parts))
    }

    /// A MAC of `parts` (length-prefixed) for one `domain` (`client`, `flow`, …) under the
    /// active integrity key: its term, then HMAC-SHA-256. Rows whose content decides who may
    /// use a credential and where it goes carry one, so that writing the database directly
    /// can't change them unnoticed.
    ///
    /// # Errors
    /// [`CryptoError::MissingKey`] on a keyring that [`Keyring::needs_upgrade`].
    pub fn mac(&self, domain: &str, parts: &[&[u8]]) -> Result<[u8; MAC_LEN], CryptoError> {
        let (term, key) =
            self.integrity.iter().next_back().ok_or(CryptoError::MissingKey("integrity"))?;
        Ok(tagged(*term, key, domain, parts))
    }

    /// Whether `mac` is [`Keyring::mac`] of `parts` for `domain` under the term it names;
    /// compared in constant time.
    #[must_use]
    pub fn verify_mac(&self, domain: &str, parts: &[&[u8]], mac: &[u8]) -> bool {
        let Some(term) = mac.get(..4).and_then(|t| <[u8; 4]>::try_from(t).ok()) else {
            return false;
        };
        let term = u32::from_be_bytes(term);
        let Some(key) = self.integrity.get(&term) else { return false };
        mac.len() == MAC_LEN && bool::from(tagged(term, key, domain, parts).ct_eq(mac))
    }

    /// What a management client's secret is stored as: the MAC of its digest, so someone who
    /// can write the database can't store a secret of their own choosing.
    ///
    /// # Errors
    /// [`CryptoError::MissingKey`] on a keyring that [`Keyring::needs_upgrade`].
    pub fn client_secret_hash(&self, secret: &str) -> Result<[u8; MAC_LEN], CryptoError> {
        self.keyed_secret_digest(&client_secret::digest(secret))
    }

    /// The stored form of a client secret from its unkeyed digest (what earlier builds stored),
    /// for bringing their rows up to date.
    ///
    /// # Errors
    /// [`CryptoError::MissingKey`] on a keyring that [`Keyring::needs_upgrade`].
    pub fn keyed_secret_digest(&self, digest: &[u8]) -> Result<[u8; MAC_LEN], CryptoError> {
        self.mac("client-secret", &[digest])
    }

    /// Whether `secret` is the secret stored as `stored`, compared in constant time.
    #[must_use]
    pub fn verify_client_secret(&self, secret: &str, stored: &[u8]) -> bool {
        self.verify_mac("client-secret", &[&client_secret::digest(secret)], stored)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("terms", &self.keks.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

fn tagged(term: u32, key: &Key32, domain: &str, parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut label = b"flowvault:v1:mac:".to_vec();
    label.extend_from_slice(domain.as_bytes());
    let tag = hmac_parts(key, &label, parts);
    let mut out = [0u8; MAC_LEN];
    out[..4].copy_from_slice(&term.to_be_bytes());
    out[4..].copy_from_slice(&tag);
    out
}

/// HMAC-SHA-256 over `label` and each part with its length before it.
fn hmac_parts(key: &Key32, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length: a 32-byte key always builds.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts 32-byte keys"),
    };
    mac.update(label);
    for part in parts {
        mac.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
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

    fn new_ring() -> (Keyring, Vec<SealedKey>) {
        Keyring::create(&master(1)).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn create_then_unlock_opens_what_was_sealed() {
        let (ring, stored) = new_ring();
        assert_eq!(stored.len(), 3);
        let blob = ring.seal(&ctx("ac_1"), b"secret").unwrap_or_default();
        let again = Keyring::unlock(&master(1), &stored).unwrap_or_else(|e| panic!("{e}"));
        assert!(!again.needs_upgrade());
        assert_eq!(again.open(&ctx("ac_1"), &blob).map(|p| p.to_vec()), Ok(b"secret".to_vec()));
        assert_eq!(again.fingerprint(&[b"a"]), ring.fingerprint(&[b"a"]));
        let mac = ring.mac("flow", &[b"x"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.verify_mac("flow", &[b"x"], &mac));
    }

    #[test]
    fn wrong_master_key_is_named_as_such() {
        let (_, stored) = new_ring();
        assert!(matches!(Keyring::unlock(&master(2), &stored), Err(UnlockError::WrongMasterKey)));
    }

    #[test]
    fn a_key_sealed_for_one_slot_does_not_open_in_another() {
        let (_, mut stored) = new_ring();
        stored[0].term = 2;
        assert!(matches!(Keyring::unlock(&master(1), &stored), Err(UnlockError::Damaged(_))));
        assert!(matches!(Keyring::unlock(&master(1), &[]), Err(UnlockError::Incomplete(_))));
    }

    #[test]
    fn an_upgraded_keyring_without_its_integrity_key_does_not_open() {
        let (_, stored) = new_ring();
        let without: Vec<_> = stored.into_iter().filter(|k| k.kind != KeyKind::Integrity).collect();
        assert!(matches!(
            Keyring::unlock(&master(1), &without),
            Err(UnlockError::Incomplete("no integrity key"))
        ));
    }

    #[test]
    fn macs_are_bound_to_domain_parts_and_key() {
        let (a, _) = new_ring();
        let (b, _) = new_ring();
        let mac = a.mac("client", &[b"tn_1", b"scopes"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mac.len(), MAC_LEN);
        assert_eq!(&mac[..4], &[0, 0, 0, 1]);
        assert!(a.verify_mac("client", &[b"tn_1", b"scopes"], &mac));
        assert!(!a.verify_mac("flow", &[b"tn_1", b"scopes"], &mac));
        assert!(!a.verify_mac("client", &[b"tn_2", b"scopes"], &mac));
        assert!(!a.verify_mac("client", &[b"tn_1scopes"], &mac));
        assert!(!b.verify_mac("client", &[b"tn_1", b"scopes"], &mac));
        assert!(!a.verify_mac("client", &[b"tn_1", b"scopes"], &mac[..35]));
        assert!(!a.verify_mac("client", &[b"tn_1", b"scopes"], b""));
    }

    #[test]
    fn client_secrets_verify_only_under_their_keyring() {
        let (a, _) = new_ring();
        let (b, _) = new_ring();
        let stored = a.client_secret_hash("fvs_secret").unwrap_or_else(|e| panic!("{e}"));
        assert!(a.verify_client_secret("fvs_secret", &stored));
        assert!(!a.verify_client_secret("fvs_other", &stored));
        assert!(!b.verify_client_secret("fvs_secret", &stored));
        // An earlier build's unkeyed digest, brought up to date, verifies the same secret.
        let upgraded = a
            .keyed_secret_digest(&client_secret::digest("fvs_secret"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(a.verify_client_secret("fvs_secret", &upgraded));
        assert!(!a.verify_client_secret("fvs_secret", &client_secret::digest("fvs_secret")));
    }

    #[test]
    fn fingerprints_are_keyed_and_length_prefixed() {
        let (a, _) = new_ring();
        let (b, _) = new_ring();
        assert_eq!(a.fingerprint(&[b"x", b"y"]), a.fingerprint(&[b"x", b"y"]));
        assert_ne!(a.fingerprint(&[b"x", b"y"]), b.fingerprint(&[b"x", b"y"]));
        assert_ne!(a.fingerprint(&[b"xy", b""]), a.fingerprint(&[b"x", b"y"]));
        assert_eq!(a.fingerprint(&[b"x"]).len(), 43);
    }
}
