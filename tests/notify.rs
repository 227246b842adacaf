//! Notification delivery against real servers on loopback: a mailin-embedded
//! SMTP server and an axum webhook receiver, both started by the tests, and
//! the outbox loop over a real state store.
//!
//! Backoffs are milliseconds (the outbox keeps wall-clock times in the
//! store, so paused tokio time would not make entries due).

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use veilleur::alert::{AlertEvent, AlertState};
use veilleur::config::{ChannelConfig, ChannelKind, EmailConfig, WebhookConfig, WebhookFormat};
use veilleur::notify::outbox::{OutboxOptions, run_with_options};
use veilleur::notify::{Notifier, email};
use veilleur::store::state::StateStore;
use veilleur::store::state::outbox::Entry;
use veilleur::telemetry::{ChannelOutcomeLabels, Metrics};

fn event() -> AlertEvent {
    AlertEvent::example()
}

fn store() -> (tempfile::TempDir, Arc<StateStore>) {
    let dir = tempfile::tempdir().unwrap();
    let s = StateStore::open(&dir.path().join("state")).unwrap();
    (dir, Arc::new(s))
}

fn enqueue(state: &StateStore, channel: &str, ev: &AlertEvent) -> Entry {
    let e = Entry::new(ev.clone().into(), channel, 0);
    state
        .alerts()
        .commit(&[], std::slice::from_ref(&e))
        .unwrap();
    e
}

fn count(m: &Metrics, channel: &str, outcome: &str) -> u64 {
    m.notifications
        .get_or_create(&ChannelOutcomeLabels {
            channel: channel.into(),
            outcome: outcome.into(),
        })
        .get()
}

fn fast() -> OutboxOptions {
    OutboxOptions {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        permanent_backoff: Duration::from_secs(60),
        idle_poll: Duration::from_millis(500),
        store_retry: Duration::from_millis(50),
        ..OutboxOptions::default()
    }
}

/// The outbox loop running in the background for one test.
struct Loop {
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

fn start(
    state: &Arc<StateStore>,
    notifiers: HashMap<String, Notifier>,
    opts: OutboxOptions,
) -> Loop {
    let metrics = Arc::new(Metrics::new());
    let wake = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(run_with_options(
        state.clone(),
        Arc::new(notifiers),
        metrics.clone(),
        wake.clone(),
        shutdown.clone(),
        Duration::from_secs(2),
        opts,
    ));
    Loop {
        metrics,
        wake,
        shutdown,
        handle,
    }
}

impl Loop {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.handle)
            .await
            .expect("the outbox loop returns after shutdown")
            .unwrap();
    }
}

/// Polls `cond` until it holds, failing the test after 10 s.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------- webhook peer

#[derive(Debug, Clone)]
struct Request {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    /// Statuses to answer, in order; `default` afterwards.
    script: Mutex<VecDeque<u16>>,
    default: u16,
    delay: Duration,
    requests: Mutex<Vec<Request>>,
}

impl Receiver {
    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !r.delay.is_zero() {
        tokio::time::sleep(r.delay).await;
    }
    let status = r.script.lock().unwrap().pop_front().unwrap_or(r.default);
    r.requests.lock().unwrap().push(Request {
        headers,
        body,
        answered: status,
    });
    StatusCode::from_u16(status).unwrap()
}

async fn receiver(script: &[u16], default: u16, delay: Duration) -> (Arc<Receiver>, url::Url) {
    let r = Arc::new(Receiver {
        script: Mutex::new(script.iter().copied().collect()),
        default,
        delay,
        ..Receiver::default()
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, format!("http://{addr}/hook").parse().unwrap())
}

fn webhook_channel(
    name: &str,
    url: &url::Url,
    format: WebhookFormat,
    secret_file: Option<&Path>,
) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        kind: ChannelKind::Webhook(WebhookConfig {
            url: url.clone(),
            format,
            secret_env: None,
            secret_file: secret_file.map(Path::to_path_buf),
        }),
        locale: Default::default(),
        public_url: None,
    }
}

fn notifiers(channels: &[ChannelConfig]) -> HashMap<String, Notifier> {
    veilleur::install_crypto_provider();
    channels
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                Notifier::from_config(c, "veilleur-test/1").unwrap(),
            )
        })
        .collect()
}

