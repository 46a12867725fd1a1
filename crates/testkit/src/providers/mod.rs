//! Fakes of the providers flowvault's actions call. Each checks authentication and the request's
//! shape the way the real service does (rejecting what it would reject, with its error format),
//! records what it received (headers that carry credentials are not kept), and answers like the
//! real service.

pub mod activecampaign;
pub mod airtable;
pub mod auth0;
pub mod clearbit;
pub mod google_sheets;
pub mod hubspot;
pub mod mailchimp;
pub mod mailjet;
pub mod pipedrive;
pub mod salesforce;
pub mod sendgrid;
pub mod slack;
pub mod stripe;
pub mod telegram;
pub mod twilio;
pub mod upstream;
pub mod whatsapp;
pub mod zapier;

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

/// One request a fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The body: JSON as JSON, a form as an object of strings, anything else as a string.
    pub body: Value,
}

/// What a fake received, shared with the test.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Received>>>);

impl Log {
    /// Records one request.
    pub fn push(&self, r: Received) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(r);
    }

    /// Everything received so far.
    #[must_use]
    pub fn all(&self) -> Vec<Received> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The last request received.
    #[must_use]
    pub fn last(&self) -> Option<Received> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).last().cloned()
    }
}
