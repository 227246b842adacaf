//! `veilleur silence add|list|expire` and `veilleur ack`: silences and
//! acknowledgements in the daemon's state store (`data_dir/state`).
//!
//! redb locks its file for one process: while the daemon runs, these
//! commands refuse with a message pointing to the daemon's HTTP API
//! (`/api/silences`, `/api/alerts/{id}/ack`), which writes through the same
//! store functions; with the daemon stopped they write directly, and the
//! daemon honours what they wrote when it starts.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use crate::config::Config;
use crate::store::state::silences::{NewSilence, Silence};
use crate::store::state::{StateError, StateStore};

/// Opens the state store of `cfg` for writing, or explains why it cannot.
pub(crate) fn open_state(cfg: &Config) -> anyhow::Result<StateStore> {
    let data = &cfg.daemon.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let path = data.join("state");
    match StateStore::open(&path) {
        Ok(s) => Ok(s),
        Err(StateError::Open {
            source: redb::DatabaseError::DatabaseAlreadyOpen,
            ..
        }) => anyhow::bail!(
            "the state store {} is held by a running daemon: use its HTTP API (/api/silences, /api/alerts/ID/ack) or stop it first",
            path.display()
        ),
        Err(e) => Err(e.into()),
    }
}

/// Who runs the command, for `created_by`: `$USER`, else `cli`.
fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "cli".into())
}

/// `silence add`: checks the watch (and rule) against the rule files, then
/// stores a silence from now for `duration`.
pub(crate) fn add(
    config: &Path,
    watch: &str,
    rule: Option<&str>,
    duration: &str,
    comment: &str,
    by: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let d = crate::duration::parse_duration(duration).map_err(|e| anyhow::anyhow!("--for: {e}"))?;
    let rules = crate::rules::load_dir(&cfg.daemon.rules_dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules (fix them first):\n{}", text.join("\n"))
    })?;
    let Some(w) = rules.watches.iter().find(|w| w.name == watch) else {
        let names: Vec<&str> = rules.watches.iter().map(|w| w.name.as_str()).collect();
        anyhow::bail!(
            "no watch `{watch}` in {}: expected one of {}",
            cfg.daemon.rules_dir.display(),
            names.join(", ")
        );
    };
    if let Some(r) = rule
        && !w.alerts.iter().any(|a| a.name == r)
    {
        let names: Vec<&str> = w.alerts.iter().map(|a| a.name.as_str()).collect();
        anyhow::bail!(
            "watch `{watch}` has no alert rule `{r}`: expected one of {}",
            names.join(", ")
        );
    }
    let now = Utc::now();
    let ends_at = now + chrono::Duration::from_std(d).context("--for is too long")?;
    let state = open_state(&cfg)?;
    let s = state.silences().add(
        NewSilence {
            watch: watch.to_string(),
            rule: rule.map(str::to_string),
            starts_at: None,
            ends_at,
            comment: comment.to_string(),
            created_by: by.map_or_else(whoami, str::to_string),
        },
        now,
    )?;
    println!(
        "silence {} added: {} until {} UTC",
        s.id,
        target(&s),
        s.ends_at.format("%Y-%m-%d %H:%M")
    );
    Ok(ExitCode::SUCCESS)
}

fn target(s: &Silence) -> String {
    match &s.rule {
        Some(r) => format!("{}/{r}", s.watch),
        None => s.watch.clone(),
    }
}

/// `silence list`: every silence, with its status now.
pub(crate) fn list(config: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let state = open_state(&cfg)?;
    let now = Utc::now();
    let mut out = std::io::stdout().lock();
    for s in state.silences().list()? {
        if json {
            let mut v = serde_json::to_value(&s)?;
            v["status"] = s.status(now).into();
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{:>4}  {:<8} {:<30} {} → {} UTC  {}: {}",
                s.id,
                s.status(now),
                target(&s),
                s.starts_at.format("%Y-%m-%d %H:%M"),
                s.ends_at.format("%Y-%m-%d %H:%M"),
                s.created_by,
                s.comment
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `silence expire ID`: ends a silence now.
pub(crate) fn expire(config: &Path, id: u64) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let state = open_state(&cfg)?;
    let s = state.silences().expire(id, Utc::now())?;
    println!("silence {} on {} expired", s.id, target(&s));
    Ok(ExitCode::SUCCESS)
}

/// `ack ALERT`: acknowledges a firing alert (an alert id or `watch/rule`).
pub(crate) fn ack(
    config: &Path,
    alert: &str,
    comment: &str,
    by: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let state = open_state(&cfg)?;
    let by = by.map_or_else(whoami, str::to_string);
    let a = state.silences().ack(alert, &by, comment, Utc::now())?;
    println!(
        "alert {} ({}/{}) acknowledged: no more repeats until it resolves",
        a.alert_id, a.watch, a.rule
    );
    Ok(ExitCode::SUCCESS)
}
