//! The vault: connections sealed on their way into the store and opened on their way out.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowvault_core::{
    AppId, Clock, Connection, ConnectionId, ConnectionPatch, ConnectionStatus, ConnectionSummary,
    Grant, NewConnection, Setup, SetupDecodeError, SetupType, TenantId, TenantName, Timestamp,
    TokenProblem,
};
use flowvault_crypto::{
    CryptoError, KdfParams, Keyring, MasterKey, SealContext, UnlockError, generate_salt,
};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::records::{
    ConnectionChange, ConnectionRow, ListQuery, Page, SealedSetup, Tenant, TokenMeta, TokenReset,
};
use crate::store::{Store, StoreError};

/// How the operator gives the master key.
#[derive(Debug)]
#[non_exhaustive]
pub enum MasterKeySource {
    /// The key itself (from `FLOWVAULT_MASTER_KEY` or a key file).
    Key(MasterKey),
    /// A passphrase, stretched with Argon2id and the vault's stored salt.
    Passphrase(SecretString),
}

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No such connection in this tenant.
    #[error("vault connection not found")]
    NotFound,
    /// The connection changed since the caller read it.
    #[error(
        "the vault connection was changed by someone else (it is now at version {current}): read it again and retry"
    )]
    VersionConflict {
        /// The version now stored.
        current: u64,
    },
    /// The master key does not open this vault.
    #[error(transparent)]
    Unlock(#[from] UnlockError),
    /// The vault was created with a key file and is being opened with a passphrase, or the
    /// other way round.
    #[error("this vault was created with a master {vault}, not a {given}")]
    KeyKindMismatch {
        /// How the vault was created: `key` or `passphrase`.
        vault: &'static str,
        /// What was given now.
        given: &'static str,
    },
    /// A row that decides who may use a credential or where it goes (a management client, a
    /// flow) fails its MAC: it was written outside flowvault.
    #[error(
        "{object} failed its integrity check: the database row was changed outside flowvault (restore it from a backup, or save it again through the API)"
    )]
    Tampered {
        /// What failed, e.g. `flow af_…`.
        object: String,
    },
    /// A sealed value does not open: the row was tampered with or moved.
    #[error(
        "the stored secrets of {object} do not decrypt (the row was altered or copied from elsewhere): {source}"
    )]
    Sealed {
        /// The connection (or other object) they belong to.
        object: String,
        /// What the envelope said.
        source: CryptoError,
    },
    /// A connection's credentials decrypt but do not parse.
    #[error("the stored credentials of {connection} are unreadable: {source}")]
    SetupUnreadable {
        /// The connection.
        connection: ConnectionId,
        /// The parse failure.
        source: SetupDecodeError,
    },
    /// A setup for another app was given.
    #[error("the setup is for {given}, but the connection is a {app} connection")]
    WrongApp {
        /// The connection's app.
        app: AppId,
        /// The setup's app.
        given: AppId,
    },
    /// Flows use the connection (deleting it would break them at their next run).
    #[error("vault connection {connection} is used by {} flow(s): {}", flows.len(), names(flows))]
    InUse {
        /// The connection.
        connection: ConnectionId,
        /// The flows that use it: `(id, name)`.
        flows: Vec<(flowvault_core::FlowId, String)>,
    },
    /// A request refers to things the store does not have (say, a flow naming a connection that
    /// does not exist).
    #[error(transparent)]
    Invalid(flowvault_core::ValidationErrors),
    /// The tenant already has a dashboard user with this e-mail address.
    #[error("the tenant already has a dashboard user {0}")]
    UserExists(flowvault_core::Email),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// `Name (af_…), Other (af_…)`.
fn names(flows: &[(flowvault_core::FlowId, String)]) -> String {
    flows.iter().map(|(id, name)| format!("{name} ({id})")).collect::<Vec<_>>().join(", ")
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => VaultError::NotFound,
            StoreError::VersionConflict { current } => VaultError::VersionConflict { current },
            other => VaultError::Store(other),
        }
    }
}

const META_KEY_KIND: &str = "master_key_kind";

