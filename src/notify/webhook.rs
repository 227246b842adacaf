//! The webhook channel: one HTTP `POST` (JSON) per alert event.
//!
//! Owns: the payload of each [`WebhookFormat`], the request headers and
//! signature, and classifying the response. It does not retry: the outbox
//! does.
//!
//! Payloads:
//! * `json`: the [`AlertEvent`] JSON exactly as documented in DESIGN.md;
//! * `slack`: `{"text": …}` in Slack `mrkdwn`;
//! * `mattermost`: `{"text": …}` in Markdown;
//! * `teams`: a message with one Adaptive Card (Teams Workflows webhooks);
//! * `discord`: `{"content": …, "embeds": [ … ]}` within Discord's limits
//!   (content 2000 characters, embed title 256, description 4096).
//!
//! Headers sent with every request:
//! * `Content-Type: application/json`, `User-Agent` from the daemon config;
//! * `Idempotency-Key`: the event's idempotency key, identical on every retry
//!   (bytes outside visible ASCII are percent-encoded);
//! * when the channel has a secret: `X-Veilleur-Timestamp` (Unix seconds) and
//!   `X-Veilleur-Signature: sha256=<hex>`, where `<hex>` is the lowercase hex
//!   HMAC-SHA256, keyed with the secret, of the timestamp, a `.`, and the raw
//!   request body. A receiver recomputes it over the exact bytes it received,
//!   compares in constant time, and rejects timestamps too far from its clock
//!   (five minutes is usual) to stop replays.
//!
//! Responses: 2xx is delivered; 408, 429, 5xx and transport errors are
//! retryable (a `Retry-After` is passed on to the outbox); redirects and other
//! 4xx are permanent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde_json::{Value, json};

use super::NotifyError;
use super::render::{self, Markup};
use crate::alert::{AlertEvent, AlertState};
use crate::config::{WebhookConfig, WebhookFormat};
use crate::retry::error_chain;

/// Time allowed for one request, response headers included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Header carrying the HMAC signature.
pub(crate) const SIGNATURE_HEADER: &str = "x-veilleur-signature";
/// Header carrying the Unix time (seconds) the signature covers.
pub(crate) const TIMESTAMP_HEADER: &str = "x-veilleur-timestamp";
/// Header carrying the idempotency key.
pub(crate) const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// How much of an error response body goes into the log.
const ERROR_BODY_BYTES: usize = 512;
/// Longest `Retry-After` honoured; the outbox caps it further.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

const DISCORD_CONTENT_MAX: usize = 2000;
const DISCORD_TITLE_MAX: usize = 256;
const DISCORD_DESCRIPTION_MAX: usize = 4096;
/// Slack truncates `text` past 40,000 characters; stay well below.
const SLACK_TEXT_MAX: usize = 12_000;
/// Mattermost's post limit is 16,383 characters.
const MATTERMOST_TEXT_MAX: usize = 16_000;

/// Posts alert events to one URL.
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: url::Url,
    format: WebhookFormat,
    secret: Option<Vec<u8>>,
    ctx: render::Context,
}

impl WebhookNotifier {
    /// Builds the notifier; `secret` was resolved from the channel's
    /// `secret_env` / `secret_file`.
    pub fn new(
        channel: &str,
        cfg: &WebhookConfig,
        secret: Option<String>,
        user_agent: &str,
    ) -> Result<WebhookNotifier, NotifyError> {
        Self::with_timeout(channel, cfg, secret, user_agent, DEFAULT_TIMEOUT)
    }

