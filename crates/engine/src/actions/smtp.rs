//! SMTP (a flowvault extension app): `AUTH0 SEND_EMAIL` through any mail server, when the
//! tenant's delivery settings name an `SMTP` connection (`host`, `port`, `username`, `password`,
//! `tls`). The app has no actions of its own; [`send`] is the one exchange.
//!
//! The SSRF guard: the host is resolved by the engine's transport, which keeps only the
//! addresses its policy allows ([`crate::Transport::resolve`], the rule HTTP requests follow),
//! and lettre is handed one of those *addresses*, never the name: it can't resolve again and
//! reach an address that was not checked (no DNS rebinding between check and use). The name is
//! still what TLS verifies the certificate against.
//!
//! `PLAINTEXT` sends the password in clear, so it is refused unless the checked address is a
//! loopback one — which the guard lets through only when the operator allows private networks:
//! local fakes and relays on the same machine, nothing that crosses a network.
//!
//! lettre runs without its `tracing` feature, so nothing of the exchange is logged; errors are
//! flowvault's own messages with the server's reply on one line. The runner's redactor scrubs
//! the connection's secrets (the password, in every encoding it knows) from them and from the
//! output before they are recorded, and bounds their length after that, as for every action.

use std::net::SocketAddr;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MessageBuilder};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, Message};
use serde_json::{Value, json};

use super::{ActionError, Call};

/// Time to open the TCP connection (and, for `TLS`, the handshake) to one address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One e-mail to send: the sender, one recipient, and a body that is HTML or plain text (the
/// caller decides, by the rule the other e-mail paths use).
#[derive(Debug)]
pub(super) struct Email {
    /// The sender's address.
    pub from_email: String,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// The recipient's address.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The body.
    pub body: String,
    /// Whether the body is HTML.
    pub html: bool,
}

/// How the connection to the server is protected: the setup's `tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Plain TCP, then `STARTTLS` before anything else is sent (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Implicit,
    /// No TLS: loopback addresses only.
    Plaintext,
}

impl Security {
    fn parse(tls: &str) -> Result<Self, ActionError> {
        match tls {
            "STARTTLS" => Ok(Security::StartTls),
            "TLS" => Ok(Security::Implicit),
            "PLAINTEXT" => Ok(Security::Plaintext),
            _ => Err(ActionError::new(
                "the SMTP connection's `tls` must be STARTTLS, TLS or PLAINTEXT",
            )),
        }
    }
}

/// The server of the connection's setup.
struct Server {
    host: String,
    port: u16,
    security: Security,
    credentials: Credentials,
}

impl Server {
    fn from_setup(call: &Call<'_>) -> Result<Self, ActionError> {
        let host = call.setup("host")?.to_owned();
        // Checked when the connection was saved; checked again, as data read back.
        let port =
            call.setup("port")?.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                ActionError::new("the SMTP connection's `port` is not 1 to 65535")
            })?;
        let security = Security::parse(call.setup("tls")?)?;
        let username = call.setup("username")?.to_owned();
        let credentials = Credentials::new(username, call.setup("password")?.to_owned());
        Ok(Self { host, port, security, credentials })
    }
}

/// Sends `email` through the connection's server; the output is the server's answer to the
/// message: `{"code": 250, "reply": "2.0.0 Ok: queued as …", "message_id": "<…>"}`.
///
/// # Errors
/// [`ActionError`] naming the step that failed (refused address, connection, TLS, login, the
/// message) with the server's reply, or a timeout.
pub(super) async fn send(call: &Call<'_>, email: Email) -> Result<Value, ActionError> {
    let server = Server::from_setup(call)?;
    let (message, message_id) = build(&email)?;
    let addrs = call.http.resolve(&server.host, server.port).await?;
    let exchange = exchange(&server, &addrs, &message);
    let (code, reply) = tokio::time::timeout(call.http.timeout, exchange)
        .await
        .map_err(|_| ActionError::new("SMTP: the mail server did not finish in time"))??;
    Ok(json!({"code": code, "reply": reply, "message_id": message_id}))
}

/// The message, and its `Message-ID`.
fn build(email: &Email) -> Result<(Message, String), ActionError> {
    let address = |s: &str, param: &str| {
        s.parse::<Address>()
            .map_err(|_| ActionError::new(format!("param `{param}` is not an e-mail address")))
    };
    let from = address(&email.from_email, "from.email")?;
    let to = address(&email.to, "to")?;
    let message_id = format!("<{}@{}>", random_id()?, from.domain());
    let kind = if email.html { ContentType::TEXT_HTML } else { ContentType::TEXT_PLAIN };
    let message = MessageBuilder::new()
        .from(Mailbox::new(email.from_name.as_deref().map(one_line), from))
        .to(Mailbox::new(None, to))
        .subject(one_line(&email.subject))
        .message_id(Some(message_id.clone()))
        .header(kind)
        .body(email.body.clone())
        .map_err(|e| ActionError::new(format!("SMTP: the message could not be built: {e}")))?;
    Ok((message, message_id))
}

