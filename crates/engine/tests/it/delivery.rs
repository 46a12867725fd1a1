//! `AUTH0 SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL` through the runner: each sends through the
//! connection the tenant's delivery settings name for its channel, resolved as the action
//! starts (so an update to the connection or the settings applies to the next run), with the
//! settings' sender unless the action names its own; and each fails naming what to fix when
//! delivery is not configured, the connection is empty or was deleted.

use flowvault_core::ExecutionStatus;
use flowvault_core::{
    AppId, ConnectionId, DeliverySettings, Flow, validate_create, validate_flow_create,
    validate_patch,
};
use flowvault_engine::{Engine, NetPolicy, Providers, RunInput, RunLimits, RunOutcome};
use flowvault_testkit::FakeSmtp;
use flowvault_testkit::providers::mailjet::FakeMailjet;
use flowvault_testkit::providers::sendgrid::FakeSendgrid;
use flowvault_testkit::providers::twilio::{ACCOUNT_SID, FakeTwilio};
use serde_json::{Value, json};

use crate::support::World;

struct Fakes {
    twilio: FakeTwilio,
    sendgrid: FakeSendgrid,
    mailjet: FakeMailjet,
}

/// The world with the three fakes served and an engine whose base URLs point at them.
async fn world() -> (World, Fakes, Engine) {
    let w = World::new().await;
    let fakes = Fakes {
        twilio: FakeTwilio::new(),
        sendgrid: FakeSendgrid::new(),
        mailjet: FakeMailjet::new(),
    };
    let mut providers = Providers::default();
    for (app, host, router) in [
        (AppId::Twilio, "api.twilio.test", fakes.twilio.router()),
        (AppId::Sendgrid, "api.sendgrid.test", fakes.sendgrid.router()),
        (AppId::Mailjet, "api.mailjet.test", fakes.mailjet.router()),
    ] {
        w.transport.route(host, router);
        providers.configure(app, |p| p.base_url = url::Url::parse(&format!("https://{host}")).ok());
    }
    let engine = w.engine_with("delivery", providers);
    (w, fakes, engine)
}

