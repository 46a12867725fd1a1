//! JWT actions: `SIGN_JWT` and `VERIFY_JWT` with the connection's key material (a shared secret
//! for HS*, a PEM key otherwise), and `DECODE_JWT`, which reads a token without verifying it.

use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use flowvault_core::JwtOp;

use super::{ActionError, Call};

pub(super) fn run(op: JwtOp, call: &Call<'_>) -> Result<Value, ActionError> {
    match op {
        JwtOp::SignJwt => sign(call),
        JwtOp::VerifyJwt => verify(call),
        JwtOp::DecodeJwt => decode(&call.str("token")?),
    }
}

fn algorithm(call: &Call<'_>) -> Result<Algorithm, ActionError> {
    Algorithm::from_str(call.setup("algorithm")?)
        .map_err(|_| ActionError::new("the connection's algorithm is not supported"))
}

fn sign(call: &Call<'_>) -> Result<Value, ActionError> {
    let alg = algorithm(call)?;
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(call.setup("secret")?.as_bytes())
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            EncodingKey::from_ec_pem(call.setup("private_key")?.as_bytes()).map_err(bad_key)?
        }
        Algorithm::EdDSA => {
            EncodingKey::from_ed_pem(call.setup("private_key")?.as_bytes()).map_err(bad_key)?
        }
        _ => EncodingKey::from_rsa_pem(call.setup("private_key")?.as_bytes()).map_err(bad_key)?,
    };
    let mut claims: Map<String, Value> = call.object("payload")?.cloned().unwrap_or_default();
    let now = call.now.unix_millis() / 1000;
    claims.entry("iat").or_insert(json!(now));
    for (param, claim) in [("subject", "sub"), ("issuer", "iss"), ("audience", "aud")] {
        if let Some(v) = call.opt_str(param).filter(|v| !v.is_empty()) {
            claims.insert(claim.into(), Value::String(v));
        }
    }
    if let Some(exp) = call.opt_str("expires_in").filter(|v| !v.is_empty()) {
        claims.insert("exp".into(), json!(now.saturating_add(seconds(&exp)?)));
    }
    let token = jsonwebtoken::encode(&Header::new(alg), &claims, &key)
        .map_err(|_| ActionError::new("signing failed: check the connection's key"))?;
    Ok(json!({ "token": token }))
}

fn verify(call: &Call<'_>) -> Result<Value, ActionError> {
    let alg = algorithm(call)?;
    let token = call.str("token")?;
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            DecodingKey::from_secret(call.setup("secret")?.as_bytes())
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            DecodingKey::from_ec_pem(public_key(call)?.as_bytes()).map_err(bad_key)?
        }
        Algorithm::EdDSA => {
            DecodingKey::from_ed_pem(public_key(call)?.as_bytes()).map_err(bad_key)?
        }
        _ => DecodingKey::from_rsa_pem(public_key(call)?.as_bytes()).map_err(bad_key)?,
    };
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    // `exp` and `nbf` are checked below against the run's clock (the one `SIGN_JWT` uses), not
    // the host's: a flow's notion of "now" is one clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    match call.opt_str("audience").filter(|a| !a.is_empty()) {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    if let Some(iss) = call.opt_str("issuer").filter(|i| !i.is_empty()) {
        validation.set_issuer(&[iss]);
    }
    // A token that does not verify is an answer, not a failure (as Auth0 documents it):
    // `{valid: false, cause}`, for a `BOOLEAN_CONDITION` to look at. A key that can't be used
    // is the connection's problem, and fails the action.
    let data = match jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &validation) {
        Ok(data) => data,
        Err(e) => return cause(e.kind()).map(invalid),
    };
    if let Err(cause) = check_times(&data.claims, call.now.unix_millis() / 1000) {
        return Ok(invalid(cause));
    }
    let signature = token.rsplit('.').next().unwrap_or_default();
    Ok(
        json!({ "valid": true, "header": data.header, "payload": data.claims, "signature": signature }),
    )
}

fn invalid(cause: &'static str) -> Value {
    json!({ "valid": false, "cause": cause })
}

