//! JSON actions: `CREATE_JSON`, `PARSE_JSON`, `SERIALIZE_JSON`, with the outputs Auth0 documents
//! for them: `{"result": …}`, `{"object": …}` and `{"json": "…"}`.

use serde_json::{Value, json};

use flowvault_core::JsonOp;

use super::{ActionError, Call};

/// Parsed documents larger than this are refused (the execution record keeps outputs).
const MAX_JSON: usize = 1024 * 1024;

pub(super) fn run(op: JsonOp, call: &Call<'_>) -> Result<Value, ActionError> {
    match op {
        JsonOp::CreateJson => Ok(json!({ "result": call.value("object") })),
        JsonOp::ParseJson => {
            let text = call.opt_str("json").unwrap_or_default();
            if text.len() > MAX_JSON {
                return Err(ActionError::new(format!("the JSON is larger than {MAX_JSON} bytes")));
            }
            // serde_json's errors give the position, not the text.
            let object: Value = serde_json::from_str(&text)
                .map_err(|e| ActionError::new(format!("param `json` is not valid JSON: {e}")))?;
            Ok(json!({ "object": object }))
        }
        JsonOp::SerializeJson => Ok(json!({ "json": call.value("object").to_string() })),
    }
}
