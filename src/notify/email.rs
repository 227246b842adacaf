//! The email channel: one multipart (text + HTML) message per alert event,
//! sent over SMTP with lettre.
//!
//! Owns: parsing the `smtp://` / `smtps://` URL, building the RFC 5322
//! message ([`build_message`], shared with the file channel) and classifying
//! SMTP failures. It does not retry: the outbox does.
//!
//! URL forms (see [`SmtpEndpoint::parse`]):
//! * `smtp://[user@]host[:port][?tls=required|opportunistic|none]`: port 25
//!   by default; `tls=opportunistic` (the default) upgrades with STARTTLS
//!   when offered, `required` refuses to send without STARTTLS, `none` never
//!   encrypts (a local relay or a test server);
//! * `smtps://[user@]host[:port]`: TLS from the first byte, port 465 by
//!   default.
//!
//! The user name comes percent-decoded from the URL; the password from the
//! channel's `password_env` or `password_file`.
//!
//! Invariants: the `Message-ID` is derived from the idempotency key only, so
//! every retry of one event carries the same id and mail systems can
//! deduplicate; a send never takes longer than the configured timeout.

use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::OnceCell;

use super::{NotifyError, key_digest, render};
use crate::alert::AlertEvent;
use crate::config::EmailConfig;
use crate::retry::error_chain;

/// Time allowed for one whole send (connect, TLS, SMTP dialogue).
pub(crate) const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpSecurity {
    /// Plain text, never upgraded (`tls=none`).
    None,
    /// STARTTLS when the server offers it (`tls=opportunistic`, the default).
    Opportunistic,
    /// STARTTLS or no send (`tls=required`).
    Required,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// Where and how to reach the SMTP server, from the channel's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmtpEndpoint {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Percent-decoded user name, when the URL has one.
    pub username: Option<String>,
}

impl SmtpEndpoint {
    /// Parses `smtp://…` or `smtps://…`; the error says what to write instead.
    pub(crate) fn parse(url: &url::Url) -> Result<SmtpEndpoint, String> {
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(format!(
                    "unsupported scheme `{other}`: use smtp:// or smtps://"
                ));
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "the smtp URL has no host: write smtp://host[:port]".to_string())?;
        // IPv6 literals come bracketed; lettre wants the bare address.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let mut security = if implicit {
            SmtpSecurity::Implicit
        } else {
            SmtpSecurity::Opportunistic
        };
        for (k, v) in url.query_pairs() {
            match (&*k, &*v) {
                ("tls", _) if implicit => {
                    return Err(
                        "smtps:// is always TLS: drop `?tls=` or use smtp://…?tls=required for STARTTLS"
                            .into(),
                    );
                }
                ("tls", "none") => security = SmtpSecurity::None,
                ("tls", "opportunistic") => security = SmtpSecurity::Opportunistic,
                ("tls", "required") => security = SmtpSecurity::Required,
                ("tls", other) => {
                    return Err(format!(
                        "unknown tls mode `{other}`: expected required, opportunistic or none"
                    ));
                }
                (other, _) => {
                    return Err(format!(
                        "unknown smtp URL parameter `{other}`: only tls is known"
                    ));
                }
            }
        }
        let port = url.port().unwrap_or(if implicit { 465 } else { 25 });
        let username = match url.username() {
            "" => None,
            u => Some(percent_decode(u)?),
        };
        Ok(SmtpEndpoint {
            host,
            port,
            security,
            username,
        })
    }
}

/// Decodes `%XX` escapes (URL user info); errors on invalid UTF-8.
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the smtp URL user name is not valid UTF-8".to_string())
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The stable `Message-ID` of an event: `<sha256(key)[..32]@veilleur>`.
pub fn message_id(key: &str) -> String {
    format!("<{}@veilleur>", &key_digest(key)[..32])
}

/// The `Content-ID` of the inline chart (without angle brackets).
pub const CHART_CID: &str = "chart@veilleur";

