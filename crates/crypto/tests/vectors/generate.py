#!/usr/bin/env python3
"""Writes envelope_v1.json: known-answer vectors for flowvault's envelope format, computed here
with the `cryptography` package (an implementation independent of the Rust code), from the
layout documented in crates/crypto/src/envelope.rs.

    python3 crates/crypto/tests/vectors/generate.py > crates/crypto/tests/vectors/envelope_v1.json
"""
import base64
import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER = bytes(range(0x00, 0x20))
KEK = bytes(range(0x20, 0x40))
FP_KEY = bytes(range(0x40, 0x60))
DEK = bytes(range(0x60, 0x80))
KEY_NONCES = {("kek", 1): bytes([0xA1] * 12), ("fingerprint", 1): bytes([0xA2] * 12)}
WRAP_NONCE = bytes([0xB1] * 12)
PAYLOAD_NONCE = bytes([0xB2] * 12)


def seal_key(kind, term, key):
    nonce = KEY_NONCES[(kind, term)]
    aad = f"flowvault:v1:keyring:{kind}:{term}".encode()
    return bytes([1]) + nonce + AESGCM(MASTER).encrypt(nonce, key, aad)


def context(tenant, obj, purpose):
    return f"flowvault:v1:{tenant}:{obj}:{purpose}".encode()


def seal(term, ctx, plaintext):
    header = bytes([1]) + struct.pack(">I", term)
    wrapped = AESGCM(KEK).encrypt(WRAP_NONCE, DEK, header + b"dek\x00" + ctx)
    payload = AESGCM(DEK).encrypt(PAYLOAD_NONCE, plaintext, header + b"data\x00" + ctx)
    return header + WRAP_NONCE + wrapped + PAYLOAD_NONCE + payload


def fingerprint(parts):
    mac = hmac.new(FP_KEY, b"flowvault:v1:fingerprint", hashlib.sha256)
    for p in parts:
        mac.update(struct.pack(">Q", len(p)) + p)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


tenant, obj, purpose = "tn_0123456789ABCDEFGHIJKL", "ac_0123456789ABCDEFGHIJKL", "setup"
plaintext = b'{"account_id":"AC0123456789abcdef0123456789abcdef","api_key":"kat-secret","type":"API_KEY"}'
good = seal(1, context(tenant, obj, purpose), plaintext)

out = {
    "about": "Known-answer vectors for the flowvault envelope format v1; see generate.py.",
    "master_key": MASTER.hex(),
    "stored_keys": [
        {"kind": "kek", "term": 1, "sealed": seal_key("kek", 1, KEK).hex()},
        {"kind": "fingerprint", "term": 1, "sealed": seal_key("fingerprint", 1, FP_KEY).hex()},
    ],
    "open": [
        {"name": "setup", "tenant": tenant, "object": obj, "purpose": purpose,
         "plaintext": plaintext.hex(), "ciphertext": good.hex()},
        {"name": "empty_tokens", "tenant": tenant, "object": obj, "purpose": "tokens",
         "plaintext": "", "ciphertext": seal(1, context(tenant, obj, "tokens"), b"").hex()},
    ],
    "fail": [
        {"name": "fail_tampered_tag", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": flip(good, len(good) - 1).hex(), "error": "DecryptionFailed"},
        {"name": "fail_tampered_payload", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": flip(good, 80).hex(), "error": "DecryptionFailed"},
        {"name": "fail_tampered_wrapped_dek", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": flip(good, 20).hex(), "error": "DecryptionFailed"},
        {"name": "fail_wrong_aad_object", "tenant": tenant, "object": "ac_ZZZZZZZZZZZZZZZZZZZZZZ",
         "purpose": purpose, "ciphertext": good.hex(), "error": "DecryptionFailed"},
        {"name": "fail_wrong_aad_tenant", "tenant": "tn_ZZZZZZZZZZZZZZZZZZZZZZ", "object": obj,
         "purpose": purpose, "ciphertext": good.hex(), "error": "DecryptionFailed"},
        {"name": "fail_wrong_aad_purpose", "tenant": tenant, "object": obj, "purpose": "tokens",
         "ciphertext": good.hex(), "error": "DecryptionFailed"},
        {"name": "fail_truncated", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": good[:92].hex(), "error": "Malformed"},
        {"name": "fail_truncated_tag", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": good[:-1].hex(), "error": "DecryptionFailed"},
        {"name": "fail_unknown_version", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": (bytes([2]) + good[1:]).hex(), "error": "UnsupportedVersion"},
        {"name": "fail_unknown_term", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": (good[:1] + struct.pack(">I", 9) + good[5:]).hex(), "error": "UnknownTerm"},
        {"name": "fail_empty", "tenant": tenant, "object": obj, "purpose": purpose,
         "ciphertext": "", "error": "Malformed"},
    ],
    "fingerprint": [
        {"parts": ["tn_t", "TWILIO", "{}"], "expected": fingerprint([b"tn_t", b"TWILIO", b"{}"])},
        {"parts": ["xy", ""], "expected": fingerprint([b"xy", b""])},
    ],
}
print(json.dumps(out, indent=2))
