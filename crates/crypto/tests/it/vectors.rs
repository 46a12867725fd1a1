//! Known-answer vectors computed by an independent implementation (`tests/vectors/generate.py`,
//! Python `cryptography`): the stored keyring and envelopes it wrote must open here, and every
//! `fail_*` vector must be refused with the named error.

use flowvault_crypto::{CryptoError, KeyKind, Keyring, MasterKey, SealContext, SealedKey};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    master_key: String,
    stored_keys: Vec<StoredKey>,
    open: Vec<Case>,
    fail: Vec<Case>,
    fingerprint: Vec<Fingerprint>,
}

#[derive(Deserialize)]
struct StoredKey {
    kind: String,
    term: u32,
    sealed: String,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    tenant: String,
    object: String,
    purpose: String,
    ciphertext: String,
    #[serde(default)]
    plaintext: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Fingerprint {
    parts: Vec<String>,
    expected: String,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex in vectors: {e}"))
}

fn load() -> (Vectors, Keyring) {
    let v: Vectors = serde_json::from_str(include_str!("../vectors/envelope_v1.json"))
        .unwrap_or_else(|e| panic!("bad vectors file: {e}"));
    let master = MasterKey::from_bytes(&unhex(&v.master_key)).unwrap_or_else(|e| panic!("{e}"));
    let stored: Vec<SealedKey> = v
        .stored_keys
        .iter()
        .map(|k| SealedKey {
            kind: KeyKind::from_name(&k.kind).unwrap_or_else(|| panic!("kind {}", k.kind)),
            term: k.term,
            sealed: unhex(&k.sealed),
        })
        .collect();
    let ring = Keyring::unlock(&master, &stored).unwrap_or_else(|e| panic!("{e}"));
    (v, ring)
}

fn context(c: &Case) -> SealContext {
    SealContext::new(&c.tenant, &c.object, &c.purpose).unwrap_or_else(|e| panic!("{}: {e}", c.name))
}

#[test]
fn known_answers_open() {
    let (v, ring) = load();
    assert_eq!(ring.active_term(), 1);
    for c in &v.open {
        let plain = ring.open(&context(c), &unhex(&c.ciphertext));
        let expected = unhex(c.plaintext.as_deref().unwrap_or_default());
        assert_eq!(plain.map(|p| p.to_vec()), Ok(expected), "{}", c.name);
    }
}

#[test]
fn fail_vectors_are_refused() {
    let (v, ring) = load();
    assert!(v.fail.len() >= 10);
    for c in &v.fail {
        let err = ring.open(&context(c), &unhex(&c.ciphertext)).err();
        let name = match err {
            Some(CryptoError::DecryptionFailed) => "DecryptionFailed",
            Some(CryptoError::Malformed) => "Malformed",
            Some(CryptoError::UnsupportedVersion(_)) => "UnsupportedVersion",
            Some(CryptoError::UnknownTerm(_)) => "UnknownTerm",
            Some(other) => panic!("{}: unexpected {other:?}", c.name),
            None => panic!("{} opened", c.name),
        };
        assert_eq!(Some(name), c.error.as_deref(), "{}", c.name);
    }
}

#[test]
fn fingerprints_match() {
    let (v, ring) = load();
    for f in &v.fingerprint {
        let parts: Vec<&[u8]> = f.parts.iter().map(|p| p.as_bytes()).collect();
        assert_eq!(ring.fingerprint(&parts), f.expected);
    }
}

#[test]
fn stored_keys_refuse_another_master_key() {
    let (v, _) = load();
    let mut other = unhex(&v.master_key);
    other[0] ^= 1;
    let master = MasterKey::from_bytes(&other).unwrap_or_else(|e| panic!("{e}"));
    let stored: Vec<SealedKey> = v
        .stored_keys
        .iter()
        .map(|k| SealedKey {
            kind: KeyKind::from_name(&k.kind).unwrap_or(KeyKind::Kek),
            term: k.term,
            sealed: unhex(&k.sealed),
        })
        .collect();
    assert!(Keyring::unlock(&master, &stored).is_err());
}
