//! Opens arbitrary bytes as a sealed envelope and as a stored keyring entry (a database row
//! edited by hand): refused, never a panic, never opened.

#![no_main]

use std::sync::OnceLock;

use flowvault_crypto::{KeyKind, Keyring, MasterKey, SealContext, SealedKey};
use libfuzzer_sys::fuzz_target;

/// A master key, its keyring, and that keyring's stored rows.
fn ring() -> &'static (MasterKey, Keyring, Vec<SealedKey>) {
    static RING: OnceLock<(MasterKey, Keyring, Vec<SealedKey>)> = OnceLock::new();
    RING.get_or_init(|| {
        let master = MasterKey::from_bytes(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let (ring, stored) = Keyring::create(&master).unwrap_or_else(|e| panic!("{e}"));
        (master, ring, stored)
    })
}

fuzz_target!(|data: &[u8]| {
    let (master, ring, stored) = ring();
    let ctx = SealContext::new("tn_x", "ac_y", "setup.TWILIO").unwrap_or_else(|e| panic!("{e}"));
    assert!(ring.open(&ctx, data).is_err());
    // A whole, valid keyring whose KEK row was replaced by the fuzz input: the other rows open,
    // so the fuzzed row is what gets parsed and must be refused.
    let mut edited = stored.clone();
    for key in edited.iter_mut().filter(|k| k.kind == KeyKind::Kek) {
        key.sealed = data.to_vec();
    }
    assert!(Keyring::unlock(master, &edited).is_err());
});
