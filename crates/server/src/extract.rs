//! Request parsing that answers in Auth0's error shape: JSON bodies, path ids, `If-Match`, and
//! list query strings. Nothing here lets a malformed request reach a handler or become a 500.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use flowvault_core::{ConnectionId, printable};
use serde_json::Value;

use crate::error::{ApiError, Resource};
use crate::query::Query;
use crate::state::AppState;

/// A JSON request body, size-limited and parsed.
#[derive(Debug)]
pub(crate) struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body(req, state, Accepts::Json).await.map(JsonBody)
    }
}

/// A request body as Auth0's create and update endpoints take it: `application/json`, or
/// `application/x-www-form-urlencoded` with bracketed names for nesting (`setup[type]=API_KEY`,
/// `actions[0][id]=a`), where every value is a string.
#[derive(Debug)]
pub(crate) struct JsonOrFormBody(pub Value);

impl FromRequest<AppState> for JsonOrFormBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body(req, state, Accepts::JsonOrForm).await.map(JsonOrFormBody)
    }
}

/// A JSON body that may be left out: a request without one (no `Content-Type`, nothing sent)
/// reads as `{}`.
#[derive(Debug)]
pub(crate) struct OptionalJsonBody(pub Value);

impl FromRequest<AppState> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let absent = req.headers().get(CONTENT_TYPE).is_none()
            && req
                .headers()
                .get(CONTENT_LENGTH)
                .is_none_or(|v| v.to_str().is_ok_and(|n| n.trim() == "0"));
        if absent {
            let bytes = read_limited(req.into_body(), state.config.max_body_bytes).await?;
            if bytes.is_empty() {
                return Ok(OptionalJsonBody(Value::Object(serde_json::Map::new())));
            }
            return Err(ApiError::unsupported_media_type(Accepts::Json.names()));
        }
        read_body(req, state, Accepts::Json).await.map(OptionalJsonBody)
    }
}

/// The media types an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepts {
    Json,
    JsonOrForm,
}

impl Accepts {
    fn names(self) -> &'static str {
        match self {
            Accepts::Json => "application/json",
            Accepts::JsonOrForm => "application/json or application/x-www-form-urlencoded",
        }
    }
}

async fn read_body(req: Request, state: &AppState, accepts: Accepts) -> Result<Value, ApiError> {
    let limit = state.config.max_body_bytes;
    let mime = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let form = match mime.as_deref() {
        Some("application/json") => false,
        Some("application/x-www-form-urlencoded") if accepts == Accepts::JsonOrForm => true,
        _ => return Err(ApiError::unsupported_media_type(accepts.names())),
    };
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let bytes = read_limited(req.into_body(), limit).await?;
    if form {
        return form_to_json(&bytes).map_err(ApiError::invalid_body);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_body("The request body is empty: send a JSON object"));
    }
    // serde_json's messages give a position and the kind of error, never the text itself.
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid_body(format!("The request body is not valid JSON: {e}")))
}

/// The deepest bracket nesting a form field name may have (`actions[0][params][to]` is 3).
const MAX_FORM_DEPTH: usize = 16;

/// An `application/x-www-form-urlencoded` body as the JSON object it stands for: `a[b]=1`
/// is `{"a": {"b": "1"}}`, and an object whose keys are exactly `0…n-1` is an array. Values stay
/// strings; validation then says which field wanted another type.
///
/// # Errors
/// A message naming the field whose name is malformed, or that is given twice.
pub(crate) fn form_to_json(bytes: &[u8]) -> Result<Value, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|_| {
        "The request body is not valid application/x-www-form-urlencoded".to_owned()
    })?;
    let mut root = serde_json::Map::new();
    for (name, value) in pairs {
        let path = form_path(&name)?;
        let shown = shown_path(&path);
        let mut node = &mut root;
        let (last, parents) =
            path.split_last().ok_or_else(|| "A form field has no name".to_owned())?;
        for key in parents {
            let child =
                node.entry(key.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()));
            node = child.as_object_mut().ok_or_else(|| {
                format!("Form field {shown} is given both as a value and as an object")
            })?;
        }
        if node.insert(last.clone(), Value::String(value)).is_some() {
            return Err(format!("Form field {shown} is given twice"));
        }
    }
    let mut value = Value::Object(root);
    arrays_from_indexes(&mut value);
    Ok(value)
}

