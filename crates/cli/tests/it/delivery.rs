//! `flowvault delivery`: set each channel, show, clear; bad settings refused naming the field.

use crate::support::{Cli, twilio_setup};

#[test]
fn delivery_channels_are_set_shown_and_cleared() {
    let cli = Cli::new();
    let twilio = cli.connection("TWILIO", "SMS", &twilio_setup("twilio-token-0001"));
    let sendgrid =
        cli.connection("SENDGRID", "Mail", r#"{"type":"API_KEY","api_key":"SG.key-0001"}"#);

    let shown = cli.run(&["delivery", "show"]);
    assert!(shown.ok && shown.stdout.contains("(not configured)"), "{shown:?}");

    let set = cli.json(&[
        "delivery",
        "set",
        "sms",
        "--connection",
        &twilio,
        "--from",
        "+15005550006",
        "--json",
    ]);
    assert_eq!(set, serde_json::json!({"sms": {"connection_id": twilio, "from": "+15005550006"}}));
    let set = cli.run(&[
        "delivery",
        "set",
        "email",
        "--connection",
        &sendgrid,
        "--from",
        "no-reply@example.com",
        "--from-name",
        "Example",
    ]);
    assert!(set.ok, "{}", set.stderr);
    let shown = cli.run(&["delivery", "show"]);
    assert!(shown.ok, "{}", shown.stderr);
    for needle in [sendgrid.as_str(), &twilio, "Example <no-reply@example.com>", "+15005550006"] {
        assert!(shown.stdout.contains(needle), "{needle} missing: {}", shown.stdout);
    }

    // A Twilio connection can't send e-mail; a number must be E.164. Nothing changes.
    let wrong =
        cli.run(&["delivery", "set", "email", "--connection", &twilio, "--from", "a@example.com"]);
    assert!(!wrong.ok && wrong.stderr.contains("SENDGRID or MAILJET"), "{wrong:?}");
    let wrong =
        cli.run(&["delivery", "set", "voice", "--connection", &twilio, "--from", "5550006"]);
    assert!(!wrong.ok && wrong.stderr.contains("voice.from"), "{wrong:?}");

    let cleared = cli.run(&["delivery", "clear", "sms"]);
    assert!(cleared.ok, "{}", cleared.stderr);
    let json = cli.json(&["delivery", "show", "--json"]);
    assert!(
        json.get("sms").is_none() && json["email"]["connection_id"] == sendgrid.as_str(),
        "{json}"
    );
    assert!(!cli.run(&["delivery", "clear", "fax"]).ok);
    assert!(cli.run(&["delivery", "clear"]).ok);
    assert_eq!(cli.json(&["delivery", "show", "--json"]), serde_json::json!({}));
}

#[test]
fn deleting_the_delivery_connection_says_which_channel_it_serves_and_asks_first() {
    let cli = Cli::new();
    let twilio = cli.connection("TWILIO", "SMS", &twilio_setup("twilio-token-0002"));
    let set =
        cli.run(&["delivery", "set", "sms", "--connection", &twilio, "--from", "+15005550006"]);
    assert!(set.ok, "{set:?}");

    // Off a terminal there is no one to ask: refused, naming the channel.
    let refused = cli.run(&["connections", "delete", &twilio]);
    assert!(!refused.ok, "{refused:?}");
    assert!(refused.stderr.contains("sms delivery connection"), "{}", refused.stderr);
    assert!(cli.run(&["connections", "show", &twilio]).ok, "still there");

    let forced = cli.run(&["connections", "delete", &twilio, "--force"]);
    assert!(forced.ok, "{forced:?}");
    assert!(!cli.run(&["connections", "show", &twilio]).ok);
}
