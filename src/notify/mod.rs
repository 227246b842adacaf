//! Notification delivery: the last stage of the pipeline.
//!
//! Follows prometheus/alertmanager: detection commits an alert and its outbox
//! entries in one transaction ([`crate::store::state::AlertLog::commit`]);
//! [`outbox::run`] then checks the notification log, sends with retry through
//! a [`Notifier`], and records the send only after it succeeded. A crash
//! between the send and the record means one duplicate, which receivers drop
//! thanks to the idempotency key (webhook `Idempotency-Key`, email
//! `Message-ID`).
//!
//! Owns: one [`Notifier`] per configured channel (email, webhook, file), the
//! rendering of an alert for people ([`render`]) and the delivery loop
//! ([`outbox`]). It does not decide *whether* to alert (detection does) and
//! never reads detection's state.
//!
//! Secrets (SMTP password, webhook HMAC secret) are resolved here, once, when a
//! notifier is built: the config only names the variable or file.

pub mod chart;
pub mod email;
pub mod file;
pub mod outbox;
pub mod redact;
pub mod render;
pub mod sanitize;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::alert::AlertEvent;
use crate::config::{ChannelConfig, ChannelKind};

/// A configured channel, ready to send.
pub enum Notifier {
    Email(email::EmailNotifier),
    Webhook(webhook::WebhookNotifier),
    File(file::FileNotifier),
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Notifiers hold secrets: show only the kind.
        f.write_str(match self {
            Notifier::Email(_) => "Notifier::Email",
            Notifier::Webhook(_) => "Notifier::Webhook",
            Notifier::File(_) => "Notifier::File",
        })
    }
}

impl Notifier {
    /// Builds a notifier, resolving secrets: `password_env` / `password_file`,
    /// `secret_env` / `secret_file` (the variable wins when both are set).
    /// A missing variable or an unreadable file is an error naming the
    /// channel and the variable or file.
    pub fn from_config(ch: &ChannelConfig, user_agent: &str) -> Result<Notifier, NotifyError> {
        let ctx = render::Context::new(ch.locale, ch.public_url.clone());
        match &ch.kind {
            ChannelKind::Email(cfg) => {
                let password = resolve_secret(
                    &ch.name,
                    "password",
                    cfg.password_env.as_deref(),
                    cfg.password_file.as_deref(),
                )?;
                Ok(Notifier::Email(
                    email::EmailNotifier::new(&ch.name, cfg, password, user_agent)?
                        .with_context(ctx),
                ))
            }
            ChannelKind::Webhook(cfg) => {
                let secret = resolve_secret(
                    &ch.name,
                    "secret",
                    cfg.secret_env.as_deref(),
                    cfg.secret_file.as_deref(),
                )?;
                Ok(Notifier::Webhook(
                    webhook::WebhookNotifier::new(&ch.name, cfg, secret, user_agent)?
                        .with_context(ctx),
                ))
            }
            ChannelKind::File(cfg) => Ok(Notifier::File(
                file::FileNotifier::new(&cfg.dir).with_context(ctx),
            )),
        }
    }

    /// Sends one alert event; `key` is its idempotency key
    /// ([`AlertEvent::idempotency_key`]), stable across retries.
    pub async fn send(&self, ev: &AlertEvent, key: &str) -> Result<(), NotifyError> {
        self.send_with_chart(ev, key, None).await
    }

    /// Like [`Notifier::send`], with the alert's chart (PNG bytes) for the
    /// channels that show it inline ([`Notifier::wants_chart`]).
    pub async fn send_with_chart(
        &self,
        ev: &AlertEvent,
        key: &str,
        chart: Option<&[u8]>,
    ) -> Result<(), NotifyError> {
        match self {
            Notifier::Email(n) => n.send(ev, key, chart).await,
            Notifier::Webhook(n) => n.send(ev, key).await,
            Notifier::File(n) => n.send(ev, key, chart).await,
        }
    }

    /// Whether this channel embeds the chart (emails do; chat messages
    /// link to it on the web page instead).
    pub fn wants_chart(&self) -> bool {
        matches!(self, Notifier::Email(_) | Notifier::File(_))
    }

    /// Sends one digest ([`crate::digest`], rendered by
    /// [`crate::digest::render`] in the channel's language); `key` is its
    /// idempotency key. Channels that embed charts get them drawn first,
    /// off the async threads; a digest whose charts cannot be drawn goes
    /// out without them.
    pub async fn send_digest(
        &self,
        d: &crate::digest::Digest,
        key: &str,
    ) -> Result<(), NotifyError> {
        let charts = if self.wants_chart() {
            let owned = d.clone();
            match tokio::task::spawn_blocking(move || crate::digest::render::charts(&owned)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "digest sent without its charts");
                    Vec::new()
                }
                Err(e) => {
                    tracing::debug!(error = %e, "digest sent without its charts");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        match self {
            Notifier::Email(n) => n.send_digest(d, key, &charts).await,
            Notifier::Webhook(n) => n.send_digest(d, key).await,
            Notifier::File(n) => n.send_digest(d, key, &charts).await,
        }
    }

    /// `email`, `webhook` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            Notifier::Email(_) => "email",
            Notifier::Webhook(_) => "webhook",
            Notifier::File(_) => "file",
        }
    }
}

