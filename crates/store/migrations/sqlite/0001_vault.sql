-- The vault: keyring, tenants and vault connections.
-- Timestamps are RFC 3339 text in UTC with milliseconds (`2026-11-26T09:30:00.125Z`), which sorts
-- in time order. Secrets exist here only as envelope ciphertexts (BLOB columns ending in _sealed).

-- Vault-wide settings written once at initialisation (how the master key is given, KDF salt).
CREATE TABLE vault_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Keys sealed by the master key: key-encryption keys by term, and the fingerprint key.
CREATE TABLE keyring (
    kind       TEXT    NOT NULL CHECK (kind IN ('kek', 'fingerprint')),
    term       INTEGER NOT NULL CHECK (term > 0),
    sealed     BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (kind, term)
) STRICT;

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE connections (
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT    NOT NULL,
    app_id        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    environment   TEXT,
    account_name  TEXT,
    setup_type    TEXT,
    setup_sealed  BLOB,
    tokens_sealed BLOB,
    fingerprint   TEXT    NOT NULL,
    version       INTEGER NOT NULL CHECK (version > 0),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    refreshed_at  TEXT,
    PRIMARY KEY (tenant_id, id),
    CHECK ((setup_type IS NULL) = (setup_sealed IS NULL))
) STRICT;

CREATE INDEX connections_by_created ON connections (tenant_id, created_at);
CREATE INDEX connections_by_app ON connections (tenant_id, app_id, created_at);