/// How long [`Vault::open`] waits for another process's upgrade of a large vault.
const UPGRADE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
const META_KDF_SALT: &str = "kdf_salt";
const META_KDF_PARAMS: &str = "kdf_params";
/// Earlier builds sealed setups and tokens under these purposes alone; the vault's upgrade
/// re-seals them under [`setup_context`] and [`tokens_context`], which name the app too.
pub(crate) const LEGACY_PURPOSE_SETUP: &str = "setup";
pub(crate) const LEGACY_PURPOSE_TOKENS: &str = "tokens";

/// Whether [`Vault::open`] found a vault or made one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The vault existed and the master key opened it.
    Existing,
    /// The store was empty; a new keyring was created under the master key.
    Created,
}

/// The vault: the unlocked keyring over a [`Store`].
///
/// Secrets pass through here sealed on the way in and opened on the way out; the store only
/// ever sees envelopes. Every method takes the tenant.
#[derive(Debug)]
pub struct Vault {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keyring: Keyring,
    pub(crate) clock: Arc<dyn Clock>,
    /// Flows authenticated and parsed recently.
    pub(crate) parsed_flows: crate::flows::ParsedFlows,
}

impl Vault {
    /// Whether `store` holds an initialised vault (a keyring).
    ///
    /// # Errors
    /// The store's.
    pub async fn is_initialised(store: &dyn Store) -> Result<bool, VaultError> {
        Ok(!store.keyring().await?.is_empty())
    }

