//! Metrics and operational log events.
//!
//! One function per operational event writes the log line and bumps the
//! counter, so they can't disagree. Labels carry only configured names
//! (source, watch, rule, channel) and closed sets (outcome, reason, severity),
//! never a URL or an author. Also sets up the tracing subscriber.

pub(crate) mod disk;
mod process;

use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::{info, warn};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

/// A source kind (`feed`, `html`, …): per-kind histograms keep the series
/// count flat however many sources there are.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceReasonLabels {
    pub source: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    pub watch: String,
    pub rule: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelOutcomeLabels {
    pub channel: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabel {
    pub store: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabel {
    pub watch: String,
}

/// Every metric the daemon exposes on `/metrics`.
pub struct Metrics {
    pub registry: Registry,
    pub mentions_ingested: Family<SourceLabel, Counter>,
    pub mentions_duplicate: Family<SourceLabel, Counter>,
    pub fetch_errors: Family<SourceLabel, Counter>,
    pub fetch_errors_by_reason: Family<SourceReasonLabels, Counter>,
    /// Fetches that ended (well or not), per source.
    pub fetches: Family<SourceLabel, Counter>,
    /// Per kind, not per source: a histogram is a dozen series.
    /// Per source, as DESIGN.md's contract names it, with only the `+Inf`
    /// bucket (count and sum: a source's mean fetch time) so that a
    /// thousand sources stay a small scrape; the distribution is by kind.
    pub fetch_duration: Family<SourceLabel, Histogram>,
    pub fetch_duration_by_kind: Family<KindLabel, Histogram>,
    /// Time a fetch's requests waited in their host's queue, per kind.
    pub queue_wait: Family<KindLabel, Histogram>,
    pub source_last_success: Family<SourceLabel, Gauge<i64, AtomicI64>>,
    pub source_failures: Family<SourceLabel, Gauge<i64, AtomicI64>>,
    pub source_items: Family<SourceLabel, Gauge<i64, AtomicI64>>,
    pub watch_matches: Family<WatchLabel, Counter>,
    pub watch_warm: Family<WatchLabel, Gauge<i64, AtomicI64>>,
    pub watch_warm_at: Family<WatchLabel, Gauge<i64, AtomicI64>>,
    pub alerts: Family<AlertLabels, Counter>,
    pub notifications: Family<ChannelOutcomeLabels, Counter>,
    pub outbox_pending: Gauge<i64, AtomicI64>,
    pub index_documents: Gauge<i64, AtomicI64>,
    pub index_commits: Counter,
    pub rules_reload_errors: Counter,
    /// Items beyond `limits::MAX_ITEMS_PER_FETCH` in one fetch, by source.
    pub items_dropped: Family<SourceLabel, Counter>,
    /// Titles and texts cut to `limits::MAX_MENTION_TEXT_BYTES`, by source.
    pub text_cut: Family<SourceLabel, Counter>,
    /// Index or state writes that failed (a full disk, a read-only file
    /// system), by store.
    pub storage_errors: Family<StoreLabel, Counter>,
    /// Per watch: mentions published in the last hour (committed).
    pub watch_mentions_hour: Family<WatchLabel, Gauge<i64, AtomicI64>>,
    /// Per watch: share of negative mentions over the last 24 hours.
    pub watch_negative_share: Family<WatchLabel, Gauge<f64, AtomicU64>>,
    /// Per watch: the highest observed/expected of its spike rules.
    pub watch_anomaly_score: Family<WatchLabel, Gauge<f64, AtomicU64>>,
    /// 1 when the last rule (re)load was accepted, 0 when refused.
    pub config_reload_ok: Gauge<i64, AtomicI64>,
    /// Unix time of the last accepted rule (re)load.
    pub config_reload_at: Gauge<i64, AtomicI64>,
    /// Bytes on disk of the index directory.
    pub index_disk_bytes: Gauge<i64, AtomicI64>,
    /// Bytes on disk of the state store file.
    pub state_disk_bytes: Gauge<i64, AtomicI64>,
    /// The language and time zone of the alert log line (the daemon's).
    locale: crate::i18n::Locale,
}

fn fetch_histogram() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

fn per_source_histogram() -> Histogram {
    Histogram::new(std::iter::empty())
}

fn queue_histogram() -> Histogram {
    Histogram::new([0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("veilleur");
        let m = Metrics {
            mentions_ingested: Family::default(),
            mentions_duplicate: Family::default(),
            fetch_errors: Family::default(),
            fetch_errors_by_reason: Family::default(),
            fetches: Family::default(),
            fetch_duration: Family::new_with_constructor(per_source_histogram),
            fetch_duration_by_kind: Family::new_with_constructor(fetch_histogram),
            queue_wait: Family::new_with_constructor(queue_histogram),
            source_last_success: Family::default(),
            source_failures: Family::default(),
            source_items: Family::default(),
            watch_matches: Family::default(),
            watch_warm: Family::default(),
            watch_warm_at: Family::default(),
            alerts: Family::default(),
            notifications: Family::default(),
            outbox_pending: Gauge::default(),
            index_documents: Gauge::default(),
            index_commits: Counter::default(),
            rules_reload_errors: Counter::default(),
            items_dropped: Family::default(),
            text_cut: Family::default(),
            storage_errors: Family::default(),
            watch_mentions_hour: Family::default(),
            watch_negative_share: Family::default(),
            watch_anomaly_score: Family::default(),
            config_reload_ok: Gauge::default(),
            config_reload_at: Gauge::default(),
            index_disk_bytes: Gauge::default(),
            state_disk_bytes: Gauge::default(),
            registry: Registry::default(),
            locale: crate::i18n::Locale::default(),
        };
        let build: Family<BuildLabels, Gauge<i64, AtomicI64>> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the version of the running veilleur in its label",
            build,
        );
        registry.register(
            "source_items_dropped",
            "Items beyond the per-fetch limit, dropped, by source",
            m.items_dropped.clone(),
        );
        registry.register(
            "mention_text_cut",
            "Titles and texts cut to the per-mention length limit, by source",
            m.text_cut.clone(),
        );
        registry.register(
            "storage_errors",
            "Failed writes to the index or the state store (full disk, read-only file system), by store",
            m.storage_errors.clone(),
        );
        registry.register(
            "mentions_ingested",
            "New mentions stored, by source",
            m.mentions_ingested.clone(),
        );
        registry.register(
            "mentions_duplicate",
            "Mentions skipped because already seen, by source",
            m.mentions_duplicate.clone(),
        );
        registry.register(
            "fetch_errors",
            "Failed fetches or parses, by source",
            m.fetch_errors.clone(),
        );
        registry.register(
            "fetch_errors_by_reason",
            "Failed fetches or parses, by source and reason",
            m.fetch_errors_by_reason.clone(),
        );
        registry.register(
            "fetches",
            "Fetches that ended, successful or not, by source",
            m.fetches.clone(),
        );
        registry.register(
            "fetch_duration_seconds",
            "Time to fetch and parse a source, queue included, by source (count and sum only; buckets by kind in veilleur_fetch_duration_by_kind_seconds)",
            m.fetch_duration.clone(),
        );
        registry.register(
            "fetch_duration_by_kind_seconds",
            "Time to fetch and parse a source, queue included, by source kind",
            m.fetch_duration_by_kind.clone(),
        );
        registry.register(
            "source_queue_wait_seconds",
            "Time a fetch waited for its turn in its host's queue (rate limit, Crawl-delay), by source kind",
            m.queue_wait.clone(),
        );
        registry.register(
            "source_last_success_timestamp_seconds",
            "Unix time of the source's last successful fetch (a 304 included)",
            m.source_last_success.clone(),
        );
        registry.register(
            "source_consecutive_failures",
            "Fetches of the source that failed in a row; 0 after a success",
            m.source_failures.clone(),
        );
        registry.register(
            "source_items_last_fetch",
            "Items the source's last successful fetch returned (new or not; unchanged by a 304)",
            m.source_items.clone(),
        );
        registry.register(
            "watch_matches",
            "Mentions matched, by watch",
            m.watch_matches.clone(),
        );
        registry.register(
            "watch_warm",
            "1 when every spike rule of the watch has its full baseline, 0 while it warms up (only overwhelming spikes alert then)",
            m.watch_warm.clone(),
        );
        registry.register(
            "watch_warm_at_timestamp_seconds",
            "Unix time at which the watch is (or was) warm; 0 while it has seen nothing",
            m.watch_warm_at.clone(),
        );
        registry.register(
            "alerts",
            "Alert events recorded, by watch, rule and severity",
            m.alerts.clone(),
        );
        registry.register(
            "notifications",
            "Notification attempts, by channel and outcome (sent, retry, failed)",
            m.notifications.clone(),
        );
        registry.register(
            "outbox_pending",
            "Notifications waiting in the outbox",
            m.outbox_pending.clone(),
        );
        registry.register(
            "index_documents",
            "Documents in the search index",
            m.index_documents.clone(),
        );
        registry.register("index_commits", "Index commits", m.index_commits.clone());
        registry.register(
            "rules_reload_errors",
            "Rule reloads rejected because a rule file is invalid",
            m.rules_reload_errors.clone(),
        );
        registry.register(
            "watch_mentions_last_hour",
            "Mentions published in the last hour, by watch (committed; refreshed every minute)",
            m.watch_mentions_hour.clone(),
        );
        registry.register(
            "watch_negative_share",
            "Share of negative mentions over the last 24 hours, by watch, in [0, 1]",
            m.watch_negative_share.clone(),
        );
        registry.register(
            "watch_anomaly_score",
            "Highest observed over expected mentions of the watch's spike rules, over their windows (1 is usual; 0 while nothing is expected)",
            m.watch_anomaly_score.clone(),
        );
        registry.register(
            "config_last_reload_successful",
            "1 when the last load of the rule files was accepted, 0 when it was refused (the previous rules keep running)",
            m.config_reload_ok.clone(),
        );
        registry.register(
            "config_last_reload_success_timestamp_seconds",
            "Unix time of the last accepted load of the rule files",
            m.config_reload_at.clone(),
        );
        registry.register(
            "index_disk_bytes",
            "Bytes on disk of the search index directory (refreshed every minute)",
            m.index_disk_bytes.clone(),
        );
        registry.register(
            "state_disk_bytes",
            "Bytes on disk of the state store (refreshed every minute)",
            m.state_disk_bytes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The OpenMetrics 1.0 text exposition of every metric, with the
    /// `process_*` families read at this moment.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        if let Some(p) = process::Process::read() {
            // Before the closing `# EOF` of the exposition.
            let body = out.strip_suffix("# EOF\n").unwrap_or(&out).to_string();
            out = format!("{body}{}# EOF\n", p.exposition());
        }
        out
    }

    /// The Prometheus text format 0.0.4 exposition, for clients that do not
    /// ask for OpenMetrics (`curl`, `promtool check metrics`, older
    /// scrapers): see [`openmetrics_to_text`].
    pub(crate) fn encode_text(&self) -> String {
        openmetrics_to_text(&self.encode())
    }

    /// The warm-up state of a watch (see `pipeline::WatchWarmup`).
    pub(crate) fn watch_warmup(
        &self,
        watch: &str,
        warm: bool,
        warm_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let l = WatchLabel {
            watch: watch.to_string(),
        };
        self.watch_warm.get_or_create(&l).set(i64::from(warm));
        self.watch_warm_at
            .get_or_create(&l)
            .set(warm_at.map_or(0, |t| t.timestamp()));
    }

    /// A fetch or parse of `source` failed for `reason` (a short fixed word),
    /// the `in_a_row`-th failure since its last success.
    /// The rule files were (re)loaded at `now`: accepted (`ok`) or refused.
    pub(crate) fn rules_reloaded(&self, ok: bool, now: chrono::DateTime<chrono::Utc>) {
        self.config_reload_ok.set(i64::from(ok));
        if ok {
            self.config_reload_at.set(now.timestamp());
        }
    }

    /// The per-watch figures of one watch (see `pipeline::status`).
    pub(crate) fn watch_figures(
        &self,
        watch: &str,
        last_hour: u64,
        negative_share: f64,
        score: f64,
    ) {
        let l = WatchLabel {
            watch: watch.to_string(),
        };
        self.watch_mentions_hour
            .get_or_create(&l)
            .set(i64::try_from(last_hour).unwrap_or(i64::MAX));
        self.watch_negative_share
            .get_or_create(&l)
            .set(negative_share);
        self.watch_anomaly_score.get_or_create(&l).set(score);
    }

    /// Drops the per-watch gauges of a watch a reload removed.
    pub(crate) fn forget_watch(&self, watch: &str) {
        let l = WatchLabel {
            watch: watch.to_string(),
        };
        self.watch_mentions_hour.remove(&l);
        self.watch_negative_share.remove(&l);
        self.watch_anomaly_score.remove(&l);
        self.watch_warm.remove(&l);
        self.watch_warm_at.remove(&l);
    }

    /// A fetch or parse of `source` failed for `reason` (a short fixed word).
    pub(crate) fn fetch_failed(
        &self,
        source: &str,
        reason: &'static str,
        error: &dyn std::fmt::Display,
        retry_in: std::time::Duration,
        in_a_row: u32,
    ) {
        warn!(
            source,
            reason,
            in_a_row,
            error = %error,
            retry_in = %crate::duration::format_duration(retry_in),
            "fetch failed"
        );
        let l = SourceLabel {
            source: source.to_string(),
        };
        self.fetch_errors.get_or_create(&l).inc();
        self.source_failures
            .get_or_create(&l)
            .set(i64::from(in_a_row));
        self.fetch_errors_by_reason
            .get_or_create(&SourceReasonLabels {
                source: source.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// One fetch of `source` was held to the limits: items dropped and
    /// texts cut, if any.
    pub(crate) fn fetch_bounded(&self, source: &str, b: crate::normalize::Bounded) {
        if b == crate::normalize::Bounded::default() {
            return;
        }
        warn!(
            source,
            dropped = b.dropped,
            cut = b.cut,
            "fetch over the limits: items dropped or texts cut"
        );
        let l = SourceLabel {
            source: source.to_string(),
        };
        self.items_dropped
            .get_or_create(&l)
            .inc_by(b.dropped as u64);
        self.text_cut.get_or_create(&l).inc_by(b.cut as u64);
    }

    /// A write to `store` (`index` or `state`) failed; ingestion pauses
    /// until a retry succeeds.
    pub(crate) fn storage_failed(&self, store: &'static str, error: &dyn std::fmt::Display) {
        tracing::error!(
            store,
            error = %error,
            "storage write failed: free space or make the data directory writable; retrying"
        );
        self.storage_errors
            .get_or_create(&StoreLabel {
                store: store.to_string(),
            })
            .inc();
    }

    /// A fetch of `source` (of `kind`) finished, well or not, after `secs`,
    /// `queued` of which waiting for its turn in its host's queue.
    pub(crate) fn fetch_finished(
        &self,
        source: &str,
        kind: &str,
        secs: f64,
        queued: std::time::Duration,
    ) {
        let l = SourceLabel {
            source: source.to_string(),
        };
        self.fetches.get_or_create(&l).inc();
        self.fetch_duration.get_or_create(&l).observe(secs);
        let k = KindLabel {
            kind: kind.to_string(),
        };
        self.fetch_duration_by_kind.get_or_create(&k).observe(secs);
        self.queue_wait
            .get_or_create(&k)
            .observe(queued.as_secs_f64());
    }

    /// A fetch of `source` succeeded at `at`, with `items` items (`None`: a
    /// 304, nothing new to count).
    pub(crate) fn fetch_succeeded(
        &self,
        source: &str,
        at: chrono::DateTime<chrono::Utc>,
        items: Option<usize>,
    ) {
        let l = SourceLabel {
            source: source.to_string(),
        };
        self.source_last_success
            .get_or_create(&l)
            .set(at.timestamp());
        self.source_failures.get_or_create(&l).set(0);
        if let Some(n) = items {
            self.source_items
                .get_or_create(&l)
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// New and duplicate mentions from one batch of `source`.
    pub(crate) fn mentions_stored(&self, source: &str, new: u64, duplicate: u64) {
        let l = SourceLabel {
            source: source.to_string(),
        };
        self.mentions_ingested.get_or_create(&l).inc_by(new);
        self.mentions_duplicate.get_or_create(&l).inc_by(duplicate);
        if new > 0 {
            tracing::debug!(source, new, duplicate, "mentions stored");
        }
    }

    /// Writes the alert log line in `locale`'s language (English by
    /// default); the daemon gives its own.
    pub fn with_locale(mut self, locale: crate::i18n::Locale) -> Metrics {
        self.locale = locale;
        self
    }

    /// An alert event was recorded: the log line says it in the daemon's
    /// language, rendered from the event's fields (its English `summary`
    /// is for machines), with every stranger-written character a log
    /// could trip on dropped.
    pub(crate) fn alert_fired(&self, ev: &crate::alert::AlertEvent) {
        info!(
            watch = %ev.watch,
            rule = %ev.rule,
            state = ev.state.as_str(),
            severity = %ev.severity,
            observed = ev.observed,
            expected = ev.expected,
            "{}",
            crate::notify::sanitize::plain(&crate::notify::render::summary(ev, &self.locale))
        );
        self.alerts
            .get_or_create(&AlertLabels {
                watch: ev.watch.clone(),
                rule: ev.rule.clone(),
                severity: ev.severity.clone(),
            })
            .inc();
    }

    /// A notification attempt ended with `outcome` (`sent`, `retry`, `failed`).
    pub fn notification(&self, channel: &str, outcome: &'static str) {
        self.notifications
            .get_or_create(&ChannelOutcomeLabels {
                channel: channel.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global tracing subscriber, writing to stderr. `RUST_LOG`
/// overrides the default `info` level. Safe to call twice (the second call
/// does nothing), which tests rely on.
pub(crate) fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(use_colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Turns an OpenMetrics exposition into Prometheus text format 0.0.4.
///
/// The two differ in what the metadata names: OpenMetrics names a counter
/// family `x` and its samples `x_total`, while text format 0.0.4 wants the
/// `# HELP` and `# TYPE` lines to name `x_total` itself (otherwise every
/// counter reads as an untyped metric without help). `# UNIT` and `# EOF`
/// do not exist in 0.0.4; `info` and `stateset` families become gauges.
pub(crate) fn openmetrics_to_text(om: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
            && kind == "counter"
        {
            counters.insert(name.to_string());
        }
    }
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = if counters.contains(name) && !name.ends_with("_total") {
                    format!("{name}_total")
                } else {
                    name.to_string()
                };
                let tail = match (prefix, tail) {
                    ("# TYPE ", "info" | "stateset" | "gaugehistogram") => "gauge",
                    ("# TYPE ", "unknown") => "untyped",
                    _ => tail,
                };
                out.push_str(prefix);
                out.push_str(&name);
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Colour escape codes only on a terminal, and never when `NO_COLOR` is set
/// to anything non-empty (<https://no-color.org>): journald and log files get
/// plain text.
fn use_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_names_every_sample_in_its_help_and_type() {
        let m = Metrics::new();
        m.mentions_stored("feed-a", 3, 1);
        m.fetch_finished("feed-a", "feed", 0.2, std::time::Duration::ZERO);
        m.notification("mail", "sent");
        let text = m.encode_text();
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE veilleur_mentions_ingested_total counter"),
            "{text}"
        );
        assert!(
            text.contains("# HELP veilleur_mentions_ingested_total New mentions"),
            "{text}"
        );
        // Every sample's family has HELP and TYPE lines under 0.0.4 naming.
        let meta: std::collections::HashSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# HELP "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        for sample in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let name = sample.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| meta.contains(f)))
                .unwrap_or(name);
            assert!(meta.contains(family), "no HELP for {name} in\n{text}");
        }
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
    }

    #[test]
    fn exposition_has_the_design_metric_names() {
        let m = Metrics::new();
        m.mentions_stored("feed-a", 3, 1);
        m.fetch_failed(
            "feed-b",
            "status",
            &"500",
            std::time::Duration::from_secs(1),
            2,
        );
        m.fetch_finished("feed-a", "feed", 0.2, std::time::Duration::from_millis(300));
        let at: chrono::DateTime<chrono::Utc> = "2026-03-10T00:00:00Z".parse().unwrap();
        m.fetch_succeeded("feed-a", at, Some(7));
        m.fetch_succeeded("feed-a", at, None);
        m.notification("mail", "sent");
        let text = m.encode();
        for needle in [
            "veilleur_mentions_ingested_total{source=\"feed-a\"} 3",
            "veilleur_fetch_errors_total{source=\"feed-b\"} 1",
            "veilleur_fetches_total{source=\"feed-a\"} 1",
            "veilleur_fetch_duration_by_kind_seconds_bucket{le=\"0.25\",kind=\"feed\"} 1",
            "veilleur_fetch_duration_seconds_count{source=\"feed-a\"} 1",
            "veilleur_source_queue_wait_seconds_bucket{le=\"0.1\",kind=\"feed\"} 0",
            "veilleur_source_queue_wait_seconds_bucket{le=\"0.5\",kind=\"feed\"} 1",
            "veilleur_source_last_success_timestamp_seconds{source=\"feed-a\"} 1773100800",
            "veilleur_source_consecutive_failures{source=\"feed-a\"} 0",
            "veilleur_source_consecutive_failures{source=\"feed-b\"} 2",
            "veilleur_source_items_last_fetch{source=\"feed-a\"} 7",
            "veilleur_notifications_total{channel=\"mail\",outcome=\"sent\"} 1",
            "veilleur_index_documents 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    /// The scrape grows by a handful of series per source, not a dozen or
    /// more (the contract's per-source fetch duration is count, sum and
    /// `+Inf` only).
    #[test]
    fn series_per_source_stay_few() {
        let series = |n: usize| {
            let m = Metrics::new();
            for i in 0..n {
                let s = format!("s{i}");
                m.fetch_finished(&s, "feed", 0.2, std::time::Duration::ZERO);
                m.fetch_succeeded(&s, chrono::Utc::now(), Some(3));
                m.mentions_stored(&s, 3, 0);
            }
            m.encode()
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with("process_"))
                .count()
        };
        let per_source = (series(101) - series(1)) / 100;
        assert!(per_source <= 9, "{per_source} series per source");
    }
}