    /// Like [`WebhookNotifier::new`] with a chosen request timeout.
    pub(crate) fn with_timeout(
        channel: &str,
        cfg: &WebhookConfig,
        secret: Option<String>,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<WebhookNotifier, NotifyError> {
        if secret.as_deref() == Some("") {
            return Err(NotifyError::Config {
                channel: channel.to_string(),
                message: "the webhook secret is empty: set a non-empty secret or remove secret_env/secret_file".into(),
            });
        }
        // reqwest is built without a default crypto provider and panics when
        // none is installed; installing the same one `main` does is harmless.
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // A redirected POST becomes a GET; a webhook URL that redirects is
            // a configuration problem to surface, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError::Config {
                channel: channel.to_string(),
                message: format!("cannot build the HTTP client: {}", error_chain(&e)),
            })?;
        Ok(WebhookNotifier {
            client,
            url: cfg.url.clone(),
            format: cfg.format,
            secret: secret.map(String::into_bytes),
            ctx: render::Context::default(),
        })
    }

    /// Writes messages in `ctx`'s language and time zone, with its links.
    pub fn with_context(mut self, ctx: render::Context) -> WebhookNotifier {
        self.ctx = ctx;
        self
    }

    /// Posts `ev`; see the module doc for headers and outcomes.
    pub async fn send(&self, ev: &AlertEvent, key: &str) -> Result<(), NotifyError> {
        self.post(payload(ev, self.format, &self.ctx)?, key).await
    }

    /// Posts digest `d` in this channel's format and language.
    pub(crate) async fn send_digest(
        &self,
        d: &crate::digest::Digest,
        key: &str,
    ) -> Result<(), NotifyError> {
        self.post(digest_payload(d, self.format, &self.ctx)?, key)
            .await
    }

    /// Posts `body` (a payload of this channel's format) with the
    /// idempotency key and signature headers.
    pub(crate) async fn post(&self, body: Vec<u8>, key: &str) -> Result<(), NotifyError> {
        let mut req = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, header_safe(key));
        if let Some(secret) = &self.secret {
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            req = req
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, signature(secret, ts, &body));
        }
        let mut resp = req.body(body).send().await.map_err(|e| {
            // Builder errors (a bad header, say) will not fix themselves.
            let retryable = !e.is_builder();
            NotifyError::Http {
                // reqwest prints the URL it was given: the token is in it.
                message: super::redact::urls_in(&error_chain(&e.without_url())),
                retryable,
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, chrono::Utc::now()));
        let mut snippet = Vec::new();
        // Best effort: the status says enough when the body cannot be read.
        while snippet.len() < ERROR_BODY_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => snippet.extend_from_slice(&c),
                _ => break,
            }
        }
        snippet.truncate(ERROR_BODY_BYTES);
        let mut body = super::redact::urls_in(
            String::from_utf8_lossy(&snippet)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim(),
        );
        // A receiver that echoes the request path would echo the token.
        for secret in [self.url.path(), self.url.query().unwrap_or("")] {
            if secret.len() > 1 {
                body = body.replace(secret, "…");
            }
        }
        Err(NotifyError::Status {
            status: status.as_u16(),
            retry_after,
            body,
        })
    }
}

