//! `AUTH0 SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL`. Auth0 sends these through its own e-mail
//! and SMS service; flowvault sends them through the connection the tenant's delivery settings
//! name for the channel (resolved by the runner as the action starts, like any connection), with
//! the settings' sender unless the action gives its own `from`. The requests are the ones the
//! `TWILIO`, `SENDGRID`, `MAILJET` and `SMTP` modules build: this module only maps the params
//! (and decides, once for every e-mail path, whether the body is HTML).
//!
//! `custom_vars` is accepted and not sent: params are templates already, so a value meant for
//! the text is written into it with `{{…}}`.

use flowvault_core::{AppId, Auth0Op, Channel, DeliverySettings, is_email};
use serde_json::{Map, Value, json};

use super::twilio::{self, Create};
use super::{ActionError, Call, mailjet, sendgrid, smtp};

/// The longest TwiML Twilio takes as `Twiml` (its documented limit, in characters).
const MAX_TWIML: usize = 4000;

/// The channel an action sends on, if it is one of these.
#[must_use]
pub(crate) fn channel(op: Auth0Op) -> Option<Channel> {
    match op {
        Auth0Op::SendEmail => Some(Channel::Email),
        Auth0Op::SendSms => Some(Channel::Sms),
        Auth0Op::MakeCall => Some(Channel::Voice),
        Auth0Op::CreateUser | Auth0Op::GetUser | Auth0Op::UpdateUser | Auth0Op::SendRequest => None,
    }
}

pub(super) async fn run(channel: Channel, call: &Call<'_>) -> Result<Value, ActionError> {
    let settings = call.delivery.ok_or_else(|| not_configured(channel))?;
    let app = call
        .credentials
        .map(|c| c.setup.app())
        .ok_or_else(|| ActionError::new(format!("the {channel} delivery connection is missing")))?;
    if !channel.apps().contains(&app) {
        return Err(ActionError::new(format!(
            "the {channel} delivery connection is a {app} connection; {channel} needs a {} \
             connection: update the delivery settings",
            channel.app_names()
        )));
    }
    match channel {
        Channel::Email => email(settings, app, call).await,
        Channel::Sms => {
            let from = phone_from(settings.sms.as_ref().map(|s| s.from.as_str()), call);
            twilio::create(call, Create::Message(call.str("message")?), call.str("to")?, from?)
                .await
        }
        Channel::Voice => {
            let from = phone_from(settings.voice.as_ref().map(|s| s.from.as_str()), call);
            let twiml = say(&call.str("message")?)?;
            twilio::create(call, Create::CallTwiml(twiml), call.str("to")?, from?).await
        }
    }
}

async fn email(
    settings: &DeliverySettings,
    app: AppId,
    call: &Call<'_>,
) -> Result<Value, ActionError> {
    let default = settings.email.as_ref().map(|e| &e.from);
    let (from_email, from_name) = match call.object("from")? {
        Some(from) => (
            from.get("email").and_then(Value::as_str).unwrap_or_default().to_owned(),
            from.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).map(str::to_owned),
        ),
        None => default
            .map(|d| (d.email.clone(), d.name.clone()))
            .ok_or_else(|| not_configured(Channel::Email))?,
    };
    if !is_email(&from_email) {
        return Err(ActionError::new("param `from.email` is not an e-mail address"));
    }
    let to = call.str("to")?;
    if !is_email(&to) {
        return Err(ActionError::new("param `to` is not an e-mail address"));
    }
    let subject = call.str("subject")?;
    let body = call.str("body")?;
    let html = mailjet::looks_like_html(&body);
    match app {
        AppId::Mailjet => {
            let mut from = json!({"Email": from_email});
            if let Some(name) = from_name {
                from["Name"] = Value::String(name);
            }
            let part = if html { "HTMLPart" } else { "TextPart" };
            let mut message = Map::new();
            message.insert("From".to_owned(), from);
            message.insert("To".to_owned(), json!([{"Email": to}]));
            message.insert("Subject".to_owned(), Value::String(subject));
            message.insert(part.to_owned(), Value::String(body));
            mailjet::send(call, message).await
        }
        AppId::Smtp => {
            let email = smtp::Email { from_email, from_name, to, subject, body, html };
            smtp::send(call, email).await
        }
        AppId::Sendgrid => {
            let mut from = json!({"email": from_email});
            if let Some(name) = from_name {
                from["name"] = Value::String(name);
            }
            let kind = if html { "text/html" } else { "text/plain" };
            let mut mail = Map::new();
            mail.insert("personalizations".to_owned(), json!([{"to": [{"email": to}]}]));
            mail.insert("from".to_owned(), from);
            mail.insert("subject".to_owned(), Value::String(subject));
            mail.insert("content".to_owned(), json!([{"type": kind, "value": body}]));
            sendgrid::send(call, mail).await
        }
        // `run` checked the app against the channel's.
        other => Err(ActionError::new(format!("{other} can't send e-mail"))),
    }
}

/// The action's own `from`, else the channel's default number.
fn phone_from(default: Option<&str>, call: &Call<'_>) -> Result<String, ActionError> {
    match call.opt_str("from").filter(|f| !f.is_empty()) {
        Some(from) => Ok(from),
        None => default.map(str::to_owned).ok_or_else(|| {
            ActionError::new("param `from` is empty and the delivery settings name no number")
        }),
    }
}

/// TwiML that reads `message` out: `<Say>`, with the text escaped so it can't close the
/// element or add verbs of its own.
fn say(message: &str) -> Result<String, ActionError> {
    let mut text = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '&' => text.push_str("&amp;"),
            '<' => text.push_str("&lt;"),
            '>' => text.push_str("&gt;"),
            // XML 1.0 allows no other control characters; a line break is read as a pause.
            '\t' | '\n' | '\r' => text.push(' '),
            c if c.is_control() => {}
            c => text.push(c),
        }
    }
    let twiml = format!("<Response><Say>{text}</Say></Response>");
    if twiml.chars().count() > MAX_TWIML {
        return Err(ActionError::new(format!(
            "param `message` is too long for a call: its TwiML would exceed {MAX_TWIML} characters"
        )));
    }
    Ok(twiml)
}

/// Why an action that sends on `channel` can't: the settings name no connection for it.
pub(crate) fn not_configured(channel: Channel) -> ActionError {
    ActionError::new(format!(
        "no {channel} delivery is configured for this tenant: name a {} connection in the \
         delivery settings (`flowvault delivery set {channel}`, or PUT \
         /api/v2/flows/vault/delivery)",
        channel.app_names()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_text_is_escaped() {
        let twiml = say("Tom & Jerry <Hangup/> \"hi\"\nbye").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            twiml,
            "<Response><Say>Tom &amp; Jerry &lt;Hangup/&gt; \"hi\" bye</Say></Response>"
        );
        assert!(say(&"&".repeat(1024)).is_err());
        assert!(say(&"a".repeat(1024)).is_ok());
    }

    #[test]
    fn only_the_sending_actions_have_a_channel() {
        assert_eq!(channel(Auth0Op::SendEmail), Some(Channel::Email));
        assert_eq!(channel(Auth0Op::MakeCall), Some(Channel::Voice));
        assert_eq!(channel(Auth0Op::GetUser), None);
    }
}
