//! Each action module against its provider's fake: the request it sends (method, path, auth,
//! content type, fields) and what it makes of the answers, errors included.

mod activecampaign;
mod airtable;
mod auth0;
mod bigquery;
mod clearbit;
mod email;
mod google_sheets;
mod harness;
mod http_request;
mod hubspot;
mod json_jwt;
mod mailchimp;
mod mailjet;
mod otp;
mod pipedrive;
mod salesforce;
mod sendgrid;
mod slack;
mod stripe;
mod telegram;
mod twilio;
mod whatsapp;
mod xml;
mod zapier;
