//! One module per app: each builds its provider's documented request from the rendered params
//! and the connection's credentials, and turns the answer into the action's output (or a
//! readable error). Logic actions (`FLOW`, which need the run's state) live in the runner.

mod activecampaign;
mod airtable;
mod auth0;
mod bigquery;
mod clearbit;
mod delivery;
mod email;
mod google_sheets;
mod http;
mod http_request;
mod hubspot;
mod json;
mod jwt;
mod mailchimp;
mod mailjet;
mod otp;
mod pipedrive;
mod salesforce;
mod sendgrid;
mod slack;
mod smtp;
mod stripe;
mod telegram;
mod twilio;
mod whatsapp;
pub(crate) mod xml;
mod zapier;

use flowvault_core::{ActionId, ActionSpec, Channel, DeliverySettings, OtpOp, TenantId, Timestamp};
use flowvault_store::Vault;
use serde_json::{Map, Value};

pub(crate) use self::delivery::not_configured as delivery_not_configured;
pub use self::http::{ActionError, Auth, Body, Http, Request, Response, provider_error};
use crate::credentials::Credentials;
use crate::mx::MxResolver;

/// One action about to run: its params (templates already rendered), the connection's
/// credentials if it uses one, and the HTTP helper. `Debug` shows the action only: params may
/// hold masked values or Basic credentials.
pub struct Call<'a> {
    /// What it is.
    pub spec: &'static ActionSpec,
    /// Its params, rendered.
    pub params: &'a Value,
    /// The connection's credentials, resolved just now: for `AUTH0 SEND_EMAIL`, `SEND_SMS` and
    /// `MAKE_CALL`, those of the connection the delivery settings name for the channel.
    pub credentials: Option<&'a Credentials>,
    /// The tenant's delivery settings, read as the action started, for the actions that send
    /// through them (`None` for the others).
    pub delivery: Option<&'a DeliverySettings>,
    /// Outbound HTTP.
    pub http: &'a Http<'a>,
    /// Mail exchanger lookups (`EMAIL VERIFY_EMAIL`).
    pub mx: &'a dyn MxResolver,
    /// The time of the run.
    pub now: Timestamp,
    /// The tenant the flow runs in.
    pub tenant: &'a TenantId,
    /// The vault, for actions that keep state of the tenant's (one-time codes) or use its
    /// settings.
    pub vault: &'a Vault,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("type", &self.spec.kind)
            .field("action", &self.spec.action)
            .field("has_credentials", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

/// Runs one action of an app or of the logic types that need no run state (`JSON`, `JWT`,
/// `XML`, `EMAIL`, `OTP`); `FLOW` actions, which read and change the run, are the runner's. The
/// match is over every action of the catalog: an action added to it without an implementation
/// does not compile.
///
/// # Errors
/// [`ActionError`] with the provider's message.
pub async fn invoke(call: &Call<'_>) -> Result<Value, ActionError> {
    match call.spec.id {
        ActionId::Activecampaign(op) => activecampaign::run(op, call).await,
        ActionId::Airtable(op) => airtable::run(op, call).await,
        ActionId::Auth0(op) => auth0::run(op, call).await,
        ActionId::Bigquery(op) => bigquery::run(op, call).await,
        ActionId::Clearbit(op) => clearbit::run(op, call).await,
        ActionId::Email(op) => email::run(op, call).await,
        ActionId::Flow(_) => Err(ActionError::new("FLOW actions are run by the runner")),
        ActionId::GoogleSheets(op) => google_sheets::run(op, call).await,
        ActionId::Http(op) => http_request::run(op, call).await,
        ActionId::Hubspot(op) => hubspot::run(op, call).await,
        ActionId::Json(op) => json::run(op, call),
        ActionId::Jwt(op) => jwt::run(op, call),
        ActionId::Mailchimp(op) => mailchimp::run(op, call).await,
        ActionId::Mailjet(op) => mailjet::run(op, call).await,
        ActionId::Otp(op) => otp::run(op, call).await,
        ActionId::Pipedrive(op) => pipedrive::run(op, call).await,
        ActionId::Salesforce(op) => salesforce::run(op, call).await,
        ActionId::Sendgrid(op) => sendgrid::run(op, call).await,
        ActionId::Slack(op) => slack::run(op, call).await,
        ActionId::Stripe(op) => stripe::run(op, call).await,
        ActionId::Telegram(op) => telegram::run(op, call).await,
        ActionId::Twilio(op) => twilio::run(op, call).await,
        ActionId::Whatsapp(op) => whatsapp::run(op, call).await,
        ActionId::Xml(op) => xml::run(op, call),
        ActionId::Zapier(op) => zapier::run(op, call).await,
    }
}

/// The channel of the tenant's delivery settings an action sends on (`AUTH0 SEND_EMAIL`,
/// `SEND_SMS`, `MAKE_CALL`): the runner resolves that channel's connection as the action's
/// credentials.
#[must_use]
pub(crate) fn delivery_channel(id: ActionId) -> Option<Channel> {
    match id {
        ActionId::Auth0(op) => delivery::channel(op),
        _ => None,
    }
}

/// Whether an action's output is a secret flowvault made itself: the code of `OTP
/// GENERATE_CODE`, which a later action must be able to send. The runner treats it as it treats
/// a `functions.mask` value: later templates read it as it is, the execution record never shows
/// it. Made here from the OS generator, it holds no provider echo to scrub first.
#[must_use]
pub(crate) fn output_is_secret(id: ActionId) -> bool {
    matches!(id, ActionId::Otp(OtpOp::GenerateCode))
}

/// The params of an action that are secrets of the run, redacted from the record wherever they
/// appear: the code `OTP VERIFY_CODE` checks (one that was not used up — a wrong reference, a
/// store that failed — may still be valid).
#[must_use]
pub(crate) fn secret_params(id: ActionId) -> &'static [&'static str] {
    match id {
        ActionId::Otp(OtpOp::VerifyCode) => &["code"],
        _ => &[],
    }
}

