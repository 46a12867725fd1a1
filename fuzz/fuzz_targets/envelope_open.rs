//! Opens arbitrary bytes as a sealed envelope and as a stored keyring entry (a database row
//! edited by hand): refused, never a panic, never opened.

#![no_main]

use std::sync::OnceLock;

use flowvault_crypto::{KeyKind, Keyring, MasterKey, SealContext, SealedKey};
use libfuzzer_sys::fuzz_target;

fn ring() -> &'static (MasterKey, Keyring) {
    static RING: OnceLock<(MasterKey, Keyring)> = OnceLock::new();
    RING.get_or_init(|| {
        let master = MasterKey::from_bytes(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let ring = Keyring::create(&master).unwrap_or_else(|e| panic!("{e}")).0;
        (master, ring)
    })
}

fuzz_target!(|data: &[u8]| {
    let (master, ring) = ring();
    let ctx = SealContext::new("tn_x", "ac_y", "setup.TWILIO").unwrap_or_else(|e| panic!("{e}"));
    assert!(ring.open(&ctx, data).is_err());
    let key = SealedKey { kind: KeyKind::Kek, term: 1, sealed: data.to_vec() };
    assert!(Keyring::unlock(master, &[key]).is_err());
});
