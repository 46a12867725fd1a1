//! What action modules use to call providers: a request builder over the engine's transport,
//! provider base URLs (overridable for fakes), and readable errors.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use flowvault_core::AppId;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName};
use http::{HeaderValue, Method};
use serde_json::Value;
use url::Url;

use crate::providers::Providers;
use crate::transport::{OutboundRequest, Transport, TransportError};

/// Why an action failed: a message for the execution record (secrets are scrubbed by the
/// runner), and the provider's status when it answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ActionError {
    /// What happened, readable.
    pub message: String,
    /// The provider's HTTP status, if it answered.
    pub status: Option<u16>,
}

impl ActionError {
    /// An error without a provider status.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), status: None }
    }
}

/// How a request authenticates. `Debug` names the scheme, never the credentials.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer …`.
    Bearer(String),
    /// HTTP Basic.
    Basic(String, String),
    /// A header of the provider's choosing (`api-token: …`).
    Header(&'static str, String),
}

/// A request body.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// None.
    #[default]
    None,
    /// `application/json`.
    Json(Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// Anything else, with its content type.
    Raw(&'static str, Vec<u8>),
}

/// One provider request. `Debug` shows the method, the URL without its query and the header
/// names: the rest may carry credentials.
#[derive(Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Query parameters to append.
    pub query: Vec<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
    /// Authentication.
    pub auth: Auth,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(<redacted>)",
            Auth::Basic(..) => "Basic(<redacted>)",
            Auth::Header(name, _) => name,
        })
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.split(['?', '#']).next().unwrap_or_default();
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &headers)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request with no body or auth.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::None,
            auth: Auth::None,
        }
    }

    /// With a JSON body.
    #[must_use]
    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    /// With a form body.
    #[must_use]
    pub fn form(mut self, fields: Vec<(String, String)>) -> Self {
        self.body = Body::Form(fields);
        self
    }

    /// With authentication.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// With a query parameter.
    #[must_use]
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// With a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: u16,
    /// Body: parsed JSON when it is JSON, else a string (or null when empty).
    pub body: Value,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
}

/// The HTTP side of an action: the transport, base URLs, limits.
pub struct Http<'a> {
    pub(crate) transport: &'a dyn Transport,
    pub(crate) providers: &'a Providers,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for Http<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl<'a> Http<'a> {
    /// An HTTP helper over `transport`.
    pub fn new(transport: &'a dyn Transport, providers: &'a Providers, timeout: Duration) -> Self {
        Self { transport, providers, timeout }
    }

    /// The addresses of `host` a connection that is not HTTP (SMTP) may use: resolved and
    /// checked by the transport's guard, as HTTP requests are.
    pub(crate) async fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<std::net::SocketAddr>, ActionError> {
        self.transport.resolve(host, port).await.map_err(transport_error)
    }

    /// The base URL of `app`'s API: configured (a fake, a self-hosted provider) or `default`.
    #[must_use]
    pub fn base(&self, app: AppId, default: &str) -> String {
        self.base_for(app, None, default)
    }

    /// The base URL of `app`'s API: configured, else the connection's own host (`connection`,
    /// from its token response), else `default`.
    #[must_use]
    pub fn base_for(&self, app: AppId, connection: Option<&Url>, default: &str) -> String {
        self.providers
            .get(app)
            .base_url
            .as_ref()
            .or(connection)
            .map_or(default, Url::as_str)
            .trim_end_matches('/')
            .to_owned()
    }

    /// Sends `request`. A transport failure is an [`ActionError`]; any HTTP status is an `Ok`
    /// (see [`Http::expect_success`]).
    ///
    /// # Errors
    /// [`ActionError`] if the request could not be made or had no answer.
    pub async fn send(&self, request: Request, https_only: bool) -> Result<Response, ActionError> {
        let mut url =
            Url::parse(&request.url).map_err(|_| ActionError::new("the URL is not valid"))?;
        if !request.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &request.query {
                q.append_pair(k, v);
            }
        }
        let mut out = OutboundRequest::new(request.method, url);
        out.https_only = https_only;
        out.timeout = Some(self.timeout);
        out.headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (k, v) in &request.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ActionError::new(format!("header name `{k}` is not valid")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| ActionError::new(format!("the value of header `{k}` is not valid")))?;
            out.headers.insert(name, value);
        }
        let auth = match &request.auth {
            Auth::None => None,
            Auth::Bearer(t) => Some((AUTHORIZATION, format!("Bearer {t}"))),
            Auth::Basic(u, p) => {
                Some((AUTHORIZATION, format!("Basic {}", STANDARD.encode(format!("{u}:{p}")))))
            }
            Auth::Header(name, value) => Some((HeaderName::from_static(name), value.clone())),
        };
        if let Some((name, value)) = auth {
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| ActionError::new("the credentials can't be sent in a header"))?;
            value.set_sensitive(true);
            out.headers.insert(name, value);
        }
        match request.body {
            Body::None => {}
            Body::Json(v) => {
                out.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                out.body = Bytes::from(
                    serde_json::to_vec(&v)
                        .map_err(|_| ActionError::new("the JSON body can't be serialised"))?,
                );
            }
            Body::Form(fields) => {
                out.headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                out.body = Bytes::from(serde_urlencoded::to_string(&fields).map_err(|_| {
                    ActionError::new(
                        "the form body can't be encoded (nested values are not form fields)",
                    )
                })?);
            }
            Body::Raw(content_type, bytes) => {
                out.headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                out.body = Bytes::from(bytes);
            }
        }
        let response = self.transport.send(out).await.map_err(transport_error)?;
        let text = String::from_utf8_lossy(&response.body);
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
        };
        let headers = response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        Ok(Response { status: response.status.as_u16(), body, headers })
    }

    /// The response if its status is 2xx; otherwise an [`ActionError`] with the provider's own
    /// message (found at the first of `message_pointers` that holds a string).
    ///
    /// # Errors
    /// [`ActionError`] for a non-2xx answer.
    pub fn expect_success(
        app: &str,
        response: Response,
        message_pointers: &[&str],
    ) -> Result<Response, ActionError> {
        if (200..300).contains(&response.status) {
            return Ok(response);
        }
        Err(provider_error(app, &response, message_pointers))
    }
}

