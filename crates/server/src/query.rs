//! Query strings, checked against the OpenAPI document before any handler runs.
//!
//! Every operation takes exactly the query parameters its entry in `/api/v2/openapi.json`
//! declares, with the declared types, ranges and values: an unknown parameter, a repeated one
//! that is not a list, or a value out of range is `400 invalid_query_string` on every endpoint
//! alike, as Auth0 answers (`Query validation error: …`). The document is the one rule, so it
//! can't say one thing while a handler does another. Handlers then read the checked values from
//! [`Query`] without checking them again.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::routes::openapi;

/// The checked query of a request: its `(name, value)` pairs, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (a list parameter may repeat).
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `name` as an integer; the document's range was checked, so `default` only stands in for
    /// a parameter that was not given.
    pub(crate) fn int(&self, name: &str, default: u64) -> u64 {
        self.opt_int(name).unwrap_or(default)
    }

    /// `name` as an integer, if given (its range was checked).
    pub(crate) fn opt_int(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// `name` as a boolean (`true`), `false` when not given.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // `conform` puts it there for every operation of the document; a route outside the
        // document that asks for it is a bug, not a bad request.
        parts.extensions.get::<Query>().cloned().ok_or_else(|| {
            ApiError::internal(&"a handler outside the OpenAPI document read its query")
        })
    }
}

/// The middleware: checks the query of a request to an operation of the document and hands the
/// result to the handler; requests to routes outside the document pass unchanged.
pub(crate) async fn conform(
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    // The Management API only: `/oauth/token` and the probes are not Auth0 list endpoints.
    let api = matched.filter(|m| m.as_str().starts_with("/api/v2/"));
    let Some(rules) = api.and_then(|m| rules(req.method(), m.as_str())) else {
        return next.run(req).await;
    };
    match check(req.uri().query(), rules) {
        Ok(query) => {
            req.extensions_mut().insert(query);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// What one query parameter may be.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    name: String,
    kind: Kind,
    /// Whether it may be given more than once (an `array` parameter).
    list: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Integer { min: Option<i64>, max: Option<i64> },
    Boolean,
    Text { max_len: Option<usize>, values: Option<Vec<String>> },
}

type Table = HashMap<(Method, String), Vec<Rule>>;

fn rules(method: &Method, path: &str) -> Option<&'static [Rule]> {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE
        .get_or_init(|| table(openapi::shared()))
        .get(&(method.clone(), path.to_owned()))
        .map(Vec::as_slice)
}

/// The query rules of every operation of `doc`.
fn table(doc: &Value) -> Table {
    let mut table = Table::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return table };
    for (path, item) in paths {
        let Some(item) = item.as_object() else { continue };
        for (method, op) in item {
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            let params = op.get("parameters").and_then(Value::as_array);
            let rules = params
                .into_iter()
                .flatten()
                .filter(|p| p.get("in").and_then(Value::as_str) == Some("query"))
                .filter_map(|p| rule(doc, p))
                .collect();
            table.insert((method, path.clone()), rules);
        }
    }
    table
}

fn rule(doc: &Value, param: &Value) -> Option<Rule> {
    let name = param.get("name")?.as_str()?.to_owned();
    let schema = resolve(doc, param.get("schema")?);
    let (schema, list) = match schema.get("type").and_then(Value::as_str) {
        Some("array") => (resolve(doc, schema.get("items")?), true),
        _ => (schema, false),
    };
    let int = |k: &str| schema.get(k).and_then(Value::as_i64);
    let kind = match schema.get("type").and_then(Value::as_str) {
        Some("integer") => Kind::Integer { min: int("minimum"), max: int("maximum") },
        Some("boolean") => Kind::Boolean,
        _ => Kind::Text {
            max_len: schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok()),
            values: schema
                .get("enum")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        },
    };
    Some(Rule { name, kind, list })
}

/// A schema, or the one its `$ref` names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or(schema),
        None => schema,
    }
}

fn check(query: Option<&str>, rules: &[Rule]) -> Result<Query, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|_| invalid("the query string is not valid"))?;
    for (i, (key, value)) in pairs.iter().enumerate() {
        let shown = flowvault_core::printable(key);
        let Some(rule) = rules.iter().find(|r| r.name == *key) else {
            let expected: Vec<_> = rules.iter().map(|r| r.name.as_str()).collect();
            return Err(invalid(&if expected.is_empty() {
                format!("unknown parameter {shown} (this endpoint takes none)")
            } else {
                format!("unknown parameter {shown} (expected {})", expected.join(", "))
            }));
        };
        if !rule.list && pairs[..i].iter().any(|(k, _)| k == key) {
            return Err(invalid(&format!("parameter {shown} is given twice")));
        }
        rule.kind
            .check(value)
            .map_err(|want| invalid(&format!("parameter {shown} must be {want}")))?;
    }
    Ok(Query(pairs))
}

