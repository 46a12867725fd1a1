//! A fake of Stripe's customers API: `POST /v1/customers`, `GET /v1/customers/{id}`,
//! `POST /v1/customers/{id}` and `GET /v1/customers?email=`; customers' tax ids
//! (`POST /v1/customers/{id}/tax_ids`, `DELETE /v1/customers/{id}/tax_ids/{tax_id}`); and billing
//! portal sessions (`POST /v1/billing_portal/sessions`). It takes a secret key as a bearer token or
//! as the HTTP Basic user (as Stripe does), form-encoded bodies in bracket notation, and answers
//! errors as `{"error": {"type", "message", "param"?, "code"?}}`; an invalid key is echoed masked
//! like Stripe's message: up to its last `_`, then `****` and its last four characters. Ids in the
//! path are percent-decoded, as Stripe does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::request::{bearer_or_basic_user, content_type, decode_segment, form, param, query};
use super::{Log, Received, Refusal, fake_secret};

/// When the fake says customers were created (2026-11-26T12:00:00Z).
const CREATED: u64 = 1_795_694_400;
const ADDRESS_FIELDS: &[&str] = &["city", "country", "line1", "line2", "postal_code", "state"];
const CUSTOMER_FIELDS: &[&str] =
    &["name", "email", "description", "phone", "tax_exempt", "address", "metadata"];
/// The tax id types the fake knows (Stripe knows many more; these are enough to refuse a typo).
const TAX_ID_TYPES: &[&str] = &[
    "au_abn", "br_cnpj", "br_cpf", "ca_bn", "ch_vat", "eu_vat", "gb_vat", "in_gst", "jp_cn",
    "mx_rfc", "no_vat", "nz_gst", "sg_uen", "us_ein", "za_vat",
];
const PORTAL_FIELDS: &[&str] =
    &["customer", "return_url", "configuration", "flow_data", "locale", "on_behalf_of"];

/// An in-process Stripe. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeStripe {
    secret_key: Arc<str>,
    log: Log,
    state: Arc<Mutex<StripeState>>,
}

#[derive(Debug, Default)]
struct StripeState {
    keys: Vec<String>,
    customers: BTreeMap<String, Value>,
    /// Tax ids by id, each naming its customer.
    tax_ids: BTreeMap<String, Value>,
    portal_sessions: Vec<Value>,
    next_id: u64,
}

