//! The rules of an action's params, as data generated from Auth0's document
//! (`actions.rs`), and the one checker that applies them when a flow is saved.
//!
//! The checker is the JSON Schema subset the document uses: `type` (with `null`), `enum`,
//! `required`, `properties`, `additionalProperties`, `items`, `minLength`/`maxLength` (in
//! characters), `minItems`/`maxItems`, `maxProperties`, `minimum`/`maximum`, `oneOf` (exactly
//! one branch), and the formats `email` and `forms-expression`. A string holding a template
//! (`{{ … }}`) is what the template renders to at run time, so it is checked as a string only
//! where the rule is for a string; where the rule wants a number, an object or a list, a
//! template is accepted (it is checked when the action runs).

use serde_json::Value;

use crate::ids::ConnectionId;
use crate::validate::{FieldError, Problem};

/// What a value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Schema {
    /// Anything.
    Any,
    /// `null`.
    Null,
    /// A string of `min_len`..=`max_len` characters, of a format.
    String {
        /// Fewest characters.
        min_len: Option<usize>,
        /// Most characters.
        max_len: Option<usize>,
        /// A format the value must have.
        format: Option<Format>,
    },
    /// A number between `min` and `max` (inclusive); without a fraction when `integer`.
    Number {
        /// Whole numbers only.
        integer: bool,
        /// The least value.
        min: Option<f64>,
        /// The greatest value.
        max: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// A list of `items`.
    Array {
        /// What each item must be.
        items: &'static Schema,
        /// Fewest items.
        min_items: Option<usize>,
        /// Most items.
        max_items: Option<usize>,
    },
    /// A JSON object.
    Object(&'static ObjectSchema),
    /// Exactly one of these.
    OneOf(&'static [Schema]),
    /// A vault connection id (`ac_…`), written literally: a flow's input can't pick whose
    /// credentials an action uses.
    Connection,
    /// A list of flow actions (`BOOLEAN_CONDITION`'s `then` and `else`), checked as actions.
    Actions,
}

/// A format a string must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// An e-mail address.
    Email,
    /// A template: `{{ … }}`.
    FormsExpression,
}

/// The rules of an object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectSchema {
    /// The properties it may have.
    pub properties: &'static [Property],
    /// The properties it must have.
    pub required: &'static [&'static str],
    /// Whether properties beyond those listed are accepted.
    pub additional: bool,
    /// The most properties it may have.
    pub max_properties: Option<usize>,
    /// Shapes of which it must also match exactly one (Mailjet: `content` or `template_id`).
    pub one_of: &'static [Schema],
}

/// One property of an object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Property {
    /// Its name.
    pub name: &'static str,
    /// What it must be.
    pub schema: Schema,
}

impl ObjectSchema {
    /// The property called `name`.
    #[must_use]
    pub fn property(&self, name: &str) -> Option<&'static Schema> {
        self.properties.iter().find(|p| p.name == name).map(|p| &p.schema)
    }
}

/// Whether a string is (or holds) a template.
pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{")
}

