//! A fake SMTP server: plain text, no TLS, no authentication.
//!
//! It speaks enough of RFC 5321 for a real client: greeting, EHLO/HELO,
//! MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT. It records each
//! accepted message and can be told to answer `451` (try later) to the next
//! N transactions, to refuse recipients with `550`, to stall without a
//! greeting so that the client times out, or to take a message and hang up
//! before confirming it (the reply is lost: the client must retry, and the
//! retry is a duplicate only its `Message-ID` can reveal).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::ServerTask;
use connectors::config::{SmtpConfig, SmtpSecurity};

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent after `DATA`: headers, blank line, body.
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut()
                && (line.starts_with(' ') || line.starts_with('\t'))
            {
                v.push_str(line);
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }

    /// The `Message-ID` header, `<…@…>`.
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
    }

    /// The body after the headers, as transferred (possibly encoded).
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The body decoded from its `Content-Transfer-Encoding` (base64,
    /// quoted-printable, or none) as UTF-8 text: what the person reads.
    pub fn text(&self) -> String {
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => {
                use base64::Engine;
                let compact: String = self.body().split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_default()
            }
            "quoted-printable" => decode_quoted_printable(self.body()),
            _ => self.body().as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` escapes and soft breaks.
fn decode_quoted_printable(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1..i + 3) == Some(b"\r\n".as_slice()) {
                i += 3;
                continue;
            }
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[derive(Debug, Default)]
struct State {
    mails: Vec<ReceivedMail>,
    temp_failures: usize,
    lost_replies: usize,
    reject_recipients: bool,
    stall: bool,
    connections: usize,
}

/// The fake SMTP server.
pub struct FakeSmtp {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _task: ServerTask,
}

impl FakeSmtp {
    pub async fn start() -> std::io::Result<FakeSmtp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, state).await;
                });
            }
        });
        Ok(FakeSmtp {
            addr,
            state,
            _task: ServerTask(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A plain-SMTP configuration pointing at this fake.
    pub fn config(&self, from: &str) -> SmtpConfig {
        SmtpConfig {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: from.to_string(),
            timeout: std::time::Duration::from_secs(5),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state().mails.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state().connections
    }

    /// Answers `451` to `MAIL FROM` in the next `n` transactions.
    pub fn fail_next(&self, n: usize) {
        self.state().temp_failures = n;
    }

    /// Records the message of the next `n` transactions, then closes the
    /// connection instead of answering `250` to its data: the client does
    /// not learn that it was delivered.
    pub fn lose_reply_after_data(&self, n: usize) {
        self.state().lost_replies = n;
    }

    /// Answers `550` to every `RCPT TO` while set.
    pub fn reject_recipients(&self, on: bool) {
        self.state().reject_recipients = on;
    }

    /// Accepts connections but says nothing while set.
    pub fn stall(&self, on: bool) {
        self.state().stall = on;
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The address inside `<…>` of a MAIL/RCPT argument.
fn angle_address(arg: &str) -> String {
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.trim().to_string(),
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let stall = {
        let mut s = lock(&state);
        s.connections += 1;
        s.stall
    };
    let (read, mut write) = stream.into_split();
    if stall {
        // Hold the connection open without a word until the client gives up.
        let mut reader = BufReader::new(read);
        let mut sink = String::new();
        while reader.read_line(&mut sink).await? > 0 {
            sink.clear();
        }
        return Ok(());
    }
    let mut reader = BufReader::new(read);
    write.write_all(b"220 fake.smtp ESMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-fake.smtp greets you\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"
        } else if upper.starts_with("HELO") {
            b"250 fake.smtp\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            let mut s = lock(&state);
            if s.temp_failures > 0 {
                s.temp_failures -= 1;
                b"451 4.3.0 Temporary failure, try again later\r\n"
            } else {
                from = Some(angle_address(&command[10..]));
                to.clear();
                b"250 2.1.0 Ok\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                b"503 5.5.1 MAIL first\r\n"
            } else if lock(&state).reject_recipients {
                b"550 5.1.1 No such user here\r\n"
            } else {
                to.push(angle_address(&command[8..]));
                b"250 2.1.5 Ok\r\n"
            }
        } else if upper == "DATA" {
            if from.is_none() || to.is_empty() {
                b"503 5.5.1 RCPT first\r\n"
            } else {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(l));
                    data.push_str("\r\n");
                }
                let lose_reply = {
                    let mut s = lock(&state);
                    s.mails.push(ReceivedMail {
                        from: from.take().unwrap_or_default(),
                        to: std::mem::take(&mut to),
                        data,
                    });
                    let lose = s.lost_replies > 0;
                    s.lost_replies = s.lost_replies.saturating_sub(1);
                    lose
                };
                if lose_reply {
                    // Delivered, but the client never hears so.
                    return Ok(());
                }
                b"250 2.0.0 Ok: queued\r\n"
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            b"250 2.0.0 Ok\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 Ok\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 Command not recognized\r\n"
        };
        write.write_all(reply).await?;
    }
}