// ------------------------------------------------------------------- SMTP peer

#[derive(Clone)]
struct Sink {
    mails: Arc<Mutex<Vec<Vec<u8>>>>,
    current: Vec<u8>,
}

impl mailin_embedded::Handler for Sink {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.mails
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

/// Starts a real SMTP server on `listener`; returns where mails land.
fn smtp_server(listener: TcpListener) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let mails = Arc::new(Mutex::new(Vec::new()));
    let mut server = mailin_embedded::Server::new(Sink {
        mails: mails.clone(),
        current: Vec::new(),
    });
    server
        .with_name("mx.test")
        .with_ssl(mailin_embedded::SslConfig::None)
        .unwrap()
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    mails
}

fn email_channel(name: &str, smtp: &str) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        kind: ChannelKind::Email(EmailConfig {
            smtp: smtp.parse().unwrap(),
            from: "Veilleur <veilleur@example.org>".into(),
            to: vec!["comms@example.org".into()],
            password_env: None,
            password_file: None,
        }),
        locale: Default::default(),
        public_url: None,
    }
}

fn b64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bits: Vec<u8> = s.bytes().filter_map(val).collect();
    let mut out = Vec::new();
    for chunk in bits.chunks(4) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Decodes quoted-printable (soft breaks and `=XX`).
fn qp(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The decoded `Subject` of a raw message (unfolded, RFC 2047 words decoded).
fn subject_of(raw: &str) -> String {
    let unfolded = raw.replace("\r\n ", " ").replace("\r\n\t", " ");
    let line = unfolded
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .expect("a Subject header");
    let mut words = Vec::new();
    for word in line.split(' ') {
        let parts: Vec<&str> = word.split('?').collect();
        if parts.len() == 5 && parts[0] == "=" && parts[4] == "=" {
            let bytes = match parts[2] {
                "b" | "B" => b64(parts[3]),
                _ => qp(&parts[3].replace('_', " ")).into_bytes(),
            };
            words.push(String::from_utf8(bytes).unwrap());
        } else {
            words.push(word.to_string());
        }
    }
    // lettre encodes word by word, so the spaces between are the text's.
    words.join(" ")
}

// ----------------------------------------------------------------------- tests

#[tokio::test]
async fn email_is_received_by_a_real_smtp_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = smtp_server(listener);
    let ch = email_channel("comms-email", &format!("smtp://127.0.0.1:{port}?tls=none"));
    let n = notifiers(&[ch]);
    let ev = event();
    let key = ev.idempotency_key();
    n["comms-email"].send(&ev, &key).await.unwrap();

    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let raw = String::from_utf8(mails[0].clone()).unwrap();
    let subject = subject_of(&raw);
    assert_eq!(
        subject,
        veilleur::notify::render::subject(&ev, &Default::default())
    );
    assert!(
        subject.starts_with("[veilleur] CRITICAL acme / bad-buzz:"),
        "{subject}"
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("Content-Type: text/plain"), "{raw}");
    assert!(raw.contains("Content-Type: text/html"), "{raw}");
    assert!(
        raw.contains(&format!("Message-ID: {}", email::message_id(&key))),
        "{raw}"
    );
    let body = qp(&raw);
    assert!(
        body.contains("https://forum.example.org/t/acme-panne?page=2"),
        "{body}"
    );
    assert!(
        body.contains("<a href=\"https://forum.example.org/t/acme-panne?page=2\">"),
        "{body}"
    );
    assert!(body.contains("réclamation"), "{body}");
}

