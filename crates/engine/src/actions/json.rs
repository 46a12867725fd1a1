//! JSON actions: `CREATE_JSON`, `PARSE_JSON`, `SERIALIZE_JSON`, with the outputs Auth0 documents
//! for them: `{"result": …}`, `{"object": …}` and `{"json": "…"}`.

use serde_json::{Value, json};

use super::{ActionError, Call};

/// Parsed documents larger than this are refused (the execution record keeps outputs).
const MAX_JSON: usize = 1024 * 1024;

pub(super) fn run(call: &Call<'_>) -> Result<Value, ActionError> {
    match call.spec.action {
        "CREATE_JSON" => Ok(json!({ "result": call.value("object") })),
        "PARSE_JSON" => {
            let text = call.opt_str("json").unwrap_or_default();
            if text.len() > MAX_JSON {
                return Err(ActionError::new(format!("the JSON is larger than {MAX_JSON} bytes")));
            }
            // serde_json's errors give the position, not the text.
            let object: Value = serde_json::from_str(&text)
                .map_err(|e| ActionError::new(format!("param `json` is not valid JSON: {e}")))?;
            Ok(json!({ "object": object }))
        }
        "SERIALIZE_JSON" => Ok(json!({ "json": call.value("object").to_string() })),
        other => Err(ActionError::new(format!("JSON {other} is not an action flowvault runs"))),
    }
}
