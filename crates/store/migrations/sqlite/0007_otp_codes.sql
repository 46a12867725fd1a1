-- One-time codes of the `OTP` actions: at most one live code per reference and tenant (a new
-- one replaces the old). Neither the code nor the reference is stored: a reference is often an
-- e-mail address or a phone number, and a code has so few digits that an unkeyed hash of it
-- would be reversed at once. Both are MACs under the keyring's integrity key, the code's bound
-- to its tenant and reference. Rows are deleted when the code is used, burned by too many wrong
-- attempts, found expired, or swept after expiry when another code is stored.
CREATE TABLE otp_codes (
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    reference_hash BLOB    NOT NULL,
    code_hash      BLOB    NOT NULL,
    expires_at     TEXT    NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, reference_hash)
) STRICT;

CREATE INDEX otp_codes_by_expiry ON otp_codes (expires_at);
