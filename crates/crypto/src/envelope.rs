//! The envelope format: how one secret object is sealed.
//!
//! Every seal draws a fresh random data key (DEK), encrypts the plaintext under it with
//! AES-256-GCM, and wraps the DEK with the keyring's active key-encryption key (KEK). A fresh DEK
//! per seal means each AES-GCM key encrypts exactly one message, so its random nonce is used
//! once.
//!
//! Layout, version 2 (what this build writes; integers big-endian):
//!
//! ```text
//! offset  len   field
//! 0       1     version = 0x02
//! 1       4     KEK term id
//! 5       40    DEK wrapped under the KEK with AES Key Wrap (RFC 3394)
//! 45      12    nonce of the payload
//! 57      n+16  payload sealed under the DEK (n bytes + 16-byte tag)
//! ```
//!
//! The payload seal authenticates `header ‖ "data" ‖ 0x00 ‖ context`, where the header is the
//! first 5 bytes and the context is `flowvault:v1:{tenant}:{object}:{purpose}`. AES Key Wrap is
//! deterministic: wrapping draws no nonce, so the number of seals under one KEK has no
//! random-nonce bound (AES-GCM with random 96-bit nonces must stay under 2^32 messages per key;
//! NIST SP 800-38F puts no such limit on KW, whose inputs here are fresh random keys). The wrap
//! itself takes no associated data; the binding to the header and context is the payload's: a
//! wrapped DEK moved into another envelope, or an envelope moved to another tenant, object or
//! purpose, fails the payload's authentication, and a changed term selects another KEK, under
//! which the wrap's integrity check fails.
//!
//! Version 1 (written by earlier builds, still opened) wrapped the DEK with AES-256-GCM under
//! the KEK and a random nonce:
//!
//! ```text
//! 0       1     version = 0x01
//! 1       4     KEK term id
//! 5       12    nonce of the DEK wrap
//! 17      48    DEK sealed under the KEK (32 bytes + 16-byte tag)
//! 65      12    nonce of the payload
//! 77      n+16  payload sealed under the DEK
//! ```
//!
//! with both seals authenticating `header ‖ label ‖ 0x00 ‖ context`, the label `dek` or `data`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap as _};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::{KEY_LEN, Key32};

/// The format version this build writes.
pub const FORMAT_VERSION: u8 = 2;
/// The earlier format, still opened.
const V1: u8 = 1;
const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// AES Key Wrap adds one 64-bit integrity block.
const KW_LEN: usize = KEY_LEN + 8;
const V1_WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;
const PAYLOAD_AT: usize = HEADER_LEN + KW_LEN;
const V1_PAYLOAD_AT: usize = HEADER_LEN + V1_WRAPPED_LEN;
/// The size of the smallest envelope this build writes (an empty payload).
pub const OVERHEAD: usize = PAYLOAD_AT + NONCE_LEN + TAG_LEN;
const V1_OVERHEAD: usize = V1_PAYLOAD_AT + NONCE_LEN + TAG_LEN;

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

/// An AES-256-GCM key.
pub(crate) fn gcm(key: &Key32) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, key.bytes())
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::InvalidKey("an AES-256 key must be 32 bytes"))
}

/// Random inputs of one seal, drawn together in one call to the OS generator.
pub(crate) struct SealRandomness {
    pub(crate) dek: Key32,
    pub(crate) payload_nonce: [u8; NONCE_LEN],
}

impl SealRandomness {
    pub(crate) fn draw() -> Result<Self, CryptoError> {
        let mut buf = Zeroizing::new([0u8; KEY_LEN + NONCE_LEN]);
        getrandom::fill(buf.as_mut()).map_err(|_| CryptoError::Rng)?;
        let (dek, nonce) = buf.split_at(KEY_LEN);
        Ok(Self {
            dek: Key32::from_slice(dek)?,
            payload_nonce: nonce.try_into().map_err(|_| CryptoError::Rng)?,
        })
    }
}

