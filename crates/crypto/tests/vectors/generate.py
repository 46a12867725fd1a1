#!/usr/bin/env python3
"""Writes envelope.json: known-answer vectors for flowvault's envelope formats (2, written now;
1, still opened), its keyring seals, fingerprints and row MACs, computed here with the
`cryptography` package (an implementation independent of the Rust code), from the layouts
documented in crates/crypto/src/envelope.rs and keyring.rs.

    python3 crates/crypto/tests/vectors/generate.py > crates/crypto/tests/vectors/envelope.json
"""
import base64
import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

MASTER = bytes(range(0x00, 0x20))
KEK = bytes(range(0x20, 0x40))
FP_KEY = bytes(range(0x40, 0x60))
DEK = bytes(range(0x60, 0x80))
INTEGRITY_KEY = bytes(range(0x80, 0xA0))
KEY_NONCES = {
    ("kek", 1): bytes([0xA1] * 12),
    ("fingerprint", 1): bytes([0xA2] * 12),
    ("integrity", 1): bytes([0xA3] * 12),
}
WRAP_NONCE = bytes([0xB1] * 12)
PAYLOAD_NONCE = bytes([0xB2] * 12)


def seal_key(kind, term, key, version=2):
    nonce = KEY_NONCES[(kind, term)]
    aad = f"flowvault:v{version}:keyring:{kind}:{term}".encode()
    return bytes([version]) + nonce + AESGCM(MASTER).encrypt(nonce, key, aad)


def context(tenant, obj, purpose):
    return f"flowvault:v1:{tenant}:{obj}:{purpose}".encode()


def seal_v1(term, ctx, plaintext):
    header = bytes([1]) + struct.pack(">I", term)
    wrapped = AESGCM(KEK).encrypt(WRAP_NONCE, DEK, header + b"dek\x00" + ctx)
    payload = AESGCM(DEK).encrypt(PAYLOAD_NONCE, plaintext, header + b"data\x00" + ctx)
    return header + WRAP_NONCE + wrapped + PAYLOAD_NONCE + payload


def seal(term, ctx, plaintext):
    """Format 2: the DEK wrapped with AES Key Wrap (RFC 3394), the payload with AES-256-GCM."""
    header = bytes([2]) + struct.pack(">I", term)
    wrapped = aes_key_wrap(KEK, DEK)
    payload = AESGCM(DEK).encrypt(PAYLOAD_NONCE, plaintext, header + b"data\x00" + ctx)
    return header + wrapped + PAYLOAD_NONCE + payload


def mac(domain, parts):
    m = hmac.new(INTEGRITY_KEY, b"flowvault:v1:mac:" + domain.encode(), hashlib.sha256)
    for p in parts:
        m.update(struct.pack(">Q", len(p)) + p)
    return struct.pack(">I", 1) + m.digest()


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
good_v1 = seal_v1(1, context(tenant, obj, purpose), plaintext)


def case(name, ciphertext, error, object_=obj, tenant_=tenant, purpose_=purpose):
    return {"name": name, "tenant": tenant_, "object": object_, "purpose": purpose_,
            "ciphertext": ciphertext.hex(), "error": error}


def client_digest(secret):
    return hashlib.sha256(b"flowvault:v1:client-secret\x00" + secret.encode()).digest()