impl Schema {
    /// Checks `value` found at `path`, adding every problem to `errors`.
    pub fn check(&self, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        let mut push = |problem| errors.push(FieldError { field: path.to_owned(), problem });
        let templated = matches!(value, Value::String(s) if is_template(s));
        match (self, value) {
            (Schema::Any | Schema::Actions, _) | (Schema::Null, Value::Null) => {}
            (Schema::Connection, Value::String(s)) => {
                if templated {
                    push(Problem::Rule(
                        "must be a literal connection id: templates can't choose which \
                         credentials a flow uses"
                            .to_owned(),
                    ));
                } else if s.parse::<ConnectionId>().is_err() {
                    push(Problem::Malformed { expected: "a vault connection id (`ac_…`)" });
                }
            }
            (Schema::String { min_len, max_len, format }, Value::String(s)) => {
                let chars = s.chars().count();
                if let Some(max) = max_len.filter(|m| chars > *m) {
                    push(Problem::TooLong { max });
                } else if let Some(min) = min_len.filter(|m| chars < *m) {
                    push(if chars == 0 { Problem::Empty } else { Problem::TooShort { min } });
                } else if !templated {
                    match format {
                        Some(Format::Email) if !is_email(s) => {
                            push(Problem::Malformed { expected: "an e-mail address" });
                        }
                        Some(Format::FormsExpression) => {
                            push(Problem::Malformed { expected: "a template (`{{ … }}`)" });
                        }
                        _ => {}
                    }
                }
            }
            // A template renders to whatever the rule wants; it is checked when the action runs.
            (_, Value::String(_)) if templated && !matches!(self, Schema::Null) => {}
            (Schema::Number { integer, min, max }, Value::Number(n)) => {
                let Some(f) = n.as_f64() else {
                    return push(Problem::WrongType { expected: "a number" });
                };
                if *integer && (f.fract() != 0.0 || !f.is_finite()) {
                    push(Problem::WrongType { expected: "a whole number" });
                } else if min.is_some_and(|m| f < m) || max.is_some_and(|m| f > m) {
                    push(Problem::OutOfRange { min: *min, max: *max });
                }
            }
            (Schema::Boolean, Value::Bool(_)) => {}
            (Schema::Enum(allowed), Value::String(s)) => {
                if !allowed.contains(&s.as_str()) {
                    push(Problem::NotOneOf { allowed });
                }
            }
            (Schema::Array { items, min_items, max_items }, Value::Array(list)) => {
                if min_items.is_some_and(|m| list.len() < m)
                    || max_items.is_some_and(|m| list.len() > m)
                {
                    push(Problem::ItemCount { min: *min_items, max: *max_items });
                }
                for (i, item) in list.iter().enumerate() {
                    items.check(item, &format!("{path}[{i}]"), errors);
                }
            }
            (Schema::Object(object), Value::Object(map)) => object.check(map, path, errors),
            (Schema::OneOf(branches), _) => {
                let fits = branches.iter().filter(|b| b.fits(value)).count();
                if fits == 0 {
                    // Where one branch alone is of the value's type, its own problems say more
                    // than the list of shapes (`number must be at least 0`).
                    let mut typed = branches
                        .iter()
                        .map(|b| {
                            let mut found = Vec::new();
                            b.check(value, path, &mut found);
                            found
                        })
                        .filter(|found| {
                            !found.iter().any(|e| {
                                e.field == path && matches!(e.problem, Problem::WrongType { .. })
                            })
                        });
                    if let (Some(only), None) = (typed.next(), typed.next()) {
                        errors.extend(only);
                        return;
                    }
                    push(Problem::Rule(format!("must be {}", describe_all(branches))));
                } else if fits > 1 {
                    push(Problem::Rule(format!(
                        "matches more than one of: {}",
                        describe_all(branches)
                    )));
                }
            }
            _ => push(Problem::WrongType { expected: self.describe() }),
        }
    }

    /// Whether `value` meets this schema, with no problem at all.
    pub(crate) fn fits(&self, value: &Value) -> bool {
        // A template meets a string rule as a string; the others only where no string rule is
        // among the alternatives (see `check`) — here, it fits any non-string rule too.
        let mut errors = Vec::new();
        self.check(value, "", &mut errors);
        errors.is_empty()
    }

    /// What the schema asks for, for messages: `a string`, `an object with content`, ….
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Schema::Any => "a value",
            Schema::Null => "null",
            Schema::String { .. } | Schema::Enum(_) | Schema::Connection => "a string",
            Schema::Number { integer: true, .. } => "a whole number",
            Schema::Number { .. } => "a number",
            Schema::Boolean => "a boolean",
            Schema::Array { .. } | Schema::Actions => "an array",
            Schema::Object(_) => "a JSON object",
            Schema::OneOf(_) => "one of several shapes",
        }
    }
}

