//! Flows: named lists of actions, as Auth0's Management API defines them, validated against the
//! action catalog.

pub(crate) mod actions;
mod catalog;
mod schema;
mod validate;

use serde::Serialize;
use serde_json::{Map, Value};

pub use actions::*;
pub use catalog::ActionSpec;
pub use schema::{Format, ObjectSchema, Property, Schema, is_email};
pub use validate::{
    ConnectionRef, HOP_BY_HOP, MAX_ACTION_ID, MAX_ALIAS, ROUTING_HEADERS, ROUTING_PREFIXES,
    connection_refs, header_refusal, header_value_refusal, parse_actions, validate_flow_create,
    validate_flow_patch,
};

use crate::ids::FlowId;

use crate::labels::ConnectionName as FlowNameLabel;
use crate::time::Timestamp;

/// A flow's name: 1–150 characters, as a connection's.
pub type FlowName = FlowNameLabel;

/// One action of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowAction {
    /// Unique in the flow; `actions.<id>` in templates refers to its output.
    pub id: String,
    /// A display name.
    pub alias: Option<String>,
    /// What it does.
    pub spec: &'static ActionSpec,
    /// Whether the flow goes on when this action fails.
    pub allow_failure: bool,
    /// Whether its output is kept out of the execution record.
    pub mask_output: bool,
    /// Its params as written (templates not rendered). For `BOOLEAN_CONDITION`, without
    /// `then` and `else`, which are below.
    pub params: Map<String, Value>,
    /// `BOOLEAN_CONDITION`: the actions run when `if` is true…
    pub then: Vec<FlowAction>,
    /// …and when it is false.
    pub otherwise: Vec<FlowAction>,
}

impl FlowAction {
    /// The action as the API shows it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut params = self.params.clone();
        if self.spec.id == ActionId::Flow(FlowOp::BooleanCondition) {
            params.insert(
                "then".into(),
                Value::Array(self.then.iter().map(FlowAction::to_json).collect()),
            );
            params.insert(
                "else".into(),
                Value::Array(self.otherwise.iter().map(FlowAction::to_json).collect()),
            );
        }
        let mut obj = Map::new();
        obj.insert("id".into(), Value::String(self.id.clone()));
        if let Some(a) = &self.alias {
            obj.insert("alias".into(), Value::String(a.clone()));
        }
        obj.insert("type".into(), Value::String(self.spec.kind.to_owned()));
        obj.insert("action".into(), Value::String(self.spec.action.to_owned()));
        obj.insert("allow_failure".into(), Value::Bool(self.allow_failure));
        obj.insert("mask_output".into(), Value::Bool(self.mask_output));
        obj.insert("params".into(), Value::Object(params));
        Value::Object(obj)
    }
}

impl Serialize for FlowAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// A validated flow to create.
#[derive(Debug, Clone)]
pub struct NewFlow {
    /// Its name.
    pub name: FlowName,
    /// Its actions.
    pub actions: Vec<FlowAction>,
}

/// A validated change to a flow.
#[derive(Debug, Clone, Default)]
pub struct FlowPatch {
    /// A new name.
    pub name: Option<FlowName>,
    /// New actions, replacing the old ones.
    pub actions: Option<Vec<FlowAction>>,
}

impl FlowPatch {
    /// Whether the patch changes nothing (`PATCH {}`: the flow is answered as it is).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.actions.is_none()
    }
}

/// A flow as the Management API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// `af_…`.
    pub id: FlowId,
    /// Its name.
    pub name: FlowName,
    /// Its actions.
    pub actions: Vec<FlowAction>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Last run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed_at: Option<Timestamp>,
    /// Bumped by every change.
    #[serde(skip)]
    pub version: u64,
}

/// A flow without its actions, as lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSummary {
    /// `af_…`.
    pub id: FlowId,
    /// Its name.
    pub name: FlowName,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Last run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed_at: Option<Timestamp>,
}

impl Flow {
    /// Every field a response may hold (a list's [`FlowSummary`] has a subset): what a client
    /// that read a flow may send back. Create and update ignore the ones they don't take. A test
    /// serialises a flow with every field set and compares, so a new response field can't be
    /// left out.
    pub const RESPONSE_FIELDS: &'static [&'static str] =
        &["id", "name", "actions", "created_at", "updated_at", "executed_at"];

    /// The flow without its actions.
    #[must_use]
    pub fn summary(&self) -> FlowSummary {
        FlowSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            executed_at: self.executed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &impl Serialize) -> Vec<String> {
        let json = serde_json::to_value(v).unwrap_or_default();
        let mut keys: Vec<String> =
            json.as_object().map_or_else(Vec::new, |o| o.keys().cloned().collect());
        keys.sort_unstable();
        keys
    }

    #[test]
    fn response_fields_are_every_serialised_field() {
        let flow = Flow {
            id: FlowId::generate(),
            name: FlowName::parse("f").unwrap_or_else(|p| panic!("{p}")),
            actions: Vec::new(),
            created_at: Timestamp::MIN,
            updated_at: Timestamp::MIN,
            executed_at: Some(Timestamp::MIN),
            version: 1,
        };
        let mut expected: Vec<String> =
            Flow::RESPONSE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        expected.sort_unstable();
        assert_eq!(keys(&flow), expected);
        assert!(keys(&flow.summary()).iter().all(|k| expected.contains(k)));
    }
}
