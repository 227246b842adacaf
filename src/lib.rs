//! veilleur — e-reputation monitoring and bad-buzz alerting.
//!
//! The pipeline, one way through:
//!
//! ```text
//! rules/*.toml ─────────────┐ (watches, alert rules)
//!                           ▼
//! source ─► Mention ─► enrich ─► rules::matcher ─► store ─► detect ─► notify
//! (feed)    mention.rs  lang,     which watches     index,    windows,   outbox →
//!           normalize   sentiment  match            state     alerts     email, webhook
//! ```
//!
//! * [`mention`] and [`alert`] hold the types that flow; every stage imports
//!   them and no stage imports a later one.
//! * [`source`] only fetches and parses; [`enrich`] only reads a mention's
//!   text; [`rules`] decides which watches a mention belongs to; [`store`]
//!   persists; [`detect`] is pure (time is passed in) and shared by `run` and
//!   `backtest`; [`notify`] delivers through a durable outbox.
//! * [`pipeline`] is the ingest step (dedupe → enrich → match → index →
//!   count → detect → record), written once for `run`, `import` and
//!   `backtest`.
//! * [`silence`] decides which alert transitions are notified, silenced or
//!   acknowledged, and records them in one transaction; [`digest`] computes,
//!   renders and schedules the periodic summaries sent through the outbox.
//! * [`daemon`] is the only place that wires tasks together; [`cmd`] holds one
//!   file per subcommand; [`http`] serves `/metrics`, `/healthz`, the JSON
//!   API and the web page; [`watchdog`] keeps systemd's watchdog fed while
//!   the pipeline makes progress.
//! * [`duration`] (durations as configs write them) and [`retry`]
//!   (`Retry-After`, backoff, error chains) are shared by every stage.

pub mod alert;
pub mod cli;
pub(crate) mod cmd;
pub mod config;
pub mod daemon;
pub mod detect;
pub(crate) mod diag;
pub mod digest;
pub(crate) mod duration;
pub mod enrich;
#[doc(hidden)]
pub mod fuzz;
pub(crate) mod http;
pub mod i18n;
pub mod limits;
pub(crate) mod lines;
pub mod mention;
pub mod normalize;
pub mod notify;
pub(crate) mod pipeline;
pub(crate) mod retry;
pub mod rules;
pub mod silence;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod text;
pub(crate) mod watchdog;

/// Installs rustls' `ring` crypto provider as the process default. Called by
/// `main` and by tests before any TLS client is built; calling it twice is fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
