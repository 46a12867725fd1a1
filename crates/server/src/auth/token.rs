//! Access tokens: RS256 JWTs signed with the vault's signing key, verified on every request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::{ClientId, Scopes, TenantId};
use flowvault_store::{Vault, VaultError};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const ALG: &str = "RS256";

/// The claims of a Management API access token.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) scope: String,
    pub(crate) gty: String,
    pub(crate) azp: String,
    /// flowvault's addition: the tenant the token acts in.
    pub(crate) tenant: String,
    pub(crate) jti: String,
}

/// What a verified token says.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) tenant: TenantId,
    pub(crate) client: ClientId,
    pub(crate) scopes: Scopes,
}

/// Why a token was refused. The message is what the client sees.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("Invalid token")]
    Malformed,
    #[error("Invalid signature received for JSON Web Token validation")]
    Signature,
    #[error("Token has expired")]
    Expired,
    #[error("Invalid audience")]
    Audience,
    #[error("Invalid issuer")]
    Issuer,
}

/// The signing key and every key that may have signed a live token.
pub(crate) struct TokenKeys {
    kid: String,
    signer: KeyPair,
    rng: SystemRandom,
    verifiers: HashMap<String, DecodingKey>,
    jwks: Value,
    validation: Validation,
    issuer: String,
    audience: String,
    lifetime: Duration,
    /// Tokens verified before, by digest, with their expiry: RS256 verification of the same
    /// token on every request was the largest share of an API read's own work.
    verified: Mutex<HashMap<[u8; 32], (Verified, u64)>>,
}

/// The most verified tokens remembered; past it, the expired ones are dropped, and if that is
/// not enough, all of them.
const MAX_VERIFIED: usize = 4096;

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Why the signing keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A stored key does not parse, or generating one failed.
    #[error("token signing key: {0}")]
    Key(&'static str),
}

impl TokenKeys {
    /// Loads the vault's signing keys, creating the first one if there is none.
    pub(crate) async fn load(
        vault: &Vault,
        issuer: String,
        audience: String,
        lifetime: Duration,
    ) -> Result<Self, KeyError> {
        let mut stored = vault.signing_keys().await?;
        if stored.is_empty() {
            // RSA key generation takes a noticeable moment: keep it off the async workers.
            let der = tokio::task::spawn_blocking(|| {
                let pair = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| KeyError::Key("generation failed"))?;
                let der = pair.as_der().map_err(|_| KeyError::Key("cannot encode"))?;
                Ok::<_, KeyError>(zeroize::Zeroizing::new(der.as_ref().to_vec()))
            })
            .await
            .map_err(|_| KeyError::Key("generation task failed"))??;
            vault.add_first_signing_key(ALG, &der).await?;
            // Another replica may have stored its key first: use whatever is stored.
            stored = vault.signing_keys().await?;
        }
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        let mut newest = None;
        for key in stored {
            if key.alg != ALG {
                continue;
            }
            let pair = KeyPair::from_pkcs8(&key.private_der)
                .map_err(|_| KeyError::Key("stored key does not parse"))?;
            let public = pair.public_key();
            let (n, e) = (
                public.modulus().big_endian_without_leading_zero().to_vec(),
                public.exponent().big_endian_without_leading_zero().to_vec(),
            );
            verifiers.insert(key.kid.clone(), DecodingKey::from_rsa_raw_components(&n, &e));
            jwks.push(json!({
                "kty": "RSA", "use": "sig", "alg": ALG, "kid": key.kid,
                "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e),
            }));
            newest = Some((key.kid, pair));
        }
        let (kid, signer) = newest.ok_or(KeyError::Key("no RS256 key stored"))?;
        Ok(Self::from_parts(
            kid,
            signer,
            verifiers,
            json!({ "keys": jwks }),
            issuer,
            audience,
            lifetime,
        ))
    }

    fn from_parts(
        kid: String,
        signer: KeyPair,
        verifiers: HashMap<String, DecodingKey>,
        jwks: Value,
        issuer: String,
        audience: String,
        lifetime: Duration,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            kid,
            signer,
            rng: SystemRandom::new(),
            verifiers,
            jwks,
            validation,
            issuer,
            audience,
            lifetime,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The public keys, as `/.well-known/jwks.json` serves them.
    pub(crate) fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The audience tokens are issued for.
    pub(crate) fn audience(&self) -> &str {
        &self.audience
    }

    /// The lifetime of issued tokens.
    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Signs a token for `client` acting in `tenant` with `scopes`.
    pub(crate) fn issue(
        &self,
        client: &ClientId,
        tenant: &TenantId,
        scopes: &Scopes,
    ) -> Result<String, KeyError> {
        let now = unix_now();
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(|_| KeyError::Key("random generator failed"))?;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: format!("{client}@clients"),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.lifetime.as_secs(),
            scope: scopes.to_string(),
            gty: "client-credentials".to_owned(),
            azp: client.to_string(),
            tenant: tenant.to_string(),
            jti: URL_SAFE_NO_PAD.encode(jti),
        };
        let header = json!({ "alg": ALG, "typ": "JWT", "kid": self.kid });
        let (header, claims) = serde_json::to_vec(&header)
            .and_then(|h| Ok((h, serde_json::to_vec(&claims)?)))
            .map_err(|_| KeyError::Key("cannot encode claims"))?;
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let mut signature = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(&RSA_PKCS1_SHA256, &self.rng, signing_input.as_bytes(), &mut signature)
            .map_err(|_| KeyError::Key("signing failed"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Verifies a token: signature by one of our keys, `exp`, `iss`, `aud`, and the claims
    /// flowvault needs.
    ///
    /// A token verified before is recognised by its SHA-256 digest until it expires: the keys
    /// that verify tokens do not change while the server runs, and what a token says can't
    /// change at all. (Whether its client still exists is the caller's check, every time.)
    pub(crate) fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let digest: [u8; 32] =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
                .as_ref()
                .try_into()
                .map_err(|_| TokenError::Malformed)?;
        let now = unix_now();
        {
            let known = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((verified, exp)) = known.get(&digest)
                && now < *exp
            {
                return Ok(verified.clone());
            }
        }
        let (verified, exp) = self.verify_signed(token)?;
        let mut known = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_VERIFIED {
            known.retain(|_, (_, exp)| now < *exp);
            if known.len() >= MAX_VERIFIED {
                known.clear();
            }
        }
        known.insert(digest, (verified.clone(), exp));
        Ok(verified)
    }

    /// [`TokenKeys::verify`] without the memory: the signature and every claim checked.
    fn verify_signed(&self, token: &str) -> Result<(Verified, u64), TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifiers.get(kid))
            .ok_or(TokenError::Signature)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::InvalidAudience => TokenError::Audience,
                    ErrorKind::InvalidIssuer => TokenError::Issuer,
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        TokenError::Signature
                    }
                    _ => TokenError::Malformed,
                }
            })?;
        let c = data.claims;
        let verified = Verified {
            tenant: c.tenant.parse().map_err(|_| TokenError::Malformed)?,
            client: c.azp.parse().map_err(|_| TokenError::Malformed)?,
            scopes: c.scope.parse().map_err(|_| TokenError::Malformed)?,
        };
        Ok((verified, c.exp))
    }
}

