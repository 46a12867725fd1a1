//! Feeds arbitrary token-endpoint answers (status, `Retry-After`, body) to the grant reader:
//! never a panic, and every time it derives stays within its documented bound.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [hi, lo, split, rest @ ..] = data else { return };
    let status = u16::from_be_bytes([*hi, *lo]) % 600;
    let at = usize::from(*split).min(rest.len());
    let (retry_after, body) = rest.split_at(at);
    let retry_after = std::str::from_utf8(retry_after).ok();
    flowvault_engine::fuzzing::token_response(status, retry_after, body);
});