impl ObjectSchema {
    /// Checks an object's properties at `path`.
    pub(crate) fn check(
        &self,
        map: &serde_json::Map<String, Value>,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let at =
            |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
        for name in self.required {
            if map.get(*name).is_none_or(Value::is_null)
                && self.property(name) != Some(&Schema::Null)
            {
                errors.push(FieldError { field: at(name), problem: Problem::Required });
            }
        }
        if self.max_properties.is_some_and(|m| map.len() > m) {
            errors.push(FieldError {
                field: path.to_owned(),
                problem: Problem::Rule(format!(
                    "has more than {} properties",
                    self.max_properties.unwrap_or_default()
                )),
            });
        }
        for (name, value) in map {
            match self.property(name) {
                // An optional property given as `null` is as if absent.
                Some(_) if value.is_null() && !self.required.contains(&name.as_str()) => {}
                Some(schema) => schema.check(value, &at(name), errors),
                None if self.additional => {}
                None => errors.push(FieldError {
                    field: at(&printable(name)),
                    problem: Problem::Unknown {
                        expected: self
                            .properties
                            .iter()
                            .map(|p| p.name)
                            .collect::<Vec<_>>()
                            .join(", "),
                    },
                }),
            }
        }
        if !self.one_of.is_empty() {
            let value = Value::Object(map.clone());
            let fits = self.one_of.iter().filter(|b| b.fits(&value)).count();
            if fits != 1 {
                let shapes = describe_all(self.one_of);
                errors.push(FieldError {
                    field: path.to_owned(),
                    problem: Problem::Rule(if fits == 0 {
                        format!("must have {shapes}")
                    } else {
                        format!("must have only one of: {shapes}")
                    }),
                });
            }
        }
    }
}

impl Schema {
    /// The schema as JSON Schema, for the OpenAPI document: what is accepted when a flow is
    /// saved. Where the rule is not for a string, a template string (`{{ … }}`) is accepted too;
    /// `action_ref` is what a list of actions refers to.
    #[must_use]
    pub fn to_json_schema(&self, action_ref: &Value) -> Value {
        let template = serde_json::json!({"type": "string", "pattern": "\\{\\{",
            "description": "A template, rendered when the action runs."});
        let or_template = |schema: Value| serde_json::json!({"anyOf": [schema, template]});
        let mut out = serde_json::Map::new();
        match self {
            Schema::Any => return serde_json::json!({}),
            Schema::Null => return serde_json::json!({"type": "null"}),
            Schema::Connection => {
                return serde_json::json!({"type": "string", "maxLength": 30,
                    "description": "The id of a vault connection of this app, written literally (no template)."});
            }
            Schema::Actions => return serde_json::json!({"type": "array", "items": action_ref}),
            Schema::String { min_len, max_len, format } => {
                out.insert("type".into(), "string".into());
                if let Some(n) = min_len {
                    out.insert("minLength".into(), (*n).into());
                }
                if let Some(n) = max_len {
                    out.insert("maxLength".into(), (*n).into());
                }
                match format {
                    Some(Format::Email) => {
                        out.insert(
                            "description".into(),
                            "An e-mail address, or a template.".into(),
                        );
                    }
                    Some(Format::FormsExpression) => {
                        out.insert("pattern".into(), "\\{\\{".into());
                        out.insert("description".into(), "A template (`{{ … }}`).".into());
                    }
                    None => {}
                }
                return Value::Object(out);
            }
            Schema::Number { integer, min, max } => {
                out.insert("type".into(), if *integer { "integer" } else { "number" }.into());
                if let Some(n) = min {
                    out.insert("minimum".into(), serde_json::json!(n));
                }
                if let Some(n) = max {
                    out.insert("maximum".into(), serde_json::json!(n));
                }
            }
            Schema::Boolean => {
                out.insert("type".into(), "boolean".into());
            }
            Schema::Enum(values) => {
                out.insert("type".into(), "string".into());
                out.insert("enum".into(), serde_json::json!(values));
            }
            Schema::Array { items, min_items, max_items } => {
                out.insert("type".into(), "array".into());
                out.insert("items".into(), items.to_json_schema(action_ref));
                if let Some(n) = min_items {
                    out.insert("minItems".into(), (*n).into());
                }
                if let Some(n) = max_items {
                    out.insert("maxItems".into(), (*n).into());
                }
            }
            Schema::Object(o) => return or_template(o.to_json_schema(action_ref)),
            Schema::OneOf(branches) => {
                let list: Vec<Value> =
                    branches.iter().map(|b| b.to_json_schema(action_ref)).collect();
                return serde_json::json!({"oneOf": list});
            }
        }
        or_template(Value::Object(out))
    }
}