async fn connection(w: &World, app: &str, setup: Option<Value>) -> ConnectionId {
    let mut body = json!({"name": format!("{app} delivery"), "app_id": app});
    if let Some(setup) = setup {
        body["setup"] = setup;
    }
    let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
    w.vault.create_connection(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id
}

fn twilio_setup(token: &str) -> Option<Value> {
    Some(json!({"type": "API_KEY", "account_id": ACCOUNT_SID, "api_key": token}))
}

async fn set(w: &World, doc: Value) {
    let settings = DeliverySettings::parse(&doc).unwrap_or_else(|e| panic!("{e}"));
    w.vault.set_delivery_settings(&w.tenant, &settings).await.unwrap_or_else(|e| panic!("{e}"));
}

async fn flow(w: &World, action: &str, params: Value) -> Flow {
    let new = validate_flow_create(&json!({"name": "Notify", "actions": [
        {"id": "send", "type": "AUTH0", "action": action, "params": params}
    ]}))
    .unwrap_or_else(|e| panic!("{e}"));
    w.vault.create_flow(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn run(engine: &Engine, w: &World, flow: &Flow) -> RunOutcome {
    let input =
        RunInput { fields: json!({"phone": "+15005550006", "name": "Ada"}), context: json!({}) };
    engine.run_flow(&w.tenant, flow, input, RunLimits::default()).await
}

fn record(outcome: &RunOutcome) -> Value {
    serde_json::to_value(&outcome.record).unwrap_or_default()
}

fn error(outcome: &RunOutcome) -> String {
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{}", record(outcome));
    outcome.record.error.as_ref().map(|e| e.message.clone()).unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn send_sms_goes_through_the_delivery_connection_from_its_number() {
    let (w, fakes, engine) = world().await;
    let twilio = connection(&w, "TWILIO", twilio_setup(fakes.twilio.auth_token())).await;
    set(&w, json!({"sms": {"connection_id": twilio, "from": "+15005550001"}})).await;
    let sms =
        flow(&w, "SEND_SMS", json!({"to": "{{fields.phone}}", "message": "Hi {{fields.name}}"}))
            .await;
    let outcome = run(&engine, &w, &sms).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    let got = fakes.twilio.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(got.path, format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"));
    assert_eq!(got.body, json!({"Body": "Hi Ada", "To": "+15005550006", "From": "+15005550001"}));
    let out = &record(&outcome)["actions"][0]["output"];
    assert!(out["sid"].as_str().is_some_and(|s| s.starts_with("SM")), "{out}");
    // The token is scrubbed from the record like any connection's.
    assert!(!record(&outcome).to_string().contains(fakes.twilio.auth_token()));

    // The action's own `from` wins over the settings'.
    let own =
        flow(&w, "SEND_SMS", json!({"to": "+15005550006", "from": "+15005550009", "message": "x"}))
            .await;
    assert_eq!(run(&engine, &w, &own).await.status, ExecutionStatus::Completed);
    let got = fakes.twilio.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(got.body["From"], "+15005550009");
}

#[tokio::test(start_paused = true)]
async fn make_call_says_the_message_as_escaped_twiml() {
    let (w, fakes, engine) = world().await;
    let twilio = connection(&w, "TWILIO", twilio_setup(fakes.twilio.auth_token())).await;
    set(&w, json!({"voice": {"connection_id": twilio, "from": "+15005550002"}})).await;
    let call = flow(
        &w,
        "MAKE_CALL",
        json!({"to": "+15005550006", "message": "Code 1 2 3 </Say><Dial>+1900</Dial> & bye"}),
    )
    .await;
    let outcome = run(&engine, &w, &call).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    let got = fakes.twilio.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(got.path, format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"));
    assert_eq!(got.body["From"], "+15005550002");
    assert_eq!(got.body["To"], "+15005550006");
    assert_eq!(
        got.body["Twiml"],
        "<Response><Say>Code 1 2 3 &lt;/Say&gt;&lt;Dial&gt;+1900&lt;/Dial&gt; &amp; bye</Say></Response>"
    );
    assert_eq!(got.body.as_object().map(|m| m.len()), Some(3), "{}", got.body);
}

#[tokio::test(start_paused = true)]
async fn send_email_goes_through_sendgrid_or_mailjet_as_configured() {
    let (w, fakes, engine) = world().await;
    let sendgrid = connection(
        &w,
        "SENDGRID",
        Some(json!({"type": "API_KEY", "api_key": fakes.sendgrid.api_key()})),
    )
    .await;
    let mailjet = connection(
        &w,
        "MAILJET",
        Some(json!({"type": "API_KEY", "api_key": fakes.mailjet.api_key(),
                     "secret_key": fakes.mailjet.secret_key()})),
    )
    .await;
    let params = json!({"to": "ada@example.com", "subject": "Welcome {{fields.name}}",
                        "body": "<p>Hello {{fields.name}}</p>"});
    let email = flow(&w, "SEND_EMAIL", params).await;

    set(
        &w,
        json!({"email": {"connection_id": sendgrid,
                             "from": {"email": "no-reply@example.com", "name": "Example"}}}),
    )
    .await;
    let outcome = run(&engine, &w, &email).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    let got = fakes.sendgrid.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(got.path, "/v3/mail/send");
    assert_eq!(
        got.body,
        json!({
            "personalizations": [{"to": [{"email": "ada@example.com"}]}],
            "from": {"email": "no-reply@example.com", "name": "Example"},
            "subject": "Welcome Ada",
            "content": [{"type": "text/html", "value": "<p>Hello Ada</p>"}],
        })
    );
    assert_eq!(record(&outcome)["actions"][0]["output"]["status"], 202);

    // The settings now name Mailjet: the same flow sends through it at its next run.
    set(&w, json!({"email": {"connection_id": mailjet, "from": {"email": "hello@example.com"}}}))
        .await;
    let outcome = run(&engine, &w, &email).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    let sent = fakes.mailjet.sent();
    let message = sent.last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(message["From"], json!({"Email": "hello@example.com"}));
    assert_eq!(message["To"], json!([{"Email": "ada@example.com"}]));
    assert_eq!(message["Subject"], "Welcome Ada");
    assert_eq!(message["HTMLPart"], "<p>Hello Ada</p>");

    // An action's own `from`, and a plain-text body.
    let own = flow(
        &w,
        "SEND_EMAIL",
        json!({"from": {"email": "ceo@example.com", "name": "The CEO"}, "to": "bob@example.com",
               "subject": "Hi", "body": "plain words"}),
    )
    .await;
    assert_eq!(run(&engine, &w, &own).await.status, ExecutionStatus::Completed);
    let sent = fakes.mailjet.sent();
    let message = sent.last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(message["From"], json!({"Email": "ceo@example.com", "Name": "The CEO"}));
    assert_eq!(message["TextPart"], "plain words");
}

#[tokio::test(start_paused = true)]
async fn an_updated_credential_is_used_at_the_next_run() {
    let (w, fakes, engine) = world().await;
    let twilio = connection(&w, "TWILIO", twilio_setup("an-old-token-0000000")).await;
    set(&w, json!({"sms": {"connection_id": twilio, "from": "+15005550001"}})).await;
    let sms = flow(&w, "SEND_SMS", json!({"to": "+15005550006", "message": "hi"})).await;
    let refused = error(&run(&engine, &w, &sms).await);
    assert!(refused.contains("TWILIO answered 401"), "{refused}");

    let patch =
        validate_patch(AppId::Twilio, &json!({"setup": twilio_setup(fakes.twilio.auth_token())}))
            .unwrap_or_else(|e| panic!("{e}"));
    let current = w.vault.connection(&w.tenant, &twilio).await.unwrap_or_else(|e| panic!("{e}"));
    w.vault
        .update_connection(&w.tenant, &twilio, patch, current.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run(&engine, &w, &sms).await.status, ExecutionStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn missing_settings_an_empty_or_deleted_connection_fail_naming_the_fix() {
    let (w, fakes, engine) = world().await;
    let sms = flow(&w, "SEND_SMS", json!({"to": "+15005550006", "message": "hi"})).await;
    let email =
        flow(&w, "SEND_EMAIL", json!({"to": "a@example.com", "subject": "s", "body": "b"})).await;

    // Nothing configured.
    let message = error(&run(&engine, &w, &sms).await);
    assert!(message.contains("no sms delivery is configured"), "{message}");
    assert!(message.contains("flowvault delivery set sms"), "{message}");

    // SMS configured, e-mail not.
    let twilio = connection(&w, "TWILIO", twilio_setup(fakes.twilio.auth_token())).await;
    set(&w, json!({"sms": {"connection_id": twilio, "from": "+15005550001"}})).await;
    let message = error(&run(&engine, &w, &email).await);
    assert!(message.contains("no email delivery is configured"), "{message}");
    assert!(message.contains("SENDGRID or MAILJET"), "{message}");

    // An empty connection.
    let empty = connection(&w, "TWILIO", None).await;
    set(&w, json!({"sms": {"connection_id": empty, "from": "+15005550001"}})).await;
    let message = error(&run(&engine, &w, &sms).await);
    assert!(message.contains("the sms delivery connection"), "{message}");
    assert!(message.contains("missing credentials"), "{message}");

    // A deleted one.
    set(&w, json!({"sms": {"connection_id": twilio, "from": "+15005550001"}})).await;
    w.vault.delete_connection(&w.tenant, &twilio, None).await.unwrap_or_else(|e| panic!("{e}"));
    let message = error(&run(&engine, &w, &sms).await);
    assert!(message.contains(&format!("delivery connection {twilio} does not exist")), "{message}");
    assert!(message.contains("update the delivery settings"), "{message}");
    assert!(fakes.twilio.log().all().is_empty(), "nothing was sent");
}

fn smtp_setup(smtp: &FakeSmtp, host: &str, password: &str, tls: &str) -> Option<Value> {
    Some(json!({"type": "BASIC_AUTH", "host": host, "port": smtp.port().to_string(),
                "username": smtp.username(), "password": password, "tls": tls}))
}

// Real sockets to the fake mail server: tokio's clock runs (a paused one would fire the
// timeouts while the engine waits on the network).
#[tokio::test]
async fn send_email_goes_through_an_smtp_connection() {
    let (w, _fakes, engine) = world().await;
    w.transport.set_net_policy(NetPolicy { allow_private_network: true });
    let smtp = FakeSmtp::start().await;
    let conn =
        connection(&w, "SMTP", smtp_setup(&smtp, "127.0.0.1", smtp.password(), "PLAINTEXT")).await;
    set(
        &w,
        json!({"email": {"connection_id": conn,
                         "from": {"email": "no-reply@example.com", "name": "Example"}}}),
    )
    .await;
    let email = flow(
        &w,
        "SEND_EMAIL",
        json!({"to": "ada@example.com", "subject": "Welcome {{fields.name}}",
               "body": "<p>Hello {{fields.name}}</p>"}),
    )
    .await;
    let outcome = run(&engine, &w, &email).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    let received = smtp.received();
    let got = received.last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(got.user, smtp.username());
    assert_eq!(got.mail_from, "no-reply@example.com");
    assert_eq!(got.rcpt_to, ["ada@example.com"]);
    assert_eq!(got.header("From").as_deref(), Some("Example <no-reply@example.com>"));
    assert_eq!(got.header("To").as_deref(), Some("ada@example.com"));
    assert_eq!(got.header("Subject").as_deref(), Some("Welcome Ada"));
    let kind = got.header("Content-Type").unwrap_or_default();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(got.body().contains("<p>Hello Ada</p>"), "{}", got.data);
    let out = &record(&outcome)["actions"][0]["output"];
    assert_eq!(out["code"], 250, "{out}");
    assert!(out["reply"].as_str().is_some_and(|r| r.contains("queued as Q1")), "{out}");
    assert_eq!(out["message_id"].as_str(), got.header("Message-ID").as_deref(), "{out}");
    assert!(!record(&outcome).to_string().contains(smtp.password()));

    // A plain-text body, decided as for SendGrid and Mailjet.
    let plain =
        flow(&w, "SEND_EMAIL", json!({"to": "bob@example.com", "subject": "s", "body": "1 < 2"}))
            .await;
    assert_eq!(run(&engine, &w, &plain).await.status, ExecutionStatus::Completed);
    let received = smtp.received();
    let got = received.last().unwrap_or_else(|| panic!("nothing sent"));
    let kind = got.header("Content-Type").unwrap_or_default();
    assert!(kind.starts_with("text/plain"), "{kind}");
}

#[tokio::test]
async fn a_wrong_smtp_password_fails_clearly_without_echoing_it() {
    let (w, _fakes, engine) = world().await;
    w.transport.set_net_policy(NetPolicy { allow_private_network: true });
    let smtp = FakeSmtp::start().await;
    let wrong = "not-the-password-4711";
    let conn = connection(&w, "SMTP", smtp_setup(&smtp, "localhost", wrong, "PLAINTEXT")).await;
    set(&w, json!({"email": {"connection_id": conn, "from": {"email": "a@example.com"}}})).await;
    let email =
        flow(&w, "SEND_EMAIL", json!({"to": "b@example.com", "subject": "s", "body": "b"})).await;
    let outcome = run(&engine, &w, &email).await;
    let message = error(&outcome);
    assert!(message.contains("refused the connection's username or password"), "{message}");
    assert!(message.contains("535"), "{message}");
    assert!(!record(&outcome).to_string().contains(wrong));
    assert!(smtp.received().is_empty());
}

#[tokio::test]
async fn smtp_to_a_loopback_or_in_clear_to_a_remote_host_is_refused() {
    let (w, _fakes, engine) = world().await;
    let smtp = FakeSmtp::start().await;
    let email =
        flow(&w, "SEND_EMAIL", json!({"to": "b@example.com", "subject": "s", "body": "b"})).await;
    // The transport's policy is the default: no private networks, whatever the TLS mode.
    for (host, tls) in [("127.0.0.1", "PLAINTEXT"), ("localhost", "STARTTLS"), ("127.0.0.1", "TLS")]
    {
        let conn = connection(&w, "SMTP", smtp_setup(&smtp, host, smtp.password(), tls)).await;
        set(&w, json!({"email": {"connection_id": conn, "from": {"email": "a@example.com"}}}))
            .await;
        let message = error(&run(&engine, &w, &email).await);
        assert!(message.contains("refused"), "{host} {tls}: {message}");
        assert!(message.contains("--allow-private-network"), "{host} {tls}: {message}");
    }
    // Private networks allowed: still no password in clear beyond the loopback interface.
    w.transport.set_net_policy(NetPolicy { allow_private_network: true });
    let conn =
        connection(&w, "SMTP", smtp_setup(&smtp, "10.255.255.1", smtp.password(), "PLAINTEXT"))
            .await;
    set(&w, json!({"email": {"connection_id": conn, "from": {"email": "a@example.com"}}})).await;
    let message = error(&run(&engine, &w, &email).await);
    assert!(message.contains("PLAINTEXT is only for a mail server on a loopback"), "{message}");
    assert!(smtp.received().is_empty());
}

#[tokio::test]
async fn delivery_settings_take_smtp_for_email_only() {
    let (w, _fakes, _engine) = world().await;
    let smtp = FakeSmtp::start().await;
    let conn =
        connection(&w, "SMTP", smtp_setup(&smtp, "smtp.example.com", smtp.password(), "TLS")).await;
    set(&w, json!({"email": {"connection_id": conn, "from": {"email": "a@example.com"}}})).await;
    for channel in ["sms", "voice"] {
        let doc = json!({channel: {"connection_id": conn, "from": "+15005550001"}});
        let settings = DeliverySettings::parse(&doc).unwrap_or_else(|e| panic!("{e}"));
        let refused = w.vault.set_delivery_settings(&w.tenant, &settings).await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(&format!("{channel} needs a TWILIO connection")), "{message}");
        assert!(message.contains("names a SMTP connection"), "{message}");
    }
}
