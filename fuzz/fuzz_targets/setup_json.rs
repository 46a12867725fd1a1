//! Reads arbitrary bytes as stored setup JSON of each app, and as a create request for a
//! connection: a value or an error, never a panic.

#![no_main]

use flowvault_core::{AppId, Setup, validate_create, validate_patch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for app in AppId::ALL {
        let _ = Setup::from_canonical_json(*app, data);
    }
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = validate_create(&body);
        let _ = validate_patch(AppId::Http, &body);
    }
});