/// Builds the RFC 5322 message for `ev` in `ctx`'s language: subject from
/// [`render::subject`], `multipart/alternative` with the text body and the
/// HTML body (quoted-printable); with a `chart` (PNG bytes) the HTML body
/// and the image go in a `multipart/related`, the image inline as
/// `cid:chart@veilleur`. The `Message-ID` and MIME boundaries derive from
/// `key`, the `Date` is `date`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_message(
    ev: &AlertEvent,
    key: &str,
    from: &Mailbox,
    to: &[Mailbox],
    date: SystemTime,
    user_agent: &str,
    ctx: &render::Context,
    chart: Option<&[u8]>,
) -> Result<Message, NotifyError> {
    let digest = key_digest(key);
    let mut ctx = ctx.clone();
    ctx.chart_cid = chart.map(|_| CHART_CID.to_string());
    let mut b = Message::builder()
        .message_id(Some(message_id(key)))
        .from(from.clone())
        .subject(render::subject(ev, &ctx))
        .date(date)
        .user_agent(user_agent.to_string());
    for m in to {
        b = b.to(m.clone());
    }
    let part = |ct: ContentType, body: String| {
        SinglePart::builder()
            .header(ct)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(body)
    };
    let text = part(ContentType::TEXT_PLAIN, render::text_body(ev, &ctx));
    let html = part(ContentType::TEXT_HTML, render::html_body(ev, &ctx));
    // Deterministic boundaries, so the same event renders to the same bytes.
    let alternative = MultiPart::alternative()
        .boundary(format!("veilleur-{}", &digest[..24]))
        .singlepart(text);
    let body = match chart {
        None => alternative.singlepart(html),
        Some(png) => {
            let png_type =
                ContentType::parse("image/png").map_err(|e| NotifyError::Message(e.to_string()))?;
            alternative.multipart(
                MultiPart::related()
                    .boundary(format!("veilleur-rel-{}", &digest[..24]))
                    .singlepart(html)
                    .singlepart(
                        Attachment::new_inline(CHART_CID.to_string()).body(png.to_vec(), png_type),
                    ),
            )
        }
    };
    b.multipart(body)
        .map_err(|e| NotifyError::Message(e.to_string()))
}

/// Builds the message of digest `d` in `ctx`'s language
/// ([`crate::digest::render`]): `multipart/alternative` with the text and
/// HTML bodies; with `charts` (`Content-ID`, PNG bytes, from
/// [`crate::digest::render::charts`]) the HTML body and the images go in a
/// `multipart/related`, each image inline. Otherwise as [`build_message`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_digest_message(
    d: &crate::digest::Digest,
    key: &str,
    from: &Mailbox,
    to: &[Mailbox],
    date: SystemTime,
    user_agent: &str,
    ctx: &render::Context,
    charts: &[(String, Vec<u8>)],
) -> Result<Message, NotifyError> {
    use crate::digest::render as digest;
    let hash = key_digest(key);
    let mut b = Message::builder()
        .message_id(Some(message_id(key)))
        .from(from.clone())
        .subject(digest::subject(d, &ctx.locale))
        .date(date)
        .user_agent(user_agent.to_string());
    for m in to {
        b = b.to(m.clone());
    }
    let part = |ct: ContentType, body: String| {
        SinglePart::builder()
            .header(ct)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(body)
    };
    let text = part(ContentType::TEXT_PLAIN, digest::text(d, ctx));
    let html = part(
        ContentType::TEXT_HTML,
        digest::html(d, ctx, !charts.is_empty()),
    );
    let alternative = MultiPart::alternative()
        .boundary(format!("veilleur-{}", &hash[..24]))
        .singlepart(text);
    let body = if charts.is_empty() {
        alternative.singlepart(html)
    } else {
        let png_type =
            ContentType::parse("image/png").map_err(|e| NotifyError::Message(e.to_string()))?;
        let mut related = MultiPart::related()
            .boundary(format!("veilleur-rel-{}", &hash[..24]))
            .singlepart(html);
        for (cid, png) in charts {
            related = related.singlepart(
                Attachment::new_inline(cid.clone()).body(png.clone(), png_type.clone()),
            );
        }
        alternative.multipart(related)
    };
    b.multipart(body)
        .map_err(|e| NotifyError::Message(e.to_string()))
}

/// Parses a configured address (`a@b.org` or `Name <a@b.org>`).
pub(crate) fn mailbox(channel: &str, what: &str, s: &str) -> Result<Mailbox, NotifyError> {
    s.parse().map_err(|e| NotifyError::Config {
        channel: channel.to_string(),
        message: format!("invalid {what} address `{s}`: {e}"),
    })
}

/// Sends alert emails through one SMTP server (connections are pooled).
///
/// Building one needs no Tokio runtime: lettre's pooled transport spawns a
/// task when created, so it is created on the first send, inside the
/// runtime. It also spawns one when dropped; dropping the notifier outside a
/// runtime leaks the pool instead of panicking.
pub struct EmailNotifier {
    // Boxed: it is large and only read once, on the first send.
    builder: Box<AsyncSmtpTransportBuilder>,
    transport: OnceCell<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    to: Vec<Mailbox>,
    user_agent: String,
    timeout: Duration,
    ctx: render::Context,
}