/// Seals `plaintext` (format 2) under the KEK `kek` of term `term`, with the given randomness.
pub(crate) fn seal(
    kek: &Key32,
    term: u32,
    rnd: &SealRandomness,
    ctx: &SealContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&term.to_be_bytes());
    let header: [u8; HEADER_LEN] = [out[0], out[1], out[2], out[3], out[4]];

    let mut wrapped = [0u8; KW_LEN];
    AesKek::new(&AES_256, kek.bytes())
        .and_then(|k| k.wrap(rnd.dek.bytes(), &mut wrapped).map(|w| w.len()))
        .map_err(|_| CryptoError::Malformed)?;
    out.extend_from_slice(&wrapped);

    out.extend_from_slice(&rnd.payload_nonce);
    let at = out.len();
    out.extend_from_slice(plaintext);
    let mut body = out.split_off(at);
    gcm(&rnd.dek)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(rnd.payload_nonce),
            Aad::from(aad(&header, b"data", ctx)),
            &mut body,
        )
        .map_err(|_| CryptoError::Malformed)?;
    out.append(&mut body);
    Ok(out)
}

/// The format version and KEK term of a ciphertext, after checking its length.
pub(crate) fn header_of(blob: &[u8]) -> Result<(u8, u32), CryptoError> {
    let Some(&version) = blob.first() else { return Err(CryptoError::Malformed) };
    let min = match version {
        FORMAT_VERSION => OVERHEAD,
        V1 => V1_OVERHEAD,
        other => return Err(CryptoError::UnsupportedVersion(other)),
    };
    if blob.len() < min {
        return Err(CryptoError::Malformed);
    }
    Ok((version, u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]])))
}

/// Opens a ciphertext (either format) whose term's KEK is `kek`.
pub(crate) fn open(
    kek: &Key32,
    ctx: &SealContext,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (version, _) = header_of(blob)?;
    let header = &blob[..HEADER_LEN];
    let mut dek = Zeroizing::new([0u8; KEY_LEN]);
    let payload = if version == FORMAT_VERSION {
        let (wrapped, rest) = blob[HEADER_LEN..].split_at(KW_LEN);
        AesKek::new(&AES_256, kek.bytes())
            .and_then(|k| k.unwrap(wrapped, dek.as_mut_slice()).map(|d| d.len()))
            .map_err(|_| CryptoError::DecryptionFailed)?;
        rest
    } else {
        let (wrap_nonce, rest) = blob[HEADER_LEN..].split_at(NONCE_LEN);
        let (wrapped, rest) = rest.split_at(KEY_LEN + TAG_LEN);
        let mut buf = Zeroizing::new(wrapped.to_vec());
        let opened = gcm(kek)?
            .open_in_place(nonce(wrap_nonce)?, Aad::from(aad(header, b"dek", ctx)), &mut buf)
            .map_err(|_| CryptoError::DecryptionFailed)?;
        dek.copy_from_slice(opened);
        rest
    };
    let (payload_nonce, sealed) = payload.split_at(NONCE_LEN);
    let mut plain = Zeroizing::new(sealed.to_vec());
    let len = gcm(&Key32::from_slice(dek.as_slice())?)?
        .open_in_place(nonce(payload_nonce)?, Aad::from(aad(header, b"data", ctx)), &mut plain)
        .map_err(|_| CryptoError::DecryptionFailed)?
        .len();
    plain.truncate(len);
    Ok(plain)
}

fn nonce(bytes: &[u8]) -> Result<Nonce, CryptoError> {
    Nonce::try_assume_unique_for_key(bytes).map_err(|_| CryptoError::Malformed)
}

/// Seals a 32-byte key under the master key: `version ‖ nonce(12) ‖ key sealed (48)`,
/// authenticated with `flowvault:v{version}:keyring:{label}`. The master key seals a handful of
/// keys in a vault's life, so a random nonce is far from any bound. Version 2 marks a keyring
/// whose vault authenticates its rows (see [`crate::Keyring::needs_upgrade`]).
pub(crate) fn seal_key(
    master: &Key32,
    label: &str,
    key: &Key32,
    nonce_bytes: [u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(1 + V1_WRAPPED_LEN);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&nonce_bytes);
    let mut body = key.bytes().to_vec();
    gcm(master)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(key_aad(FORMAT_VERSION, label)),
            &mut body,
        )
        .map_err(|_| CryptoError::Malformed)?;
    out.extend_from_slice(&body);
    zeroize::Zeroize::zeroize(&mut body);
    Ok(out)
}

