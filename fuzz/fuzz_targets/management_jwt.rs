//! Verifies arbitrary bytes as a Management API bearer token: refused, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flowvault_server::fuzzing::management_token(&String::from_utf8_lossy(data));
});