out = {
    "about": "Known-answer vectors for flowvault's envelope formats 2 and 1, keyring seals, "
             "fingerprints and row MACs; see generate.py.",
    "master_key": MASTER.hex(),
    "stored_keys": [
        {"kind": "kek", "term": 1, "sealed": seal_key("kek", 1, KEK).hex()},
        {"kind": "fingerprint", "term": 1, "sealed": seal_key("fingerprint", 1, FP_KEY).hex()},
        {"kind": "integrity", "term": 1, "sealed": seal_key("integrity", 1, INTEGRITY_KEY).hex()},
    ],
    "legacy_stored_keys": [
        {"kind": "kek", "term": 1, "sealed": seal_key("kek", 1, KEK, version=1).hex()},
        {"kind": "fingerprint", "term": 1,
         "sealed": seal_key("fingerprint", 1, FP_KEY, version=1).hex()},
    ],
    "open": [
        {"name": "setup", "format": "2", "tenant": tenant, "object": obj, "purpose": purpose,
         "plaintext": plaintext.hex(), "ciphertext": good.hex()},
        {"name": "empty_tokens", "format": "2", "tenant": tenant, "object": obj,
         "purpose": "tokens", "plaintext": "",
         "ciphertext": seal(1, context(tenant, obj, "tokens"), b"").hex()},
        {"name": "setup_format_1", "format": "1", "tenant": tenant, "object": obj,
         "purpose": purpose, "plaintext": plaintext.hex(), "ciphertext": good_v1.hex()},
        {"name": "empty_tokens_format_1", "format": "1", "tenant": tenant, "object": obj,
         "purpose": "tokens", "plaintext": "",
         "ciphertext": seal_v1(1, context(tenant, obj, "tokens"), b"").hex()},
    ],
    "fail": [
        case("fail_tampered_tag", flip(good, len(good) - 1), "DecryptionFailed"),
        case("fail_tampered_payload", flip(good, 60), "DecryptionFailed"),
        case("fail_tampered_wrapped_dek", flip(good, 20), "DecryptionFailed"),
        case("fail_tampered_nonce", flip(good, 50), "DecryptionFailed"),
        case("fail_tampered_header_term", good[:1] + struct.pack(">I", 1 << 24) + good[5:],
             "UnknownTerm"),
        case("fail_wrong_aad_object", good, "DecryptionFailed", object_="ac_ZZZZZZZZZZZZZZZZZZZZZZ"),
        case("fail_wrong_aad_tenant", good, "DecryptionFailed", tenant_="tn_ZZZZZZZZZZZZZZZZZZZZZZ"),
        case("fail_wrong_aad_purpose", good, "DecryptionFailed", purpose_="tokens"),
        case("fail_truncated", good[:72], "Malformed"),
        case("fail_truncated_tag", good[:-1], "DecryptionFailed"),
        case("fail_unknown_version", bytes([3]) + good[1:], "UnsupportedVersion"),
        case("fail_format_2_read_as_1", bytes([1]) + good[1:], "DecryptionFailed"),
        case("fail_unknown_term", good[:1] + struct.pack(">I", 9) + good[5:], "UnknownTerm"),
        case("fail_empty", b"", "Malformed"),
        case("fail_v1_tampered_tag", flip(good_v1, len(good_v1) - 1), "DecryptionFailed"),
        case("fail_v1_tampered_wrapped_dek", flip(good_v1, 20), "DecryptionFailed"),
        case("fail_v1_wrong_aad_object", good_v1, "DecryptionFailed",
             object_="ac_ZZZZZZZZZZZZZZZZZZZZZZ"),
        case("fail_v1_truncated", good_v1[:92], "Malformed"),
    ],
    "fingerprint": [
        {"parts": [tenant, obj, "TWILIO", "{}"],
         "expected": fingerprint([tenant.encode(), obj.encode(), b"TWILIO", b"{}"])},
        {"parts": ["xy", ""], "expected": fingerprint([b"xy", b""])},
    ],
    "mac": [
        {"domain": "client", "parts": ["mc_1", tenant, "read:flows"],
         "expected": mac("client", [b"mc_1", tenant.encode(), b"read:flows"]).hex()},
        {"domain": "flow", "parts": [tenant, "af_1", "1", "[]"],
         "expected": mac("flow", [tenant.encode(), b"af_1", b"1", b"[]"]).hex()},
    ],
    "client_secret": {
        "secret": "fvs_kat-client-secret",
        "legacy_digest": client_digest("fvs_kat-client-secret").hex(),
        "stored": mac("client-secret", [client_digest("fvs_kat-client-secret")]).hex(),
    },
}
print(json.dumps(out, indent=2))
