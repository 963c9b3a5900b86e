//! A tiny SMTP server on tokio that keeps what it receives in memory: the sandbox's and the
//! tests' stand-in for a mail relay.
//!
//! It speaks the RFC 5321 subset a submission client needs: `EHLO`/`HELO`, `MAIL FROM`,
//! `RCPT TO`, `DATA` (with dot-unstuffing, §4.5.2), `RSET`, `NOOP`, `QUIT`; replies 220, 250,
//! 354, 221 (and 503 for bad sequences, 502 for anything else, e.g. `STARTTLS` or `AUTH`: use
//! `tls: none` and no credentials against it). [`SmtpSink::fail_next`] makes the next N
//! messages end with a chosen 4xx/5xx reply instead of 250 (after their data was sent, where
//! real relays refuse most mail), without keeping them.
//!
//! Written here rather than taken from a crate: the embeddable SMTP servers on crates.io
//! (`mailin-embedded`) run their own thread pool outside tokio and have no fault injection,
//! and the protocol subset is small.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Longest command line or data line accepted, bytes (RFC 5321 §4.5.3.1 allows 512 / 1000).
const MAX_LINE: usize = 4096;
/// Largest message kept, bytes.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// One message as received: the envelope and the raw data (dot-unstuffed, CRLF line ends,
/// without the final `.` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The `EHLO`/`HELO` argument of the session.
    pub helo: String,
    /// `MAIL FROM` address, without the angle brackets.
    pub mail_from: String,
    /// `RCPT TO` addresses, in order.
    pub rcpt_to: Vec<String>,
    /// Headers and body as sent.
    pub data: Vec<u8>,
}

impl ReceivedMail {
    /// The data as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The first header named `name` (case-insensitive), unfolded, value trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.trim().eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_string());
                }
            }
        }
        found
    }

    /// The body (after the first empty line), with CRLF turned into LF.
    pub fn body(&self) -> String {
        let text = self.text();
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.replace("\r\n", "\n"))
            .unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    /// Replies to give instead of 250 at the end of the next messages' data.
    faults: VecDeque<(u16, String)>,
    refused: usize,
}

/// A running sink. Cloning shares the same mailbox.
#[derive(Clone, Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpSink {
    /// Binds `addr` (port 0 for any) and serves until `stop` is cancelled.
    pub async fn start(addr: SocketAddr, stop: CancellationToken) -> io::Result<SmtpSink> {
        let listener = TcpListener::bind(addr).await?;
        let sink = SmtpSink {
            addr: listener.local_addr()?,
            shared: Arc::default(),
        };
        let shared = sink.shared.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.cancelled() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        r = session(stream, shared) => {
                            if let Err(e) = r {
                                tracing::debug!(error = %e, "smtp sink session ended");
                            }
                        }
                        _ = stop.cancelled() => {}
                    }
                });
            }
        });
        Ok(sink)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message kept so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.lock().received.clone()
    }

    /// Messages kept so far whose `Message-ID` header is `id`.
    pub fn messages_with_id(&self, id: &str) -> Vec<ReceivedMail> {
        self.messages()
            .into_iter()
            .filter(|m| m.header("Message-ID").as_deref() == Some(id))
            .collect()
    }

    /// Makes the next `n` messages end with reply `code` (4xx or 5xx) and `text` instead of
    /// 250; they are not kept.
    pub fn fail_next(&self, n: usize, code: u16, text: &str) {
        let mut s = self.lock();
        for _ in 0..n {
            s.faults.push_back((code, text.to_string()));
        }
    }

    /// How many messages an injected fault refused.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One SMTP session on `stream`.
