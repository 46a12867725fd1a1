//! Entry points for the cargo-fuzz targets (`fuzz/`). Built only with the `fuzzing` feature.

/// Verifies a bearer token against throwaway keys; panics if anything but a token those keys
/// signed verifies.
pub fn management_token(token: &str) {
    assert!(crate::auth::throwaway_keys().verify(token).is_err());
}
