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
    /// Each param of the action's schema as typed: a string's text, any other value's JSON.
    pub(crate) params: Vec<(String, String)>,
    /// The params the schema does not list (actions that take any, such as Zapier's payload),
    /// as the JSON text of one object.
    pub(crate) extra: String,
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
            extra: String::new(),
        }
    }

    /// Whether the form shows the "Other params" field: the action takes params its schema
    /// does not list, or has some.
    pub(crate) fn takes_extra(&self) -> bool {
        self.spec.params_object().is_none_or(|o| o.additional) || !self.extra.trim().is_empty()
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

    /// The action as the API takes it, or what is wrong with the "Other params" text (the
    /// rest is for validation to say).
    fn to_json(&self) -> Result<Value, String> {
        let mut params = match self.extra.trim() {
            "" => Map::new(),
            text => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(o)) => o,
                Ok(_) => {
                    return Err("must be a JSON object, such as {\"key\": \"value\"}".to_owned());
                }
                Err(e) => return Err(format!("is not JSON: {e}")),
            },
        };
        for (name, text) in &self.params {
            // Only a field left empty is left out: a space is a value.
            if text.is_empty() {
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
        Ok(action)
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
                let all =
                    json.get("params").and_then(Value::as_object).cloned().unwrap_or_default();
                let (listed, other): (Map<String, Value>, Map<String, Value>) =
                    all.into_iter().partition(|(k, _)| a.spec.param(k).is_some());
                let params = listed
                    .iter()
                    .map(|(k, v)| (k.clone(), to_text(a.spec.param(k).unwrap_or(&Schema::Any), v)))
                    .collect();
                let extra = if other.is_empty() {
                    String::new()
                } else {
                    let other = Value::Object(other);
                    serde_json::to_string_pretty(&other).unwrap_or_else(|_| other.to_string())
                };
                DraftAction {
                    spec: a.spec,
                    id: a.id.clone(),
                    alias: a.alias.clone().unwrap_or_default(),
                    allow_failure: a.allow_failure,
                    mask_output: a.mask_output,
                    params,
                    extra,
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
                extra: field("extra").unwrap_or("").to_owned(),
            });
        }
        Self { name: posted(form, "name").unwrap_or("").to_owned(), actions }
    }

    /// The flow as the API takes it (`PATCH /api/v2/flows/{id}`), or the problems of fields
    /// that are not even JSON, by path (`actions[0].extra`).
    pub(crate) fn to_json(&self) -> Result<Value, Vec<(String, String)>> {
        let mut actions = Vec::with_capacity(self.actions.len());
        let mut problems = Vec::new();
        for (i, a) in self.actions.iter().enumerate() {
            match a.to_json() {
                Ok(v) => actions.push(v),
                Err(e) => problems.push((format!("actions[{i}].extra"), e)),
            }
        }
        if problems.is_empty() {
            Ok(json!({ "name": self.name, "actions": actions }))
        } else {
            Err(problems)
        }
    }
}

/// The most actions an editor form is read with: far beyond any flow people write by hand.
const MAX_ACTIONS: usize = 500;

/// A param's value from the text typed for it. Strings stay text; a number, a boolean, a list
/// or an object is read as JSON when it is one, and otherwise kept as text — a template such as
/// `{{ fields.count }}`, which validation checks as one.
fn from_text(schema: &Schema, text: &str) -> Value {
    if reads_as_json(schema) {
        serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.to_owned()))
    } else {
        Value::String(text.to_owned())
    }
}

/// Whether a param's text is read as JSON (where a template string may stand for any value).
fn reads_as_json(schema: &Schema) -> bool {
    !matches!(schema, Schema::String { .. } | Schema::Enum(_) | Schema::Connection)
}

/// The text a param's value is shown as: what [`from_text`] reads back as the same value. A
/// string where any JSON may go is shown as JSON (quoted) when its text would read as another
/// value (`"42"`, `"false"`), so that saving does not turn it into a number or a boolean.
fn to_text(schema: &Schema, v: &Value) -> String {
    match v {
        Value::String(s) if reads_as_json(schema) && serde_json::from_str::<Value>(s).is_ok() => {
            v.to_string()
        }
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
        let body = draft.to_json().unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(body["name"], "Notify");
        let a = &body["actions"][0];
        assert_eq!(a["type"], "TWILIO");
        assert_eq!(a["allow_failure"], true);
        assert_eq!(a["params"], json!({"to": "{{ fields.phone }}", "message": "Hi"}));
        assert!(a.get("alias").is_none());
    }

    #[test]
    fn stored_params_survive_the_round_trip_through_the_form() {
        let flow = flowvault_core::validate_flow_create(&json!({"name": "F", "actions": [
            {"id": "zap", "type": "ZAPIER", "action": "TRIGGER_WEBHOOK", "params": {
                "connection_id": "ac_0123456789012345678901", "method": "POST",
                "order": 42, "note": "false"}},
            {"id": "c", "type": "FLOW", "action": "BOOLEAN_CONDITION", "params": {
                "if": "42", "then": [], "else": []}}
        ]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let flow = Flow {
            id: flowvault_core::FlowId::generate(),
            name: flow.name,
            actions: flow.actions,
            created_at: flowvault_core::Timestamp::MIN,
            updated_at: flowvault_core::Timestamp::MIN,
            executed_at: None,
            version: 1,
        };
        let draft = Draft::of(&flow);
        assert!(draft.actions[0].takes_extra());
        // Through the form's fields and back.
        let mut form: Posted = vec![("name".into(), "F".into()), ("count".into(), "2".into())];
        for (i, a) in draft.actions.iter().enumerate() {
            form.push((format!("a{i}.type"), a.spec.kind.into()));
            form.push((format!("a{i}.action"), a.spec.action.into()));
            form.push((format!("a{i}.id"), a.id.clone()));
            form.push((format!("a{i}.extra"), a.extra.clone()));
            for (k, v) in &a.params {
                form.push((format!("a{i}.p.{k}"), v.clone()));
            }
        }
        let body = Draft::from_form(&form).to_json().unwrap_or_else(|e| panic!("{e:?}"));
        let zap = &body["actions"][0]["params"];
        assert_eq!(zap["order"], json!(42), "{body}");
        assert_eq!(zap["note"], json!("false"), "{body}");
        assert_eq!(body["actions"][1]["params"]["if"], json!("42"), "{body}");
        // Other params that are not an object are refused at their field.
        form.retain(|(k, _)| k != "a0.extra");
        form.push(("a0.extra".into(), "[1]".into()));
        let refused = Draft::from_form(&form).to_json();
        assert_eq!(refused.map_err(|e| e[0].0.clone()), Err("actions[0].extra".to_owned()));
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