impl ObjectSchema {
    /// The object's rules as JSON Schema (see [`Schema::to_json_schema`]).
    #[must_use]
    pub fn to_json_schema(&self, action_ref: &Value) -> Value {
        let properties: serde_json::Map<String, Value> = self
            .properties
            .iter()
            .map(|p| (p.name.to_owned(), p.schema.to_json_schema(action_ref)))
            .collect();
        let mut out = serde_json::json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": self.additional,
        });
        if !self.required.is_empty() {
            out["required"] = serde_json::json!(self.required);
        }
        if let Some(n) = self.max_properties {
            out["maxProperties"] = n.into();
        }
        if !self.one_of.is_empty() {
            let list: Vec<Value> =
                self.one_of.iter().map(|b| b.to_json_schema(action_ref)).collect();
            out["oneOf"] = Value::Array(list);
        }
        out
    }
}

/// `a string or a whole number`, `content, or template_id`, … for messages.
fn describe_all(branches: &[Schema]) -> String {
    let parts: Vec<String> = branches
        .iter()
        .map(|b| match b {
            Schema::Object(o) if !o.required.is_empty() => o.required.join(" and "),
            other => other.describe().to_owned(),
        })
        .collect();
    parts.join(", or ")
}

/// An e-mail address as the document's `format: email` means it, loosely: one `@`, something
/// before it, a domain of two or more non-empty dot-separated labels after it, no spaces or
/// control characters. The one check of this shape: setup fields, flow params and `EMAIL
/// VERIFY_EMAIL` (which adds its own, stricter rules on top) all call it.
#[must_use]
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(schema: &Schema, value: Value) -> Vec<String> {
        let mut errors = Vec::new();
        schema.check(&value, "p", &mut errors);
        errors.iter().map(|e| format!("{}: {}", e.field, e.problem)).collect()
    }

    #[test]
    fn strings_numbers_and_templates() {
        let s = Schema::String { min_len: Some(1), max_len: Some(3), format: None };
        assert!(problems(&s, json!("abc")).is_empty());
        assert_eq!(problems(&s, json!("abcd")).len(), 1);
        assert_eq!(problems(&s, json!("")).len(), 1);
        assert_eq!(problems(&s, json!(5)).len(), 1);
        let n = Schema::Number { integer: true, min: Some(1.0), max: Some(10.0) };
        assert!(problems(&n, json!(10)).is_empty());
        assert_eq!(problems(&n, json!(11)).len(), 1);
        assert_eq!(problems(&n, json!(1.5)).len(), 1);
        assert_eq!(problems(&n, json!("5")).len(), 1, "a number is not a string");
        assert!(problems(&n, json!("{{fields.n}}")).is_empty(), "a template renders later");
        let e = Schema::String { min_len: None, max_len: None, format: Some(Format::Email) };
        assert!(problems(&e, json!("ada@example.com")).is_empty());
        assert_eq!(problems(&e, json!("ada")).len(), 1);
        assert!(problems(&e, json!("{{fields.email}}")).is_empty());
        for not_an_address in
            ["ada@example..com", "ada@.example.com", "ada@example.com.", "a\u{7}@b.co"]
        {
            assert_eq!(problems(&e, json!(not_an_address)).len(), 1, "{not_an_address:?}");
        }
    }

    #[test]
    fn one_of_means_exactly_one() {
        static SHAPES: [Schema; 2] = [
            Schema::Object(&ObjectSchema {
                properties: &[],
                required: &["content"],
                additional: true,
                max_properties: None,
                one_of: &[],
            }),
            Schema::Object(&ObjectSchema {
                properties: &[],
                required: &["template_id"],
                additional: true,
                max_properties: None,
                one_of: &[],
            }),
        ];
        static O: ObjectSchema = ObjectSchema {
            properties: &[],
            required: &[],
            additional: true,
            max_properties: None,
            one_of: &SHAPES,
        };
        let o = Schema::Object(&O);
        assert!(problems(&o, json!({"content": "x"})).is_empty());
        assert!(problems(&o, json!({"template_id": 1})).is_empty());
        let both = problems(&o, json!({"content": "x", "template_id": 1}));
        assert!(both.len() == 1 && both[0].contains("only one"), "{both:?}");
        let neither = problems(&o, json!({}));
        assert!(neither[0].contains("content, or template_id"), "{neither:?}");
    }
}