/// `sha256=<hex hmac-sha256(secret, "{ts}." + body)>`.
pub fn signature(secret: &[u8], ts: u64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .expect("hmac accepts any key length");
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The key as a header value: visible ASCII kept, other bytes `%XX`.
fn header_safe(key: &str) -> HeaderValue {
    let mut s = String::with_capacity(key.len());
    for b in key.bytes() {
        if (0x21..0x7f).contains(&b) && b != b'%' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    // Only visible ASCII is left, which is always a valid header value.
    HeaderValue::from_str(&s).expect("visible ASCII is a valid header value")
}

/// `Retry-After` (seconds or an HTTP date, [`crate::retry::parse_retry_after`])
/// at `now`, capped at [`MAX_RETRY_AFTER`].
fn retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    crate::retry::parse_retry_after(v, now).map(|d| d.min(MAX_RETRY_AFTER))
}

/// The request body for `format`, in `ctx`'s language.
pub(crate) fn payload(
    ev: &AlertEvent,
    format: WebhookFormat,
    ctx: &render::Context,
) -> Result<Vec<u8>, NotifyError> {
    let v = match format {
        // The contract: the event's machine fields, unchanged.
        WebhookFormat::Json => return Ok(serde_json::to_vec(ev)?),
        WebhookFormat::Slack => slack(ev, ctx),
        WebhookFormat::Mattermost => mattermost(ev, ctx),
        WebhookFormat::Teams => teams_card(ev, ctx),
        WebhookFormat::Discord => discord(ev, ctx),
    };
    Ok(serde_json::to_vec(&v)?)
}

/// The request body of digest `d` for `format`, in `ctx`'s language: the
/// digest's JSON under `digest` for `json` (machine fields, no wording),
/// otherwise the same message shapes as alerts ([`slack_message`],
/// [`mattermost_message`], [`discord_message`], [`teams_message`]) with
/// the text of [`crate::digest::render`], every value escaped by the
/// format's sanitizer.
pub(crate) fn digest_payload(
    d: &crate::digest::Digest,
    format: WebhookFormat,
    ctx: &render::Context,
) -> Result<Vec<u8>, NotifyError> {
    use crate::digest::render as digest;
    let v = match format {
        WebhookFormat::Json => json!({ "digest": d }),
        WebhookFormat::Slack => slack_message(&digest::chat(d, ctx, Markup::Slack)),
        WebhookFormat::Mattermost => mattermost_message(&digest::chat(d, ctx, Markup::Mattermost)),
        WebhookFormat::Discord => {
            let c = digest::chat_parts(d, ctx, Markup::Discord);
            let mut text = String::new();
            for w in &c.watches {
                text.push_str(&format!("**{}**\n", w.title));
                for (k, v) in &w.rows {
                    text.push_str(&format!("• {} {v}\n", ctx.locale.colon(k)));
                }
                for a in &w.alerts {
                    text.push_str(&format!("• {a}\n"));
                }
                if let Some(l) = &w.links {
                    text.push_str(&format!("• {l}\n"));
                }
                text.push('\n');
            }
            discord_message(
                &Markup::Discord.escape(&digest::subject(d, &ctx.locale)),
                json!({
                    "title": truncate(&c.heading, DISCORD_TITLE_MAX),
                    "description": cut_at_line(&text, DISCORD_DESCRIPTION_MAX),
                    "timestamp": d.end.to_rfc3339(),
                }),
            )
        }
        WebhookFormat::Teams => {
            let loc = &ctx.locale;
            let c = digest::chat_parts(d, ctx, Markup::Teams);
            let mut body = vec![json!({
                "type": "TextBlock",
                "text": c.heading,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": true,
            })];
            for w in &c.watches {
                body.push(json!({ "type": "TextBlock", "text": w.title, "weight": "Bolder", "wrap": true }));
                let facts: Vec<Value> = w
                    .rows
                    .iter()
                    .map(|(k, v)| json!({ "title": k, "value": v }))
                    .collect();
                body.push(json!({ "type": "FactSet", "facts": facts }));
                for a in &w.alerts {
                    body.push(json!({ "type": "TextBlock", "text": a, "wrap": true }));
                }
                if let Some(l) = &w.links {
                    body.push(json!({ "type": "TextBlock", "text": l, "wrap": true }));
                }
            }
            teams_message(&digest::subject(d, loc), body, None)
        }
    };
    Ok(serde_json::to_vec(&v)?)
}

/// A Slack incoming-webhook message: `text` in `mrkdwn` (the notification
/// preview), and no link unfurling (a stranger's link must not post a
/// preview). <https://api.slack.com/messaging/webhooks>
fn slack_message(text: &str) -> Value {
    json!({
        "text": truncate(text, SLACK_TEXT_MAX),
        "mrkdwn": true,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// A Mattermost incoming-webhook message: `text` in Markdown.
/// <https://developers.mattermost.com/integrate/webhooks/incoming/>
fn mattermost_message(text: &str) -> Value {
    json!({ "text": truncate(text, MATTERMOST_TEXT_MAX) })
}

/// A Discord message: `content` (already escaped) and one embed, and no
/// mention allowed whatever the text says.
/// <https://discord.com/developers/docs/resources/message#allowed-mentions-object>
fn discord_message(content: &str, embed: Value) -> Value {
    json!({
        "content": truncate(content, DISCORD_CONTENT_MAX),
        "embeds": [embed],
        // A message must not ping @everyone because a post title says so.
        "allowed_mentions": { "parse": [] },
    })
}

/// A Teams message holding one Adaptive Card of `body`, with `actions`.
/// No `msteams.entities`, so no `<at>` mention can ping anyone.
/// <https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using>
fn teams_message(summary: &str, body: Vec<Value>, actions: Option<Value>) -> Value {
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": { "width": "Full" },
        "body": body,
    });
    if let Some(a) = actions {
        card["actions"] = a;
    }
    json!({
        "type": "message",
        "summary": summary,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

fn colour(ev: &AlertEvent) -> (u32, &'static str) {
    match ev.state {
        AlertState::Firing => (0xB0_0020, "Attention"),
        AlertState::Resolved => (0x1B_7F3B, "Good"),
    }
}

/// Slack: the alert's chat text ([`slack_message`]).
fn slack(ev: &AlertEvent, ctx: &render::Context) -> Value {
    slack_message(&render::chat_text(ev, ctx, Markup::Slack, true))
}

/// Mattermost: the alert's chat text ([`mattermost_message`]).
fn mattermost(ev: &AlertEvent, ctx: &render::Context) -> Value {
    mattermost_message(&render::chat_text(ev, ctx, Markup::Mattermost, true))
}

/// A Teams message holding one Adaptive Card: headline, sentence, new
/// words, top posts, sources, the details as a fact set and the links as
/// `Action.OpenUrl` buttons. No `msteams.entities`, so no `<at>` mention
/// can ping anyone.
/// <https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using>
fn teams_card(ev: &AlertEvent, ctx: &render::Context) -> Value {
    let loc = &ctx.locale;
    let l = loc.labels();
    let c = render::chat(ev, ctx, Markup::Teams);
    let text = |t: &str| json!({ "type": "TextBlock", "text": t, "wrap": true });
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": c.title,
        "weight": "Bolder",
        "size": "Medium",
        "color": colour(ev).1,
        "wrap": true,
    })];
    body.extend(c.lead.iter().map(|t| text(t)));
    if !c.posts.is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": Markup::Teams.escape(l.top_posts),
            "weight": "Bolder",
            "wrap": true,
        }));
        body.extend(c.posts.iter().map(|t| text(t)));
    }
    if let Some(src) = &c.sources {
        body.push(text(src));
    }
    let facts: Vec<Value> = c
        .details
        .iter()
        .map(|(k, v)| json!({ "title": k, "value": v }))
        .collect();
    body.push(json!({
        "type": "TextBlock",
        "text": Markup::Teams.escape(l.details),
        "weight": "Bolder",
        "isSubtle": true,
        "wrap": true,
    }));
    body.push(json!({ "type": "FactSet", "facts": facts }));
    let actions = ctx.public_url.as_ref().map(|base| {
        let k = render::links(ev, base);
        json!([
            { "type": "Action.OpenUrl", "title": l.link_watch, "url": k.watch },
            { "type": "Action.OpenUrl", "title": l.link_mentions, "url": k.mentions },
            { "type": "Action.OpenUrl", "title": l.link_chart, "url": k.chart },
        ])
    });
    teams_message(&render::subject(ev, ctx), body, actions)
}

