//! A real SMTP server on loopback for the mail stories: it speaks enough of RFC 5321 for
//! lettre (greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP,
//! QUIT), keeps every message it accepts, and can be told to refuse: the next messages with a
//! temporary `451`, or a recipient for good with `550`. [`Received::parts`] reads a message's
//! text and HTML parts back as lettre encoded them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One accepted message: its envelope and its data as sent, dot-unstuffed.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

/// The SMTP server; it stops when dropped.
pub struct SmtpServer {
    address: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Switches {
    /// How many of the next messages to answer `451` after their data.
    refuse_next: usize,
    refused: usize,
    /// Recipients answered `550` at `RCPT TO`.
    rejected: HashSet<String>,
}

struct Shared {
    accepted: watch::Sender<Vec<Received>>,
    switches: Mutex<Switches>,
}

impl SmtpServer {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP server");
        let address = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared {
            accepted: watch::Sender::new(Vec::new()),
            switches: Mutex::default(),
        });
        let serving = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(session(stream, Arc::clone(&serving)));
            }
        });
        SmtpServer {
            address,
            shared,
            task,
        }
    }

    /// `--smtp-url` for this server: plain SMTP on loopback.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Answers the next `count` messages with `451` (try again later) after their data.
    pub fn refuse_next(&self, count: usize) {
        self.shared.switches.lock().unwrap().refuse_next += count;
    }

    /// How many messages were answered `451`.
    pub fn refused(&self) -> usize {
        self.shared.switches.lock().unwrap().refused
    }

    /// Answers `550` (no such user) to `RCPT TO` this address, every time.
    pub fn reject_recipient(&self, address: &str) {
        let mut switches = self.shared.switches.lock().unwrap();
        switches.rejected.insert(address.to_owned());
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.accepted.borrow().clone()
    }

    /// Waits until `count` messages in all have been accepted; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let mut accepted = self.shared.accepted.subscribe();
        let all = accepted
            .wait_for(|all| all.len() >= count)
            .await
            .expect("the SMTP server runs");
        all.clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client connection, until QUIT or until the client goes away.
async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut envelope: Option<Received> = None;
    if reply(&mut write, "220 localhost ESMTP test server")
        .await
        .is_err()
    {
        return;
    }
    loop {
        let mut line = String::new();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-localhost\r\n250 8BITMIME".to_owned(),
            "HELO" | "NOOP" => "250 OK".to_owned(),
            "RSET" => {
                envelope = None;
                "250 OK".to_owned()
            }
            "MAIL" => {
                envelope = Some(Received {
                    mail_from: path_of(command),
                    rcpt_to: Vec::new(),
                    data: String::new(),
                });
                "250 OK".to_owned()
            }
            "RCPT" => recipient(&shared, envelope.as_mut(), path_of(command)),
            "DATA" => match envelope.take() {
                Some(mut message) if !message.rcpt_to.is_empty() => {
                    if reply(&mut write, "354 end with <CRLF>.<CRLF>")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let Some(data) = read_data(&mut lines).await else {
                        return;
                    };
                    message.data = data;
                    accept(&shared, message)
                }
                _ => "503 MAIL FROM and RCPT TO first".to_owned(),
            },
            "QUIT" => {
                let _ = reply(&mut write, "221 bye").await;
                return;
            }
            _ => "502 command not implemented".to_owned(),
        };
        if reply(&mut write, &answer).await.is_err() {
            return;
        }
    }
}

/// The answer to `RCPT TO`, adding the recipient to the envelope unless it is rejected.
fn recipient(shared: &Shared, envelope: Option<&mut Received>, address: String) -> String {
    let Some(envelope) = envelope else {
        return "503 MAIL FROM first".to_owned();
    };
    if shared.switches.lock().unwrap().rejected.contains(&address) {
        return format!("550 5.1.1 <{address}>: no such user");
    }
    envelope.rcpt_to.push(address);
    "250 OK".to_owned()
}

/// Keeps a message, or refuses it when told to.
fn accept(shared: &Shared, message: Received) -> String {
    {
        let mut switches = shared.switches.lock().unwrap();
        if switches.refuse_next > 0 {
            switches.refuse_next -= 1;
            switches.refused += 1;
            return "451 4.3.0 try again later".to_owned();
        }
    }
    shared.accepted.send_modify(|all| all.push(message));
    "250 2.0.0 queued".to_owned()
}

