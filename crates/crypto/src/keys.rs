//! Key material: the master key and the 256-bit keys under it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// Length of every symmetric key flowvault uses (AES-256, HMAC-SHA-256).
pub const KEY_LEN: usize = 32;

/// 32 bytes of key material, wiped on drop, never printed.
#[derive(Clone)]
pub(crate) struct Key32(Zeroizing<[u8; KEY_LEN]>);

impl Key32 {
    pub(crate) fn random() -> Result<Self, CryptoError> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(k.as_mut()).map_err(|_| CryptoError::Rng)?;
        Ok(Self(k))
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; KEY_LEN] =
            bytes.try_into().map_err(|_| CryptoError::InvalidKey("a key must be 32 bytes"))?;
        Ok(Self(Zeroizing::new(arr)))
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key32(<redacted>)")
    }
}

/// The root of the vault's key hierarchy: it seals the keyring and nothing else.
///
/// Comes from `FLOWVAULT_MASTER_KEY` (base64 of 32 bytes), a key file holding the same, or a
/// passphrase run through Argon2id. Reading those sources is the caller's job; this type only
/// holds and derives the key.
pub struct MasterKey(Key32);

/// Argon2id cost parameters for deriving a master key from a passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl MasterKey {
    /// A new random master key.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS generator fails.
    pub fn generate() -> Result<Self, CryptoError> {
        Key32::random().map(Self)
    }

    /// A master key from its 32 raw bytes.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] unless `bytes` is 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Key32::from_slice(bytes).map(Self)
    }

    /// A master key from standard base64 of 32 bytes (surrounding whitespace is ignored).
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] if the text is not base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| CryptoError::InvalidKey("the master key is not valid base64"))?,
        );
        Key32::from_slice(&bytes).map(Self).map_err(|_| {
            CryptoError::InvalidKey("the master key must be base64 of exactly 32 bytes")
        })
    }

    /// The key as standard base64, for writing a key file.
    #[must_use]
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.bytes()))
    }

    /// Derives a master key from a passphrase with Argon2id (version 0x13).
    ///
    /// # Errors
    /// [`CryptoError::KdfParams`] if the parameters or the salt are out of Argon2's range.
    pub fn derive_from_passphrase(
        passphrase: &[u8],
        salt: &[u8],
        params: KdfParams,
    ) -> Result<Self, CryptoError> {
        let p = argon2::Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(KEY_LEN))
            .map_err(|_| CryptoError::KdfParams)?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|_| CryptoError::KdfParams)?;
        Ok(Self(Key32(out)))
    }

    pub(crate) fn key(&self) -> &Key32 {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl Default for KdfParams {
    /// Argon2's recommended defaults (19 MiB, 2 passes, 1 lane): about 16 ms here.
    fn default() -> Self {
        Self {
            m_cost_kib: argon2::Params::DEFAULT_M_COST,
            t_cost: argon2::Params::DEFAULT_T_COST,
            p_cost: argon2::Params::DEFAULT_P_COST,
        }
    }
}

impl fmt::Display for KdfParams {
    /// `argon2id,m=19456,t=2,p=1`: the form stored beside the salt.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "argon2id,m={},t={},p={}", self.m_cost_kib, self.t_cost, self.p_cost)
    }
}

impl std::str::FromStr for KdfParams {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, CryptoError> {
        let mut parts = s.split(',');
        if parts.next() != Some("argon2id") {
            return Err(CryptoError::KdfParams);
        }
        let mut get = |name: &str| {
            parts
                .next()
                .and_then(|p| p.strip_prefix(name))
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or(CryptoError::KdfParams)
        };
        let params = Self { m_cost_kib: get("m=")?, t_cost: get("t=")?, p_cost: get("p=")? };
        if parts.next().is_some() {
            return Err(CryptoError::KdfParams);
        }
        Ok(params)
    }
}

/// A fresh random salt for [`MasterKey::derive_from_passphrase`].
///
/// # Errors
/// [`CryptoError::Rng`] if the OS generator fails.
pub fn generate_salt() -> Result<[u8; 16], CryptoError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| CryptoError::Rng)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_errors() {
        let k = MasterKey::generate().unwrap_or_else(|_| unreachable!());
        let text = k.to_base64();
        let back = MasterKey::from_base64(&format!("  {}\n", text.as_str()));
        assert!(back.is_ok_and(|b| b.key().bytes() == k.key().bytes()));
        assert!(matches!(MasterKey::from_base64("not base64!"), Err(CryptoError::InvalidKey(_))));
        assert!(matches!(MasterKey::from_base64("AAAA"), Err(CryptoError::InvalidKey(_))));
    }

    #[test]
    fn debug_is_redacted() {
        let k = MasterKey::from_bytes(&[7u8; 32]).unwrap_or_else(|_| unreachable!());
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn passphrase_derivation_is_deterministic_and_salted() {
        let cheap = KdfParams { m_cost_kib: 64, t_cost: 1, p_cost: 1 };
        let a = MasterKey::derive_from_passphrase(b"correct horse", b"0123456789abcdef", cheap);
        let b = MasterKey::derive_from_passphrase(b"correct horse", b"0123456789abcdef", cheap);
        let c = MasterKey::derive_from_passphrase(b"correct horse", b"fedcba9876543210", cheap);
        let (a, b, c) =
            (a.map(|k| *k.key().bytes()), b.map(|k| *k.key().bytes()), c.map(|k| *k.key().bytes()));
        assert!(a.is_ok());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn kdf_params_text_form() {
        let p = KdfParams::default();
        assert_eq!(p.to_string(), "argon2id,m=19456,t=2,p=1");
        assert_eq!(p.to_string().parse::<KdfParams>(), Ok(p));
        assert!("argon2i,m=1,t=1,p=1".parse::<KdfParams>().is_err());
        assert!("argon2id,m=1,t=1".parse::<KdfParams>().is_err());
    }
}