impl Default for FakeStripe {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeStripe {
    /// No customers; accepts a secret key made now ([`FakeStripe::secret_key`]).
    #[must_use]
    pub fn new() -> Self {
        // Neutral, but with Stripe's `_` before the random part that error messages mask.
        let secret_key = fake_secret("fake_stripe_secret_", 32);
        let state = StripeState { keys: vec![secret_key.clone()], ..StripeState::default() };
        Self {
            secret_key: secret_key.into(),
            log: Log::default(),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// The secret key the fake accepts from the start (as a bearer token or the Basic user).
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Also accepts `key` (a Connect access token is a secret key of the connected account).
    pub fn accept_key(&self, key: &str) -> &Self {
        self.lock().keys.push(key.to_owned());
        self
    }

    /// Adds a customer with these fields (as Stripe returns them) and returns its id.
    pub fn add_customer(&self, fields: Value) -> String {
        let mut state = self.lock();
        let id = next_id(&mut state);
        let mut customer = blank_customer(&id);
        if let (Some(c), Value::Object(f)) = (customer.as_object_mut(), fields) {
            c.extend(f);
        }
        state.customers.insert(id.clone(), customer);
        id
    }

    /// The customer `id` as the fake holds it.
    #[must_use]
    pub fn customer(&self, id: &str) -> Option<Value> {
        self.lock().customers.get(id).cloned()
    }

    /// Adds a tax id to customer `customer` (which must exist) and returns its id.
    ///
    /// # Panics
    /// If there is no such customer: the test set its fake up wrong.
    pub fn add_tax_id(&self, customer: &str, kind: &str, value: &str) -> String {
        let mut state = self.lock();
        assert!(state.customers.contains_key(customer), "no customer {customer}");
        insert_tax_id(&mut state, customer, kind, value)
    }

    /// The tax ids of customer `customer`, oldest first.
    #[must_use]
    pub fn tax_ids(&self, customer: &str) -> Vec<Value> {
        tax_ids_of(&self.lock(), customer)
    }

    /// The billing portal sessions created so far.
    #[must_use]
    pub fn portal_sessions(&self) -> Vec<Value> {
        self.lock().portal_sessions.clone()
    }

    /// The API, to serve at the provider's base URL.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// What the fake received.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StripeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeStripe>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    fake.log.push(Received::with_body(&method, &uri, &headers, logged_body(&headers, &body)));
    authenticate(&fake, &headers)?;
    let decoded: Vec<String> =
        uri.path().trim_matches('/').split('/').map(decode_segment).collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let form = || -> Result<Map<String, Value>, Refusal> {
        if !body.is_empty()
            && !content_type(&headers)
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        {
            return Err(invalid("Invalid request: Stripe expects a form-encoded body", None));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|_| invalid("Invalid request: the body could not be parsed", None))?;
        Ok(unflatten(pairs))
    };
    let answer = match (method, segments.as_slice()) {
        (Method::POST, ["v1", "customers"]) => create(&fake, form()?)?,
        (Method::GET, ["v1", "customers"]) => list(&fake, &query(&uri)),
        (Method::GET, ["v1", "customers", id]) => {
            fake.customer(id).ok_or_else(|| no_such_customer(id))?
        }
        (Method::POST, ["v1", "customers", id]) => update(&fake, id, form()?)?,
        (Method::POST, ["v1", "customers", id, "tax_ids"]) => add_tax_id(&fake, id, form()?)?,
        (Method::DELETE, ["v1", "customers", id, "tax_ids", tax_id]) => {
            delete_tax_id(&fake, id, tax_id)?
        }
        (Method::POST, ["v1", "billing_portal", "sessions"]) => portal_session(&fake, form()?)?,
        (method, _) => {
            let message = format!("Unrecognized request URL ({method}: {}).", uri.path());
            return Err(error(StatusCode::NOT_FOUND, &message, None, None));
        }
    };
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

fn authenticate(fake: &FakeStripe, headers: &HeaderMap) -> Result<(), Refusal> {
    let key = bearer_or_basic_user(headers).unwrap_or_default();
    let message = if key.is_empty() {
        "You did not provide an API key. You need to provide your API key in the Authorization \
         header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
            .to_owned()
    } else if fake.lock().keys.contains(&key) {
        return Ok(());
    } else {
        format!("Invalid API Key provided: {}", mask(&key))
    };
    Err(error(StatusCode::UNAUTHORIZED, &message, None, None))
}

fn create(fake: &FakeStripe, mut fields: Map<String, Value>) -> Result<Value, Refusal> {
    let mut allowed = CUSTOMER_FIELDS.to_vec();
    allowed.push("tax_id_data");
    check(&fields, &allowed)?;
    let tax_ids = fields.remove("tax_id_data");
    let tax_ids: Vec<(String, String)> = tax_ids
        .as_ref()
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::values)
        .map(|t| {
            let text = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            (text("type"), text("value"))
        })
        .collect();
    for (i, (kind, value)) in tax_ids.iter().enumerate() {
        if !TAX_ID_TYPES.contains(&kind.as_str()) {
            let param = format!("tax_id_data[{i}][type]");
            let message = format!("Invalid {param}: must be one of {}", TAX_ID_TYPES.join(", "));
            return Err(invalid(&message, Some(&param)));
        }
        if !valid_tax_id(kind, value) {
            let param = format!("tax_id_data[{i}][value]");
            let message = format!("Invalid value for {kind}.");
            return Err(error(
                StatusCode::BAD_REQUEST,
                &message,
                Some(&param),
                Some("tax_id_invalid"),
            ));
        }
    }
    let mut state = fake.lock();
    let id = next_id(&mut state);
    let mut customer = blank_customer(&id);
    apply(&mut customer, fields);
    state.customers.insert(id.clone(), customer);
    for (kind, value) in &tax_ids {
        insert_tax_id(&mut state, &id, kind, value);
    }
    Ok(state.customers.get(&id).cloned().unwrap_or_default())
}

fn update(fake: &FakeStripe, id: &str, fields: Map<String, Value>) -> Result<Value, Refusal> {
    check(&fields, CUSTOMER_FIELDS)?;
    let mut state = fake.lock();
    let customer = state.customers.get_mut(id).ok_or_else(|| no_such_customer(id))?;
    apply(customer, fields);
    Ok(customer.clone())
}

/// `POST /v1/customers/{id}/tax_ids`: `type` and `value`, checked as Stripe checks them.
fn add_tax_id(
    fake: &FakeStripe,
    customer: &str,
    fields: Map<String, Value>,
) -> Result<Value, Refusal> {
    check(&fields, &["type", "value"])?;
    let text = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (kind, value) = (text("type"), text("value"));
    for (name, given) in [("type", &kind), ("value", &value)] {
        if given.is_empty() {
            return Err(invalid(&format!("Missing required param: {name}."), Some(name)));
        }
    }
    if !TAX_ID_TYPES.contains(&kind.as_str()) {
        let message = format!("Invalid type: must be one of {}", TAX_ID_TYPES.join(", "));
        return Err(invalid(&message, Some("type")));
    }
    if !valid_tax_id(&kind, &value) {
        let message = format!("Invalid value for {kind}.");
        return Err(error(
            StatusCode::BAD_REQUEST,
            &message,
            Some("value"),
            Some("tax_id_invalid"),
        ));
    }
    let mut state = fake.lock();
    if !state.customers.contains_key(customer) {
        return Err(no_such_customer(customer));
    }
    let id = insert_tax_id(&mut state, customer, &kind, &value);
    Ok(state.tax_ids.get(&id).cloned().unwrap_or_default())
}

/// `DELETE /v1/customers/{id}/tax_ids/{tax_id}`: only the customer's own tax id.
fn delete_tax_id(fake: &FakeStripe, customer: &str, id: &str) -> Result<Value, Refusal> {
    let mut state = fake.lock();
    if !state.customers.contains_key(customer) {
        return Err(no_such_customer(customer));
    }
    let owned = state.tax_ids.get(id).is_some_and(|t| t["customer"] == customer);
    if !owned {
        let message = format!("No such tax_id: '{id}'");
        return Err(error(StatusCode::NOT_FOUND, &message, Some("id"), Some("resource_missing")));
    }
    state.tax_ids.remove(id);
    refresh_tax_ids(&mut state, customer);
    Ok(json!({"id": id, "object": "tax_id", "deleted": true}))
}

/// `POST /v1/billing_portal/sessions`: a session for an existing customer. A customer that does
/// not exist is a 400 here (a param, not the resource of the path), as with Stripe.
fn portal_session(fake: &FakeStripe, fields: Map<String, Value>) -> Result<Value, Refusal> {
    check(&fields, PORTAL_FIELDS)?;
    let customer = fields.get("customer").and_then(Value::as_str).unwrap_or_default();
    if customer.is_empty() {
        return Err(invalid("Missing required param: customer.", Some("customer")));
    }
    let return_url = fields.get("return_url").and_then(Value::as_str);
    if return_url.is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
        return Err(invalid("Not a valid URL", Some("return_url")));
    }
    let mut state = fake.lock();
    if !state.customers.contains_key(customer) {
        let message = format!("No such customer: '{customer}'");
        return Err(error(
            StatusCode::BAD_REQUEST,
            &message,
            Some("customer"),
            Some("resource_missing"),
        ));
    }
    state.next_id += 1;
    let session = json!({
        "id": format!("bps_Fake{:010}", state.next_id),
        "object": "billing_portal.session",
        "configuration": "bpc_Fake0000000001",
        "created": CREATED,
        "customer": customer,
        "flow": null,
        "livemode": false,
        "locale": null,
        "on_behalf_of": null,
        "return_url": return_url,
        "url": format!("https://billing.stripe.com/p/session/{}", fake_secret("test_", 24)),
    });
    state.portal_sessions.push(session.clone());
    Ok(session)
}

fn list(fake: &FakeStripe, query: &[(String, String)]) -> Value {
    let get = |name: &str| param(query, name);
    let limit = get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(10).clamp(1, 100);
    let state = fake.lock();
    // Stripe lists the most recent first.
    let data: Vec<Value> = state
        .customers
        .values()
        .rev()
        .filter(|c| get("email").is_none_or(|e| c.get("email").and_then(Value::as_str) == Some(e)))
        .take(limit)
        .cloned()
        .collect();
    json!({"object": "list", "url": "/v1/customers", "has_more": false, "data": data})
}

/// Refuses what Stripe refuses: unknown parameters, a bad `tax_exempt`, incomplete tax ids.
fn check(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), Refusal> {
    let address = fields.get("address").and_then(Value::as_object).into_iter().flat_map(Map::keys);
    let unknown = (fields.keys().filter(|k| !allowed.contains(&k.as_str())).cloned())
        .chain(
            address
                .filter(|k| !ADDRESS_FIELDS.contains(&k.as_str()))
                .map(|k| format!("address[{k}]")),
        )
        .next();
    if let Some(param) = unknown {
        return Err(invalid(&format!("Received unknown parameter: {param}"), Some(&param)));
    }
    if let Some(t) = fields.get("tax_exempt").and_then(Value::as_str)
        && !["none", "exempt", "reverse"].contains(&t)
    {
        return Err(invalid(
            "Invalid tax_exempt: must be one of none, exempt, or reverse",
            Some("tax_exempt"),
        ));
    }
    for (i, tax_id) in fields.get("tax_id_data").and_then(Value::as_object).into_iter().flatten() {
        for part in ["type", "value"] {
            if tax_id.get(part).and_then(Value::as_str).is_none_or(str::is_empty) {
                let param = format!("tax_id_data[{i}][{part}]");
                return Err(invalid(&format!("Missing required param: {param}."), Some(&param)));
            }
        }
    }
    Ok(())
}

/// Writes `fields` into `customer`: metadata is merged key by key (an empty value removes one).
/// Tax ids are stored apart ([`insert_tax_id`]).
fn apply(customer: &mut Value, fields: Map<String, Value>) {
    for (name, value) in fields {
        match name.as_str() {
            "metadata" => {
                if let (Some(m), Value::Object(new)) = (customer["metadata"].as_object_mut(), value)
                {
                    for (k, v) in new {
                        if v == "" {
                            m.remove(&k);
                        } else {
                            m.insert(k, v);
                        }
                    }
                }
            }
            _ => customer[name.as_str()] = value,
        }
    }
}

/// Stores a new tax id of `customer` and shows it in the customer's `tax_ids`; returns its id.
fn insert_tax_id(state: &mut StripeState, customer: &str, kind: &str, value: &str) -> String {
    state.next_id += 1;
    let id = format!("txi_Fake{:010}", state.next_id);
    // Country-specific types name their country; an EU VAT number starts with it.
    let country = match kind {
        "eu_vat" => value.get(..2).unwrap_or_default().to_owned(),
        _ => kind.split('_').next().unwrap_or_default().to_ascii_uppercase(),
    };
    let status = if kind == "eu_vat" { "pending" } else { "unavailable" };
    let tax_id = json!({
        "id": id, "object": "tax_id", "country": country, "created": CREATED,
        "customer": customer, "livemode": false,
        "owner": {"type": "customer", "customer": customer},
        "type": kind, "value": value,
        "verification": {"status": status, "verified_address": null, "verified_name": null},
    });
    state.tax_ids.insert(id.clone(), tax_id);
    refresh_tax_ids(state, customer);
    id
}

fn tax_ids_of(state: &StripeState, customer: &str) -> Vec<Value> {
    state.tax_ids.values().filter(|t| t["customer"] == customer).cloned().collect()
}

/// The customer's `tax_ids` list, after a tax id was added or deleted.
fn refresh_tax_ids(state: &mut StripeState, customer: &str) {
    let data = tax_ids_of(state, customer);
    if let Some(c) = state.customers.get_mut(customer) {
        c["tax_ids"] = json!({"object": "list", "data": data});
    }
}

/// The formats the fake checks: an EU VAT number is a country code then 2–13 letters or digits,
/// a UK one `GB` and 9 or 12 digits, an EIN `NN-NNNNNNN`; other types need any text.
fn valid_tax_id(kind: &str, value: &str) -> bool {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match kind {
        "eu_vat" => match (value.get(..2), value.get(2..)) {
            (Some(country), Some(rest)) => {
                country.bytes().all(|b| b.is_ascii_uppercase())
                    && (2..=13).contains(&rest.len())
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            _ => false,
        },
        "gb_vat" => value
            .strip_prefix("GB")
            .is_some_and(|rest| digits(rest) && matches!(rest.len(), 9 | 12)),
        "us_ein" => value
            .split_once('-')
            .is_some_and(|(a, b)| a.len() == 2 && b.len() == 7 && digits(a) && digits(b)),
        _ => !value.trim().is_empty(),
    }
}

fn next_id(state: &mut StripeState) -> String {
    state.next_id += 1;
    format!("cus_Fake{:010}", state.next_id)
}

fn blank_customer(id: &str) -> Value {
    json!({
        "id": id, "object": "customer", "address": null, "balance": 0, "created": CREATED,
        "currency": null, "description": null, "email": null, "livemode": false,
        "metadata": {}, "name": null, "phone": null, "tax_exempt": "none",
    })
}

/// `a[b][0]=x` pairs as nested JSON objects (`{"a": {"b": {"0": "x"}}}`).
fn unflatten(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut root = Map::new();
    'pairs: for (key, value) in pairs {
        let mut parts = key.split('[').map(|p| p.trim_end_matches(']').to_owned());
        let mut name = parts.next().unwrap_or_default();
        let mut node = &mut root;
        for part in parts {
            let child = node.entry(name).or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            let Value::Object(map) = child else { continue 'pairs };
            node = map;
            name = part;
        }
        node.insert(name, Value::String(value));
    }
    root
}

/// A key as Stripe's messages echo it: up to its last `_`, then `****` and its last four
/// characters (`…_abcdef1234` becomes `…_****1234`).
fn mask(key: &str) -> String {
    let prefix = key.rfind('_').map_or("", |i| &key[..=i]);
    let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{prefix}****{tail}")
}

fn no_such_customer(id: &str) -> Refusal {
    let message = format!("No such customer: '{id}'");
    error(StatusCode::NOT_FOUND, &message, Some("id"), Some("resource_missing"))
}

fn invalid(message: &str, param: Option<&str>) -> Refusal {
    error(StatusCode::BAD_REQUEST, message, param, None)
}

fn error(status: StatusCode, message: &str, param: Option<&str>, code: Option<&str>) -> Refusal {
    let mut error = json!({"type": "invalid_request_error", "message": message});
    if let Some(param) = param {
        error["param"] = json!(param);
    }
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    (status, axum::Json(json!({"error": error})))
}

/// The body as logged: Stripe takes forms, so anything else is kept as text.
fn logged_body(headers: &HeaderMap, body: &[u8]) -> Value {
    let is_form = content_type(headers).is_some_and(|c| c.contains("form-urlencoded"));
    match form(body) {
        _ if body.is_empty() => Value::Null,
        Some(fields) if is_form => Value::Object(fields),
        _ => Value::String(String::from_utf8_lossy(body).into_owned()),
    }
}
