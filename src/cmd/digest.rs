//! `veilleur digest --config FILE --period DUR [--channel NAME] [--send]`:
//! computes a digest over the period ending now (or `--at`) from the index
//! (opened read-only, so it works beside a running daemon) and the alert
//! history of the state store, then prints it (text in the language and
//! time zone of `--channel`, else the daemon's; or JSON with `--json`) or, with `--send`, queues it in the durable outbox and
//! delivers it like the daemon would.
//!
//! The state store is locked by a running daemon: printing then goes on
//! without the alerts of the period (and says so); sending is refused
//! (the daemon sends the scheduled digests itself).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::alert::Notification;
use crate::notify::Notifier;
use crate::store::state::outbox::Entry;
use crate::store::state::{StateError, StateStore};
use crate::telemetry::Metrics;

/// How long `--send` waits for delivery before leaving the digest queued.
const SEND_DEADLINE: Duration = Duration::from_secs(60);

/// What `veilleur digest` was asked.
pub(crate) struct Options<'a> {
    pub period: &'a str,
    pub channel: Option<&'a str>,
    pub send: bool,
    pub json: bool,
    /// End of the period (RFC 3339); default now.
    pub at: Option<&'a str>,
}

pub(crate) fn run(config: &Path, o: &Options<'_>) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let period =
        crate::duration::parse_duration(o.period).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    if period.is_zero() {
        anyhow::bail!("--period must be positive, e.g. 1d or 7d");
    }
    let end = match o.at {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| {
                anyhow::anyhow!("--at `{s}`: {e} (expected RFC 3339, e.g. 2026-03-02T08:30:00Z)")
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let channels: Vec<String> = match (o.channel, o.send) {
        (Some(c), _) => {
            if !cfg.channels.iter().any(|ch| ch.name == c) {
                let names: Vec<&str> = cfg.channels.iter().map(|c| c.name.as_str()).collect();
                anyhow::bail!(
                    "no channel `{c}` in the config: expected one of {}",
                    names.join(", ")
                );
            }
            vec![c.to_string()]
        }
        (None, true) => {
            let with: Vec<String> = cfg.digests.iter().map(|(c, _)| c.clone()).collect();
            if with.is_empty() {
                anyhow::bail!(
                    "no channel has a `digest` key: say where to send with --channel NAME"
                );
            }
            with
        }
        (None, false) => Vec::new(),
    };
    let rules = crate::rules::load_dir(&cfg.daemon.rules_dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    })?;
    let dir = cfg.daemon.data_dir.join("index");
    let index = crate::store::open_search(cfg.daemon.index, &dir)
        .with_context(|| format!("cannot open the index in {}", dir.display()))?;
    let state = if o.send {
        Some(super::silence::open_state(&cfg).context(
            "cannot send while the daemon runs (it sends the scheduled digests); print it without --send",
        )?)
    } else {
        read_state(&cfg.daemon.data_dir.join("state"))?
    };
    let len = chrono::Duration::from_std(period)?;
    let alerts = match &state {
        Some(s) => s.silences().events_between(end - len, end)?,
        None => Vec::new(),
    };
    let digest = crate::digest::compute(&rules, index.as_ref(), &alerts, end, period)?;

    let Some(state) = state.filter(|_| o.send) else {
        let mut out = std::io::stdout().lock();
        if o.json {
            writeln!(out, "{}", serde_json::to_string(&digest)?)?;
        } else {
            // In the language and time zone of the channel asked for, else
            // the daemon's.
            let ctx = match o
                .channel
                .and_then(|c| cfg.channels.iter().find(|ch| ch.name == c))
            {
                Some(ch) => crate::notify::render::Context::new(ch.locale, ch.public_url.clone()),
                None => crate::notify::render::Context::new(
                    cfg.daemon.locale,
                    cfg.daemon.public_url.clone(),
                ),
            };
            write!(out, "{}", crate::digest::render::text(&digest, &ctx))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    send(&cfg, Arc::new(state), digest, &channels)
}

/// The state store, read when no daemon holds it (`None`: none yet, or
/// held: the alerts of the period are then left out, as stderr says).
fn read_state(path: &Path) -> anyhow::Result<Option<StateStore>> {
    if !path.exists() {
        return Ok(None);
    }
    match StateStore::open(path) {
        Ok(s) => Ok(Some(s)),
        Err(StateError::Open {
            source: redb::DatabaseError::DatabaseAlreadyOpen,
            ..
        }) => {
            eprintln!(
                "note: a running daemon holds {}: the alerts of the period are left out (GET /api/alerts lists them)",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Queues the digest for each channel and delivers the outbox, waiting at
/// most [`SEND_DEADLINE`]; what is not delivered stays queued for the
/// daemon.
fn send(
    cfg: &crate::config::Config,
    state: Arc<StateStore>,
    digest: crate::digest::Digest,
    channels: &[String],
) -> anyhow::Result<ExitCode> {
    crate::install_crypto_provider();
    let now = Utc::now().timestamp_millis();
    let n = Notification::Digest(Box::new(digest));
    let entries: Vec<Entry> = channels
        .iter()
        .map(|c| Entry::new(n.clone(), c, now))
        .collect();
    state.outbox().enqueue(&entries)?;
    let mut notifiers = HashMap::new();
    for ch in &cfg.channels {
        notifiers.insert(
            ch.name.clone(),
            Notifier::from_config(ch, &cfg.daemon.user_agent)?,
        );
    }
    let rt = super::runtime()?;
    let left = rt.block_on(async {
        let stop = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(crate::notify::outbox::run(
            state.clone(),
            Arc::new(notifiers),
            Arc::new(Metrics::new()),
            wake.clone(),
            stop.clone(),
            Duration::from_secs(5),
        ));
        wake.notify_one();
        let deadline = tokio::time::Instant::now() + SEND_DEADLINE;
        let key = n.idempotency_key();
        let pending = |s: &StateStore| -> anyhow::Result<usize> {
            let mut left = 0;
            for c in channels {
                left += usize::from(!s.outbox().was_sent(&key, c)?);
            }
            Ok(left)
        };
        let mut left = pending(&state)?;
        while left > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            left = pending(&state)?;
        }
        stop.cancel();
        let _ = task.await;
        anyhow::Ok(left)
    })?;
    if left > 0 {
        eprintln!(
            "{left} of {} digest notifications not delivered yet: they stay queued and the daemon retries them",
            channels.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("digest sent to {}", channels.join(", "));
    Ok(ExitCode::SUCCESS)
}
