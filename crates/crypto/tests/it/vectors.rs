//! Known-answer vectors computed by an independent implementation (`tests/vectors/generate.py`,
//! Python `cryptography`): the stored keyring and envelopes it wrote must open here, every
//! `fail_*` vector must be refused with the named error, and fingerprints, row MACs and client
//! secret hashes must match.

use flowvault_crypto::{CryptoError, KeyKind, Keyring, MasterKey, SealContext, SealedKey};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    master_key: String,
    stored_keys: Vec<StoredKey>,
    legacy_stored_keys: Vec<StoredKey>,
    open: Vec<Case>,
    fail: Vec<Case>,
    fingerprint: Vec<Fingerprint>,
    mac: Vec<Mac>,
    client_secret: ClientSecret,
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

#[derive(Deserialize)]
struct Mac {
    domain: String,
    parts: Vec<String>,
    expected: String,
}

#[derive(Deserialize)]
struct ClientSecret {
    secret: String,
    legacy_digest: String,
    stored: String,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex in vectors: {e}"))
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../vectors/envelope.json"))
        .unwrap_or_else(|e| panic!("bad vectors file: {e}"))
}

fn master(v: &Vectors) -> MasterKey {
    MasterKey::from_bytes(&unhex(&v.master_key)).unwrap_or_else(|e| panic!("{e}"))
}

fn stored(keys: &[StoredKey]) -> Vec<SealedKey> {
    keys.iter()
        .map(|k| SealedKey {
            kind: KeyKind::from_name(&k.kind).unwrap_or_else(|| panic!("kind {}", k.kind)),
            term: k.term,
            sealed: unhex(&k.sealed),
        })
        .collect()
}

fn load() -> (Vectors, Keyring) {
    let v = vectors();
    let ring =
        Keyring::unlock(&master(&v), &stored(&v.stored_keys)).unwrap_or_else(|e| panic!("{e}"));
    (v, ring)
}

fn context(c: &Case) -> SealContext {
    SealContext::new(&c.tenant, &c.object, &c.purpose).unwrap_or_else(|e| panic!("{}: {e}", c.name))
}

#[test]
fn known_answers_open() {
    let (v, ring) = load();
    assert_eq!(ring.active_term(), 1);
    assert!(!ring.needs_upgrade());
    assert!(v.open.len() >= 4);
    for c in &v.open {
        let plain = ring.open(&context(c), &unhex(&c.ciphertext));
        let expected = unhex(c.plaintext.as_deref().unwrap_or_default());
        assert_eq!(plain.map(|p| p.to_vec()), Ok(expected), "{}", c.name);
    }
}

#[test]
fn fail_vectors_are_refused() {
    let (v, ring) = load();
    assert!(v.fail.len() >= 15);
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
fn fingerprints_macs_and_client_secrets_match() {
    let (v, ring) = load();
    for f in &v.fingerprint {
        let parts: Vec<&[u8]> = f.parts.iter().map(|p| p.as_bytes()).collect();
        assert_eq!(ring.fingerprint(&parts), f.expected);
    }
    for m in &v.mac {
        let parts: Vec<&[u8]> = m.parts.iter().map(|p| p.as_bytes()).collect();
        let mac = ring.mac(&m.domain, &parts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hex::encode(mac), m.expected, "{}", m.domain);
        assert!(ring.verify_mac(&m.domain, &parts, &unhex(&m.expected)));
    }
    let c = &v.client_secret;
    let stored = ring.client_secret_hash(&c.secret).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hex::encode(stored), c.stored);
    assert!(ring.verify_client_secret(&c.secret, &unhex(&c.stored)));
    let upgraded =
        ring.keyed_secret_digest(&unhex(&c.legacy_digest)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hex::encode(upgraded), c.stored);
}

/// A keyring as earlier builds stored it opens, asks to be upgraded, and after the upgrade
/// holds the same keys: every earlier envelope still opens.
#[test]
fn a_legacy_keyring_upgrades_without_changing_its_keys() {
    let v = vectors();
    let legacy = stored(&v.legacy_stored_keys);
    let mut ring = Keyring::unlock(&master(&v), &legacy).unwrap_or_else(|e| panic!("{e}"));
    assert!(ring.needs_upgrade());
    assert_eq!(ring.mac("flow", &[b"x"]).err(), Some(CryptoError::MissingKey("integrity")));
    let resealed = ring.upgrade(&master(&v)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!ring.needs_upgrade());
    assert_eq!(resealed.len(), 3);
    assert!(resealed.iter().all(|k| k.sealed[0] == 2));
    let again = Keyring::unlock(&master(&v), &resealed).unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.needs_upgrade());
    for c in &v.open {
        let plain = again.open(&context(c), &unhex(&c.ciphertext)).map(|p| p.to_vec());
        assert_eq!(plain, Ok(unhex(c.plaintext.as_deref().unwrap_or_default())), "{}", c.name);
    }
    // A keyring half old, half new was put together by hand: refused.
    let mut mixed = resealed.clone();
    mixed[0] = legacy[0].clone();
    assert!(Keyring::unlock(&master(&v), &mixed).is_err());
}

#[test]
fn stored_keys_refuse_another_master_key() {
    let v = vectors();
    let mut other = unhex(&v.master_key);
    other[0] ^= 1;
    let master = MasterKey::from_bytes(&other).unwrap_or_else(|e| panic!("{e}"));
    assert!(Keyring::unlock(&master, &stored(&v.stored_keys)).is_err());
    assert!(Keyring::unlock(&master, &stored(&v.legacy_stored_keys)).is_err());
}
