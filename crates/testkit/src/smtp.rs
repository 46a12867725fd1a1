//! A fake mail server on `127.0.0.1`: enough SMTP for a client that logs in and sends (`EHLO`,
//! `AUTH PLAIN` and `AUTH LOGIN`, `MAIL FROM`, `RCPT TO`, `DATA`, `RSET`, `NOOP`, `QUIT`), in
//! plaintext — the engine allows that only to a loopback address with private networks allowed.
//! It records every message it accepts, with the user that sent it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::providers::fake_secret;

/// The longest command line read (RFC 5321's limit is 512; text lines 1,000).
const MAX_LINE: usize = 1000;
/// The largest message accepted.
const MAX_MESSAGE: usize = 1024 * 1024;

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The user that logged in.
    pub user: String,
    /// `MAIL FROM`'s address.
    pub mail_from: String,
    /// `RCPT TO`'s addresses.
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA` (headers and body, dot-unstuffed, CRLF line ends).
    pub data: String,
}

impl Received {
    /// The value of the header `name` (the first one), unfolded.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            match (&mut value, line.starts_with([' ', '\t'])) {
                (Some(v), true) => v.push_str(line),
                (Some(_), false) => break,
                (None, _) => {
                    if let Some((n, v)) = line.split_once(':')
                        && n.eq_ignore_ascii_case(name)
                    {
                        value = Some(v.trim().to_owned());
                    }
                }
            }
        }
        value
    }

    /// The body: what follows the headers.
    #[must_use]
    pub fn body(&self) -> &str {
        self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

/// The fake server; it stops when dropped.
#[derive(Debug)]
pub struct FakeSmtp {
    addr: SocketAddr,
    username: String,
    password: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSmtp {
    /// Listens on `127.0.0.1` on a free port, with new credentials.
    ///
    /// # Panics
    /// If no port can be bound (a test can't go on without it).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("the fake SMTP server can't listen: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let username = fake_secret("user-", 8);
        let password = fake_secret("pw-", 24);
        let received = Arc::new(Mutex::new(Vec::new()));
        let session = Session {
            username: username.clone(),
            password: password.clone(),
            received: received.clone(),
        };
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = session.clone();
                tokio::spawn(async move {
                    // A client that goes away mid-session is no error of the fake's.
                    let _ = session.serve(stream).await;
                });
            }
        });
        Self { addr, username, password, received, task }
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The user it accepts.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// That user's password.
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Every message accepted so far.
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[derive(Clone)]
struct Session {
    username: String,
    password: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Session {
    async fn serve(self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        write.write_all(b"220 smtp.fake.test ESMTP ready\r\n").await?;
        let mut user: Option<String> = None;
        let mut mail_from: Option<String> = None;
        let mut rcpt_to = Vec::new();
        while let Some(line) = next_line(&mut read).await? {
            let upper = line.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") {
                "250-smtp.fake.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME".to_owned()
            } else if upper.starts_with("HELO") || upper == "NOOP" {
                "250 OK".to_owned()
            } else if upper.starts_with("AUTH PLAIN") {
                let initial = line.get(10..).map(str::trim).filter(|s| !s.is_empty());
                let encoded = match initial {
                    Some(s) => s.to_owned(),
                    None => prompt(&mut read, &mut write, "334 ").await?,
                };
                let decoded = decode(&encoded);
                let mut parts = decoded.split('\0').skip(1);
                let (u, p) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                self.login(u, p, &mut user)
            } else if upper.starts_with("AUTH LOGIN") {
                let u = match line.get(10..).map(str::trim).filter(|s| !s.is_empty()) {
                    Some(s) => decode(s),
                    None => decode(&prompt(&mut read, &mut write, "334 VXNlcm5hbWU6").await?),
                };
                let p = decode(&prompt(&mut read, &mut write, "334 UGFzc3dvcmQ6").await?);
                self.login(&u, &p, &mut user)
            } else if upper.starts_with("MAIL FROM:") {
                if user.is_none() {
                    "530 5.7.0 Authentication required".to_owned()
                } else {
                    mail_from = Some(address(&line[10..]));
                    rcpt_to.clear();
                    "250 2.1.0 OK".to_owned()
                }
            } else if upper.starts_with("RCPT TO:") {
                if mail_from.is_none() {
                    "503 5.5.1 MAIL first".to_owned()
                } else {
                    rcpt_to.push(address(&line[8..]));
                    "250 2.1.5 OK".to_owned()
                }
            } else if upper == "DATA" {
                match (&user, &mail_from) {
                    (Some(u), Some(from)) if !rcpt_to.is_empty() => {
                        write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                        let data = message(&mut read).await?;
                        let mut received =
                            self.received.lock().unwrap_or_else(PoisonError::into_inner);
                        received.push(Received {
                            user: u.clone(),
                            mail_from: from.clone(),
                            rcpt_to: std::mem::take(&mut rcpt_to),
                            data,
                        });
                        format!("250 2.0.0 Ok: queued as Q{}", received.len())
                    }
                    _ => "503 5.5.1 RCPT first".to_owned(),
                }
            } else if upper == "RSET" {
                mail_from = None;
                rcpt_to.clear();
                "250 OK".to_owned()
            } else if upper == "QUIT" {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            } else {
                "502 5.5.2 Command not implemented".to_owned()
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
        Ok(())
    }

    fn login(&self, u: &str, p: &str, user: &mut Option<String>) -> String {
        if u == self.username && p == self.password {
            *user = Some(u.to_owned());
            "235 2.7.0 Authentication successful".to_owned()
        } else {
            "535 5.7.8 Authentication credentials invalid".to_owned()
        }
    }
}

/// Sends a `334` challenge and reads the answer.
async fn prompt<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    challenge: &str,
) -> std::io::Result<String> {
    write.write_all(format!("{challenge}\r\n").as_bytes()).await?;
    Ok(next_line(read).await?.unwrap_or_default())
}

/// One line without its CRLF; `None` at the end of the stream.
async fn next_line<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = read.read_until(b'\n', &mut buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(std::io::Error::other("line too long"));
    }
    let line = String::from_utf8_lossy(&buf);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The message after `DATA`, up to the line `.`, dot-unstuffed.
async fn message<R: AsyncRead + Unpin>(read: &mut BufReader<R>) -> std::io::Result<String> {
    let mut data = String::new();
    while let Some(line) = next_line(read).await? {
        if line == "." {
            return Ok(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
        if data.len() > MAX_MESSAGE {
            return Err(std::io::Error::other("message too large"));
        }
    }
    Err(std::io::Error::other("the client left in the middle of DATA"))
}

/// `<a@b.c> SIZE=…` → `a@b.c`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg.strip_prefix('<').and_then(|a| a.split_once('>')).map_or(arg, |(a, _)| a);
    inner.to_owned()
}

fn decode(b64: &str) -> String {
    STANDARD
        .decode(b64.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
