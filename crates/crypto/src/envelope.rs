//! The envelope format: how one secret object is sealed.
//!
//! Every seal draws a fresh random data key (DEK), encrypts the plaintext under it with
//! AES-256-GCM, and wraps the DEK with the keyring's active key-encryption key (KEK), also
//! AES-256-GCM. A fresh DEK per seal means a random 96-bit nonce is used once per key, so nonce
//! reuse is not a concern however often an object is re-sealed.
//!
//! Layout, version 1 (all integers big-endian):
//!
//! ```text
//! offset  len   field
//! 0       1     version = 0x01
//! 1       4     KEK term id
//! 5       12    nonce of the DEK wrap
//! 17      48    DEK sealed under the KEK (32 bytes + 16-byte tag)
//! 65      12    nonce of the payload
//! 77      n+16  payload sealed under the DEK (n bytes + 16-byte tag)
//! ```
//!
//! Both seals authenticate `header ‖ label ‖ 0x00 ‖ context`, where the header is the first 5
//! bytes, the label is `dek` or `data`, and the context is
//! `flowvault:v1:{tenant}:{object}:{purpose}`. Changing the version or the term, moving the
//! bytes to another tenant, object or purpose, or swapping the wrapped DEK for another makes
//! opening fail.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::{KEY_LEN, Key32};

/// The format version this build writes.
pub const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const WRAPPED_DEK_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;
const PAYLOAD_AT: usize = HEADER_LEN + WRAPPED_DEK_LEN;
/// The size of the smallest envelope (an empty payload).
pub const OVERHEAD: usize = PAYLOAD_AT + NONCE_LEN + TAG_LEN;

/// What a ciphertext is bound to: a tenant, an object in it, and the purpose of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealContext(String);

impl SealContext {
    /// The context `flowvault:v1:{tenant}:{object}:{purpose}`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidContext`] if a component is empty or holds anything but printable
    /// ASCII other than `:` (so no two contexts share a text form).
    pub fn new(tenant: &str, object: &str, purpose: &str) -> Result<Self, CryptoError> {
        let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if ok(tenant) && ok(object) && ok(purpose) {
            Ok(Self(format!("flowvault:v1:{tenant}:{object}:{purpose}")))
        } else {
            Err(CryptoError::InvalidContext)
        }
    }

    /// The text form, as authenticated.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn aad(header: &[u8], label: &[u8], ctx: &SealContext) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + label.len() + 1 + ctx.0.len());
    out.extend_from_slice(header);
    out.extend_from_slice(label);
    out.push(0);
    out.extend_from_slice(ctx.0.as_bytes());
    out
}

/// Random inputs of one seal, drawn together in one call to the OS generator.
pub(crate) struct SealRandomness {
    pub(crate) dek: Key32,
    pub(crate) wrap_nonce: [u8; NONCE_LEN],
    pub(crate) payload_nonce: [u8; NONCE_LEN],
}

impl SealRandomness {
    pub(crate) fn draw() -> Result<Self, CryptoError> {
        let mut buf = Zeroizing::new([0u8; KEY_LEN + 2 * NONCE_LEN]);
        getrandom::fill(buf.as_mut()).map_err(|_| CryptoError::Rng)?;
        let (dek, nonces) = buf.split_at(KEY_LEN);
        let (wrap, payload) = nonces.split_at(NONCE_LEN);
        Ok(Self {
            dek: Key32::from_slice(dek)?,
            wrap_nonce: wrap.try_into().map_err(|_| CryptoError::Rng)?,
            payload_nonce: payload.try_into().map_err(|_| CryptoError::Rng)?,
        })
    }
}