/// The lines up to the lone `.`, dot-unstuffed; `None` if the client went away first.
async fn read_data<R: AsyncBufReadExt + Unpin>(lines: &mut R) -> Option<String> {
    let mut data = String::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

/// The address in `MAIL FROM:<a@b>` or `RCPT TO:<a@b> PARAMS`.
fn path_of(command: &str) -> String {
    let start = command.find('<').map_or(0, |at| at + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |at| start + at);
    command[start..end].to_owned()
}

async fn reply<W: AsyncWriteExt + Unpin>(write: &mut W, answer: &str) -> std::io::Result<()> {
    write.write_all(format!("{answer}\r\n").as_bytes()).await
}

/// A message's text and HTML parts, decoded.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    pub text: String,
    pub html: String,
}

impl Received {
    /// The value of the first header `name` of the message, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_head(&self.data);
        header_of(head, name)
    }

    /// The `text/plain` and `text/html` parts of a multipart message, decoded from
    /// quoted-printable or base64.
    pub fn parts(&self) -> Parts {
        let mut parts = Parts::default();
        let (head, body) = split_head(&self.data);
        let content_type = header_of(head, "Content-Type").expect("a Content-Type");
        let boundary = parameter(&content_type, "boundary")
            .unwrap_or_else(|| panic!("a multipart message: {content_type}"));
        for part in body.split(&format!("--{boundary}")).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let (part_head, part_body) = split_head(part.trim_start_matches(['\r', '\n']));
            let kind = header_of(part_head, "Content-Type").unwrap_or_default();
            let encoding = header_of(part_head, "Content-Transfer-Encoding").unwrap_or_default();
            let decoded = decode(part_body, &encoding);
            if kind.starts_with("text/plain") {
                parts.text = decoded;
            } else if kind.starts_with("text/html") {
                parts.html = decoded;
            }
        }
        parts
    }
}

/// Headers and body, split at the first empty line.
fn split_head(data: &str) -> (&str, &str) {
    data.split_once("\r\n\r\n")
        .or_else(|| data.split_once("\n\n"))
        .unwrap_or((data, ""))
}

fn header_of(head: &str, name: &str) -> Option<String> {
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// `name=value` or `name="value"` of a header value's parameters.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim_matches('"').to_owned())
    })
}

fn decode(body: &str, encoding: &str) -> String {
    let body = body.trim_end_matches(['\r', '\n']);
    match encoding.to_ascii_lowercase().as_str() {
        "base64" => {
            let joined: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(joined)
                .expect("base64");
            String::from_utf8(bytes).expect("UTF-8 text")
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.replace("\r\n", "\n"),
    }
}

/// RFC 2045 quoted-printable: `=XX` bytes, `=` at a line's end joins it to the next.
fn quoted_printable(body: &str) -> String {
    let mut bytes = Vec::with_capacity(body.len());
    let mut lines = body.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let (line, soft) = match line.strip_suffix('=') {
            Some(joined) => (joined, true),
            None => (line, false),
        };
        let raw = line.as_bytes();
        let mut at = 0;
        while at < raw.len() {
            if raw[at] == b'=' && at + 2 < raw.len() {
                let hex = std::str::from_utf8(&raw[at + 1..at + 3]).expect("hex digits");
                bytes.push(u8::from_str_radix(hex, 16).expect("a quoted byte"));
                at += 3;
            } else {
                bytes.push(raw[at]);
                at += 1;
            }
        }
        if !soft && lines.peek().is_some() {
            bytes.push(b'\n');
        }
    }
    String::from_utf8(bytes).expect("UTF-8 text")
}

/// The first link in `body` that starts with `prefix`, up to a space, a quote or an angle
/// bracket; an HTML `&amp;` in it reads as `&`.
pub fn link_starting_with(body: &str, prefix: &str) -> Option<String> {
    let start = body.find(prefix)?;
    let rest = &body[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
        .unwrap_or(rest.len());
    Some(rest[..end].replace("&amp;", "&"))
}

#[test]
fn quoted_printable_reads_soft_breaks_and_quoted_bytes() {
    assert_eq!(
        quoted_printable("caf=C3=A9 is=\r\n open\r\nnext =3D line"),
        "café is open\nnext = line"
    );
}