#[tokio::test]
async fn webhook_retries_on_503_then_delivers_once() {
    let (recv, url) = receiver(&[503, 503], 200, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join("secret");
    std::fs::write(&secret_path, "s3cret\n").unwrap();
    let (_d, state) = store();
    let ev = event();
    enqueue(&state, "hook", &ev);
    let lp = start(
        &state,
        notifiers(&[webhook_channel(
            "hook",
            &url,
            WebhookFormat::Json,
            Some(&secret_path),
        )]),
        fast(),
    );
    wait_for("delivery", || state.outbox().len().unwrap() == 0).await;

    let reqs = recv.requests();
    assert_eq!(
        reqs.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![503, 503, 200],
        "exactly one successful delivery"
    );
    let json = serde_json::to_vec(&ev).unwrap();
    for r in &reqs {
        assert_eq!(r.headers["idempotency-key"], ev.idempotency_key().as_str());
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["user-agent"], "veilleur-test/1");
        assert_eq!(
            r.body.as_ref(),
            json.as_slice(),
            "body is the AlertEvent JSON"
        );
        let ts = r.headers["x-veilleur-timestamp"].to_str().unwrap();
        let sig = r.headers["x-veilleur-signature"].to_str().unwrap();
        let hex_sig = sig.strip_prefix("sha256=").expect("sha256= prefix");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(&r.body);
        mac.verify_slice(&hex::decode(hex_sig).unwrap())
            .expect("signature verifies");
    }
    assert_eq!(count(&lp.metrics, "hook", "retry"), 2);
    assert_eq!(count(&lp.metrics, "hook", "sent"), 1);
    assert!(
        state
            .outbox()
            .was_sent(&ev.idempotency_key(), "hook")
            .unwrap()
    );
    wait_for("gauge", || lp.metrics.outbox_pending.get() == 0).await;
    lp.stop().await;
}

#[tokio::test]
async fn email_waits_for_a_down_smtp_server_then_delivers() {
    // Reserve a port, then free it: nothing listens there at first.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_d, state) = store();
    let ev = event();
    enqueue(&state, "mail", &ev);
    // Default tls mode (opportunistic): the test server offers no STARTTLS.
    let lp = start(
        &state,
        notifiers(&[email_channel("mail", &format!("smtp://127.0.0.1:{port}"))]),
        fast(),
    );
    wait_for("a failed attempt recorded", || {
        count(&lp.metrics, "mail", "retry") >= 1
            && state.outbox().due(i64::MAX, 10).unwrap()[0]
                .1
                .last_error
                .is_some()
    })
    .await;
    assert_eq!(state.outbox().len().unwrap(), 1, "kept for later");
    let pending = state.outbox().due(i64::MAX, 10).unwrap();
    let err = pending[0].1.last_error.clone().unwrap();
    assert!(err.starts_with("smtp:"), "{err}");

    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    let mails = smtp_server(listener);
    wait_for("delivery", || state.outbox().len().unwrap() == 0).await;
    assert_eq!(mails.lock().unwrap().len(), 1);
    assert_eq!(count(&lp.metrics, "mail", "sent"), 1);
    assert!(count(&lp.metrics, "mail", "retry") >= 1);
    assert_eq!(count(&lp.metrics, "mail", "failed"), 0);
    wait_for("gauge", || lp.metrics.outbox_pending.get() == 0).await;
    lp.stop().await;
}

#[tokio::test]
async fn permanent_400_is_not_retried_in_a_tight_loop() {
    let (recv, url) = receiver(&[], 400, Duration::ZERO).await;
    let (_d, state) = store();
    enqueue(&state, "hook", &event());
    let lp = start(
        &state,
        notifiers(&[webhook_channel("hook", &url, WebhookFormat::Slack, None)]),
        fast(),
    );
    wait_for("a failure", || count(&lp.metrics, "hook", "failed") == 1).await;
    // Many retry periods of the fast options pass without a new attempt.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recv.requests().len(), 1);
    assert_eq!(count(&lp.metrics, "hook", "failed"), 1);
    assert_eq!(count(&lp.metrics, "hook", "retry"), 0);
    let kept = state.outbox().due(i64::MAX, 10).unwrap();
    assert_eq!(kept.len(), 1, "kept with a long backoff for the operator");
    assert_eq!(kept[0].1.attempts, 1);
    assert!(kept[0].1.last_error.as_deref().unwrap().contains("400"));
    assert!(lp.metrics.outbox_pending.get() == 1);
    lp.stop().await;
}

#[tokio::test]
async fn entry_already_in_the_sent_log_is_not_sent_again() {
    let (recv, url) = receiver(&[], 200, Duration::ZERO).await;
    let (_d, state) = store();
    let ev = event();
    // A previous run delivered it and recorded the send...
    let first = enqueue(&state, "hook", &ev);
    let (seq, _) = state.outbox().due(i64::MAX, 1).unwrap().remove(0);
    state.outbox().delivered(seq, &first, 1).unwrap();
    // ...and the same event is queued again (a replay after a restart).
    enqueue(&state, "hook", &ev);
    let lp = start(
        &state,
        notifiers(&[webhook_channel("hook", &url, WebhookFormat::Json, None)]),
        fast(),
    );
    wait_for("the duplicate to leave the outbox", || {
        state.outbox().len().unwrap() == 0
    })
    .await;
    assert!(recv.requests().is_empty(), "never sent twice");
    assert_eq!(count(&lp.metrics, "hook", "sent"), 0);
    lp.stop().await;
}