/// Seals `plaintext` under `kek` (term `term`) with the given randomness.
pub(crate) fn seal(
    kek: &Aes256Gcm,
    term: u32,
    rnd: &SealRandomness,
    ctx: &SealContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&term.to_be_bytes());
    let header: [u8; HEADER_LEN] = [out[0], out[1], out[2], out[3], out[4]];

    out.extend_from_slice(&rnd.wrap_nonce);
    let at = out.len();
    out.extend_from_slice(rnd.dek.bytes());
    let tag = kek
        .encrypt_inout_detached(
            &Nonce::from(rnd.wrap_nonce),
            &aad(&header, b"dek", ctx),
            (&mut out[at..]).into(),
        )
        .map_err(|_| CryptoError::Malformed)?;
    out.extend_from_slice(&tag);

    out.extend_from_slice(&rnd.payload_nonce);
    let at = out.len();
    out.extend_from_slice(plaintext);
    let dek = Aes256Gcm::new(rnd.dek.bytes().into());
    let tag = dek
        .encrypt_inout_detached(
            &Nonce::from(rnd.payload_nonce),
            &aad(&header, b"data", ctx),
            (&mut out[at..]).into(),
        )
        .map_err(|_| CryptoError::Malformed)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The KEK term a ciphertext was sealed under, after checking its version and length.
pub(crate) fn term_of(blob: &[u8]) -> Result<u32, CryptoError> {
    if blob.len() < OVERHEAD {
        return Err(CryptoError::Malformed);
    }
    if blob[0] != FORMAT_VERSION {
        return Err(CryptoError::UnsupportedVersion(blob[0]));
    }
    Ok(u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]))
}

