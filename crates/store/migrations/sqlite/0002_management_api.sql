-- Management API: clients that get tokens, and the keys that sign those tokens.

-- Client ids are unique across tenants: `POST /oauth/token` gets a client id and finds the tenant.
CREATE TABLE management_clients (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

CREATE INDEX management_clients_by_tenant ON management_clients (tenant_id, created_at);

-- Token signing keys: the private key sealed like any other vault secret.
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY NOT NULL,
    alg            TEXT NOT NULL,
    private_sealed BLOB NOT NULL,
    created_at     TEXT NOT NULL
) STRICT;
