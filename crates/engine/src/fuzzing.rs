//! Entry points for the cargo-fuzz targets (`fuzz/`): the parsers of hostile bytes that are not
//! public API. Built only with the `fuzzing` feature.

use bytes::Bytes;
use flowvault_core::{Redactor, Timestamp};
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

use crate::actions::xml;
use crate::grants::{GrantError, parse_response};
use crate::providers::Provider;
use crate::tokens::{MAX_RETRY_AFTER, MAX_TOKEN_LIFETIME};
use crate::transport::OutboundResponse;

/// Reads a token endpoint's answer (`status`, an optional `Retry-After`, the body) and panics if
/// what it yields breaks a documented bound.
pub fn token_response(status: u16, retry_after: Option<&str>, body: &[u8]) {
    let Ok(now) = "2026-12-03T00:00:00Z".parse::<Timestamp>() else { return };
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(RETRY_AFTER, v);
    }
    let response = OutboundResponse {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        headers,
        body: Bytes::copy_from_slice(body),
    };
    match parse_response(&Provider::default(), now, &response, &mut Redactor::default()) {
        Ok(o) => assert!(
            o.tokens.expires_at().is_none_or(|e| e <= now.saturating_add(MAX_TOKEN_LIFETIME))
        ),
        Err(GrantError::Transient { retry_after, .. }) => {
            assert!(retry_after.is_none_or(|d| d <= MAX_RETRY_AFTER));
        }
        Err(_) => {}
    }
}

/// Reads `text` as `XML PARSE_XML` does, and panics unless what it reads writes back as
/// `SERIALIZE_XML` does to a document that reads the same (the written form may only be refused
/// for its size: escaping can make it longer than what was read).
pub fn xml_document(text: &str) {
    let Ok(Value::Object(document)) = xml::parse(text) else { return };
    match xml::serialize(&document) {
        Ok(written) => {
            assert_eq!(xml::parse(&written).ok(), Some(Value::Object(document)), "{written}");
        }
        Err(e) => assert!(e.message.contains("larger than"), "{e}"),
    }
}