impl EmailNotifier {
    /// Builds the notifier; `password` was resolved from the channel's
    /// `password_env` / `password_file`. Nothing is connected yet.
    pub fn new(
        channel: &str,
        cfg: &EmailConfig,
        password: Option<String>,
        user_agent: &str,
    ) -> Result<EmailNotifier, NotifyError> {
        Self::with_timeout(channel, cfg, password, user_agent, DEFAULT_SEND_TIMEOUT)
    }

    /// Like [`EmailNotifier::new`] with a chosen send timeout.
    pub(crate) fn with_timeout(
        channel: &str,
        cfg: &EmailConfig,
        password: Option<String>,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<EmailNotifier, NotifyError> {
        let config_err = |message: String| NotifyError::Config {
            channel: channel.to_string(),
            message,
        };
        let endpoint = SmtpEndpoint::parse(&cfg.smtp).map_err(config_err)?;
        let tls_params = || {
            TlsParameters::new(endpoint.host.clone())
                .map_err(|e| config_err(format!("cannot set up TLS: {}", error_chain(&e))))
        };
        let tls = match endpoint.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::Opportunistic => Tls::Opportunistic(tls_params()?),
            SmtpSecurity::Required => Tls::Required(tls_params()?),
            SmtpSecurity::Implicit => Tls::Wrapper(tls_params()?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(endpoint.host.clone())
                .port(endpoint.port)
                .tls(tls)
                .timeout(Some(timeout));
        match (&endpoint.username, password) {
            (Some(user), Some(pass)) => {
                builder = builder.credentials(Credentials::new(user.clone(), pass));
            }
            (Some(user), None) => {
                return Err(config_err(format!(
                    "the smtp URL names user `{user}` but no password is configured: set password_env or password_file"
                )));
            }
            (None, Some(_)) => {
                return Err(config_err(
                    "a password is configured but the smtp URL has no user: write smtp://user@host"
                        .into(),
                ));
            }
            (None, None) => {}
        }
        let from = mailbox(channel, "from", &cfg.from)?;
        let to = cfg
            .to
            .iter()
            .map(|t| mailbox(channel, "to", t))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(config_err("`to` needs at least one address".into()));
        }
        Ok(EmailNotifier {
            ctx: render::Context::default(),
            builder: Box::new(builder),
            transport: OnceCell::new(),
            from,
            to,
            user_agent: user_agent.to_string(),
            timeout,
        })
    }

    /// Writes messages in `ctx`'s language and time zone, with its links.
    pub fn with_context(mut self, ctx: render::Context) -> EmailNotifier {
        self.ctx = ctx;
        self
    }

    /// Sends `ev` to every recipient in one SMTP transaction, with the
    /// `chart` (PNG bytes) inline when given.
    pub async fn send(
        &self,
        ev: &AlertEvent,
        key: &str,
        chart: Option<&[u8]>,
    ) -> Result<(), NotifyError> {
        let msg = build_message(
            ev,
            key,
            &self.from,
            &self.to,
            SystemTime::now(),
            &self.user_agent,
            &self.ctx,
            chart,
        )?;
        let transport = self
            .transport
            .get_or_init(|| async { (*self.builder).clone().build() })
            .await;
        match tokio::time::timeout(self.timeout, transport.send(msg)).await {
            Err(_) => Err(NotifyError::Timeout(self.timeout)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
        }
    }
}

impl EmailNotifier {
    /// Sends digest `d` to every recipient, with its `charts` inline.
    pub(crate) async fn send_digest(
        &self,
        d: &crate::digest::Digest,
        key: &str,
        charts: &[(String, Vec<u8>)],
    ) -> Result<(), NotifyError> {
        let msg = build_digest_message(
            d,
            key,
            &self.from,
            &self.to,
            SystemTime::now(),
            &self.user_agent,
            &self.ctx,
            charts,
        )?;
        let transport = self
            .transport
            .get_or_init(|| async { (*self.builder).clone().build() })
            .await;
        match tokio::time::timeout(self.timeout, transport.send(msg)).await {
            Err(_) => Err(NotifyError::Timeout(self.timeout)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
        }
    }
}

impl Drop for EmailNotifier {
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(t) = self.transport.take()
        {
            // lettre's pool spawns its shutdown on drop, which panics without
            // a runtime; at that point the process is ending anyway.
            std::mem::forget(t);
        }
    }
}

/// 5xx replies and client-side errors are permanent; connection failures,
/// timeouts, TLS hiccups and 4xx replies are worth retrying.
fn classify(e: &lettre::transport::smtp::Error) -> NotifyError {
    let retryable = !(e.is_permanent() || e.is_client());
    NotifyError::Smtp {
        message: error_chain(e),
        retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expected: Result<(&str, u16, SmtpSecurity, Option<&str>), &str>) {
        let got = SmtpEndpoint::parse(&url.parse().unwrap());
        match (got, expected) {
            (Ok(e), Ok((host, port, sec, user))) => {
                assert_eq!(
                    (e.host.as_str(), e.port, e.security, e.username.as_deref()),
                    (host, port, sec, user),
                    "{url}"
                );
            }
            (Err(e), Err(needle)) => assert!(e.contains(needle), "{url}: {e}"),
            (got, expected) => panic!("{url}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn smtp_urls() {
        use SmtpSecurity as S;
        check(
            "smtp://mail.example.org",
            Ok(("mail.example.org", 25, S::Opportunistic, None)),
        );
        check(
            "smtp://mail.example.org:587?tls=required",
            Ok(("mail.example.org", 587, S::Required, None)),
        );
        check(
            "smtp://127.0.0.1:2525?tls=none",
            Ok(("127.0.0.1", 2525, S::None, None)),
        );
        check(
            "smtp://h?tls=opportunistic",
            Ok(("h", 25, S::Opportunistic, None)),
        );
        check(
            "smtps://mail.example.org",
            Ok(("mail.example.org", 465, S::Implicit, None)),
        );
        check(
            "smtps://veille%40acme.fr@mail.example.org:2465",
            Ok((
                "mail.example.org",
                2465,
                S::Implicit,
                Some("veille@acme.fr"),
            )),
        );
        check(
            "smtp://bob@[::1]:25",
            Ok(("::1", 25, S::Opportunistic, Some("bob"))),
        );
        check("smtp://h?tls=maybe", Err("unknown tls mode `maybe`"));
        check("smtps://h?tls=none", Err("smtps:// is always TLS"));
        check("smtp://h?port=1", Err("unknown smtp URL parameter `port`"));
        check("http://h", Err("unsupported scheme"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2").unwrap(), "a b%2");
        assert_eq!(percent_decode("caf%C3%A9").unwrap(), "café");
        assert!(percent_decode("%FF").is_err());
    }

    fn cfg(smtp: &str) -> EmailConfig {
        EmailConfig {
            smtp: smtp.parse().unwrap(),
            from: "Veilleur <veilleur@example.org>".into(),
            to: vec!["comms@example.org".into()],
            password_env: None,
            password_file: None,
        }
    }

    #[test]
    fn credentials_need_both_halves() {
        crate::install_crypto_provider();
        assert!(EmailNotifier::new("m", &cfg("smtp://h?tls=none"), None, "ua").is_ok());
        let e = EmailNotifier::new("m", &cfg("smtp://bob@h"), None, "ua")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("password_env"), "{e}");
        let e = EmailNotifier::new("m", &cfg("smtp://h"), Some("pw".into()), "ua")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no user"), "{e}");
        let mut bad = cfg("smtp://h");
        bad.from = "not an address".into();
        let e = EmailNotifier::new("m", &bad, None, "ua")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("invalid from address"), "{e}");
    }

    #[test]
    fn message_is_multipart_with_stable_id() {
        let ev = super::super::render::tests::event();
        let key = ev.idempotency_key();
        let from: Mailbox = "veilleur@example.org".parse().unwrap();
        let to: Vec<Mailbox> = vec!["comms@example.org".parse().unwrap()];
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_261_600);
        let ctx = super::super::render::tests::fr();
        let png = [0x89, b'P', b'N', b'G'];
        let a = build_message(&ev, &key, &from, &to, t, "ua", &ctx, Some(&png))
            .unwrap()
            .formatted();
        let b = build_message(&ev, &key, &from, &to, t, "ua", &ctx, Some(&png))
            .unwrap()
            .formatted();
        assert_eq!(a, b, "same event, same bytes");
        let text = String::from_utf8(a).unwrap();
        assert!(
            text.contains(&format!("Message-ID: {}", message_id(&key))),
            "{text}"
        );
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("text/plain"), "{text}");
        assert!(text.contains("text/html"), "{text}");
        assert!(text.contains("multipart/related"), "{text}");
        assert!(text.contains("Content-ID: <chart@veilleur>"), "{text}");
        assert_ne!(message_id(&key), message_id("other"));
    }
}
