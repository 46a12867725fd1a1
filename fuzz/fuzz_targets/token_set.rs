//! Reads arbitrary bytes as a connection's stored token state: a set or an error, never a panic;
//! a set that reads seals back to bytes that read.

#![no_main]

use flowvault_engine::TokenSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = TokenSet::from_bytes(data) {
        let again = set.seal_bytes().unwrap_or_else(|e| panic!("{e}"));
        assert!(TokenSet::from_bytes(&again).is_ok());
    }
});