#[tokio::test]
async fn a_slow_channel_does_not_delay_another() {
    let (slow, slow_url) = receiver(&[], 200, Duration::from_secs(3)).await;
    let (fast_recv, fast_url) = receiver(&[], 200, Duration::ZERO).await;
    let (_d, state) = store();
    let ev = event();
    // The slow channel's entry is older, so it is picked first.
    enqueue(&state, "slow", &ev);
    enqueue(&state, "fast", &ev);
    let lp = start(
        &state,
        notifiers(&[
            webhook_channel("slow", &slow_url, WebhookFormat::Json, None),
            webhook_channel("fast", &fast_url, WebhookFormat::Discord, None),
        ]),
        fast(),
    );
    wait_for("the fast channel", || fast_recv.requests().len() == 1).await;
    assert!(
        slow.requests().is_empty(),
        "the slow one is still in flight"
    );
    assert!(
        !state
            .outbox()
            .was_sent(&ev.idempotency_key(), "slow")
            .unwrap()
    );
    wait_for("the slow channel", || state.outbox().len().unwrap() == 0).await;
    lp.stop().await;
}

#[tokio::test]
async fn unknown_channel_is_dropped_and_new_entries_wake_the_loop() {
    let (recv, url) = receiver(&[], 200, Duration::ZERO).await;
    let (_d, state) = store();
    enqueue(&state, "removed-from-config", &event());
    let opts = OutboxOptions {
        idle_poll: Duration::from_secs(30),
        ..fast()
    };
    let lp = start(
        &state,
        notifiers(&[webhook_channel("hook", &url, WebhookFormat::Teams, None)]),
        opts,
    );
    wait_for("the drop", || {
        state.outbox().len().unwrap() == 0
            && count(&lp.metrics, "removed-from-config", "failed") == 1
    })
    .await;

    // The loop now idles for 30 s; a wake-up makes it deliver at once.
    let mut ev = event();
    ev.state = AlertState::Resolved;
    enqueue(&state, "hook", &ev);
    lp.wake.notify_one();
    wait_for("delivery after wake", || recv.requests().len() == 1).await;
    let body: serde_json::Value = serde_json::from_slice(&recv.requests()[0].body).unwrap();
    assert_eq!(body["attachments"][0]["content"]["type"], "AdaptiveCard");
    lp.stop().await;
}

#[tokio::test]
async fn shutdown_flushes_due_entries_within_the_deadline() {
    let (recv, url) = receiver(&[], 200, Duration::ZERO).await;
    let (_d, state) = store();
    let lp = start(
        &state,
        notifiers(&[webhook_channel(
            "hook",
            &url,
            WebhookFormat::Mattermost,
            None,
        )]),
        OutboxOptions {
            idle_poll: Duration::from_secs(30),
            ..fast()
        },
    );
    // Queued without a wake-up: only the final pass can send it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    enqueue(&state, "hook", &event());
    lp.stop().await;
    assert_eq!(recv.requests().len(), 1);
    assert_eq!(state.outbox().len().unwrap(), 0);
}

#[tokio::test]
async fn duplicate_entries_of_one_event_are_sent_once() {
    let (recv, url) = receiver(&[], 200, Duration::from_millis(100)).await;
    let (_d, state) = store();
    let ev = event();
    enqueue(&state, "hook", &ev);
    enqueue(&state, "hook", &ev);
    let lp = start(
        &state,
        notifiers(&[webhook_channel("hook", &url, WebhookFormat::Json, None)]),
        fast(),
    );
    wait_for("both entries to leave", || {
        state.outbox().len().unwrap() == 0
    })
    .await;
    assert_eq!(recv.requests().len(), 1);
    assert_eq!(count(&lp.metrics, "hook", "sent"), 1);
    lp.stop().await;
}
