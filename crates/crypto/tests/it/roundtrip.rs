//! Property tests: whatever is sealed opens to itself, and only in its own context.

use std::sync::OnceLock;

use flowvault_crypto::{CryptoError, Keyring, MasterKey, OVERHEAD, SealContext};
use proptest::prelude::*;

fn ring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        let master = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));
        Keyring::create(&master).unwrap_or_else(|e| panic!("{e}")).0
    })
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,30}"
}

proptest! {
    #[test]
    fn seal_then_open_round_trips(
        plaintext in proptest::collection::vec(any::<u8>(), 0..4096),
        tenant in id(), object in id(), purpose in "[a-z]{1,12}",
    ) {
        let ctx = SealContext::new(&tenant, &object, &purpose).unwrap_or_else(|e| panic!("{e}"));
        let blob = ring().seal(&ctx, &plaintext).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(blob.len(), OVERHEAD + plaintext.len());
        prop_assert_eq!(ring().open(&ctx, &blob).map(|p| p.to_vec()), Ok(plaintext));
    }

    #[test]
    fn any_flipped_bit_is_detected(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let ctx = SealContext::new("tn_x", "ac_y", "setup").unwrap_or_else(|e| panic!("{e}"));
        let mut blob = ring().seal(&ctx, &plaintext).unwrap_or_else(|e| panic!("{e}"));
        let i = position.index(blob.len());
        blob[i] ^= 1 << bit;
        prop_assert!(ring().open(&ctx, &blob).is_err());
    }

    #[test]
    fn another_context_never_opens(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        a in id(), b in id(),
    ) {
        prop_assume!(a != b);
        let ctx_a = SealContext::new("tn_x", &a, "setup").unwrap_or_else(|e| panic!("{e}"));
        let ctx_b = SealContext::new("tn_x", &b, "setup").unwrap_or_else(|e| panic!("{e}"));
        let blob = ring().seal(&ctx_a, &plaintext).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(ring().open(&ctx_b, &blob).err(), Some(CryptoError::DecryptionFailed));
    }
}

#[test]
fn two_seals_of_the_same_plaintext_differ() {
    let ctx = SealContext::new("tn_x", "ac_y", "setup").unwrap_or_else(|e| panic!("{e}"));
    let a = ring().seal(&ctx, b"same").unwrap_or_default();
    let b = ring().seal(&ctx, b"same").unwrap_or_default();
    assert_ne!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Untrusted bytes (a row edited by hand) never panic the opener: they are refused.
    #[test]
    fn arbitrary_envelopes_are_refused_not_panicked_on(
        version in prop::sample::select(vec![0u8, 1, 2, 3]),
        term in prop::sample::select(vec![0u32, 1, 2, u32::MAX]),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut blob = vec![version];
        blob.extend_from_slice(&term.to_be_bytes());
        blob.extend_from_slice(&body);
        let ctx = SealContext::new("tn_x", "ac_y", "setup").unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(ring().open(&ctx, &blob).is_err());
        prop_assert!(ring().open(&ctx, &body).is_err());
    }

    /// Stored keys from an edited keyring table are refused, not panicked on.
    #[test]
    fn arbitrary_stored_keys_are_refused(
        sealed in proptest::collection::vec(any::<u8>(), 0..80),
        term in any::<u32>(),
    ) {
        let master = MasterKey::from_bytes(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let key = flowvault_crypto::SealedKey { kind: flowvault_crypto::KeyKind::Kek, term, sealed };
        prop_assert!(Keyring::unlock(&master, &[key]).is_err());
    }
}