/// Opens a ciphertext whose term's KEK is `kek`.
pub(crate) fn open(
    kek: &Aes256Gcm,
    ctx: &SealContext,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    term_of(blob)?;
    let header = &blob[..HEADER_LEN];
    let (wrap_nonce, rest) = blob[HEADER_LEN..].split_at(NONCE_LEN);
    let (wrapped, rest) = rest.split_at(KEY_LEN + TAG_LEN);
    let (payload_nonce, sealed) = rest.split_at(NONCE_LEN);

    let mut dek = Zeroizing::new([0u8; KEY_LEN]);
    let (ct, tag) = wrapped.split_at(KEY_LEN);
    dek.copy_from_slice(ct);
    kek.decrypt_inout_detached(
        &nonce(wrap_nonce)?,
        &aad(header, b"dek", ctx),
        dek.as_mut_slice().into(),
        &tag_of(tag)?,
    )
    .map_err(|_| CryptoError::DecryptionFailed)?;

    let (ct, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    let mut plain = Zeroizing::new(ct.to_vec());
    Aes256Gcm::new((&*dek).into())
        .decrypt_inout_detached(
            &nonce(payload_nonce)?,
            &aad(header, b"data", ctx),
            plain.as_mut_slice().into(),
            &tag_of(tag)?,
        )
        .map_err(|_| CryptoError::DecryptionFailed)?;
    Ok(plain)
}

fn nonce(bytes: &[u8]) -> Result<Nonce<aes_gcm::aead::consts::U12>, CryptoError> {
    Nonce::try_from(bytes).map_err(|_| CryptoError::Malformed)
}

fn tag_of(bytes: &[u8]) -> Result<Tag, CryptoError> {
    Tag::try_from(bytes).map_err(|_| CryptoError::Malformed)
}

/// Seals a 32-byte key under the master key: `0x01 ‖ nonce(12) ‖ key sealed (48)`, authenticated
/// with `flowvault:v1:keyring:{kind}:{term}`.
pub(crate) fn seal_key(
    master: &Key32,
    label: &str,
    key: &Key32,
    nonce_bytes: [u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(1 + WRAPPED_DEK_LEN);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&nonce_bytes);
    let at = out.len();
    out.extend_from_slice(key.bytes());
    let aad = format!("flowvault:v1:keyring:{label}");
    let tag = Aes256Gcm::new(master.bytes().into())
        .encrypt_inout_detached(&Nonce::from(nonce_bytes), aad.as_bytes(), (&mut out[at..]).into())
        .map_err(|_| CryptoError::Malformed)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens what [`seal_key`] wrote.
pub(crate) fn open_key(master: &Key32, label: &str, sealed: &[u8]) -> Result<Key32, CryptoError> {
    if sealed.len() != 1 + WRAPPED_DEK_LEN {
        return Err(CryptoError::Malformed);
    }
    if sealed[0] != FORMAT_VERSION {
        return Err(CryptoError::UnsupportedVersion(sealed[0]));
    }
    let (nonce_bytes, rest) = sealed[1..].split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(KEY_LEN);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(ct);
    let aad = format!("flowvault:v1:keyring:{label}");
    Aes256Gcm::new(master.bytes().into())
        .decrypt_inout_detached(
            &nonce(nonce_bytes)?,
            aad.as_bytes(),
            key.as_mut_slice().into(),
            &tag_of(tag)?,
        )
        .map_err(|_| CryptoError::DecryptionFailed)?;
    Key32::from_slice(&*key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> (Aes256Gcm, SealRandomness, SealContext) {
        let kek = Aes256Gcm::new(&[0x11; 32].into());
        let rnd = SealRandomness {
            dek: Key32::from_slice(&[0x22; 32]).unwrap_or_else(|_| unreachable!()),
            wrap_nonce: [0x33; 12],
            payload_nonce: [0x44; 12],
        };
        let ctx = SealContext::new("tn_a", "ac_b", "setup").unwrap_or_else(|_| unreachable!());
        (kek, rnd, ctx)
    }

    #[test]
    fn layout_is_as_documented() {
        let (kek, rnd, ctx) = fixed();
        let blob = seal(&kek, 7, &rnd, &ctx, b"hello").unwrap_or_default();
        assert_eq!(blob.len(), OVERHEAD + 5);
        assert_eq!(&blob[..5], &[1, 0, 0, 0, 7]);
        assert_eq!(&blob[5..17], &[0x33; 12]);
        assert_eq!(&blob[65..77], &[0x44; 12]);
        assert_eq!(term_of(&blob), Ok(7));
        assert_eq!(open(&kek, &ctx, &blob).map(|p| p.to_vec()), Ok(b"hello".to_vec()));
    }

    /// Sealing with the randomness of the known-answer file writes exactly the bytes the
    /// independent implementation wrote.
    #[test]
    fn seal_writes_the_known_answer_bytes() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/envelope_v1.json"))
                .unwrap_or_default();
        let case = &v["open"][0];
        let text = |k: &str| case[k].as_str().unwrap_or_default().to_owned();
        let bytes = |k: &str| hex::decode(text(k)).unwrap_or_default();
        let kek: Vec<u8> = (0x20..0x40).collect();
        let rnd = SealRandomness {
            dek: Key32::from_slice(&(0x60..0x80).collect::<Vec<u8>>())
                .unwrap_or_else(|_| unreachable!()),
            wrap_nonce: [0xB1; 12],
            payload_nonce: [0xB2; 12],
        };
        let ctx = SealContext::new(&text("tenant"), &text("object"), &text("purpose"))
            .unwrap_or_else(|_| unreachable!());
        let kek = Aes256Gcm::new_from_slice(&kek).unwrap_or_else(|_| unreachable!());
        let blob = seal(&kek, 1, &rnd, &ctx, &bytes("plaintext")).unwrap_or_default();
        assert!(!blob.is_empty());
        assert_eq!(hex::encode(blob), text("ciphertext"));
    }

    #[test]
    fn contexts_reject_separators_and_blanks() {
        assert!(SealContext::new("tn_a", "ac_b", "setup").is_ok());
        for (t, o, p) in [("", "o", "p"), ("t:x", "o", "p"), ("t", "o p", "p"), ("t", "o", "p\n")] {
            assert_eq!(SealContext::new(t, o, p), Err(CryptoError::InvalidContext));
        }
    }
}