/// Why a token does not verify, in Auth0's words; `Err` when the fault is the key's.
fn cause(kind: &jsonwebtoken::errors::ErrorKind) -> Result<&'static str, ActionError> {
    use jsonwebtoken::errors::ErrorKind as K;
    Ok(match kind {
        K::InvalidSignature => "INVALID_SIGNATURE",
        K::ExpiredSignature => "EXPIRED",
        K::ImmatureSignature => "NOT_YET_VALID",
        K::InvalidAudience => "INVALID_AUDIENCE",
        K::InvalidIssuer => "INVALID_ISSUER",
        K::InvalidSubject => "INVALID_SUBJECT",
        K::InvalidAlgorithm | K::InvalidAlgorithmName => "INVALID_ALGORITHM",
        K::MissingRequiredClaim(_) | K::MissingAlgorithm => "MISSING_CLAIM",
        K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => "MALFORMED",
        K::InvalidClaimFormat(_) => "INVALID_CLAIM",
        _ => return Err(ActionError::new("the connection's key can't verify this token")),
    })
}

/// Seconds of clock skew tolerated on `exp` and `nbf` (`jsonwebtoken`'s default).
const LEEWAY: i64 = 60;

/// The cause if the token is past its `exp` or before its `nbf` at `now` (Unix seconds).
fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), &'static str> {
    let time = |name: &str| -> Result<Option<i64>, &'static str> {
        match claims.get(name) {
            None => Ok(None),
            // A NumericDate may have a fraction of a second (RFC 7519 §2); it doesn't matter here.
            Some(Value::Number(n)) => Ok(n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))),
            Some(_) => Err("INVALID_CLAIM"),
        }
    };
    if time("exp")?.is_some_and(|exp| exp.saturating_add(LEEWAY) < now) {
        return Err("EXPIRED");
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now.saturating_add(LEEWAY)) {
        return Err("NOT_YET_VALID");
    }
    Ok(())
}

fn public_key<'a>(call: &'a Call<'_>) -> Result<&'a str, ActionError> {
    call.setup("public_key")
        .map_err(|_| ActionError::new("verifying needs the connection's public_key"))
}

fn decode(token: &str) -> Result<Value, ActionError> {
    let mut parts = token.split('.');
    let mut part = |name: &str| -> Result<Value, ActionError> {
        let p = parts.next().ok_or_else(|| ActionError::new("the token is not a JWT"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .map_err(|_| ActionError::new(format!("the token's {name} is not base64url")))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| ActionError::new(format!("the token's {name} is not JSON")))
    };
    let header = part("header")?;
    let payload = part("payload")?;
    let signature = parts.next().unwrap_or_default();
    Ok(json!({ "header": header, "payload": payload, "signature": signature }))
}

/// `3600`, `90s`, `30m`, `12h`, `7d` as seconds.
fn seconds(text: &str) -> Result<i64, ActionError> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: i64 = number.trim().parse().map_err(|_| {
        ActionError::new("param `expires_in` must be seconds, or a number with s, m, h or d")
    })?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(ActionError::new("param `expires_in` must end in s, m, h or d")),
    };
    Ok(n.saturating_mul(factor))
}

fn bad_key(_: jsonwebtoken::errors::Error) -> ActionError {
    ActionError::new("the connection's key is not a usable PEM key for its algorithm")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(seconds("3600").ok(), Some(3600));
        assert_eq!(seconds("30m").ok(), Some(1800));
        assert_eq!(seconds("2d").ok(), Some(172_800));
        assert!(seconds("soon").is_err());
    }

    #[test]
    fn times_are_checked_with_leeway() {
        let claims = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(check_times(&claims(json!({"exp": 1000})), 1059).is_ok());
        assert!(check_times(&claims(json!({"exp": 1000})), 1061).is_err());
        assert!(check_times(&claims(json!({"exp": 1000.5})), 1000).is_ok());
        assert!(check_times(&claims(json!({"nbf": 1000})), 939).is_err());
        assert!(check_times(&claims(json!({"nbf": 1000})), 941).is_ok());
        assert!(check_times(&claims(json!({"exp": "soon"})), 0).is_err());
        assert!(check_times(&claims(json!({})), 0).is_ok());
    }

    #[test]
    fn decode_reads_without_verifying() {
        let token = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"u1"}"#)
        );
        assert_eq!(decode(&token).ok().map(|v| v["payload"]["sub"].clone()), Some(json!("u1")));
        assert!(decode("nope").is_err());
    }
}