async fn session(stream: TcpStream, shared: Arc<Mutex<Shared>>) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 handoff-sink ESMTP ready\r\n").await?;
    let mut helo = String::new();
    let mut from: Option<String> = None;
    let mut rcpt: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(&mut read, &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                helo = arg.trim().to_string();
                from = None;
                rcpt.clear();
                format!(
                    "250-handoff-sink greets {helo}\r\n250-8BITMIME\r\n250 SIZE {MAX_MESSAGE}\r\n"
                )
            }
            "HELO" => {
                helo = arg.trim().to_string();
                from = None;
                rcpt.clear();
                "250 handoff-sink\r\n".into()
            }
            "MAIL" => match path_arg(arg, "FROM:") {
                Some(a) => {
                    from = Some(a);
                    rcpt.clear();
                    "250 2.1.0 OK\r\n".into()
                }
                None => "501 5.5.4 Syntax: MAIL FROM:<address>\r\n".into(),
            },
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first\r\n".into(),
            "RCPT" => match path_arg(arg, "TO:") {
                Some(a) if !a.is_empty() => {
                    rcpt.push(a);
                    "250 2.1.5 OK\r\n".into()
                }
                _ => "501 5.5.4 Syntax: RCPT TO:<address>\r\n".into(),
            },
            "DATA" if rcpt.is_empty() => "503 5.5.1 RCPT first\r\n".into(),
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut read).await?;
                let mail = ReceivedMail {
                    helo: helo.clone(),
                    mail_from: from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data,
                };
                let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                match s.faults.pop_front() {
                    Some((code, text)) => {
                        s.refused += 1;
                        format!("{code} {text}\r\n")
                    }
                    None => {
                        s.received.push(mail);
                        format!("250 2.0.0 OK queued as {}\r\n", s.received.len())
                    }
                }
            }
            "RSET" => {
                from = None;
                rcpt.clear();
                "250 2.0.0 OK\r\n".into()
            }
            "NOOP" => "250 2.0.0 OK\r\n".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 Command not implemented\r\n".into(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// `FROM:<a@b> PARAMS` → `a@b` (the part in angle brackets; empty for the null path `<>`).
fn path_arg(arg: &str, keyword: &str) -> Option<String> {
    let rest = arg.trim();
    if rest.len() < keyword.len() || !rest[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = rest[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_string())
}

/// Reads one line (up to and including `\n`) into `buf`; 0 at end of stream.
async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    let n = r.read_until(b'\n', buf).await?;
    if buf.len() > MAX_LINE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(n)
}

/// Reads message data up to the `.` line, undoing dot-stuffing.
async fn read_data<R: AsyncBufReadExt + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(r, &mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in DATA",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let content = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        if data.len() + content.len() > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message too large",
            ));
        }
        data.extend_from_slice(content);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Sends `script` and returns everything the sink answered until it closed.
    async fn converse(sink: &SmtpSink, script: &str) -> String {
        let mut s = TcpStream::connect(sink.addr()).await.unwrap();
        s.write_all(script.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn a_raw_session_keeps_the_envelope_and_unstuffed_data() {
        let stop = CancellationToken::new();
        let sink = SmtpSink::start("127.0.0.1:0".parse().unwrap(), stop.clone())
            .await
            .unwrap();
        let out = converse(
            &sink,
            "HELO me\r\nNOOP\r\nRCPT TO:<x@y>\r\nMAIL FROM:<a@b> BODY=8BITMIME\r\n\
             RCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\nline\r\n.\r\n\
             RSET\r\nDATA\r\nVRFY x\r\nQUIT\r\n",
        )
        .await;
        let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
        assert_eq!(
            codes,
            [
                "220", "250", "250", "503", "250", "250", "250", "354", "250", "250", "503", "502",
                "221"
            ],
            "{out}"
        );
        let got = sink.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].helo, "me");
        assert_eq!(got[0].mail_from, "a@b");
        assert_eq!(got[0].rcpt_to, ["c@d", "e@f"]);
        assert_eq!(got[0].data, b"Subject: hi\r\n\r\n.dot\r\nline\r\n");
        assert_eq!(got[0].header("subject").as_deref(), Some("hi"));
        assert_eq!(got[0].body(), ".dot\nline\n");
        stop.cancel();
    }

    #[tokio::test]
    async fn injected_faults_refuse_the_next_messages_only() {
        let stop = CancellationToken::new();
        let sink = SmtpSink::start("127.0.0.1:0".parse().unwrap(), stop.clone())
            .await
            .unwrap();
        sink.fail_next(2, 421, "4.7.0 busy");
        let one = "EHLO me\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n";
        for want in [
            "421 4.7.0 busy",
            "421 4.7.0 busy",
            "250 2.0.0 OK queued as 1",
        ] {
            let out = converse(&sink, one).await;
            assert!(out.contains(want), "{out}");
        }
        assert_eq!((sink.messages().len(), sink.refused()), (1, 2));
    }

    #[test]
    fn headers_unfold_and_match_case_insensitively() {
        let m = ReceivedMail {
            helo: String::new(),
            mail_from: String::new(),
            rcpt_to: vec![],
            data: b"Subject: a\r\n long\r\nMessage-ID: <1@x>\r\n\r\nSubject: body\r\n".to_vec(),
        };
        assert_eq!(m.header("SUBJECT").as_deref(), Some("a long"));
        assert_eq!(m.header("message-id").as_deref(), Some("<1@x>"));
        assert_eq!(m.header("To"), None);
    }
}
