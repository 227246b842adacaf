//! `veilleur check --config FILE`: validates the config and every rule file,
//! printing each problem as `file:line:col: message` with the offending line,
//! and builds every channel as `run` does (secrets resolved), so a config
//! that passes `check` starts.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

pub(crate) fn run(config: &Path) -> anyhow::Result<ExitCode> {
    let mut errors = 0usize;
    let cfg = match Config::load(config) {
        Ok(c) => Some(c),
        Err(diags) => {
            for d in &diags {
                eprintln!("{}", d.render());
            }
            errors += diags.len();
            None
        }
    };
    if let Some(cfg) = &cfg {
        // The daemon builds its channels with this same call (secrets
        // resolved, addresses and the smtp URL parsed): what passes here
        // starts. The error names the variable or file, never the secret.
        crate::install_crypto_provider();
        for ch in &cfg.channels {
            if let Err(e) = crate::notify::Notifier::from_config(ch, &cfg.daemon.user_agent) {
                eprintln!(
                    "{}",
                    crate::diag::Diagnostic::file(config, format!("{e:#}"))
                );
                errors += 1;
            }
        }
        // The API tokens, read as the daemon reads them at start.
        if let Err(e) = crate::http::auth::Auth::from_config(&cfg.api) {
            eprintln!(
                "{}",
                crate::diag::Diagnostic::file(config, format!("{e:#}"))
            );
            errors += 1;
        }
        match crate::rules::load_dir(&cfg.daemon.rules_dir, Some(&cfg.channel_names())) {
            // "ok" only when nothing failed (a channel may have).
            Ok(rules) if errors == 0 => {
                let alerts: usize = rules.watches.iter().map(|w| w.alerts.len()).sum();
                println!(
                    "{}: ok — {} sources, {} channels, {} watches, {} alert rules in {}",
                    config.display(),
                    cfg.sources.len(),
                    cfg.channels.len(),
                    rules.watches.len(),
                    alerts,
                    cfg.daemon.rules_dir.display()
                );
                print_warmup(cfg, &rules);
            }
            Ok(_) => {}
            Err(diags) => {
                for d in &diags {
                    eprintln!("{}", d.render());
                }
                errors += diags.len();
            }
        }
    }
    if errors > 0 {
        eprintln!("{errors} error{}", if errors == 1 { "" } else { "s" });
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Which watches would start warm, from the history in the state store
/// (`veilleur import` fills it): a watch still warming up alerts only on
/// overwhelming spikes. A running daemon holds the store: then the same
/// figures are on its `/metrics` (`veilleur_watch_warm`).
fn print_warmup(cfg: &Config, rules: &crate::rules::RuleSet) {
    let path = cfg.daemon.data_dir.join("state");
    let now = chrono::Utc::now();
    let state = if path.exists() {
        match crate::store::state::StateStore::open(&path) {
            Ok(s) => Some(s),
            Err(e) => {
                println!(
                    "warm-up: cannot read {} ({e}); a running daemon reports it on /metrics as veilleur_watch_warm",
                    path.display()
                );
                return;
            }
        }
    } else {
        None
    };
    match crate::pipeline::warmup_from_state(rules, state.as_ref(), now) {
        Ok(watches) => {
            for w in watches {
                println!("  {}", w.describe());
            }
        }
        Err(e) => println!(
            "warm-up: cannot read the history in {}: {e}",
            path.display()
        ),
    }
}