/// `a[b][0]` as `["a", "b", "0"]`.
fn form_path(name: &str) -> Result<Vec<String>, String> {
    // A name that is not a field's may be a secret sent as the whole body: not echoed.
    let shown = printable(name);
    let bad = || format!("Form field name {shown} is not `name` or `name[key]…`");
    let (head, mut rest) = name.find('[').map_or((name, ""), |i| name.split_at(i));
    if head.is_empty() {
        return Err(bad());
    }
    let mut path = vec![head.to_owned()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(bad)?;
        let close = inner.find(']').ok_or_else(bad)?;
        // `[]` is the key "" (a JSON object may have one); it is not "append", as some form
        // libraries read it.
        let key = &inner[..close];
        if key.contains('[') {
            return Err(bad());
        }
        path.push(key.to_owned());
        rest = &inner[close + 1..];
        if path.len() > MAX_FORM_DEPTH {
            return Err(format!("Form field name {shown} nests deeper than {MAX_FORM_DEPTH}"));
        }
    }
    Ok(path)
}

/// `setup[api_key]` as a message may show it: each key as core's `printable` shows a field name.
fn shown_path(path: &[String]) -> String {
    let mut keys = path.iter().map(|k| printable(k));
    let head = keys.next().unwrap_or_default();
    keys.fold(head, |out, k| format!("{out}[{k}]"))
}

fn arrays_from_indexes(value: &mut Value) {
    let Value::Object(map) = value else { return };
    for child in map.values_mut() {
        arrays_from_indexes(child);
    }
    let is_list = !map.is_empty() && (0..map.len()).all(|i| map.contains_key(&i.to_string()));
    if is_list {
        let mut map = std::mem::take(map);
        let items = (0..map.len()).filter_map(|i| map.remove(&i.to_string())).collect();
        *value = Value::Array(items);
    }
}

/// Reads a body of at most `limit` bytes.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::invalid_body("The request body could not be read")
        }
    })
}

/// The `{id}` of a vault connection path, parsed.
#[derive(Debug)]
pub(crate) struct ConnectionIdPath(pub ConnectionId);

impl FromRequestParts<AppState> for ConnectionIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_uri("The path is not valid"))?;
        // Any string of up to 30 characters may name a connection, as in Auth0's document: one
        // that can't be an id of ours names nothing, so it is 404 like any id that does not exist.
        check_path_id("id", &raw)?;
        raw.parse().map(ConnectionIdPath).map_err(|_| ApiError::missing(Resource::Connection))
    }
}

/// The `{id}` (or `{flow_id}`) of a flow path, and the `{execution_id}` when there is one.
#[derive(Debug)]
pub(crate) struct FlowPath {
    pub(crate) flow: flowvault_core::FlowId,
    pub(crate) execution: Option<flowvault_core::ExecutionId>,
}

impl FromRequestParts<AppState> for FlowPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::invalid_uri("The path is not valid"))?;
        for (name, value) in &params {
            check_path_id(name, value)?;
        }
        let flow = params
            .get("flow_id")
            .or_else(|| params.get("id"))
            .ok_or_else(|| ApiError::invalid_uri("The path has no flow id"))?
            .parse()
            .map_err(|_| ApiError::missing(Resource::Flow))?;
        let execution = params
            .get("execution_id")
            .map(|e| e.parse().map_err(|_| ApiError::missing(Resource::Execution)))
            .transpose()?;
        Ok(FlowPath { flow, execution })
    }
}

/// The longest id Auth0's document lets a path carry.
pub(crate) const MAX_PATH_ID: usize = 30;

/// A path id longer than the document allows is a malformed request (400); a shorter one that
/// names nothing is the handler's 404.
///
/// # Errors
/// `invalid_uri` naming the parameter.
pub(crate) fn check_path_id(name: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().count() > MAX_PATH_ID {
        let name: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        return Err(ApiError::invalid_uri(format!(
            "Path parameter {name} must be at most {MAX_PATH_ID} characters"
        )));
    }
    Ok(())
}

/// The strong ETag of a resource at `version`.
pub(crate) fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// A parsed `If-Match` (or `If-None-Match`) header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// No header.
    None,
    /// `*`: any current version.
    Any,
    /// One of these versions.
    Versions(Vec<u64>),
}

impl Precondition {
    fn parse(parts: &Parts, name: axum::http::HeaderName) -> Result<Self, ApiError> {
        let values: Vec<_> = parts.headers.get_all(&name).iter().collect();
        if values.is_empty() {
            return Ok(Precondition::None);
        }
        let mut versions = Vec::new();
        for v in values {
            let text = v.to_str().map_err(|_| bad_precondition(&name))?;
            if text.trim() == "*" {
                return Ok(Precondition::Any);
            }
            for tag in entity_tags(text).ok_or_else(|| bad_precondition(&name))? {
                // Weak tags never match a strong comparison; they are well-formed, though.
                if !tag.weak
                    && let Ok(n) = tag.opaque.parse::<u64>()
                {
                    versions.push(n);
                }
            }
        }
        Ok(Precondition::Versions(versions))
    }

