//! Email over SMTP for [`super::Action::SendEmail`]: a [`Mailer`] built from the `smtp` config
//! section (lettre's async SMTP transport on tokio), and the classification of SMTP failures.
//!
//! **Delivery is at least once.** SMTP has no way to ask a relay "did you already take the
//! message with this key?", so a step whose outcome is unknown after a crash (marked
//! `Attempted`, no result recorded) is simply sent again. Every attempt of one step carries the
//! same `Message-ID` ([`message_id`], derived from the step's idempotency key), so receiving
//! systems that deduplicate on it (most mail stores and ticketing inboxes do) show it once.
//!
//! Failures (RFC 5321 §4.2.1 reply codes):
//! - 4xx (transient negative completion, e.g. `421` service not available, `451` local error,
//!   greylisting) → [`ConnectorError::Transient`]: retried with backoff;
//! - 5xx (permanent, e.g. `550` mailbox unavailable, `554` transaction failed) →
//!   [`ConnectorError::Rejected`] with the reply code as `status`: the saga goes to dead
//!   letters;
//! - connection, network, timeout, TLS and unreadable replies → transient: retried;
//! - a message lettre cannot build (an invalid address) → rejected, not retried.

use crate::config::{ConfigError, SmtpConfig, SmtpTls};
use handoff_connector::ConnectorError;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::Digest;
use std::path::Path;
use std::time::Duration;

/// The vendor name of SMTP in errors and metrics.
pub const VENDOR: &str = "smtp";

/// Everything a [`Mailer`] needs, with the password resolved.
#[derive(Clone)]
pub struct MailerSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// SMTP AUTH user name and password.
    pub credentials: Option<(String, SecretString)>,
    /// The `From:` mailbox.
    pub from: Mailbox,
    /// Timeout of each SMTP command.
    pub timeout: Duration,
}

impl std::fmt::Debug for MailerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailerSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl MailerSettings {
    /// Settings from the `smtp` section of the config at `config_path`, resolving the password
    /// reference (errors name the variable or file, never the secret).
    pub fn from_config(smtp: &SmtpConfig, config_path: &Path) -> Result<Self, ConfigError> {
        let from = smtp
            .from
            .value
            .parse::<Mailbox>()
            .map_err(|e| ConfigError::Invalid {
                path: config_path.to_path_buf(),
                line: smtp.from.referenced.line(),
                column: smtp.from.referenced.column(),
                field: "smtp.from".into(),
                message: format!("`{}` is not a mailbox: {e}", smtp.from.value),
            })?;
        let credentials = match (&smtp.username, &smtp.password) {
            (Some(user), Some(password)) => Some((
                user.clone(),
                crate::config::secret(password, config_path, "smtp.password")?,
            )),
            _ => None,
        };
        Ok(MailerSettings {
            host: smtp.host.clone(),
            port: smtp.port(),
            tls: smtp.tls,
            credentials,
            from,
            timeout: Duration::from_secs(smtp.timeout_s.max(1)),
        })
    }
}

