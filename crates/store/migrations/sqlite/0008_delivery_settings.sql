-- A tenant's delivery settings (a flowvault extension): the vault connections `AUTH0
-- SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL` send through, and the default senders, as the JSON
-- the API takes. One row per tenant. It decides where a credential is used, so it carries a MAC
-- under the keyring's integrity key, over the tenant and the settings: a row written outside
-- flowvault is refused. The connections are not foreign keys on purpose: deleting one leaves the
-- setting naming it, so the action says which connection went missing instead of acting as if
-- delivery had never been configured.
CREATE TABLE delivery_settings (
    tenant_id  TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    settings   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    mac        BLOB NOT NULL
) STRICT;
