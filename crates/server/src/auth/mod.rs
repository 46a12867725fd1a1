//! Who is calling: client authentication at the token endpoint, token verification on every API
//! request, and the extractors that make a handler's required scope part of its signature.

mod limiter;
mod source;
mod token;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use flowvault_core::{ClientId, Scope, Scopes, TenantId};
use flowvault_store::Vault;

pub(crate) use limiter::FailureThrottle;
pub(crate) use source::source_address;
pub use token::KeyError;
pub(crate) use token::TokenKeys;
#[cfg(feature = "fuzzing")]
pub(crate) use token::throwaway_keys;

use crate::error::ApiError;
use crate::state::AppState;

/// How long "this client still exists" is believed before asking the store again: a deleted
/// client's tokens stop working within this time.
const CLIENT_CHECK_TTL: Duration = Duration::from_secs(5);

/// Token keys, failure throttles, and a short memory of which clients exist.
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) keys: TokenKeys,
    /// Failed client authentications per (source address, client id).
    pub(crate) per_source_and_client: FailureThrottle,
    clients_seen: Mutex<HashMap<ClientId, (bool, Instant)>>,
}

impl Auth {
    pub(crate) fn new(keys: TokenKeys) -> Self {
        Self {
            keys,
            per_source_and_client: FailureThrottle::new(
                5,
                Duration::from_secs(1),
                Duration::from_secs(15 * 60),
            ),

            clients_seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `client` still exists (deleted clients' tokens are refused).
    async fn client_exists(&self, vault: &Vault, client: &ClientId) -> Result<bool, ApiError> {
        let now = Instant::now();
        {
            let seen = self.clients_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((exists, at)) = seen.get(client)
                && now.duration_since(*at) < CLIENT_CHECK_TTL
            {
                return Ok(*exists);
            }
        }
        let exists = vault.client(client).await?.is_some();
        let mut seen = self.clients_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > 10_000 {
            seen.retain(|_, (_, at)| now.duration_since(*at) < CLIENT_CHECK_TTL);
        }
        seen.insert(client.clone(), (exists, now));
        Ok(exists)
    }
}

/// A verified caller of the Management API: the tenant its token acts in, and its scopes.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant every operation of this request is scoped to.
    pub tenant: TenantId,
    /// The management client the token was issued to.
    pub client: ClientId,
    /// The scopes the token carries.
    pub scopes: Scopes,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("Missing authentication"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::unauthorized("Bad HTTP authentication header format"))?;
        let verified =
            state.auth.keys.verify(token).map_err(|e| ApiError::unauthorized(e.to_string()))?;
        if !state.auth.client_exists(&state.vault, &verified.client).await? {
            return Err(ApiError::unauthorized("The client of this token no longer exists"));
        }
        tracing::Span::current().record("client", tracing::field::display(&verified.client));
        Ok(Caller { tenant: verified.tenant, client: verified.client, scopes: verified.scopes })
    }
}

/// A scope an endpoint requires, as a type.
pub trait RequiredScope: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

/// A caller whose token carries the scope `S`; a handler taking `Scoped<ReadConnections>` can't
/// run without it.
#[derive(Debug)]
pub struct Scoped<S: RequiredScope>(pub Caller, PhantomData<S>);

impl<S: RequiredScope> Scoped<S> {
    /// The tenant of the request.
    pub fn tenant(&self) -> &TenantId {
        &self.0.tenant
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for Scoped<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.scopes.contains(S::SCOPE) {
            Ok(Scoped(caller, PhantomData))
        } else {
            Err(ApiError::insufficient_scope(S::SCOPE.as_str()))
        }
    }
}

macro_rules! scopes {
    ($($(#[$meta:meta])* $name:ident => $scope:ident,)+) => {
        $(
            $(#[$meta])*
            #[derive(Debug)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$scope;
            }
        )+
    };
}

scopes! {
    /// `read:flows_vault_connections`
    ReadConnections => ReadConnections,
    /// `create:flows_vault_connections`
    CreateConnections => CreateConnections,
    /// `update:flows_vault_connections`
    UpdateConnections => UpdateConnections,
    /// `delete:flows_vault_connections`
    DeleteConnections => DeleteConnections,
    /// `read:flows`
    ReadFlows => ReadFlows,
    /// `create:flows`
    CreateFlows => CreateFlows,
    /// `update:flows`
    UpdateFlows => UpdateFlows,
    /// `delete:flows`
    DeleteFlows => DeleteFlows,
    /// `read:flows_executions`
    ReadExecutions => ReadExecutions,
    /// `delete:flows_executions`
    DeleteExecutions => DeleteExecutions,
    /// `create:flows_executions`
    CreateExecutions => CreateExecutions,
}