/// Sends plain-text emails through one SMTP relay (a connection per message).
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    endpoint: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("endpoint", &self.endpoint)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// A mailer for `s` (no connection is made until the first message).
    pub fn new(s: MailerSettings) -> Result<Mailer, ConnectorError> {
        let tls = match s.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters(&s.host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&s.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .tls(tls)
            .timeout(Some(s.timeout));
        if let Some((user, password)) = &s.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            endpoint: format!("{}:{}", s.host, s.port),
            from: s.from,
        })
    }

    /// The domain of the `From:` address (the right-hand side of [`message_id`]s).
    pub fn from_domain(&self) -> &str {
        self.from.email.domain()
    }

    /// Sends one plain-text (UTF-8) message to `to` with the given `Message-ID` header
    /// (`<…@…>`). Returns `{"message_id", "reply"}` (the relay's final reply, e.g. `250 OK`).
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        message_id: &str,
    ) -> Result<Value, ConnectorError> {
        let rejected = |message: String| ConnectorError::Rejected {
            vendor: VENDOR,
            status: 0,
            message,
        };
        let to: Mailbox = to
            .parse()
            .map_err(|e| rejected(format!("recipient is not an address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.to_string()))
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_string())
            .map_err(|e| rejected(format!("cannot build the message: {e}")))?;
        let reply = self.transport.send(message).await.map_err(classify)?;
        Ok(json!({
            "message_id": message_id,
            "reply": format!(
                "{} {}",
                u16::from(reply.code()),
                reply.first_line().unwrap_or("")
            ).trim_end(),
        }))
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, ConnectorError> {
    TlsParameters::new(host.to_string()).map_err(|e| ConnectorError::Config {
        vendor: VENDOR,
        reason: format!("TLS parameters for {host}: {e}"),
    })
}

/// An SMTP failure as the executor's error class (see the module docs).
pub fn classify(e: lettre::transport::smtp::Error) -> ConnectorError {
    if e.is_permanent() {
        ConnectorError::Rejected {
            vendor: VENDOR,
            status: e.status().map(u16::from).unwrap_or(550),
            message: e.to_string(),
        }
    } else if e.is_client() {
        ConnectorError::Rejected {
            vendor: VENDOR,
            status: 0,
            message: e.to_string(),
        }
    } else {
        ConnectorError::Transient {
            vendor: VENDOR,
            reason: e.to_string(),
        }
    }
}

/// The `Message-ID` (RFC 5322 §3.6.4, `<id-left@id-right>`) of the email sent by the step with
/// idempotency key `key`: the first 128 bits of its SHA-256 in hex, at `domain` (the sender's
/// domain). The same key always gives the same id.
pub fn message_id(key: &str, domain: &str) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!("<{}.handoff@{domain}>", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::smtp_sink::SmtpSink;
    use tokio_util::sync::CancellationToken;

    async fn sink() -> (SmtpSink, Mailer, CancellationToken) {
        let stop = CancellationToken::new();
        let sink = SmtpSink::start("127.0.0.1:0".parse().unwrap(), stop.clone())
            .await
            .unwrap();
        let mailer = Mailer::new(settings(sink.addr().port())).unwrap();
        (sink, mailer, stop)
    }

    fn settings(port: u16) -> MailerSettings {
        MailerSettings {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            credentials: None,
            from: "Maven Sales <sales@maven.test>".parse().unwrap(),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_message_is_delivered_once_with_its_message_id() {
        let (sink, mailer, _stop) = sink().await;
        let id = message_id("ack:crm:contacts:42:email", mailer.from_domain());
        let out = mailer
            .send(
                "Ana Lima <ana@northwind.test>",
                "Thanks, Ana",
                "Hi Ana,\n.leading dot survives\nBye\n",
                &id,
            )
            .await
            .unwrap();
        assert_eq!(out["message_id"], id);
        assert!(out["reply"].as_str().unwrap().starts_with("250"), "{out}");
        let got = sink.messages();
        assert_eq!(got.len(), 1);
        let m = &got[0];
        assert_eq!(m.mail_from, "sales@maven.test");
        assert_eq!(m.rcpt_to, ["ana@northwind.test"]);
        assert_eq!(m.header("Message-ID").as_deref(), Some(id.as_str()));
        assert_eq!(m.header("Subject").as_deref(), Some("Thanks, Ana"));
        assert!(m
            .header("From")
            .is_some_and(|f| f.contains("sales@maven.test")));
        assert!(m.body().contains("\n.leading dot survives"), "{}", m.body());
    }

    #[test]
    fn message_ids_are_stable_per_key_and_distinct_across_keys() {
        let a = message_id("ack:crm:contacts:1:email", "maven.test");
        assert_eq!(a, message_id("ack:crm:contacts:1:email", "maven.test"));
        assert_ne!(a, message_id("ack:crm:contacts:2:email", "maven.test"));
        assert!(
            a.starts_with('<') && a.ends_with(".handoff@maven.test>"),
            "{a}"
        );
        assert_eq!(a.len(), "<".len() + 32 + ".handoff@maven.test>".len());
    }

    #[tokio::test]
    async fn a_4xx_reply_is_retryable_and_the_resend_carries_the_same_id() {
        let (sink, mailer, _stop) = sink().await;
        sink.fail_next(1, 451, "4.3.0 try again later");
        let id = message_id("k", mailer.from_domain());
        let err = mailer
            .send("a@b.test", "s", "t", &id)
            .await
            .expect_err("451 fails the attempt");
        assert!(err.is_retryable(), "{err}");
        assert!(matches!(err, ConnectorError::Transient { .. }), "{err:?}");
        assert!(sink.messages().is_empty());
        mailer.send("a@b.test", "s", "t", &id).await.unwrap();
        let got = sink.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].header("Message-ID").as_deref(), Some(id.as_str()));
        assert_eq!(sink.refused(), 1);
    }

    #[tokio::test]
    async fn a_5xx_reply_is_permanent_with_its_code() {
        let (sink, mailer, _stop) = sink().await;
        sink.fail_next(1, 550, "5.1.1 mailbox unavailable");
        let err = mailer
            .send("a@b.test", "s", "t", "<x@y>")
            .await
            .expect_err("550 fails");
        assert!(!err.is_retryable(), "{err}");
        match err {
            ConnectorError::Rejected { vendor, status, .. } => {
                assert_eq!((vendor, status), (VENDOR, 550))
            }
            other => panic!("{other:?}"),
        }
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn a_closed_port_is_a_retryable_connection_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mailer = Mailer::new(settings(port)).unwrap();
        let err = mailer
            .send("a@b.test", "s", "t", "<x@y>")
            .await
            .expect_err("nobody listens");
        assert!(matches!(err, ConnectorError::Transient { .. }), "{err:?}");
    }

    #[test]
    fn settings_never_show_the_password() {
        let mut s = settings(25);
        s.credentials = Some(("user".into(), SecretString::from("hunter2-secret")));
        let shown = format!("{s:?}");
        assert!(
            shown.contains("user") && !shown.contains("hunter2"),
            "{shown}"
        );
        let mailer = Mailer::new(s).unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2"));
    }
}