    /// Whether a resource at `version` satisfies it (`None` always does).
    pub(crate) fn allows(&self, version: u64) -> bool {
        match self {
            Precondition::None | Precondition::Any => true,
            Precondition::Versions(v) => v.contains(&version),
        }
    }

    /// Whether a header was given.
    pub(crate) fn given(&self) -> bool {
        !matches!(self, Precondition::None)
    }
}

/// One entity tag of a list (RFC 9110 §8.8.3): `"opaque"` or `W/"opaque"`.
#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// The entity tags of `#entity-tag`: quoted strings (which may hold commas), separated by
/// commas and optional whitespace; empty elements are allowed. `None` if it is not that.
fn entity_tags(text: &str) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let weak = rest.starts_with("W/");
        let quoted = rest.strip_prefix("W/").unwrap_or(rest).strip_prefix('"')?;
        let end = quoted.find('"')?;
        tags.push(EntityTag { weak, opaque: &quoted[..end] });
        rest = &quoted[end + 1..];
        // A tag ends at a separator.
        if !(rest.is_empty() || rest.starts_with([' ', '\t', ','])) {
            return None;
        }
    }
}

fn bad_precondition(name: &axum::http::HeaderName) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_headers",
        format!("{name} must be `*` or a list of quoted entity tags such as \"3\""),
    )
}

/// The `If-Match` header.
#[derive(Debug)]
pub(crate) struct IfMatch(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Precondition::parse(parts, IF_MATCH).map(IfMatch)
    }
}

/// The `If-None-Match` header.
#[derive(Debug)]
pub(crate) struct IfNoneMatch(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Precondition::parse(parts, IF_NONE_MATCH).map(IfNoneMatch)
    }
}

/// `page`, `per_page` and `include_totals`, as Auth0's list endpoints take them (checked against
/// the document by [`crate::query`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListParams {
    /// 0-based page.
    pub(crate) page: u64,
    /// Page size, 1–100.
    pub(crate) per_page: u64,
    /// Wrap the list in `{start, limit, total, …}`.
    pub(crate) include_totals: bool,
}

impl ListParams {
    /// The list parameters of a checked query.
    pub(crate) fn of(query: &Query) -> Self {
        ListParams {
            page: query.int("page", 0),
            per_page: query.int("per_page", 50),
            include_totals: query.flag("include_totals"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::from_request_parts(parts, state).await.map(|q| Self::of(&q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tag_lists_are_read_as_rfc_9110_writes_them() {
        let tags = entity_tags(r#""3", W/"4" ,"a,b",, "x""#).unwrap_or_default();
        let seen: Vec<_> = tags.iter().map(|t| (t.weak, t.opaque)).collect();
        assert_eq!(seen, [(false, "3"), (true, "4"), (false, "a,b"), (false, "x")]);
        assert_eq!(entity_tags("").map(|t| t.len()), Some(0));
        for bad in ["3", "\"3", "\"3\"x", "W/3", "null"] {
            assert!(entity_tags(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn form_bodies_nest_with_brackets_and_list_by_index() {
        let v = form_to_json(
            b"name=Zap&setup%5Btype%5D=WEBHOOK&a%5B0%5D%5Bid%5D=x&a%5B1%5D%5Bid%5D=y&o%5B%5D=e",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v,
            serde_json::json!({"name": "Zap", "setup": {"type": "WEBHOOK"},
                               "a": [{"id": "x"}, {"id": "y"}], "o": {"": "e"}})
        );
        for bad in ["a=1&a=2", "a=1&a%5Bb%5D=2", "%5Bx%5D=1", "a%5Bb=1"] {
            assert!(form_to_json(bad.as_bytes()).is_err(), "{bad}");
        }
        // A secret sent where a field name goes is not echoed back.
        for body in
            ["%5Bsk_live_AbC123%5D", "setup%5BSk_live_AbC123%5D=1&setup%5BSk_live_AbC123%5D=2"]
        {
            let message = form_to_json(body.as_bytes()).err().unwrap_or_default();
            assert!(!message.is_empty() && !message.contains("AbC123"), "{message}");
        }
    }
}
