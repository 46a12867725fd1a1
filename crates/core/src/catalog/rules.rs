//! flowvault's rules across the fields of a setup, beyond the document's: the generated catalog
//! (`apps.rs`) refers to them by name.

use crate::setup::SetupFields;

/// OAUTH_CODE (refused): Auth0's document lists `code`, an authorization code, but flowvault
/// can't exchange one it did not ask for (it holds no PKCE verifier for it, nor the redirect URI
/// it was issued to), so it refuses one with a pointer to Connect rather than store it and drop
/// the connection's working tokens.
pub(super) fn no_authorization_code(fields: &SetupFields<'_>) -> Option<(&'static str, String)> {
    fields.get("code").map(|_| {
        (
            "code",
            "can't be given: flowvault obtains an OAUTH_CODE connection's tokens itself — \
             authorize the connection with Connect (GET /connect/{id}) instead"
                .to_owned(),
        )
    })
}

/// JWT (a warning): HMAC algorithms sign with a shared `secret`; the others need a PEM key (a
/// private key to sign, a public key is enough to verify). Auth0's document requires only the
/// algorithm, so a setup without its key is accepted; actions that need the key fail when they
/// run.
pub(super) fn jwt_key_material(fields: &SetupFields<'_>) -> Option<(&'static str, String)> {
    let alg = fields.get("algorithm")?;
    if alg.starts_with("HS") {
        if fields.get("secret").is_none() {
            return Some(("secret", format!("is needed to sign or verify with {alg}")));
        }
        for key in ["private_key", "public_key"] {
            if fields.get(key).is_some() {
                return Some((key, format!("is not used by {alg}, which uses `secret`")));
            }
        }
    } else {
        if fields.get("private_key").is_none() && fields.get("public_key").is_none() {
            return Some((
                "private_key",
                format!("is needed to sign with {alg} (or `public_key` to verify only)"),
            ));
        }
        if fields.get("secret").is_some() {
            return Some(("secret", format!("is not used by {alg}, which uses a PEM key")));
        }
    }
    None
}

/// SMTP: the port has its own field, so `host` is a name alone (the `hostname` format allows a
/// `:port`, which here would be ambiguous).
pub(super) fn smtp_host_without_port(fields: &SetupFields<'_>) -> Option<(&'static str, String)> {
    fields.get("host").filter(|h| h.contains(':')).map(|_| {
        ("host", "must be a host name without `:port`: the port goes in `port`".to_owned())
    })
}