/// Discord: the subject as content, the rest as one embed (with the chart
/// as its image when `public_url` is set), truncated to Discord's limits,
/// and no mention allowed whatever the text says.
/// <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>
/// <https://discord.com/developers/docs/resources/message#allowed-mentions-object>
fn discord(ev: &AlertEvent, ctx: &render::Context) -> Value {
    let mut embed = json!({
        "title": truncate(&render::chat(ev, ctx, Markup::Discord).title, DISCORD_TITLE_MAX),
        "description": truncate(&render::chat_text(ev, ctx, Markup::Discord, false), DISCORD_DESCRIPTION_MAX),
        "color": colour(ev).0,
        "timestamp": ev.at.to_rfc3339(),
    });
    if let Some(base) = &ctx.public_url {
        let k = render::links(ev, base);
        embed["url"] = json!(k.watch);
        embed["image"] = json!({ "url": k.chart });
    }
    discord_message(&Markup::Discord.escape(&render::subject(ev, ctx)), embed)
}

/// At most `max` characters, ending with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    super::sanitize::truncate(s, max)
}

/// At most `max` characters, cut after the last whole line that fits and
/// ending with `…` when cut, so that no link or markup is left half open
/// (a digest's lines are short; a single line too long is cut anyway).
fn cut_at_line(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut n = 0;
    for line in s.split_inclusive('\n') {
        let len = line.chars().count();
        if n + len + 1 > max {
            break;
        }
        out.push_str(line);
        n += len;
    }
    if out.is_empty() {
        return truncate(s, max);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::TopMention;

    #[test]
    fn digests_are_cut_after_a_whole_line() {
        assert_eq!(cut_at_line("ab\ncd\n", 10), "ab\ncd\n");
        assert_eq!(cut_at_line("ab\ncd\nef", 7), "ab\ncd\n…");
        assert_eq!(cut_at_line("abcdef", 4), "abc…");
    }

    fn event() -> AlertEvent {
        super::super::render::tests::event()
    }

    fn check(format: WebhookFormat, paths: &[(&str, &str)]) -> Value {
        let ctx = render::Context::default();
        let v: Value = serde_json::from_slice(&payload(&event(), format, &ctx).unwrap()).unwrap();
        for (ptr, needle) in paths {
            let got = v
                .pointer(ptr)
                .unwrap_or_else(|| panic!("{format:?}: no {ptr} in {v:#}"));
            let text = got.as_str().map_or_else(|| got.to_string(), str::to_string);
            assert!(
                text.contains(needle),
                "{format:?} {ptr}: {text:?} lacks {needle:?}"
            );
        }
        v
    }

    #[test]
    fn json_payload_is_the_event() {
        let ev = event();
        assert_eq!(
            payload(&ev, WebhookFormat::Json, &super::super::render::tests::fr()).unwrap(),
            serde_json::to_vec(&ev).unwrap()
        );
    }

    #[test]
    fn chat_payload_shapes() {
        check(
            WebhookFormat::Slack,
            &[
                ("/text", "*CRITICAL acme / bad-buzz"),
                (
                    "/text",
                    "<https://ex.org/post/1?a=b&c=d|Acme &lt;script&gt;",
                ),
            ],
        );
        check(
            WebhookFormat::Mattermost,
            &[
                ("/text", "**CRITICAL acme"),
                ("/text", "](https://ex.org/post/1?a=b&c=d)"),
            ],
        );
        check(
            WebhookFormat::Teams,
            &[
                ("/type", "message"),
                (
                    "/attachments/0/contentType",
                    "application/vnd.microsoft.card.adaptive",
                ),
                ("/attachments/0/content/type", "AdaptiveCard"),
                (
                    "/attachments/0/content/body/0/text",
                    "CRITICAL acme / bad-buzz",
                ),
            ],
        );
        check(
            WebhookFormat::Discord,
            &[
                ("/content", "\\[veilleur\\] CRITICAL acme"),
                ("/embeds/0/title", "CRITICAL acme"),
                ("/embeds/0/description", "https://ex.org/post/1"),
                ("/embeds/0/timestamp", "2026-01-01T10:00:00"),
            ],
        );
    }

    #[test]
    fn discord_respects_limits() {
        let mut ev = event();
        ev.watch = "w".repeat(3000);
        ev.top_mentions = (0..100)
            .map(|i| TopMention {
                url: format!("https://ex.org/{i}"),
                title: "t".repeat(200),
                author: "a".into(),
                reach: i,
                sentiment: -0.5,
            })
            .collect();
        let v: Value = serde_json::from_slice(
            &payload(&ev, WebhookFormat::Discord, &render::Context::default()).unwrap(),
        )
        .unwrap();
        let len = |p: &str| v.pointer(p).unwrap().as_str().unwrap().chars().count();
        assert!(len("/content") <= DISCORD_CONTENT_MAX);
        assert_eq!(len("/embeds/0/title"), DISCORD_TITLE_MAX);
        assert_eq!(len("/embeds/0/description"), DISCORD_DESCRIPTION_MAX);
    }

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Reference computed with:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature(b"secret", 1_700_000_000, br#"{"a":1}"#),
            "sha256=".to_string() + &reference_hmac(b"secret", b"1700000000.{\"a\":1}")
        );
        assert_ne!(
            signature(b"secret", 1_700_000_001, br#"{"a":1}"#),
            signature(b"secret", 1_700_000_000, br#"{"a":1}"#)
        );
    }

    /// HMAC-SHA256 written out from RFC 2104, to check the `hmac` crate use.
    fn reference_hmac(key: &[u8], msg: &[u8]) -> String {
        use sha2::Digest;
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = sha2::Sha256::digest([ipad.as_slice(), msg].concat());
        hex::encode(sha2::Sha256::digest(
            [opad.as_slice(), inner.as_slice()].concat(),
        ))
    }

    #[test]
    fn idempotency_key_header_is_ascii() {
        assert_eq!(
            header_safe("acme/bad-buzz/firing/1"),
            "acme/bad-buzz/firing/1"
        );
        assert_eq!(header_safe("santé 1%"), "sant%C3%A9%201%25");
    }

    #[test]
    fn retry_after_forms() {
        let now: chrono::DateTime<chrono::Utc> = "2026-03-01T12:00:00Z".parse().unwrap();
        let check = |v: &str| retry_after(v, now);
        assert_eq!(check("120"), Some(Duration::from_secs(120)));
        assert_eq!(check("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            check("Sun, 01 Mar 2026 12:02:00 GMT"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(check("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(check("soon"), None);
    }
}
