//! Reading the parts of a request that many fakes read alike: credentials in `Authorization`,
//! the query, form and JSON bodies, percent-encoded path segments. What a provider does with them
//! (its error format, which scheme it accepts) stays in its fake.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// The `Authorization` header, if it is text.
pub(super) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// The token of `Authorization: Bearer <token>`.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    authorization(headers).and_then(|v| v.strip_prefix("Bearer "))
}

/// The decoded `user:password` of `Authorization: Basic …`; `None` if the header is not Basic or
/// does not decode.
pub(super) fn basic(headers: &HeaderMap) -> Option<String> {
    decode_basic(authorization(headers)?.strip_prefix("Basic ")?.trim())
}

/// A secret key sent as a bearer token or as the HTTP Basic user name (Stripe and Clearbit take
/// both): `None` with neither scheme, empty when the Basic credentials do not decode.
pub(super) fn bearer_or_basic_user(headers: &HeaderMap) -> Option<String> {
    let value = authorization(headers).unwrap_or_default();
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.to_owned());
    }
    let credentials = decode_basic(value.strip_prefix("Basic ")?).unwrap_or_default();
    Some(credentials.split(':').next().unwrap_or_default().to_owned())
}

/// The `Content-Type` header, if it is text.
pub(super) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// The query's parameters, in order; none if it does not parse.
pub(super) fn query(uri: &Uri) -> Vec<(String, String)> {
    serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default()
}

/// The first value of parameter `name`.
pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// URL-encoded pairs (a form body, a query) as an object of strings; `None` if they do not parse.
pub(super) fn form(bytes: &[u8]) -> Option<Map<String, Value>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
    Some(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// A body as JSON if it parses, else as text; `null` when empty.
pub(super) fn json_or_text(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// A percent-encoded path segment, decoded (`+` stays a plus).
pub(super) fn decode_segment(segment: &str) -> String {
    let query = format!("v={}", segment.replace('+', "%2B"));
    serde_urlencoded::from_str::<Vec<(String, String)>>(&query)
        .ok()
        .and_then(|v| v.into_iter().next())
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn decode_basic(encoded: &str) -> Option<String> {
    String::from_utf8(STANDARD.decode(encoded).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers
            .insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")));
        headers
    }

    #[test]
    fn credentials() {
        let bearer_headers = with_authorization("Bearer tok");
        assert_eq!(bearer(&bearer_headers), Some("tok"));
        assert_eq!(basic(&bearer_headers), None);
        assert_eq!(bearer_or_basic_user(&bearer_headers).as_deref(), Some("tok"));
        // "sk_1:" and "user:pa:ss"
        let key = with_authorization("Basic c2tfMTo=");
        assert_eq!(bearer_or_basic_user(&key).as_deref(), Some("sk_1"));
        let pair = with_authorization("Basic dXNlcjpwYTpzcw==");
        assert_eq!(basic(&pair).as_deref(), Some("user:pa:ss"));
        assert_eq!(bearer(&pair), None);
        let garbled = with_authorization("Basic ***");
        assert_eq!(basic(&garbled), None);
        assert_eq!(bearer_or_basic_user(&garbled).as_deref(), Some(""));
        assert_eq!(bearer_or_basic_user(&with_authorization("Token x")), None);
        assert_eq!(bearer_or_basic_user(&HeaderMap::new()), None);
    }

    #[test]
    fn bodies_and_queries() {
        assert_eq!(json_or_text(b""), Value::Null);
        assert_eq!(json_or_text(br#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(json_or_text(b"a=1"), Value::String("a=1".to_owned()));
        let fields = form(b"a=1&b=x+y").map(Value::Object);
        assert_eq!(fields, Some(serde_json::json!({"a": "1", "b": "x y"})));
        let uri: Uri = "/p?a=1&a=2&b=%20".parse().unwrap_or_else(|e| panic!("{e}"));
        let pairs = query(&uri);
        assert_eq!(param(&pairs, "a"), Some("1"));
        assert_eq!(param(&pairs, "b"), Some(" "));
        assert_eq!(param(&pairs, "c"), None);
        assert_eq!(decode_segment("a%20b+c"), "a b+c");
    }
}
