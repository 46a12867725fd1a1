//! MX answers from a table, in place of DNS.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use flowvault_engine::{MxError, MxResolver};

/// A resolver for `EMAIL VERIFY_EMAIL` tests: a domain given hosts with [`StaticMx::set`]
/// answers them, one given [`StaticMx::fail`] fails, any other has no MX record. Every lookup
/// is recorded, so a test can tell that none was made.
#[derive(Debug, Default)]
pub struct StaticMx {
    answers: Mutex<HashMap<String, Result<Vec<String>, String>>>,
    lookups: Mutex<Vec<String>>,
}

impl StaticMx {
    /// An empty table: every domain has no MX record.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `domain` answers `hosts`.
    pub fn set(&self, domain: &str, hosts: &[&str]) -> &Self {
        let hosts = hosts.iter().map(|h| (*h).to_owned()).collect();
        self.table().insert(domain.to_lowercase(), Ok(hosts));
        self
    }

    /// Lookups of `domain` fail with `message`.
    pub fn fail(&self, domain: &str, message: &str) -> &Self {
        self.table().insert(domain.to_lowercase(), Err(message.to_owned()));
        self
    }

    /// The domains looked up so far, in order.
    #[must_use]
    pub fn lookups(&self) -> Vec<String> {
        self.lookups.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Result<Vec<String>, String>>> {
        // A test that panicked while holding the lock left the table whole: keep using it.
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl MxResolver for StaticMx {
    async fn mail_exchangers(&self, domain: &str) -> Result<Vec<String>, MxError> {
        self.lookups.lock().unwrap_or_else(PoisonError::into_inner).push(domain.to_owned());
        match self.table().get(&domain.to_lowercase()) {
            Some(Ok(hosts)) => Ok(hosts.clone()),
            Some(Err(message)) => Err(MxError(message.clone())),
            None => Ok(Vec::new()),
        }
    }
}