/// `value` as one path segment: percent-encoded (a space as `%20`), and refused if it is empty,
/// `.` or `..` — which would move the request up the provider's path.
///
/// # Errors
/// [`ActionError`] for those.
pub(crate) fn path_segment(value: &str) -> Result<String, ActionError> {
    if matches!(value, "" | "." | "..") {
        return Err(ActionError::new(format!("`{value}` can't be an id in a URL path")));
    }
    Ok(url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20"))
}

impl Call<'_> {
    /// A string param (numbers and booleans are turned into text); `None` if absent or null.
    #[must_use]
    pub fn opt_str(&self, name: &str) -> Option<String> {
        match self.params.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        }
    }

    /// A string param that must be there and not empty.
    ///
    /// # Errors
    /// [`ActionError`] naming the param.
    pub fn str(&self, name: &str) -> Result<String, ActionError> {
        self.opt_str(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ActionError::new(format!("param `{name}` is empty")))
    }

    /// An object param (absent or null: `None`).
    ///
    /// # Errors
    /// [`ActionError`] if it is there but not an object.
    pub fn object(&self, name: &str) -> Result<Option<&Map<String, Value>>, ActionError> {
        match self.params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ActionError::new(format!("param `{name}` must be an object"))),
        }
    }

    /// A param as given (null if absent).
    #[must_use]
    pub fn value(&self, name: &str) -> Value {
        self.params.get(name).cloned().unwrap_or(Value::Null)
    }

    /// The connection's setup field `name` (secrets included: for the request only).
    ///
    /// # Errors
    /// [`ActionError`] if the action has no connection or the field is missing.
    pub fn setup(&self, name: &str) -> Result<&str, ActionError> {
        self.credentials
            .and_then(|c| c.setup.expose(name))
            .ok_or_else(|| ActionError::new(format!("the connection has no `{name}`")))
    }

    /// The base URL of `app`'s API for this call: the operator's `base_url`, else the host the
    /// connection's provider named (Salesforce's `instance_url`), else `default`.
    #[must_use]
    pub fn base(&self, app: flowvault_core::AppId, default: &str) -> String {
        let own = self.credentials.and_then(|c| c.token.as_ref()).and_then(|t| t.api_base.as_ref());
        self.http.base_for(app, own, default)
    }

    /// The connection's setup type.
    #[must_use]
    pub fn setup_type(&self) -> Option<flowvault_core::SetupType> {
        self.credentials.map(|c| c.setup.setup_type())
    }

    /// The connection's access token (OAuth connections).
    ///
    /// # Errors
    /// [`ActionError`] if the connection has none.
    pub fn access_token(&self) -> Result<&str, ActionError> {
        self.credentials
            .and_then(|c| c.token.as_deref())
            .map(crate::credentials::Fresh::expose)
            .ok_or_else(|| ActionError::new("the connection has no access token"))
    }
}
