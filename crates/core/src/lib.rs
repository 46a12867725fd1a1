//! flowvault's domain, shared by every other crate: identifiers, the app catalog, the vault
//! connection model, timestamps, and the validation that turns requests into these types.
//!
//! This crate does no IO (beyond drawing random ids), knows nothing of tokio, SQL or HTTP, and
//! holds no key material: sealing setups is `flowvault-crypto`'s job, storing them
//! `flowvault-store`'s.

#[cfg(test)]
mod arbitrary;
mod catalog;
mod connection;
mod delivery;
mod execution;
mod flow;
mod hints;
mod ids;
mod labels;
mod net;
#[cfg(test)]
mod parser_props;
mod redact;
mod scope;
mod setup;
mod template;
mod time;
mod user;
mod validate;

pub use catalog::{
    AppId, AppSpec, CATALOG, CrossFieldRule, FieldKind, FieldSpec, Grant, Hint, SetupSpec,
    SetupType, UnknownName,
};
pub use connection::{Connection, ConnectionStatus, ConnectionSummary, TokenProblem};
pub use delivery::{
    Channel, DeliverySettings, EmailDelivery, EmailSender, PhoneDelivery, UnknownChannel, is_e164,
};
pub use execution::{ExecutionStatus, UnknownExecutionStatus};
pub use flow::{
    ActionId, ActionSpec, ActivecampaignOp, AirtableOp, Auth0Op, BigqueryOp, ClearbitOp,
    ConnectionRef, EmailOp, Flow, FlowAction, FlowName, FlowOp, FlowPatch, FlowSummary, Format,
    GoogleSheetsOp, HOP_BY_HOP, HttpOp, HubspotOp, JsonOp, JwtOp, MAX_ACTION_ID, MAX_ALIAS,
    MailchimpOp, MailjetOp, NewFlow, ObjectSchema, OtpOp, PipedriveOp, Property, ROUTING_HEADERS,
    ROUTING_PREFIXES, SalesforceOp, Schema, SendgridOp, SlackOp, StripeOp, TelegramOp, TwilioOp,
    WhatsappOp, XmlOp, ZapierOp, connection_refs, header_refusal, header_value_refusal, is_email,
    parse_actions, validate_flow_create, validate_flow_patch,
};
pub use hints::{SetupWarning, setup_warnings};
pub use ids::{
    ClientId, ConnectionId, ExecutionId, FlowId, IdError, TenantId, TenantName, TenantNameError,
    UserId,
};
pub use labels::{AccountName, ClientName, ConnectionName, Environment};
pub use net::{ip_class, is_private_host};
pub use redact::{KnownSecrets, MIN_SECRET, REDACTED, Redactor};
pub use scope::{Scope, Scopes, UnknownScope};
pub use setup::{Setup, SetupDecodeError, SetupFields};
pub use template::{
    EvalError, MAX_EVALUATED_NODES, MAX_RENDERED_OUTPUT, MAX_TEMPLATE_DEPTH, MAX_TEMPLATE_SOURCE,
    Rendered, Template, TemplateAt, TemplateCheckError, TemplateError, TemplateScope,
    action_refs_in, check_value, render_object, render_params, render_value,
};
pub use time::{Clock, SystemClock, Timestamp, TimestampError};
pub use user::{
    Email, EmailError, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, PasswordProblem, Role, UnknownRole,
    check_new_password,
};
pub use validate::{
    ConnectionPatch, FieldError, NewConnection, Problem, Rules, ValidationErrors, printable,
    validate_create, validate_create_with, validate_patch, validate_patch_with, validate_setup,
    validate_setup_with,
};
