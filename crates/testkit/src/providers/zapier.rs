//! A fake of Zapier's Catch Hook webhooks (`/hooks/catch/{account}/{hook}/`). A hook takes `GET`
//! (data in the query), `POST` and `PUT` (JSON or form bodies) and answers as Zapier does,
//! `{"attempt", "id", "request_id", "status": "success"}`, or an empty body in silent mode. The
//! URL is the only credential: an unknown hook is a 404.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::request::form;
use super::{Log, Received, fake_secret};

/// An in-process Zapier hooks host. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeZapier {
    hook_path: Arc<str>,
    log: Log,
    state: Arc<Mutex<ZapierState>>,
}

#[derive(Debug, Default)]
struct ZapierState {
    /// (path, silent)
    hooks: Vec<(String, bool)>,
    /// The data each accepted call carried: the body's fields, or the query's.
    caught: Vec<Value>,
}

impl Default for FakeZapier {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeZapier {
    /// Serves one hook, at a path made now ([`FakeZapier::hook_path`]).
    #[must_use]
    pub fn new() -> Self {
        let hook_path = format!("/hooks/catch/1234567/{}/", fake_secret("fake", 12));
        let state = ZapierState { hooks: vec![(hook_path.clone(), false)], caught: Vec::new() };
        Self {
            hook_path: hook_path.into(),
            log: Log::default(),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// The path of the hook the fake serves from the start: `/hooks/catch/{account}/{hook}/`,
    /// where the hook's part is its secret.
    #[must_use]
    pub fn hook_path(&self) -> &str {
        &self.hook_path
    }

    /// Also serves `path`, answering with an empty body if `silent` (Zapier's silent mode).
    pub fn add_hook(&self, path: &str, silent: bool) -> &Self {
        self.lock().hooks.push((path.to_owned(), silent));
        self
    }

    /// The data of every call a hook accepted.
    #[must_use]
    pub fn caught(&self) -> Vec<Value> {
        self.lock().caught.clone()
    }

    /// The hooks, to serve at the webhook URL's host.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// What the fake received.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    fn lock(&self) -> MutexGuard<'_, ZapierState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeZapier>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received::from_request_or_form(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    let mut state = fake.lock();
    let path = format!("{}/", uri.path().trim_end_matches('/'));
    let Some(&(_, silent)) = state.hooks.iter().find(|(p, _)| *p == path) else {
        let body = json!({"status": "error", "message": "Unable to find the hook."});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    };
    let data = match method {
        Method::GET => {
            Value::Object(form(uri.query().unwrap_or_default().as_bytes()).unwrap_or_default())
        }
        Method::POST | Method::PUT => received.body.clone(),
        _ => {
            let body = json!({"status": "error", "message": "Method not allowed."});
            return (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
        }
    };
    state.caught.push(data);
    if silent {
        return StatusCode::OK.into_response();
    }
    let n = state.caught.len();
    let body = json!({
        "attempt": format!("0193d2c4-7f2a-7b1e-9c3d-{n:012}"),
        "id": format!("0193d2c4-7f2a-7b1e-9c3e-{n:012}"),
        "request_id": format!("0193d2c4-7f2a-7b1e-9c3f-{n:012}"),
        "status": "success",
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}