/// Why a notifier could not be built or a notification not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "channel `{channel}`: environment variable {var} is not set (it should hold the {what})"
    )]
    MissingEnv {
        channel: String,
        var: String,
        what: &'static str,
    },
    #[error("channel `{channel}`: cannot read the {what} file {}: {source}", path.display())]
    SecretFile {
        channel: String,
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The channel's settings cannot work (bad address, bad URL, …).
    #[error("channel `{channel}`: {message}")]
    Config { channel: String, message: String },
    /// The alert could not be turned into a message.
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The SMTP exchange failed; `retryable` for connection problems,
    /// timeouts and 4xx replies, not for 5xx replies.
    #[error("smtp: {message}")]
    Smtp { message: String, retryable: bool },
    /// The HTTP request failed before a response (connect, TLS, timeout).
    #[error("webhook request failed: {message}")]
    Http { message: String, retryable: bool },
    /// The webhook answered with a non-2xx status.
    #[error("webhook answered HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        status: u16,
        /// From a `Retry-After` header, when the receiver sent one.
        retry_after: Option<Duration>,
        /// The start of the response body, for the log.
        body: String,
    },
    #[error("timed out after {}", crate::duration::format_duration(*.0))]
    Timeout(Duration),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the alert: {0}")]
    Encode(#[from] serde_json::Error),
}

impl NotifyError {
    /// Whether trying again later may succeed without an operator acting.
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Smtp { retryable, .. } | NotifyError::Http { retryable, .. } => *retryable,
            NotifyError::Status { status, .. } => {
                *status == 408 || *status == 429 || (500..600).contains(status)
            }
            NotifyError::Timeout(_) | NotifyError::Io { .. } => true,
            NotifyError::MissingEnv { .. }
            | NotifyError::SecretFile { .. }
            | NotifyError::Config { .. }
            | NotifyError::Message(_)
            | NotifyError::Encode(_) => false,
        }
    }

    /// How long the receiver asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NotifyError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Reads a secret from the environment variable `env` or else the file
/// `file`; `None` when the channel configures neither. A trailing newline in
/// the file is not part of the secret.
fn resolve_secret(
    channel: &str,
    what: &'static str,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<String>, NotifyError> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(NotifyError::MissingEnv {
                channel: channel.to_string(),
                var: var.to_string(),
                what,
            }),
        };
    }
    if let Some(path) = file {
        let s = std::fs::read_to_string(path).map_err(|source| NotifyError::SecretFile {
            channel: channel.to_string(),
            path: path.to_path_buf(),
            what,
            source,
        })?;
        return Ok(Some(s.trim_end_matches(['\r', '\n']).to_string()));
    }
    Ok(None)
}

/// Lowercase hex SHA-256 of `key`: file names, Message-IDs, MIME boundaries.
pub(crate) fn key_digest(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileChannelConfig, WebhookConfig, WebhookFormat};

    #[test]
    fn missing_secret_names_channel_and_variable() {
        let ch = ChannelConfig {
            name: "slack".into(),
            kind: ChannelKind::Webhook(WebhookConfig {
                url: "https://hooks.example.org/x".parse().unwrap(),
                format: WebhookFormat::Slack,
                secret_env: Some("VEILLEUR_TEST_SURELY_UNSET_VAR".into()),
                secret_file: None,
            }),
            locale: Default::default(),
            public_url: None,
        };
        let err = Notifier::from_config(&ch, "ua").unwrap_err().to_string();
        assert!(err.contains("`slack`"), "{err}");
        assert!(err.contains("VEILLEUR_TEST_SURELY_UNSET_VAR"), "{err}");

        let ch = ChannelConfig {
            name: "slack".into(),
            kind: ChannelKind::Webhook(WebhookConfig {
                url: "https://hooks.example.org/x".parse().unwrap(),
                format: WebhookFormat::Slack,
                secret_env: None,
                secret_file: Some("/nonexistent/veilleur/secret".into()),
            }),
            locale: Default::default(),
            public_url: None,
        };
        let err = Notifier::from_config(&ch, "ua").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/veilleur/secret"), "{err}");
    }

    #[test]
    fn secret_file_drops_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "hunter2\n").unwrap();
        assert_eq!(
            resolve_secret("c", "secret", None, Some(&p)).unwrap(),
            Some("hunter2".to_string())
        );
        assert_eq!(resolve_secret("c", "secret", None, None).unwrap(), None);
        let n = Notifier::from_config(
            &ChannelConfig {
                name: "f".into(),
                kind: ChannelKind::File(FileChannelConfig {
                    dir: dir.path().into(),
                }),
                locale: Default::default(),
                public_url: None,
            },
            "ua",
        )
        .unwrap();
        assert_eq!(n.kind(), "file");
    }

    #[test]
    fn retryable_classification() {
        let status = |s| NotifyError::Status {
            status: s,
            retry_after: None,
            body: String::new(),
        };
        for s in [408, 429, 500, 502, 503] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 422] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(NotifyError::Timeout(Duration::from_secs(1)).is_retryable());
    }
}