    /// Unlocks the vault in `store` with the master key, initialising it if the store is new.
    /// Nothing is written unless the store is new or was written by an earlier build: then it
    /// is upgraded once, in one transaction. A process that finds the
    /// database locked by another one's upgrade waits for it (up to ten minutes) and opens
    /// what it wrote.
    ///
    /// # Errors
    /// [`VaultError::Unlock`] if the key does not open the keyring,
    /// [`VaultError::KeyKindMismatch`] if a passphrase is given for a key-file vault or the
    /// other way round, or the store's error.
    pub async fn open(
        store: Arc<dyn Store>,
        source: MasterKeySource,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Opened), VaultError> {
        let given = kind_name(&source);
        let started = std::time::Instant::now();
        loop {
            let stored = store.keyring().await?;
            if !stored.is_empty() {
                let vault = match store.meta(META_KEY_KIND).await?.as_deref() {
                    Some("passphrase") => "passphrase",
                    _ => "key",
                };
                if vault != given {
                    return Err(VaultError::KeyKindMismatch { vault, given });
                }
                let derived;
                let master = match &source {
                    MasterKeySource::Key(k) => k,
                    MasterKeySource::Passphrase(p) => {
                        derived = stored_passphrase_key(store.as_ref(), p).await?;
                        &derived
                    }
                };
                let mut keyring = Keyring::unlock(master, &stored)?;
                if keyring.needs_upgrade() {
                    let resealed = keyring.upgrade(master)?;
                    let plan = crate::upgrade::Plan::new(&keyring, stored, resealed);
                    match store.upgrade_rows(&plan).await {
                        Ok(true) => {}
                        // Another process upgraded the vault first: open what it wrote.
                        Ok(false) => continue,
                        Err(e) if e.is_busy() && started.elapsed() < UPGRADE_WAIT => {
                            tracing::info!("waiting for another process to finish its upgrade");
                            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                    tracing::info!(
                        "vault upgraded: rows are now authenticated and bound to their app"
                    );
                }
                return Ok((
                    Self { store, keyring, clock, parsed_flows: Default::default() },
                    Opened::Existing,
                ));
            }

            let mut meta = vec![(META_KEY_KIND, given.to_owned())];
            let derived;
            let master = match &source {
                MasterKeySource::Key(k) => k,
                MasterKeySource::Passphrase(p) => {
                    let salt = generate_salt()?;
                    let params = KdfParams::default();
                    meta.push((META_KDF_SALT, STANDARD.encode(salt)));
                    meta.push((META_KDF_PARAMS, params.to_string()));
                    derived = MasterKey::derive_from_passphrase(
                        p.expose_secret().as_bytes(),
                        &salt,
                        params,
                    )?;
                    &derived
                }
            };
            let (keyring, sealed) = Keyring::create(master)?;
            if store.initialise(&meta, &sealed, clock.now()).await? {
                return Ok((
                    Self { store, keyring, clock, parsed_flows: Default::default() },
                    Opened::Created,
                ));
            }
            // Another process initialised the vault between our read and our write: open theirs.
        }
    }

    /// The tenant called `name`, if it exists.
    ///
    /// # Errors
    /// The store's.
    pub async fn tenant(&self, name: &TenantName) -> Result<Option<Tenant>, VaultError> {
        Ok(self.store.tenant_by_name(name).await?)
    }

    /// The tenant called `name`, created if needed.
    ///
    /// # Errors
    /// The store's.
    pub async fn ensure_tenant(&self, name: &TenantName) -> Result<Tenant, VaultError> {
        Ok(self.store.ensure_tenant(name, self.clock.now()).await?)
    }

    /// Creates a connection; an empty one if `new.setup` is `None`.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`] if sealing fails.
    pub async fn create_connection(
        &self,
        tenant: &TenantId,
        new: NewConnection,
    ) -> Result<Connection, VaultError> {
        let id = ConnectionId::generate();
        let (setup, fingerprint) = self.seal_setup(tenant, &id, new.app, new.setup.as_ref())?;
        let now = self.clock.now();
        // Credentials that get tokens by themselves get their first one right away.
        let refresh_at = new.setup.as_ref().and_then(|s| first_refresh(s.setup_type(), now));
        let row = ConnectionRow {
            id,
            app_id: new.app,
            name: new.name,
            environment: new.environment,
            account_name: new.account_name,
            setup,
            tokens_sealed: None,
            token: TokenMeta { refresh_at, ..TokenMeta::default() },
            fingerprint,
            version: 1,
            created_at: now,
            updated_at: now,
            refreshed_at: None,
        };
        self.store.insert_connection(tenant, &row).await?;
        Ok(self.view(&row))
    }

    /// One connection's metadata.
    ///
    /// # Errors
    /// [`VaultError::NotFound`] if it is not in this tenant.
    pub async fn connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Connection, VaultError> {
        self.store.connection(tenant, id).await?.map(|r| self.view(&r)).ok_or(VaultError::NotFound)
    }

    /// A page of connections, oldest first.
    ///
    /// # Errors
    /// The store's.
    pub async fn list_connections(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<Connection>, VaultError> {
        let page = self.store.list_connections(tenant, query).await?;
        Ok(Page { items: page.items.iter().map(|r| self.view(r)).collect(), total: page.total })
    }

    /// Applies `patch` if the connection is still at `expected_version`.
    ///
    /// # Errors
    /// [`VaultError::NotFound`], [`VaultError::VersionConflict`] if it moved on,
    /// [`VaultError::WrongApp`] if the patch's setup is for another app.
    pub async fn update_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        patch: ConnectionPatch,
        expected_version: u64,
    ) -> Result<Connection, VaultError> {
        let current = self.store.connection(tenant, id).await?.ok_or(VaultError::NotFound)?;
        if current.version != expected_version {
            return Err(VaultError::VersionConflict { current: current.version });
        }
        let setup = match patch.setup.as_ref() {
            Some(s) if s.app() != current.app_id => {
                return Err(VaultError::WrongApp { app: current.app_id, given: s.app() });
            }
            Some(s) => match self.seal_setup(tenant, id, current.app_id, Some(s))? {
                (Some(sealed), fingerprint) => Some((sealed, fingerprint)),
                (None, _) => None,
            },
            None => None,
        };
        let now = self.clock.now();
        let tokens = match patch.setup.as_ref() {
            None => TokenReset::Keep,
            Some(new) => tokens_after_setup_change(
                current.setup.as_ref().map(|s| s.setup_type),
                new,
                &current,
                now,
            ),
        };
        let change = ConnectionChange { name: patch.name, setup, tokens, updated_at: now };
        let row = self.store.update_connection(tenant, id, expected_version, &change).await?;
        Ok(self.view(&row))
    }

    /// Deletes a connection (only at `expected_version`, when one is given).
    ///
    /// # Errors
    /// [`VaultError::NotFound`] or [`VaultError::VersionConflict`].
    /// Refuses ([`VaultError::InUse`]) if flows use the connection: call before deleting one,
    /// unless the deletion is forced.
    ///
    /// # Errors
    /// [`VaultError::InUse`], or the store's error.
    pub async fn ensure_unused(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<(), VaultError> {
        let flows = self.store.flows_using(tenant, id).await?;
        if flows.is_empty() {
            Ok(())
        } else {
            Err(VaultError::InUse { connection: id.clone(), flows })
        }
    }

    /// Every connection of the tenant as a list shows it (of `app`, if given; whose name
    /// contains `search` in ASCII lower case, or whose id is `search`), by app id and name.
    /// Reads no envelope: cheap for thousands of connections.
    ///
    /// # Errors
    /// The store's.
    pub async fn connection_summaries(
        &self,
        tenant: &TenantId,
        app: Option<AppId>,
        search: Option<&str>,
    ) -> Result<Vec<ConnectionSummary>, VaultError> {
        let rows = self.store.connection_summaries(tenant, app, search).await?;
        let now = self.clock.now();
        Ok(rows
            .into_iter()
            .map(|r| ConnectionSummary {
                status: status(r.setup_type, r.has_tokens, &r.token, now),
                id: r.id,
                app_id: r.app_id,
                name: r.name,
                updated_at: r.updated_at,
                refreshed_at: r.refreshed_at,
                expires_at: r.token.expires_at,
                last_error: r.token.last_error,
                missing_scopes: r.token.missing_scopes,
            })
            .collect())
    }

    /// The flows whose actions use connection `id`: `(id, name)`.
    ///
    /// # Errors
    /// The store's.
    pub async fn flows_using(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Vec<(flowvault_core::FlowId, String)>, VaultError> {
        Ok(self.store.flows_using(tenant, id).await?)
    }

    pub async fn delete_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        expected_version: Option<u64>,
    ) -> Result<(), VaultError> {
        Ok(self.store.delete_connection(tenant, id, expected_version).await?)
    }

    /// Opens a connection's credentials, for the one action about to use them. `None` for an
    /// empty connection.
    ///
    /// # Errors
    /// [`VaultError::NotFound`]; [`VaultError::Sealed`] if the envelope does not open for this
    /// tenant and connection (tampered, or copied from another row).
    pub async fn open_setup(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Option<Setup>, VaultError> {
        let row = self.store.connection(tenant, id).await?.ok_or(VaultError::NotFound)?;
        self.open_row_setup(tenant, &row)
    }

    /// Opens the setup of a row already read. `None` for an empty connection.
    ///
    /// # Errors
    /// [`VaultError::Sealed`] or [`VaultError::SetupUnreadable`].
    pub fn open_row_setup(
        &self,
        tenant: &TenantId,
        row: &ConnectionRow,
    ) -> Result<Option<Setup>, VaultError> {
        let Some(sealed) = &row.setup else { return Ok(None) };
        let plain =
            self.open_in(&setup_context(tenant, &row.id, row.app_id)?, &row.id, &sealed.sealed)?;
        let setup = Setup::from_canonical_json(row.app_id, &plain)
            .map_err(|source| VaultError::SetupUnreadable { connection: row.id.clone(), source })?;
        Ok(Some(setup))
    }

    /// Opens a row's token state (the engine's serialisation), if it has one.
    ///
    /// # Errors
    /// [`VaultError::Sealed`] if the envelope does not open for this row.
    pub fn open_row_tokens(
        &self,
        tenant: &TenantId,
        row: &ConnectionRow,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        let Some(sealed) = &row.tokens_sealed else { return Ok(None) };
        self.open_in(&tokens_context(tenant, &row.id, row.app_id)?, &row.id, sealed).map(Some)
    }

    /// Seals a token state for a connection of `app`.
    ///
    /// # Errors
    /// [`VaultError::Crypto`].
    pub fn seal_tokens(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        app: AppId,
        plain: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        Ok(self.keyring.seal(&tokens_context(tenant, id, app)?, plain)?)
    }

    fn open_in(
        &self,
        ctx: &SealContext,
        object: &ConnectionId,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.keyring
            .open(ctx, sealed)
            .map_err(|source| VaultError::Sealed { object: object.to_string(), source })
    }

    /// Seals `plain` for one object of a tenant and a purpose (other than a connection's setup
    /// and tokens, which have their own methods).
    ///
    /// # Errors
    /// [`VaultError::Crypto`].
    pub fn seal_for(
        &self,
        tenant: &TenantId,
        object: &str,
        purpose: &str,
        plain: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let ctx = SealContext::new(tenant.as_str(), object, purpose)?;
        Ok(self.keyring.seal(&ctx, plain)?)
    }

    /// Opens what [`Vault::seal_for`] sealed.
    ///
    /// # Errors
    /// [`VaultError::Sealed`] if the envelope does not open for this tenant, object and purpose.
    pub fn open_for(
        &self,
        tenant: &TenantId,
        object: &str,
        purpose: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let ctx = SealContext::new(tenant.as_str(), object, purpose)?;
        self.keyring
            .open(&ctx, sealed)
            .map_err(|source| VaultError::Sealed { object: object.to_owned(), source })
    }

    /// The store under the vault, for the engine's token bookkeeping (leases, schedules).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The vault's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A stored row as the API shows it, with its status as of now.
    pub fn view(&self, row: &ConnectionRow) -> Connection {
        view(row, self.clock.now())
    }

    /// Seals a setup for one connection and computes its fingerprint; for no setup, the
    /// fingerprint of "empty".
    fn seal_setup(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        app: AppId,
        setup: Option<&Setup>,
    ) -> Result<(Option<SealedSetup>, String), VaultError> {
        let Some(setup) = setup else {
            return Ok((None, fingerprint(&self.keyring, tenant, id, app, b"")));
        };
        let canonical = setup.to_canonical_json();
        let sealed = self.keyring.seal(&setup_context(tenant, id, app)?, &canonical)?;
        let fingerprint = fingerprint(&self.keyring, tenant, id, app, &canonical);
        Ok((Some(SealedSetup { setup_type: setup.setup_type(), sealed }), fingerprint))
    }
}

/// The master key a passphrase gives with the vault's stored salt and cost parameters.
async fn stored_passphrase_key(
    store: &dyn Store,
    passphrase: &SecretString,
) -> Result<MasterKey, VaultError> {
    let unreadable = |what: &str| StoreError::Corrupt(format!("unreadable {what}"));
    let salt = store.meta(META_KDF_SALT).await?.ok_or_else(|| unreadable(META_KDF_SALT))?;
    let salt = STANDARD.decode(salt).map_err(|_| unreadable(META_KDF_SALT))?;
    let params: KdfParams = store
        .meta(META_KDF_PARAMS)
        .await?
        .ok_or_else(|| unreadable(META_KDF_PARAMS))?
        .parse()
        .map_err(|_| unreadable(META_KDF_PARAMS))?;
    Ok(MasterKey::derive_from_passphrase(passphrase.expose_secret().as_bytes(), &salt, params)?)
}

/// What a connection's setup is sealed for: the tenant, the connection, and its app (so a row
/// whose `app_id` was changed — to make a Slack token usable by an HTTP action, say — does not
/// open).
pub(crate) fn setup_context(
    tenant: &TenantId,
    id: &ConnectionId,
    app: AppId,
) -> Result<SealContext, CryptoError> {
    SealContext::new(tenant.as_str(), id.as_str(), &format!("setup.{app}"))
}

/// What a connection's tokens are sealed for, as [`setup_context`].
pub(crate) fn tokens_context(
    tenant: &TenantId,
    id: &ConnectionId,
    app: AppId,
) -> Result<SealContext, CryptoError> {
    SealContext::new(tenant.as_str(), id.as_str(), &format!("tokens.{app}"))
}

/// A connection's fingerprint: keyed, and bound to the tenant and the connection, so equal
/// credentials in two connections fingerprint differently (it tells whether *these*
/// credentials changed, and is no oracle for guessing them).
pub(crate) fn fingerprint(
    keyring: &Keyring,
    tenant: &TenantId,
    id: &ConnectionId,
    app: AppId,
    canonical_setup: &[u8],
) -> String {
    keyring.fingerprint(&[
        tenant.as_str().as_bytes(),
        id.as_str().as_bytes(),
        app.as_str().as_bytes(),
        canonical_setup,
    ])
}

fn kind_name(source: &MasterKeySource) -> &'static str {
    match source {
        MasterKeySource::Key(_) => "key",
        MasterKeySource::Passphrase(_) => "passphrase",
    }
}

/// A stored row as the API shows it, at `now`.
fn view(row: &ConnectionRow, now: Timestamp) -> Connection {
    let setup_type = row.setup.as_ref().map(|s| s.setup_type);
    let t = &row.token;
    let ready = Connection::is_ready(setup_type, row.tokens_sealed.is_some());
    let status = status(setup_type, row.tokens_sealed.is_some(), t, now);
    Connection {
        id: row.id.clone(),
        app_id: row.app_id,
        environment: row.environment.clone(),
        name: row.name.clone(),
        account_name: row.account_name.clone(),
        ready,
        fingerprint: row.fingerprint.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        refreshed_at: row.refreshed_at,
        status,
        expires_at: t.expires_at,
        last_error: t.last_error.clone(),
        refresh_attempts: t.attempts,
        missing_scopes: t.missing_scopes.clone(),
        setup_type,
        version: row.version,
    }
}

/// What a connection can do at `now`, from its setup type, whether it holds tokens, and their
/// state: the one rule, for a connection read whole and for a list of summaries.
fn status(
    setup_type: Option<SetupType>,
    has_tokens: bool,
    t: &TokenMeta,
    now: Timestamp,
) -> ConnectionStatus {
    let ready = Connection::is_ready(setup_type, has_tokens);
    let token_valid = has_tokens && t.expires_at.is_none_or(|e| e > now);
    match (setup_type, t.problem) {
        (None, _) => ConnectionStatus::Empty,
        (_, Some(TokenProblem::NeedsReauth)) => ConnectionStatus::NeedsReauth,
        (_, Some(TokenProblem::NeedsUpdate)) => ConnectionStatus::NeedsUpdate,
        _ if t.lease_until.is_some_and(|until| until > now) => ConnectionStatus::Refreshing,
        _ if !ready => ConnectionStatus::Empty,
        (_, Some(TokenProblem::Error)) if !token_valid => ConnectionStatus::Error,
        _ => ConnectionStatus::Ready,
    }
}

/// When a new setup of this type should get its first token: now, for types that obtain tokens
/// from the setup alone.
fn first_refresh(t: SetupType, now: Timestamp) -> Option<Timestamp> {
    matches!(t.grant(), Some(Grant::ClientCredentials | Grant::JwtBearer)).then_some(now)
}

/// What a new setup does to the tokens of a connection: tokens obtained with the old credentials
/// go; an authorization (`OAUTH_CODE`) stays through an edit of its own setup (say, its scopes),
/// with past errors forgotten and one new attempt.
fn tokens_after_setup_change(
    old: Option<SetupType>,
    new: &Setup,
    row: &ConnectionRow,
    now: Timestamp,
) -> TokenReset {
    let new_type = new.setup_type();
    match (old, new_type.grant()) {
        (Some(SetupType::OauthCode), Some(Grant::AuthorizationCode))
            if new.expose("code").is_none() =>
        {
            TokenReset::Reschedule(row.tokens_sealed.as_ref().map(|_| now))
        }
        _ => TokenReset::Clear(first_refresh(new_type, now)),
    }
}