/// "TWILIO answered 400: The 'To' number is not a valid phone number."
#[must_use]
pub fn provider_error(app: &str, response: &Response, message_pointers: &[&str]) -> ActionError {
    let found = message_pointers
        .iter()
        .find_map(|p| {
            response.body.pointer(p).and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        })
        .or_else(|| response.body.as_str().map(text_of_page));
    // Not cut short here: the runner scrubs the message of secrets first, then bounds it (a
    // secret across a cut would leave its start behind).
    let message = match found.filter(|m| !m.is_empty()) {
        Some(m) => format!("{app} answered {}: {}", response.status, printable(&m)),
        None => format!("{app} answered {}", response.status),
    };
    ActionError { message, status: Some(response.status) }
}

/// A text body as a message: an HTML error page becomes its `<title>` (or nothing), other text
/// has its runs of whitespace collapsed.
fn text_of_page(body: &str) -> String {
    let head = body.get(..body.len().min(512)).unwrap_or(body).to_ascii_lowercase();
    if head.trim_start().starts_with('<') && (head.contains("<html") || head.contains("<!doctype"))
    {
        let lower = body.to_ascii_lowercase();
        return match (lower.find("<title>"), lower.find("</title>")) {
            (Some(a), Some(b)) if a + 7 <= b => collapse(&body[a + 7..b]),
            _ => String::new(),
        };
    }
    collapse(body)
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` without control characters other than newlines.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control() || *c == '\n').collect()
}

/// Why the transport could not carry a request or open a connection, as an action's error.
fn transport_error(e: TransportError) -> ActionError {
    match e {
        TransportError::Refused(r) => ActionError::new(format!("refused: {r}")),
        other => ActionError::new(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(status: u16, body: Value) -> Response {
        Response { status, body, headers: Vec::new() }
    }

    #[test]
    fn provider_errors_read_the_providers_message_or_a_pages_title() {
        let json = answer(400, json!({"message": "The 'To' number is not valid", "code": 21211}));
        assert_eq!(
            provider_error("TWILIO", &json, &["/message"]).message,
            "TWILIO answered 400: The 'To' number is not valid"
        );
        let page = "<!DOCTYPE HTML>\n<html><head><title>404  Not\nFound</title></head><body><h1>x</h1></body></html>";
        let e = provider_error("HTTP", &answer(404, json!(page)), &[]);
        assert_eq!(e.message, "HTTP answered 404: 404 Not Found");
        assert_eq!(e.status, Some(404));
        let bare =
            provider_error("HTTP", &answer(502, json!("<html><body>bad</body></html>")), &[]);
        assert_eq!(bare.message, "HTTP answered 502");
        let text = provider_error("HTTP", &answer(500, json!("  upstream\n\n  timed out ")), &[]);
        assert_eq!(text.message, "HTTP answered 500: upstream timed out");
        assert_eq!(
            provider_error("HTTP", &answer(503, Value::Null), &[]).message,
            "HTTP answered 503"
        );
    }

    #[test]
    fn debug_prints_no_credentials() {
        let request = Request::new(Method::GET, "https://api.test/x?api_key=k3y-in-query")
            .header("x-api-key", "k3y-in-header")
            .auth(Auth::Basic("user".to_owned(), "pa55word".to_owned()));
        let text = format!("{request:?}");
        assert!(text.contains("https://api.test/x") && text.contains("x-api-key"), "{text}");
        for secret in ["k3y-in-query", "k3y-in-header", "pa55word"] {
            assert!(!text.contains(secret), "{text}");
        }
        let mut out = OutboundRequest::new(
            Method::POST,
            Url::parse("https://u:pw-in-url@api.test/x?token=t0ken")
                .unwrap_or_else(|e| panic!("{e}")),
        );
        out.headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer b3arer"));
        out.body = Bytes::from_static(b"client_secret=s3cret");
        let text = format!("{out:?}");
        for secret in ["pw-in-url", "t0ken", "b3arer", "s3cret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
