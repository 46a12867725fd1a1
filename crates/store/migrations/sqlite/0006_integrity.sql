-- Rows that decide who may use a credential and where it goes carry a MAC under the keyring's
-- integrity key (NULL only until the vault's one-time upgrade, done when a process first opens
-- it with its master key), and the keyring gains that key's kind.

ALTER TABLE management_clients ADD COLUMN mac BLOB;
ALTER TABLE flows ADD COLUMN mac BLOB;

CREATE TABLE keyring_new (
    kind       TEXT    NOT NULL CHECK (kind IN ('kek', 'fingerprint', 'integrity')),
    term       INTEGER NOT NULL CHECK (term > 0),
    sealed     BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (kind, term)
) STRICT;
INSERT INTO keyring_new (kind, term, sealed, created_at)
    SELECT kind, term, sealed, created_at FROM keyring;
DROP TABLE keyring;
ALTER TABLE keyring_new RENAME TO keyring;

-- Earlier builds stored a token lifetime as long as a provider said, so a provider answering
-- `expires_in: 1e12` left a year past 9999 (`+33715-…`), which sorts before every real time:
-- such a row looked due forever and wedged the refresher. Times are now bounded to years
-- 1970–9999 (24 characters, sorting as text); rows with a time out of that shape are marked in
-- error and scheduled for a refresh now, which gets them a token with a bounded lifetime.
UPDATE connections
   SET expires_at = NULL,
       refresh_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
       lease_owner = NULL,
       lease_until = NULL,
       token_status = CASE WHEN token_status IN ('needs_reauth', 'needs_update') THEN token_status
                           ELSE 'error' END,
       last_error = 'the stored token expiry was out of range (the provider sent an unbounded lifetime); refreshing again'
 WHERE (expires_at IS NOT NULL
        AND (length(expires_at) != 24 OR expires_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'))
    OR (refresh_at IS NOT NULL
        AND (length(refresh_at) != 24 OR refresh_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'))
    OR (lease_until IS NOT NULL
        AND (length(lease_until) != 24 OR lease_until NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'));
