-- Token lifecycle: the state of each connection's tokens (the tokens themselves stay sealed in
-- tokens_sealed), the refresher's schedule and leases, and pending OAuth authorizations.

-- Bumped by every write of tokens_sealed; token writes are compare-and-set on it (not on
-- `version`, so a rename during a refresh can't throw away a rotated refresh token).
ALTER TABLE connections ADD COLUMN tokens_version INTEGER NOT NULL DEFAULT 0;
-- NULL (fine), 'needs_reauth', 'needs_update' or 'error'.
ALTER TABLE connections ADD COLUMN token_status TEXT;
ALTER TABLE connections ADD COLUMN expires_at TEXT;
-- When the refresher should act next; NULL when nothing is scheduled.
ALTER TABLE connections ADD COLUMN refresh_at TEXT;
ALTER TABLE connections ADD COLUMN granted_scopes TEXT;
ALTER TABLE connections ADD COLUMN missing_scopes TEXT;
ALTER TABLE connections ADD COLUMN last_error TEXT;
ALTER TABLE connections ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN lease_owner TEXT;
ALTER TABLE connections ADD COLUMN lease_until TEXT;

CREATE INDEX connections_due ON connections (refresh_at) WHERE refresh_at IS NOT NULL;

-- "Connect" in progress: single use (deleted when the callback takes it), short-lived.
CREATE TABLE oauth_states (
    state_hash      BLOB PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connection_id   TEXT NOT NULL,
    verifier_sealed BLOB NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
) STRICT;