/// Seconds since the Unix epoch, as `exp` and `iat` count them.
fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Keys for `https://vault.test/` from a key pair made once (RSA generation is slow): for the
/// property tests and the fuzz target of [`TokenKeys::verify`].
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn throwaway_keys() -> &'static TokenKeys {
    static KEYS: std::sync::OnceLock<TokenKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|_| panic!("keygen"));
        let public = pair.public_key();
        let (n, e) = (
            public.modulus().big_endian_without_leading_zero().to_vec(),
            public.exponent().big_endian_without_leading_zero().to_vec(),
        );
        let verifiers =
            HashMap::from([("k1".to_owned(), DecodingKey::from_rsa_raw_components(&n, &e))]);
        TokenKeys::from_parts(
            "k1".to_owned(),
            pair,
            verifiers,
            json!({}),
            "https://vault.test/".to_owned(),
            "https://vault.test/api/v2/".to_owned(),
            Duration::from_secs(3600),
        )
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn keys() -> &'static TokenKeys {
        throwaway_keys()
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9_-]{0,60}",
            any::<Vec<u8>>().prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
            Just(URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#)),
            Just(URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#)),
            Just(URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k1"}"#)),
            Just(URL_SAFE_NO_PAD.encode(
                r#"{"iss":"https://vault.test/","aud":"https://vault.test/api/v2/","sub":"x","exp":99999999999,"scope":"read:flows","tenant":"tn_0123456789ABCDEFGHIJKL","azp":"mc_0123456789ABCDEFGHIJKL","iat":1,"gty":"x","jti":"j"}"#
            )),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any bearer token a client sends is refused or verified — never a panic — and only a
        /// token this vault signed verifies.
        #[test]
        fn forged_management_tokens_never_verify(
            parts in prop::collection::vec(segment(), 0..5),
            raw in ".{0,200}",
        ) {
            prop_assert!(keys().verify(&parts.join(".")).is_err());
            prop_assert!(keys().verify(&raw).is_err());
        }
    }

    #[test]
    fn a_token_it_signed_verifies_and_a_changed_one_does_not() {
        let client: ClientId = "mc_0123456789ABCDEFGHIJKL".parse().unwrap_or_else(|_| panic!());
        let tenant: TenantId = "tn_0123456789ABCDEFGHIJKL".parse().unwrap_or_else(|_| panic!());
        let scopes: Scopes = "read:flows".parse().unwrap_or_else(|_| panic!());
        let token = keys().issue(&client, &tenant, &scopes).unwrap_or_else(|e| panic!("{e}"));
        assert!(keys().verify(&token).is_ok_and(|v| v.client == client && v.tenant == tenant));
        let mut tampered = token.into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert!(keys().verify(&String::from_utf8_lossy(&tampered)).is_err());
    }

    /// What is remembered of a verified token is used only until the token expires: a
    /// remembered entry past its `exp` sends the token back through full verification (where
    /// this one, never signed, fails).
    #[test]
    fn a_remembered_token_is_believed_only_until_it_expires() {
        let token = "never.signed.token";
        let digest: [u8; 32] =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
                .as_ref()
                .try_into()
                .unwrap_or_else(|_| panic!("digest length"));
        let verified = Verified {
            tenant: "tn_0123456789ABCDEFGHIJKL".parse().unwrap_or_else(|_| panic!()),
            client: "mc_0123456789ABCDEFGHIJKL".parse().unwrap_or_else(|_| panic!()),
            scopes: "read:flows".parse().unwrap_or_else(|_| panic!()),
        };
        let remember = |exp: u64| {
            keys()
                .verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(digest, (verified.clone(), exp));
        };
        remember(unix_now() + 60);
        assert!(keys().verify(token).is_ok(), "a remembered, unexpired entry is used");
        remember(unix_now() - 1);
        assert!(keys().verify(token).is_err(), "an expired entry is not");
    }
}
