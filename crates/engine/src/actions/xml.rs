//! `XML` actions: being implemented (this module answers every one of them with an error
//! until then).

use flowvault_core::XmlOp;
use serde_json::Value;

use super::{ActionError, Call};

pub(super) fn run(op: XmlOp, _call: &Call<'_>) -> Result<Value, ActionError> {
    Err(ActionError::new(format!("{op:?} is not implemented yet")))
}
