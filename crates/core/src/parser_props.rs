//! Property tests of every parser here that takes untrusted input (request bodies, stored setup
//! bytes, stored flow actions): on any input they answer a value or an error — never a panic —
//! and an error never quotes a secret-looking value back. They run in the test command;
//! `fuzz/` has cargo-fuzz targets of the same parsers for longer runs.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::arbitrary::json;
use crate::catalog::AppId;
use crate::flow::{parse_actions, validate_flow_create, validate_flow_patch};
use crate::setup::Setup;
use crate::validate::{validate_create, validate_patch};

/// A value no message may contain.
const PLANTED: &str = "PLANTED-s3cret-VALUE";

fn apps() -> impl Strategy<Value = AppId> {
    prop::sample::select(AppId::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn connection_requests_never_panic_nor_echo_values(
        body in json(), app in apps(), setup in json(), setup_type in "[A-Z_]{0,26}",
    ) {
        let _ = validate_create(&body);
        let _ = validate_patch(app, &body);
        // A setup of the right shape carrying a planted value in every field.
        let mut setup = match setup { Value::Object(m) => m, _ => serde_json::Map::new() };
        for v in setup.values_mut() {
            *v = json!(PLANTED);
        }
        setup.insert("type".to_owned(), json!(setup_type));
        let create = json!({"name": "n", "app_id": app.as_str(), "setup": setup});
        if let Err(e) = validate_create(&create) {
            prop_assert!(!e.to_string().contains(PLANTED), "{e}");
        }
    }

    #[test]
    fn stored_setup_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), value in json(), app in apps()) {
        let _ = Setup::from_canonical_json(app, &bytes);
        let _ = Setup::from_canonical_json(app, value.to_string().as_bytes());
    }

    #[test]
    fn flow_requests_and_stored_actions_never_panic(body in json(), actions in json()) {
        let _ = validate_flow_create(&body);
        let _ = validate_flow_patch(&body);
        let _ = parse_actions(&actions);
        let wrapped = json!({"name": "f", "actions": actions});
        if let Ok(flow) = validate_flow_create(&wrapped) {
            // What is saved parses back as itself.
            let stored = Value::Array(flow.actions.iter().map(crate::flow::FlowAction::to_json).collect());
            prop_assert!(parse_actions(&stored).is_ok());
        }
    }
}