impl Kind {
    /// `Err` says what the value should have been.
    fn check(&self, value: &str) -> Result<(), String> {
        match self {
            Kind::Integer { min, max } => {
                let within = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m));
                match (within, min, max) {
                    (Some(_), _, _) => Ok(()),
                    (None, Some(a), Some(b)) => Err(format!("an integer from {a} to {b}")),
                    (None, Some(a), None) => Err(format!("an integer of at least {a}")),
                    (None, None, Some(b)) => Err(format!("an integer of at most {b}")),
                    (None, None, None) => Err("an integer".to_owned()),
                }
            }
            Kind::Boolean if value == "true" || value == "false" => Ok(()),
            Kind::Boolean => Err("true or false".to_owned()),
            Kind::Text { values: Some(values), .. } => {
                if values.iter().any(|v| v == value) {
                    Ok(())
                } else {
                    Err(format!("one of {}", values.join(", ")))
                }
            }
            Kind::Text { max_len: Some(n), values: None } if value.chars().count() > *n => {
                Err(format!("at most {n} characters"))
            }
            Kind::Text { .. } => Ok(()),
        }
    }
}

fn invalid(what: &str) -> ApiError {
    ApiError::invalid_query(format!("Query validation error: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_rules() -> Vec<Rule> {
        vec![
            Rule {
                name: "page".into(),
                kind: Kind::Integer { min: Some(0), max: Some(1000) },
                list: false,
            },
            Rule { name: "include_totals".into(), kind: Kind::Boolean, list: false },
            Rule {
                name: "hydrate".into(),
                kind: Kind::Text { max_len: Some(50), values: Some(vec!["form_count".into()]) },
                list: true,
            },
        ]
    }

    fn message(q: &str) -> String {
        match check(Some(q), &list_rules()) {
            Ok(q) => panic!("accepted: {q:?}"),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn declared_parameters_pass_and_list_parameters_may_repeat() {
        let q = check(
            Some("page=3&include_totals=true&hydrate=form_count&hydrate=form_count"),
            &list_rules(),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.int("page", 0), 3);
        assert!(q.flag("include_totals"));
        assert_eq!(q.all("hydrate").count(), 2);
        assert_eq!(check(None, &list_rules()).map(|q| q.int("page", 7)).ok(), Some(7));
    }

    #[test]
    fn unknown_repeated_and_out_of_range_parameters_are_refused_by_name() {
        assert!(
            message("colour=red")
                .contains("unknown parameter colour (expected page, include_totals, hydrate)")
        );
        assert!(message("page=1&page=2").contains("parameter page is given twice"));
        assert!(message("page=1001").contains("parameter page must be an integer from 0 to 1000"));
        assert!(message("page=-1").contains("from 0 to 1000"));
        assert!(message("include_totals=yes").contains("true or false"));
        assert!(message("hydrate=forms").contains("one of form_count"));
        let none = check(Some("x=1"), &[]).map(|_| ()).map_err(|e| format!("{e:?}"));
        assert!(none.is_err_and(|e| e.contains("this endpoint takes none")));
    }

    #[test]
    fn every_operation_of_the_document_has_its_rules() {
        let doc = openapi::document();
        let table = table(&doc);
        let list = &table[&(Method::GET, "/api/v2/flows/vault/connections".to_owned())];
        let names: Vec<_> = list.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["page", "per_page", "include_totals", "app_id"]);
        // The catalog's ids, through the document's `$ref`.
        let app_ids = list.iter().find(|r| r.name == "app_id").map(|r| r.kind.clone());
        assert!(
            matches!(&app_ids, Some(Kind::Text { values: Some(v), .. })
                if v.len() == flowvault_core::AppId::ALL.len() && v.contains(&"TWILIO".to_owned())),
            "{app_ids:?}"
        );
        let hydrate = table[&(Method::GET, "/api/v2/flows/{id}".to_owned())]
            .iter()
            .find(|r| r.name == "hydrate")
            .cloned();
        assert!(hydrate.is_some_and(|r| r.list), "GET /flows/{{id}} takes hydrate as a list");
        assert!(
            table[&(Method::DELETE, "/api/v2/flows/vault/connections/{id}".to_owned())].is_empty()
        );
    }
}