/// Connects to the first address that answers, protects the connection as the setup says,
/// logs in and sends; returns the server's code and reply for the message.
async fn exchange(
    server: &Server,
    addrs: &[SocketAddr],
    message: &Message,
) -> Result<(u16, String), ActionError> {
    let hello = ClientId::default();
    let tls = || {
        TlsParameters::new(server.host.clone())
            .map_err(|e| ActionError::new(format!("SMTP: TLS could not be set up: {e}")))
    };
    let mut last = ActionError::new(format!("SMTP: {} has no address to connect to", server.host));
    let mut connected = None;
    for addr in addrs {
        if server.security == Security::Plaintext && !addr.ip().is_loopback() {
            return Err(ActionError::new(format!(
                "SMTP: refused to send the password in clear to {}: PLAINTEXT is only for a \
                 mail server on a loopback address; use STARTTLS or TLS",
                server.host
            )));
        }
        let implicit = match server.security {
            Security::Implicit => Some(tls()?),
            Security::StartTls | Security::Plaintext => None,
        };
        match AsyncSmtpConnection::connect_tokio1(
            *addr,
            Some(CONNECT_TIMEOUT),
            &hello,
            implicit,
            None,
        )
        .await
        {
            Ok(conn) => {
                connected = Some(conn);
                break;
            }
            Err(e) => {
                last = ActionError::new(format!(
                    "SMTP: cannot connect to {}:{}: {}",
                    server.host,
                    server.port,
                    one_line(&e.to_string())
                ));
            }
        }
    }
    let mut conn = connected.ok_or(last)?;
    if server.security == Security::StartTls {
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(ActionError::new(format!(
                "SMTP: {} does not offer STARTTLS, so the password would go in clear: refused",
                server.host
            )));
        }
        conn.starttls(tls()?, &hello).await.map_err(|e| {
            ActionError::new(format!("SMTP: STARTTLS failed: {}", one_line(&e.to_string())))
        })?;
    }
    if let Err(e) = conn.auth(&[Mechanism::Plain, Mechanism::Login], &server.credentials).await {
        conn.abort().await;
        return Err(ActionError::new(format!(
            "SMTP: the mail server refused the connection's username or password: {}",
            one_line(&e.to_string())
        )));
    }
    let response = match conn.send(message.envelope(), &message.formatted()).await {
        Ok(r) => r,
        Err(e) => {
            conn.abort().await;
            return Err(ActionError::new(format!(
                "SMTP: the mail server refused the message: {}",
                one_line(&e.to_string())
            )));
        }
    };
    // The message is accepted: a failed goodbye changes nothing about it.
    let _ = conn.quit().await;
    let reply: Vec<&str> = response.message().collect();
    Ok((u16::from(response.code()), one_line(&reply.join(" "))))
}

/// `text` on one line: a rendered template may hold line breaks, which a header can't, and a
/// server's reply goes into one error line (the runner scrubs and bounds it).
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// 16 random bytes, in hex: the left part of a `Message-ID`.
fn random_id() -> Result<String, ActionError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|_| ActionError::new("SMTP: the OS random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(html: bool) -> Email {
        Email {
            from_email: "no-reply@example.com".to_owned(),
            from_name: Some("Example\r\nBcc: x@evil.test".to_owned()),
            to: "ada@example.com".to_owned(),
            subject: "Hi\nBcc: y@evil.test".to_owned(),
            body: if html { "<p>Hello</p>" } else { "Hello" }.to_owned(),
            html,
        }
    }

    #[test]
    fn headers_stay_on_one_line_and_the_body_keeps_its_type() {
        let (message, id) = build(&email(true)).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&message.formatted()).into_owned();
        assert!(!text.lines().any(|l| l.starts_with("Bcc:")), "{text}");
        assert!(text.contains("Content-Type: text/html"), "{text}");
        assert!(id.ends_with("@example.com>") && id.len() > 40, "{id}");
        let (message, _) = build(&email(false)).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&message.formatted()).into_owned();
        assert!(text.contains("Content-Type: text/plain"), "{text}");
    }

    #[test]
    fn tls_modes_are_the_setup_values() {
        assert_eq!(Security::parse("STARTTLS").ok(), Some(Security::StartTls));
        assert_eq!(Security::parse("TLS").ok(), Some(Security::Implicit));
        assert!(Security::parse("SSL").is_err());
    }
}
