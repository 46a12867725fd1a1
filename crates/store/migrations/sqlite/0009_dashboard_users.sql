-- Dashboard users and their sign-in sessions.
--
-- A user row decides who may act in a tenant and with which role, so it carries a MAC under the
-- keyring's integrity key over its id, tenant, e-mail, role and password hash: a row written or
-- changed outside flowvault (an admin inserted by hand, a viewer promoted) is refused. The
-- password is an Argon2id PHC string. E-mail addresses are stored lower-cased.
CREATE TABLE dashboard_users (
    id            TEXT NOT NULL PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    mac           BLOB NOT NULL,
    UNIQUE (tenant_id, email)
) STRICT;

-- A session is found by the MAC of its cookie's secret (the secret itself is never stored), so
-- a row written by hand can't be signed in with: its key can't be made without the keyring.
-- Its own MAC covers whose session it is and when it ends, so an existing row can't be moved to
-- another user or made to last longer. Sessions end when idle too long or at an absolute time,
-- whichever comes first; ended ones are swept as new ones start. (`last_seen_at` is not covered:
-- it changes on use; a forged one can keep a session from going idle, never past `expires_at`.)
CREATE TABLE dashboard_sessions (
    id_hash      BLOB NOT NULL PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES dashboard_users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    mac          BLOB NOT NULL
) STRICT;

CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_by_user ON dashboard_sessions (user_id);
