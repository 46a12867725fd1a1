//! A flow as the editor's form carries it: actions with their params as text, turned into the
//! API's JSON to validate and save, or back into form fields to show. Editing (add, remove,
//! move) works on the draft, so nothing typed is lost before it is saved.

use flowvault_core::{ActionSpec, Flow, Schema};
use serde_json::{Map, Value, json};

use super::wizard::{Posted, posted};

/// One action of the draft.
#[derive(Debug, Clone)]
pub(crate) struct DraftAction {
    pub(crate) spec: &'static ActionSpec,
    pub(crate) id: String,
    pub(crate) alias: String,
    pub(crate) allow_failure: bool,
    pub(crate) mask_output: bool,
    /// Each param as typed: a string's text, any other value's JSON.
    pub(crate) params: Vec<(String, String)>,
}

impl DraftAction {
    /// A new action of `spec` with an id not yet used among `taken`.
    pub(crate) fn new(spec: &'static ActionSpec, taken: &[DraftAction]) -> Self {
        let base = spec.action.to_lowercase();
        let id = (1..)
            .map(|n| format!("{base}_{n}"))
            .find(|id| taken.iter().all(|a| &a.id != id))
            .unwrap_or(base);
        Self {
            spec,
            id,
            alias: String::new(),
            allow_failure: false,
            mask_output: false,
            params: Vec::new(),
        }
    }

    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// The params the form shows a field for, and whether the action takes others.
    pub(crate) fn fields(&self) -> Vec<(&'static str, &'static Schema, bool)> {
        self.spec.params_object().map_or_else(Vec::new, |o| {
            o.properties.iter().map(|p| (p.name, &p.schema, o.required.contains(&p.name))).collect()
        })
    }

    /// The action as the API takes it.
    fn to_json(&self) -> Value {
        let mut params = Map::new();
        for (name, text) in &self.params {
            if text.trim().is_empty() {
                continue;
            }
            let schema = self.spec.param(name).unwrap_or(&Schema::Any);
            params.insert(name.clone(), from_text(schema, text));
        }
        let mut action = json!({
            "id": self.id,
            "type": self.spec.kind,
            "action": self.spec.action,
            "allow_failure": self.allow_failure,
            "mask_output": self.mask_output,
            "params": params,
        });
        if !self.alias.trim().is_empty()
            && let Some(o) = action.as_object_mut()
        {
            o.insert("alias".to_owned(), Value::String(self.alias.clone()));
        }
        action
    }
}

/// A flow being edited.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) name: String,
    pub(crate) actions: Vec<DraftAction>,
}

impl Draft {
    /// The draft of a stored flow.
    pub(crate) fn of(flow: &Flow) -> Self {
        let actions = flow
            .actions
            .iter()
            .map(|a| {
                let json = a.to_json();
                let params = json
                    .get("params")
                    .and_then(Value::as_object)
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), to_text(v))).collect())
                    .unwrap_or_default();
                DraftAction {
                    spec: a.spec,
                    id: a.id.clone(),
                    alias: a.alias.clone().unwrap_or_default(),
                    allow_failure: a.allow_failure,
                    mask_output: a.mask_output,
                    params,
                }
            })
            .collect();
        Self { name: flow.name.as_str().to_owned(), actions }
    }

    /// The draft a posted editor form holds. Actions whose type the catalog does not know are
    /// dropped (the form can only have been forged to hold them).
    pub(crate) fn from_form(form: &Posted) -> Self {
        let count = posted(form, "count")
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_ACTIONS);
        let mut actions = Vec::with_capacity(count);
        for i in 0..count {
            let field = |key: &str| posted(form, &format!("a{i}.{key}"));
            let Some(spec) = field("type")
                .zip(field("action"))
                .and_then(|(kind, action)| ActionSpec::find(kind, action))
            else {
                continue;
            };
            let prefix = format!("a{i}.p.");
            let params = form
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(&prefix).map(|name| (name.to_owned(), v.clone()))
                })
                .collect();
            actions.push(DraftAction {
                spec,
                id: field("id").unwrap_or("").trim().to_owned(),
                alias: field("alias").unwrap_or("").to_owned(),
                allow_failure: field("allow_failure").is_some(),
                mask_output: field("mask_output").is_some(),
                params,
            });
        }
        Self { name: posted(form, "name").unwrap_or("").to_owned(), actions }
    }

    /// The flow as the API takes it (`PATCH /api/v2/flows/{id}`).
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "actions": self.actions.iter().map(DraftAction::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The most actions an editor form is read with: far beyond any flow people write by hand.
const MAX_ACTIONS: usize = 500;

/// A param's value from the text typed for it. Strings stay text; a number, a boolean, a list
/// or an object is read as JSON when it is one, and otherwise kept as text — a template such as
/// `{{ fields.count }}`, which validation checks as one.
fn from_text(schema: &Schema, text: &str) -> Value {
    match schema {
        Schema::String { .. } | Schema::Enum(_) | Schema::Connection => {
            Value::String(text.to_owned())
        }
        _ => serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.to_owned())),
    }
}