/// Opens what [`seal_key`] wrote (or its version 1): the key and the version it was sealed as.
pub(crate) fn open_key(
    master: &Key32,
    label: &str,
    sealed: &[u8],
) -> Result<(Key32, u8), CryptoError> {
    if sealed.len() != 1 + V1_WRAPPED_LEN {
        return Err(CryptoError::Malformed);
    }
    let version = sealed[0];
    if version != FORMAT_VERSION && version != V1 {
        return Err(CryptoError::UnsupportedVersion(version));
    }
    let (nonce_bytes, rest) = sealed[1..].split_at(NONCE_LEN);
    let mut buf = Zeroizing::new(rest.to_vec());
    let key = gcm(master)?
        .open_in_place(nonce(nonce_bytes)?, Aad::from(key_aad(version, label)), &mut buf)
        .map_err(|_| CryptoError::DecryptionFailed)?;
    Ok((Key32::from_slice(key)?, version))
}

fn key_aad(version: u8, label: &str) -> Vec<u8> {
    format!("flowvault:v{version}:keyring:{label}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key32 {
        Key32::from_slice(&[byte; 32]).unwrap_or_else(|_| unreachable!())
    }

    fn fixed() -> (Key32, SealRandomness, SealContext) {
        let rnd = SealRandomness { dek: key(0x22), payload_nonce: [0x44; 12] };
        let ctx = SealContext::new("tn_a", "ac_b", "setup").unwrap_or_else(|_| unreachable!());
        (key(0x11), rnd, ctx)
    }

    #[test]
    fn layout_is_as_documented() {
        let (kek, rnd, ctx) = fixed();
        let blob = seal(&kek, 7, &rnd, &ctx, b"hello").unwrap_or_default();
        assert_eq!(blob.len(), OVERHEAD + 5);
        assert_eq!(OVERHEAD, 73);
        assert_eq!(&blob[..5], &[2, 0, 0, 0, 7]);
        assert_eq!(&blob[45..57], &[0x44; 12]);
        assert_eq!(header_of(&blob), Ok((2, 7)));
        assert_eq!(open(&kek, &ctx, &blob).map(|p| p.to_vec()), Ok(b"hello".to_vec()));
        assert_eq!(open(&key(0x12), &ctx, &blob).err(), Some(CryptoError::DecryptionFailed));
    }

    /// Sealing with the randomness of the known-answer file writes exactly the bytes the
    /// independent implementation wrote.
    #[test]
    fn seal_writes_the_known_answer_bytes() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/envelope.json"))
                .unwrap_or_default();
        let case = &v["open"][0];
        let text = |k: &str| case[k].as_str().unwrap_or_default().to_owned();
        let bytes = |k: &str| hex::decode(text(k)).unwrap_or_default();
        assert_eq!(text("format"), "2");
        let kek = Key32::from_slice(&(0x20..0x40).collect::<Vec<u8>>())
            .unwrap_or_else(|_| unreachable!());
        let rnd = SealRandomness {
            dek: Key32::from_slice(&(0x60..0x80).collect::<Vec<u8>>())
                .unwrap_or_else(|_| unreachable!()),
            payload_nonce: [0xB2; 12],
        };
        let ctx = SealContext::new(&text("tenant"), &text("object"), &text("purpose"))
            .unwrap_or_else(|_| unreachable!());
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

    #[test]
    fn keys_sealed_under_one_label_do_not_open_under_another() {
        let master = key(0x01);
        let sealed = seal_key(&master, "kek:1", &key(0x09), [0x05; 12]).unwrap_or_default();
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert!(
            open_key(&master, "kek:1", &sealed).is_ok_and(|(k, v)| k.bytes() == &[9; 32] && v == 2)
        );
        assert_eq!(open_key(&master, "kek:2", &sealed).err(), Some(CryptoError::DecryptionFailed));
        let mut as_v1 = sealed.clone();
        as_v1[0] = V1;
        assert_eq!(open_key(&master, "kek:1", &as_v1).err(), Some(CryptoError::DecryptionFailed));
    }
}
