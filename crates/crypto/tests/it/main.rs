//! Integration tests of flowvault-crypto's public face.

mod roundtrip;
mod vectors;
