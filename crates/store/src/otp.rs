//! One-time codes (the `OTP` actions), on the vault: a code and its reference reach the store
//! only as MACs under the keyring's integrity key.
//!
//! Keyed, because a code has at most ten digits: an unkeyed hash of one is reversed by trying
//! them all, in well under a second, by anyone who copies the database. The reference is often
//! an e-mail address or a phone number, so it is not kept in clear either; its MAC is bound to
//! the tenant, so one address used in two tenants can't be linked. The code's MAC is bound to
//! the tenant and the reference, so a hash copied into another reference's row does not verify.
//!
//! If the integrity key ever gets a new term, codes made before it stop being found (their
//! reference MACs change): they live [`OTP_LIFETIME`] at most, and a new code fixes it.

use std::time::Duration;

use flowvault_core::{TenantId, Timestamp};

use crate::records::{OtpCheck, OtpRow};
use crate::vault::{Vault, VaultError};

/// How long a one-time code is accepted after it is made: long enough to read an e-mail or an
/// SMS that arrives late, short enough that a guessed or intercepted code soon stops working.
/// Fixed for now (Auth0 documents no setting for it).
pub const OTP_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Wrong codes a reference may be tried with: the one that reaches this many burns its code,
/// so guessing a 6-digit code succeeds at most 5 times in a million.
pub const OTP_MAX_ATTEMPTS: u32 = 5;

const REFERENCE_MAC: &str = "otp-reference";
const CODE_MAC: &str = "otp-code";

impl Vault {
    /// Keeps `code` as the tenant's one-time code for `reference` until [`OTP_LIFETIME`] has
    /// passed, in place of any earlier code for that reference (with its attempts). Returns when
    /// it expires.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`] on a keyring without an integrity key.
    pub async fn store_otp(
        &self,
        tenant: &TenantId,
        reference: &str,
        code: &str,
    ) -> Result<Timestamp, VaultError> {
        let now = self.clock.now();
        let row = OtpRow {
            reference_hash: self.otp_reference_hash(tenant, reference)?,
            code_hash: self.keyring.mac(CODE_MAC, &code_parts(tenant, reference, code))?.to_vec(),
            created_at: now,
            expires_at: now.saturating_add(OTP_LIFETIME),
        };
        self.store.put_otp(tenant, &row).await?;
        Ok(row.expires_at)
    }

    /// Checks a code given for `reference` against the tenant's code for it, as one attempt of
    /// at most [`OTP_MAX_ATTEMPTS`] (see [`OtpCheck`] for what each outcome leaves behind).
    /// `spellings` are the forms the one code given may stand for — a code that came as a number
    /// lost its leading zeros, so the caller passes it with each number of them it may have had;
    /// only one can have the stored code's length, so this is still one guess. Each is compared
    /// in constant time.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`] on a keyring without an integrity key.
    pub async fn verify_otp(
        &self,
        tenant: &TenantId,
        reference: &str,
        spellings: &[&str],
    ) -> Result<OtpCheck, VaultError> {
        let reference_hash = self.otp_reference_hash(tenant, reference)?;
        let matches = |stored: &[u8]| {
            spellings.iter().any(|code| {
                self.keyring.verify_mac(CODE_MAC, &code_parts(tenant, reference, code), stored)
            })
        };
        let check = self
            .store
            .check_otp(tenant, &reference_hash, self.clock.now(), OTP_MAX_ATTEMPTS, &matches)
            .await?;
        Ok(check)
    }

    /// What a reference is stored as: its MAC, bound to the tenant.
    fn otp_reference_hash(
        &self,
        tenant: &TenantId,
        reference: &str,
    ) -> Result<Vec<u8>, VaultError> {
        let parts: [&[u8]; 2] = [tenant.as_str().as_bytes(), reference.as_bytes()];
        Ok(self.keyring.mac(REFERENCE_MAC, &parts)?.to_vec())
    }
}

fn code_parts<'a>(tenant: &'a TenantId, reference: &'a str, code: &'a str) -> [&'a [u8]; 3] {
    [tenant.as_str().as_bytes(), reference.as_bytes(), code.as_bytes()]
}
