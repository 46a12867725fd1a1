//! Secrets given in the environment — the master key or passphrase, providers' OAuth client
//! secrets — are read once, at the very start, and removed from the process's environment: no
//! code that runs later (a library that logs its environment, a crash handler) reads them, and
//! no child process inherits them. The kernel's copy of the initial environment
//! (`/proc/PID/environ`, readable by the same user and root) is not changed by this; a key file
//! (mode 0600) is the safer way to give a key.

use std::collections::HashMap;
use std::sync::OnceLock;

use zeroize::Zeroizing;

/// The master key, base64.
pub(crate) const MASTER_KEY: &str = "FLOWVAULT_MASTER_KEY";
/// The master passphrase.
pub(crate) const MASTER_PASSPHRASE: &str = "FLOWVAULT_MASTER_PASSPHRASE";

static TAKEN: OnceLock<HashMap<String, Zeroizing<String>>> = OnceLock::new();

/// Where the variables are read from and removed: the process's environment, or a map in tests.
pub(crate) trait Environment {
    /// Every variable's name.
    fn names(&self) -> Vec<String>;
    /// A variable's value, if it is set and valid Unicode.
    fn get(&self, name: &str) -> Option<String>;
    /// Removes a variable.
    fn remove(&mut self, name: &str);
}

/// The process's environment.
pub(crate) struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn names(&self) -> Vec<String> {
        std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()).collect()
    }

    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    #[allow(unsafe_code, reason = "see the SAFETY comment")]
    fn remove(&mut self, name: &str) {
        // SAFETY: `remove_var` is unsafe because another thread may read the environment at the
        // same time. `take` is called first thing in `main`, before the async runtime (or
        // anything else) starts a thread, so this process has one thread here.
        unsafe { std::env::remove_var(name) }
    }
}

/// Whether `name` holds a secret that is taken out of the environment.
fn is_secret(name: &str) -> bool {
    name == MASTER_KEY
        || name == MASTER_PASSPHRASE
        || (name.starts_with("FLOWVAULT_PROVIDER_") && name.ends_with("_CLIENT_SECRET"))
}

/// Reads the secret variables of `env` and removes them from it. Only the first call in a
/// process keeps what it read.
pub(crate) fn take(env: &mut impl Environment) -> HashMap<String, Zeroizing<String>> {
    let mut taken = HashMap::new();
    for name in env.names().into_iter().filter(|n| is_secret(n)) {
        if let Some(value) = env.get(&name) {
            taken.insert(name.clone(), Zeroizing::new(value));
        }
        env.remove(&name);
    }
    taken
}

/// Takes the secret variables out of the process's environment. Call before any thread starts.
pub(crate) fn take_from_process() {
    let taken = take(&mut ProcessEnvironment);
    let _ = TAKEN.set(taken);
}

/// The value a secret variable had when the process started (empty counts as unset).
pub(crate) fn get(name: &str) -> Option<Zeroizing<String>> {
    TAKEN.get()?.get(name).filter(|v| !v.is_empty()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Map(HashMap<String, String>);

    impl Environment for Map {
        fn names(&self) -> Vec<String> {
            self.0.keys().cloned().collect()
        }
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn remove(&mut self, name: &str) {
            self.0.remove(name);
        }
    }

    #[test]
    fn secret_variables_are_taken_out_and_others_left() {
        let mut env = Map(HashMap::from([
            (MASTER_KEY.to_owned(), "a2V5".to_owned()),
            (MASTER_PASSPHRASE.to_owned(), "correct horse".to_owned()),
            ("FLOWVAULT_PROVIDER_SLACK_CLIENT_SECRET".to_owned(), "s3cret".to_owned()),
            ("FLOWVAULT_PROVIDER_SLACK_CLIENT_ID".to_owned(), "id".to_owned()),
            ("FLOWVAULT_DATA_DIR".to_owned(), "/var/lib/flowvault".to_owned()),
        ]));
        let taken = take(&mut env);
        assert_eq!(taken.len(), 3);
        assert_eq!(taken.get(MASTER_KEY).map(|v| v.as_str()), Some("a2V5"));
        let mut left: Vec<&String> = env.0.keys().collect();
        left.sort();
        assert_eq!(left, ["FLOWVAULT_DATA_DIR", "FLOWVAULT_PROVIDER_SLACK_CLIENT_ID"]);
    }
}
