//! Reads arbitrary bytes as a flow request and as stored actions: a value or an error, never a
//! panic; what validates parses back from its stored form.

#![no_main]

use flowvault_core::{FlowAction, parse_actions, validate_flow_create, validate_flow_patch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = validate_flow_patch(&body);
    let _ = parse_actions(&body);
    if let Ok(flow) = validate_flow_create(&body) {
        let stored = serde_json::Value::Array(flow.actions.iter().map(FlowAction::to_json).collect());
        assert!(parse_actions(&stored).is_ok());
    }
});