/// The text a param's value is shown as.
fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => {
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        }
        other => other.to_string(),
    }
}

/// Whether a param is edited in a text area: lists, objects, anything.
pub(crate) fn multiline(schema: &Schema) -> bool {
    !matches!(
        schema,
        Schema::String { .. }
            | Schema::Number { .. }
            | Schema::Boolean
            | Schema::Enum(_)
            | Schema::Connection
            | Schema::Null
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, action: &str) -> &'static ActionSpec {
        ActionSpec::find(kind, action)
            .unwrap_or_else(|| panic!("{kind} {action} is not in the catalog"))
    }

    #[test]
    fn params_are_read_by_their_schema() {
        assert_eq!(from_text(&Schema::Enum(&["A"]), "A"), json!("A"));
        let number = Schema::Number { integer: true, min: None, max: None };
        assert_eq!(from_text(&number, "42"), json!(42));
        assert_eq!(from_text(&number, "{{ fields.n }}"), json!("{{ fields.n }}"));
        assert_eq!(from_text(&Schema::Boolean, "true"), json!(true));
        assert_eq!(from_text(&Schema::Any, "{\"a\": [1]}"), json!({"a": [1]}));
        // A string param holding JSON stays a string.
        let string = Schema::String { min_len: None, max_len: None, format: None };
        assert_eq!(from_text(&string, "{\"a\":1}"), json!("{\"a\":1}"));
    }

    #[test]
    fn a_posted_form_becomes_the_apis_json() {
        let form: Posted = [
            ("name", "Notify"),
            ("count", "2"),
            ("a0.type", "TWILIO"),
            ("a0.action", "SEND_SMS"),
            ("a0.id", "sms"),
            ("a0.alias", ""),
            ("a0.p.to", "{{ fields.phone }}"),
            ("a0.p.message", "Hi"),
            ("a0.p.from", ""),
            ("a0.allow_failure", "on"),
            ("a1.type", "NOPE"),
            ("a1.action", "NOTHING"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let draft = Draft::from_form(&form);
        assert_eq!(draft.actions.len(), 1, "the unknown action is dropped");
        let body = draft.to_json();
        assert_eq!(body["name"], "Notify");
        let a = &body["actions"][0];
        assert_eq!(a["type"], "TWILIO");
        assert_eq!(a["allow_failure"], true);
        assert_eq!(a["params"], json!({"to": "{{ fields.phone }}", "message": "Hi"}));
        assert!(a.get("alias").is_none());
    }

    #[test]
    fn new_actions_get_unused_ids() {
        let s = spec("TWILIO", "SEND_SMS");
        let first = DraftAction::new(s, &[]);
        assert_eq!(first.id, "send_sms_1");
        let second = DraftAction::new(s, &[first]);
        assert_eq!(second.id, "send_sms_2");
    }
}
