//! Command-line interface: the clap definitions and the dispatch to `cmd/`.
//!
//! Errors reach the user as one readable chain (`error: …: …`), never as a
//! debug dump; the exit code is 1 on any error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// veilleur — e-reputation monitoring and bad-buzz alerting.
#[derive(Debug, Parser)]
#[command(name = "veilleur", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate the config and every rule file; exit 1 on any error.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Search the index with the rule query language, newest first.
    Search {
        #[arg(long, short)]
        config: PathBuf,
        /// Only mentions published within this duration (e.g. 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One mention JSON object a line.
        #[arg(long)]
        json: bool,
        /// The query, e.g. '"acme" AND (panne OR arnaque)'.
        query: String,
    },
    /// Replay mentions through match and detect; print the alerts that would fire.
    ///
    /// Either `--rules DIR --mentions FILE.jsonl`, or `--config FILE --from
    /// WHEN [--to WHEN]` over the daemon's index with its rules.
    Backtest {
        /// Directory of rule files.
        #[arg(long, requires = "mentions", required_unless_present = "config")]
        rules: Option<PathBuf>,
        /// Mentions, one JSON object a line.
        #[arg(long, requires = "rules")]
        mentions: Option<PathBuf>,
        /// Replay the index of this daemon config, with its rules_dir.
        #[arg(long, short, conflicts_with_all = ["rules", "mentions"], requires = "from")]
        config: Option<PathBuf>,
        /// With --config: the first publication time replayed, as RFC 3339
        /// (2026-03-01T00:00:00Z) or a duration ago (7d).
        #[arg(long, requires = "config", conflicts_with_all = ["rules", "mentions"])]
        from: Option<String>,
        /// With --config: the last publication time replayed (default: now).
        #[arg(long, requires = "config", conflicts_with_all = ["rules", "mentions"])]
        to: Option<String>,
        /// One alert event JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Load historical mentions (JSON lines) into the index.
    Import {
        #[arg(long, short)]
        config: PathBuf,
        file: PathBuf,
    },
    /// Read an API source's history (as far back as --since) into the index,
    /// without alerting.
    Backfill {
        #[arg(long, short)]
        config: PathBuf,
        /// The `[[source]]` name.
        #[arg(long)]
        source: String,
        /// How far back to read, e.g. 30d.
        #[arg(long, default_value = "30d")]
        since: String,
        /// Pages read at most (default: 5 × the source's max_pages).
        #[arg(long)]
        max_pages: Option<usize>,
    },
    /// Run sample payloads (DIR/feeds, DIR/social/<kind>, DIR/forums)
    /// through the parsers and report which parse.
    #[command(hide = true)]
    Conformance { dir: PathBuf },
    /// Score sentiment of JSON lines {"id","text"[,"lang"]} read on stdin.
    Sentiment,
    /// Evaluate sentiment scoring on labelled TSV files (id, lang, label, text).
    EvalSentiment {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also report by text length (short texts, under 80 characters, apart).
        #[arg(long)]
        by_length: bool,
        /// Also report the lexicon scorer, to compare it with the model.
        #[arg(long)]
        compare: bool,
        /// Use this model file instead of the embedded ones (experiments):
        /// FILE for every language, or LANG=FILE for one (repeatable).
        #[arg(long)]
        model: Vec<String>,
    },
    /// Train the sentiment model on labelled TSV files (id, lang, label,
    /// text); see models/README.md for the recorded command.
    #[command(hide = true)]
    TrainSentiment {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Weights file to write; its manifest goes next to it (`.toml`).
        #[arg(long)]
        out: PathBuf,
        /// Skip rows whose id starts with this prefix (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        #[arg(long, default_value_t = 18)]
        bits: u32,
        #[arg(long, default_value_t = 4)]
        epochs: u32,
        #[arg(long, default_value_t = 0.05)]
        learning_rate: f32,
        #[arg(long, default_value_t = 0.05)]
        l2: f32,
        #[arg(long, default_value_t = 15)]
        seed: u64,
        /// Within each class, share the weight between sources (id prefixes)
        /// as rows^(1 - this): 0 every row alike, 1 every source alike.
        #[arg(long, default_value_t = 0.0)]
        source_balance: f32,
        /// Dense (lexicon) feature weights: one set for all languages
        /// (shared), one per language (language), both, or the shared set
        /// from English rows only, each language's own from its rows (anchored).
        #[arg(long, default_value = "shared", value_parser = ["shared", "language", "both", "anchored"])]
        dense: String,
    },
    /// Score the volume_spike defaults on NAB Twitter volume series (a
    /// directory of Twitter_volume_*.csv and labels.json).
    EvalNab {
        dir: PathBuf,
        /// Measure an alternative: a TOML `key = value` added to the rule
        /// (e.g. --set 'window = "30m"'); the reported figures use none.
        #[arg(long = "set")]
        overrides: Vec<String>,
        /// Also list every detection: its row, time, count and whether it
        /// falls in a labelled window.
        #[arg(long)]
        detections: bool,
        /// Leave-one-series-out instead: for each series, the best setting
        /// of a small grid (gate × significance) on the other series is
        /// scored on it.
        #[arg(long, conflicts_with = "detections")]
        loo: bool,
    },
    /// Measure crisis detection on generated watches: per volume class and
    /// rise time, detected before the peak, median lead, false alarms per
    /// watch-week on quiet weeks.
    EvalCrisis {
        /// Seed range: `tuning` (defaults may be chosen on it) or
        /// `reporting` (the published figures).
        #[arg(long, default_value = "tuning")]
        seeds: crate::detect::sim::SeedSet,
        /// Scenarios per class (per volume × rise-time class for crises,
        /// per volume class for quiet weeks).
        #[arg(long, default_value_t = 20)]
        cases: u64,
        /// Measure an alternative: a TOML `key = value` added to both rules
        /// (e.g. --set 'window = "1h"'), or `detect.KEY = VALUE` (also with
        /// --rules); the reported figures use none.
        #[arg(long = "set")]
        overrides: Vec<String>,
        /// Take the alert rules of the one watch of this rules directory.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// One JSON object a line, per class.
        #[arg(long)]
        json: bool,
        /// Worker threads (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Scenario family: base (the generator's scenarios), trend,
        /// daylevel, twopeaks, outage, offhours, twowaves, or all (each in
        /// turn, then a summary).
        #[arg(long, default_value = "base")]
        family: String,
    },
    /// Silence a watch (or one of its rules) for a while; list or expire
    /// silences. Silenced alerts are recorded, not notified.
    Silence {
        #[command(subcommand)]
        action: SilenceAction,
    },
    /// Acknowledge a firing alert: its repeats stop until it resolves.
    Ack {
        #[arg(long, short)]
        config: PathBuf,
        /// Who acknowledges (default: $USER).
        #[arg(long)]
        by: Option<String>,
        #[arg(long, default_value = "")]
        comment: String,
        /// An alert id (from the API or the alert history), or `watch/rule`
        /// for that rule's current firing.
        alert: String,
    },
    /// Print a digest of every watch over a period, or send it (--send).
    Digest {
        #[arg(long, short)]
        config: PathBuf,
        /// The period summarised, ending now (or --at): e.g. 1d, 7d.
        #[arg(long, default_value = "7d")]
        period: String,
        /// Send to this channel (default with --send: every channel with a
        /// `digest` key).
        #[arg(long)]
        channel: Option<String>,
        /// Queue it in the outbox and deliver it (the daemon must be stopped).
        #[arg(long)]
        send: bool,
        /// Print the digest's JSON instead of text.
        #[arg(long, conflicts_with = "send")]
        json: bool,
        /// End of the period, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Run the whole daemon on a bundled crisis scenario served on loopback.
    Demo {
        /// Keep the demo's data directory here instead of a temporary one.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Speed of the scenario: 1.0 plays it in about a minute.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
}

/// `veilleur silence …`.
#[derive(Debug, Subcommand)]
pub enum SilenceAction {
    /// Silence a watch (or one rule of it) from now for a duration.
    Add {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        watch: String,
        /// Only this alert rule of the watch.
        #[arg(long)]
        rule: Option<String>,
        /// How long, e.g. 6h, 2d.
        #[arg(long = "for")]
        duration: String,
        /// Why, for the team.
        #[arg(long, default_value = "")]
        comment: String,
        /// Who silences (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// List silences (active, pending and expired).
    List {
        #[arg(long, short)]
        config: PathBuf,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// End a silence now.
    Expire {
        #[arg(long, short)]
        config: PathBuf,
        id: u64,
    },
}

/// Parses the arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init_logging(cli.log_format);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cmd: Command) -> anyhow::Result<ExitCode> {
    use crate::cmd;
    match cmd {
        Command::Run { config } => cmd::run::run(&config),
        Command::Check { config } => cmd::check::run(&config),
        Command::Search {
            config,
            since,
            limit,
            json,
            query,
        } => cmd::search::run(&config, since.as_deref(), limit, json, &query),
        Command::Backtest {
            rules,
            mentions,
            config,
            from,
            to,
            json,
        } => match (config, from, rules, mentions) {
            (Some(config), Some(from), _, _) => {
                cmd::backtest::run_index(&config, &from, to.as_deref(), json)
            }
            (None, _, Some(rules), Some(mentions)) => cmd::backtest::run(&rules, &mentions, json),
            // clap's `requires` and `conflicts_with` rule the others out.
            _ => anyhow::bail!(
                "backtest needs --rules DIR --mentions FILE.jsonl, or --config FILE --from WHEN"
            ),
        },
        Command::Import { config, file } => cmd::import::run(&config, &file),
        Command::Backfill {
            config,
            source,
            since,
            max_pages,
        } => cmd::backfill::run(&config, &source, &since, max_pages),
        Command::Conformance { dir } => cmd::conformance::run(&dir, &mut std::io::stdout().lock()),
        Command::Sentiment => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            let ok = cmd::sentiment::run(stdin, stdout, std::io::stderr())?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::EvalSentiment {
            files,
            by_length,
            compare,
            model,
        } => {
            let options = cmd::eval_sentiment::Options {
                by_length,
                compare,
                model,
            };
            cmd::eval_sentiment::run(&files, options, std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::TrainSentiment {
            files,
            out,
            exclude,
            bits,
            epochs,
            learning_rate,
            l2,
            seed,
            source_balance,
            dense,
        } => {
            let args = cmd::train_sentiment::Args {
                files,
                out,
                exclude,
                source_balance,
                dense: crate::enrich::model::DenseMode::from_name(&dense)?,
                params: crate::enrich::model::Params {
                    bits,
                    epochs,
                    learning_rate,
                    l2,
                    seed,
                },
            };
            cmd::train_sentiment::run(&args, std::io::stderr().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::EvalNab {
            dir,
            overrides,
            detections,
            loo,
        } => {
            if loo {
                cmd::eval_nab::run_loo(&dir, &overrides, &mut std::io::stdout().lock())
            } else {
                cmd::eval_nab::run(&dir, &overrides, detections, &mut std::io::stdout().lock())
            }
        }
        Command::EvalCrisis {
            seeds,
            cases,
            overrides,
            rules,
            json,
            threads,
            family,
        } => {
            let families = cmd::eval_crisis::parse_families(&family)?;
            cmd::eval_crisis::run(
                &cmd::eval_crisis::Options {
                    seeds,
                    cases,
                    overrides: &overrides,
                    rules_dir: rules.as_deref(),
                    json,
                    threads,
                    progress: true,
                    families: &families,
                },
                &mut std::io::stdout().lock(),
            )
        }
        Command::Silence { action } => match action {
            SilenceAction::Add {
                config,
                watch,
                rule,
                duration,
                comment,
                by,
            } => cmd::silence::add(
                &config,
                &watch,
                rule.as_deref(),
                &duration,
                &comment,
                by.as_deref(),
            ),
            SilenceAction::List { config, json } => cmd::silence::list(&config, json),
            SilenceAction::Expire { config, id } => cmd::silence::expire(&config, id),
        },
        Command::Ack {
            config,
            by,
            comment,
            alert,
        } => cmd::silence::ack(&config, &alert, &comment, by.as_deref()),
        Command::Digest {
            config,
            period,
            channel,
            send,
            json,
            at,
        } => cmd::digest::run(
            &config,
            &cmd::digest::Options {
                period: &period,
                channel: channel.as_deref(),
                send,
                json,
                at: at.as_deref(),
            },
        ),
        Command::Demo { data_dir, speed } => cmd::demo::run(data_dir, speed),
    }
}
