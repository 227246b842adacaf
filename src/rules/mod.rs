//! Rule files: one watch per TOML file in `rules_dir`, with its alert rules.
//!
//! This module owns the rule file format (DESIGN.md), its validation and the
//! [`RuleSet`] that the matcher and detection are built from. Validation
//! returns every problem as a [`Diagnostic`] at file:line:col — TOML syntax,
//! unknown keys, unknown alert kinds, bad durations, unknown channels, query
//! syntax, keys of another alert kind. It does not match or detect anything
//! itself.
//!
//! Which keys each alert kind takes (✓); any other key of the table is an
//! error at its file:line:col ([`AlertKind::takes`], `KIND_KEYS`):
//!
//! | key | `volume_spike` | `negative_surge` | `keyword` | `influencer` |
//! |---|:-:|:-:|:-:|:-:|
//! | `name`, `kind` (required) | ✓ | ✓ | ✓ | ✓ |
//! | `window`, `min_mentions`, `severity`, `notify`, `notify_resolved`, `cooldown`, `for`, `resolve_after`, `repeat_interval` | ✓ | ✓ | ✓ | ✓ |
//! | `factor`, `significance`, `negative_share`, `early_warning`, `warmup` | ✓ | ✓ | | |
//! | `query` (required) | | | ✓ | |
//! | `min_reach` | | | | ✓ |

pub mod matcher;
pub mod query;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::{self, Diagnostic};
use crate::duration::parse_duration;
use crate::limits::{MAX_RULE_FILE_BYTES, MAX_WATCHES};
pub use query::{Query, QueryError};

/// Every watch of a rules directory, in file-name order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub watches: Vec<Watch>,
}

/// One watch: what to look for, and when to alert.
#[derive(Debug, Clone)]
pub struct Watch {
    pub name: String,
    pub query: Query,
    pub exclude: Option<Query>,
    /// Languages kept (ISO 639-1); empty keeps all.
    pub languages: Vec<String>,
    /// Source names kept; empty keeps all.
    pub sources: Vec<String>,
    pub tags: Vec<String>,
    pub alerts: Vec<AlertRule>,
    /// The rule file it came from.
    pub path: PathBuf,
}

/// Kinds of alert rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// The volume in a window is far above what history predicts.
    VolumeSpike,
    /// The negative mentions spike, or their share rises well above usual.
    NegativeSurge,
    /// A crisis query (the rule's own `query`) matches.
    Keyword,
    /// An author with reach at least `min_reach` mentions the watch.
    Influencer,
}

impl AlertKind {
    pub(crate) const ALL: [AlertKind; 4] = [
        AlertKind::VolumeSpike,
        AlertKind::NegativeSurge,
        AlertKind::Keyword,
        AlertKind::Influencer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::VolumeSpike => "volume_spike",
            AlertKind::NegativeSurge => "negative_surge",
            AlertKind::Keyword => "keyword",
            AlertKind::Influencer => "influencer",
        }
    }

    /// Whether the kind tests a volume against a baseline (and so has an
    /// early warning and a warm-up).
    pub(crate) fn is_spike(self) -> bool {
        matches!(self, AlertKind::VolumeSpike | AlertKind::NegativeSurge)
    }

    /// Whether a rule of this kind takes `key` (the table of the module
    /// doc): keys shared by every kind are taken by all.
    pub fn takes(self, key: &str) -> bool {
        KIND_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .is_none_or(|(_, kinds)| kinds.contains(&self))
    }

    /// The default `min_mentions` of the kind.
    pub(crate) fn default_min_mentions(self) -> u64 {
        match self {
            AlertKind::VolumeSpike => DEFAULT_MIN_MENTIONS,
            AlertKind::NegativeSurge => DEFAULT_MIN_NEGATIVE,
            AlertKind::Keyword | AlertKind::Influencer => 1,
        }
    }

    /// The default `cooldown` of the kind.
    pub(crate) fn default_cooldown(self) -> Duration {
        if self.is_spike() {
            DEFAULT_SPIKE_COOLDOWN
        } else {
            DEFAULT_COOLDOWN
        }
    }
}

/// One alert rule of a watch. Every field but `name` and `kind` has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub kind: AlertKind,
    /// Width of the sliding window whose volume is tested.
    pub window: Duration,
    /// Whether the rule file sets `window`. Spike kinds without it test
    /// several widths at once (15 minutes to 8 hours) and `window` is only
    /// the width of the early warning and of escalations.
    pub fixed_window: bool,
    /// Fewest mentions in the window for the alert to fire.
    pub min_mentions: u64,
    /// How many times the expected volume the window must reach.
    pub factor: f64,
    /// When set, the window's share of negative mentions must reach it too.
    pub negative_share: Option<f64>,
    pub severity: String,
    /// Channel names to notify; empty records the alert only.
    pub notify: Vec<String>,
    /// Also notify when the alert resolves (default false: resolutions are
    /// recorded and logged only).
    pub notify_resolved: bool,
    /// After firing, no new firing of this rule before this much time (for
    /// `keyword` and `influencer`, the rate limit).
    pub cooldown: Duration,
    /// Spike kinds: a window is improbable when the tail probability of its
    /// count under the baseline's negative binomial is at most this.
    pub significance: f64,
    /// The condition must hold this long (pending) before the alert fires;
    /// zero fires at once. TOML key `for`.
    pub pending_for: Duration,
    /// A firing alert resolves once its condition has not held for this long.
    pub resolve_after: Duration,
    /// A firing alert is notified again after this long.
    pub repeat_interval: Duration,
    /// Spike kinds: sustained acceleration fires a `warning` before the
    /// threshold is crossed.
    pub early_warning: bool,
    /// Spike kinds: history needed before the rule may fire; `None` is
    /// automatic (see [`AlertRule::warmup`]).
    pub warmup: Option<Duration>,
    /// `keyword`: the crisis query.
    pub query: Option<Query>,
    /// `influencer`: the least reach (author followers) that fires.
    pub min_reach: u64,
}

impl AlertRule {
    /// A rule of `kind` with every default, as a rule file giving only
    /// `name` and `kind` gets it (`keyword` still needs its `query`).
    #[cfg(test)]
    pub(crate) fn with_defaults(name: &str, kind: AlertKind) -> AlertRule {
        AlertRule {
            name: name.to_string(),
            kind,
            window: DEFAULT_WINDOW,
            fixed_window: false,
            min_mentions: kind.default_min_mentions(),
            factor: DEFAULT_FACTOR,
            negative_share: None,
            severity: DEFAULT_SEVERITY.to_string(),
            notify: Vec::new(),
            notify_resolved: false,
            cooldown: kind.default_cooldown(),
            significance: DEFAULT_SIGNIFICANCE,
            pending_for: Duration::ZERO,
            resolve_after: DEFAULT_RESOLVE_AFTER,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
            early_warning: DEFAULT_EARLY_WARNING,
            warmup: None,
            query: None,
            min_reach: DEFAULT_MIN_REACH,
        }
    }

    /// History needed before a spike rule fires on its full baseline: the
    /// `warmup` given, else one day (a daily profile needs a day) for a
    /// rule testing several widths, and 24 windows capped at one day (never
    /// less than two windows) for a rule with its own `window`. Before it,
    /// a conservative fallback fires on overwhelming evidence only.
    pub fn warmup(&self) -> Duration {
        self.warmup.unwrap_or_else(|| {
            if self.fixed_window {
                (self.window * 24)
                    .min(Duration::from_secs(86_400))
                    .max(self.window * 2)
            } else {
                Duration::from_secs(86_400)
            }
        })
    }
}

pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(30 * 60);
/// A small floor: the tail probability does the work (a watch of one or
/// two mentions an hour must be able to alert).
pub(crate) const DEFAULT_MIN_MENTIONS: u64 = 5;
pub(crate) const DEFAULT_FACTOR: f64 = 3.0;
pub(crate) const DEFAULT_SEVERITY: &str = "warning";
/// `keyword` and `influencer`: a rate limit.
pub(crate) const DEFAULT_COOLDOWN: Duration = Duration::from_secs(2 * 3600);
/// `volume_spike` and `negative_surge`: an incident that resolves and comes
/// back within half a day is the same story (measured on the crisis tuning
/// seeds and NAB dev, see the README's `## Detection`); a bigger return
/// still fires ([`crate::detect::lifecycle`]).
pub(crate) const DEFAULT_SPIKE_COOLDOWN: Duration = Duration::from_secs(12 * 3600);
/// `negative_surge`'s default `min_mentions`.
pub(crate) const DEFAULT_MIN_NEGATIVE: u64 = 4;
/// Chosen on the crisis tuning seeds with the mid-p tail (see the README's
/// `## Detection`): 1e-7 spends about a quarter of the false-alarm goal.
pub(crate) const DEFAULT_SIGNIFICANCE: f64 = 1e-7;
pub(crate) const DEFAULT_RESOLVE_AFTER: Duration = Duration::from_secs(15 * 60);
pub(crate) const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);
pub(crate) const DEFAULT_EARLY_WARNING: bool = false;
pub(crate) const DEFAULT_MIN_REACH: u64 = 50_000;
const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];
const SPIKE_KINDS: &[AlertKind] = &[AlertKind::VolumeSpike, AlertKind::NegativeSurge];
/// The alert keys only some kinds take, and those kinds (the module doc's
/// table); every other key is taken by every kind.
const KIND_KEYS: &[(&str, &[AlertKind])] = &[
    ("factor", SPIKE_KINDS),
    ("significance", SPIKE_KINDS),
    ("negative_share", SPIKE_KINDS),
    ("early_warning", SPIKE_KINDS),
    ("warmup", SPIKE_KINDS),
    ("query", &[AlertKind::Keyword]),
    ("min_reach", &[AlertKind::Influencer]),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleFile {
    watch: RawWatch,
    #[serde(default, rename = "alert")]
    alerts: Vec<RawAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    name: Spanned<String>,
    query: Spanned<String>,
    exclude: Option<Spanned<String>>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    name: Spanned<String>,
    kind: Spanned<String>,
    window: Option<Spanned<String>>,
    min_mentions: Option<u64>,
    factor: Option<Spanned<f64>>,
    negative_share: Option<Spanned<f64>>,
    severity: Option<Spanned<String>>,
    #[serde(default)]
    notify: Vec<Spanned<String>>,
    #[serde(default)]
    notify_resolved: bool,
    cooldown: Option<Spanned<String>>,
    significance: Option<Spanned<f64>>,
    #[serde(rename = "for")]
    pending_for: Option<Spanned<String>>,
    resolve_after: Option<Spanned<String>>,
    repeat_interval: Option<Spanned<String>>,
    early_warning: Option<Spanned<bool>>,
    warmup: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    min_reach: Option<Spanned<u64>>,
}

impl RawAlert {
    /// The keys of `KIND_KEYS` this alert gives, with the offset of each value.
    fn kind_keys(&self) -> [(&'static str, Option<usize>); 7] {
        fn at<T>(v: &Option<Spanned<T>>) -> Option<usize> {
            v.as_ref().map(|v| v.span().start)
        }
        [
            ("factor", at(&self.factor)),
            ("significance", at(&self.significance)),
            ("negative_share", at(&self.negative_share)),
            ("early_warning", at(&self.early_warning)),
            ("warmup", at(&self.warmup)),
            ("query", at(&self.query)),
            ("min_reach", at(&self.min_reach)),
        ]
    }
}

struct FileChecker<'a> {
    path: &'a Path,
    source: &'a str,
    diags: Vec<Diagnostic>,
}

impl FileChecker<'_> {
    fn err<T>(&mut self, at: &Spanned<T>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.path, self.source, at.span().start, msg));
    }

    fn duration(&mut self, v: &Option<Spanned<String>>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(d) if d.is_zero() => {
                    self.err(s, "duration must be more than zero");
                    default
                }
                Ok(d) => d,
                Err(e) => {
                    self.err(s, e);
                    default
                }
            },
        }
    }

    /// Parses a query string value, mapping the parser's offset (within the
    /// string) back to the file.
    fn query(&mut self, v: &Spanned<String>) -> Option<Query> {
        match query::parse(v.get_ref()) {
            Ok(q) => Some(q),
            Err(e) => {
                let start = v.span().start;
                let raw = &self.source[start..v.span().end.min(self.source.len())];
                let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
                    3
                } else {
                    1
                };
                self.diags.push(Diagnostic::at(
                    self.path,
                    self.source,
                    start + quote + e.offset,
                    e.to_string(),
                ));
                None
            }
        }
    }
}

/// Parses and validates one rule file's text. `channels` are the channel
/// names the config defines; `None` skips that check (backtests).
pub(crate) fn parse_rule_file(
    path: &Path,
    source: &str,
    channels: Option<&HashSet<String>>,
) -> Result<Watch, Vec<Diagnostic>> {
    if source.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(vec![too_long(path, source)]);
    }
    let raw: RawRuleFile =
        toml::from_str(source).map_err(|e| vec![diag::from_toml(path, source, &e)])?;
    let mut c = FileChecker {
        path,
        source,
        diags: Vec::new(),
    };
    let w = &raw.watch;
    if w.name.get_ref().trim().is_empty() {
        c.err(&w.name, "watch name must not be empty");
    }
    let query = c.query(&w.query);
    let exclude = w.exclude.as_ref().and_then(|e| c.query(e));

    let mut alerts = Vec::new();
    let mut names = HashSet::new();
    for a in &raw.alerts {
        if !names.insert(a.name.get_ref().clone()) {
            c.err(
                &a.name,
                format!("duplicate alert name `{}` in this watch", a.name.get_ref()),
            );
        }
        let kind = AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == a.kind.get_ref().as_str());
        if kind.is_none() {
            c.err(
                &a.kind,
                format!(
                    "unknown alert kind `{}`: expected volume_spike, negative_surge, keyword or influencer",
                    a.kind.get_ref()
                ),
            );
        }
        if let Some(kind) = kind {
            for (key, at) in a.kind_keys() {
                if let Some(at) = at
                    && !kind.takes(key)
                {
                    c.diags.push(Diagnostic::at(
                        c.path,
                        c.source,
                        at,
                        wrong_kind_message(key, kind),
                    ));
                }
            }
        }
        let window = c.duration(&a.window, DEFAULT_WINDOW);
        let cooldown = c.duration(
            &a.cooldown,
            kind.map_or(DEFAULT_COOLDOWN, AlertKind::default_cooldown),
        );
        let resolve_after = c.duration(&a.resolve_after, DEFAULT_RESOLVE_AFTER);
        let repeat_interval = c.duration(&a.repeat_interval, DEFAULT_REPEAT_INTERVAL);
        let pending_for = match &a.pending_for {
            Some(s) if s.get_ref().trim() == "0" || s.get_ref().trim() == "0s" => Duration::ZERO,
            v => c.duration(v, Duration::ZERO),
        };
        let warmup = a
            .warmup
            .as_ref()
            .map(|w| c.duration(&Some(w.clone()), DEFAULT_WINDOW));
        let significance = match &a.significance {
            Some(p) if !(*p.get_ref() > 0.0 && *p.get_ref() < 0.5) => {
                c.err(
                    p,
                    "significance must be a probability between 0 and 0.5, e.g. 1e-6",
                );
                DEFAULT_SIGNIFICANCE
            }
            Some(p) => *p.get_ref(),
            None => DEFAULT_SIGNIFICANCE,
        };
        let query = match (&a.query, kind) {
            (Some(q), Some(AlertKind::Keyword)) => c.query(q),
            // Reported above, with every key of another kind.
            (Some(_), _) => None,
            (None, Some(AlertKind::Keyword)) => {
                c.err(
                    &a.kind,
                    "a keyword alert needs its own `query`, e.g. query = 'boycott OR scandale'",
                );
                None
            }
            (None, _) => None,
        };
        let min_reach = match &a.min_reach {
            // Reported above, with every key of another kind.
            Some(_) if kind != Some(AlertKind::Influencer) => DEFAULT_MIN_REACH,
            Some(r) => *r.get_ref(),
            None => DEFAULT_MIN_REACH,
        };
        let factor = match &a.factor {
            Some(f) if !(*f.get_ref() > 0.0 && f.get_ref().is_finite()) => {
                c.err(f, "factor must be a positive number, e.g. 3.0");
                DEFAULT_FACTOR
            }
            Some(f) => *f.get_ref(),
            None => DEFAULT_FACTOR,
        };
        let negative_share = match &a.negative_share {
            Some(s) if !(0.0..=1.0).contains(s.get_ref()) => {
                c.err(s, "negative_share must be between 0.0 and 1.0");
                None
            }
            s => s.as_ref().map(|s| *s.get_ref()),
        };
        let severity = match &a.severity {
            Some(s) if !SEVERITIES.contains(&s.get_ref().as_str()) => {
                c.err(
                    s,
                    format!(
                        "unknown severity `{}`: expected info, warning or critical",
                        s.get_ref()
                    ),
                );
                DEFAULT_SEVERITY.to_string()
            }
            Some(s) => s.get_ref().clone(),
            None => DEFAULT_SEVERITY.to_string(),
        };
        if let Some(known) = channels {
            for n in &a.notify {
                if !known.contains(n.get_ref()) {
                    let mut list: Vec<&str> = known.iter().map(String::as_str).collect();
                    list.sort_unstable();
                    let hint = if list.is_empty() {
                        "the config defines no [[channel]]".to_string()
                    } else {
                        format!("the config defines {}", list.join(", "))
                    };
                    c.err(n, format!("unknown channel `{}`: {hint}", n.get_ref()));
                }
            }
        }
        if let Some(kind) = kind {
            alerts.push(AlertRule {
                name: a.name.get_ref().clone(),
                kind,
                window,
                fixed_window: a.window.is_some(),
                min_mentions: a.min_mentions.unwrap_or(kind.default_min_mentions()),
                factor,
                negative_share,
                severity,
                notify: a.notify.iter().map(|n| n.get_ref().clone()).collect(),
                notify_resolved: a.notify_resolved,
                cooldown,
                significance,
                pending_for,
                resolve_after,
                repeat_interval,
                early_warning: a
                    .early_warning
                    .as_ref()
                    .map_or(DEFAULT_EARLY_WARNING, |e| *e.get_ref()),
                warmup,
                query,
                min_reach,
            });
        }
    }
    match (query, c.diags.is_empty()) {
        (Some(query), true) => Ok(Watch {
            name: w.name.get_ref().clone(),
            query,
            exclude,
            languages: w.languages.iter().map(|l| l.to_lowercase()).collect(),
            sources: w.sources.clone(),
            tags: w.tags.clone(),
            alerts,
            path: path.to_path_buf(),
        }),
        _ => Err(c.diags),
    }
}

/// Why `key` is refused in an alert of `kind`: which kinds take it.
fn wrong_kind_message(key: &str, kind: AlertKind) -> String {
    let takers: Vec<&str> = AlertKind::ALL
        .into_iter()
        .filter(|k| k.takes(key))
        .map(AlertKind::as_str)
        .collect();
    format!(
        "`{key}` belongs to {} alerts only, not to {} alerts: remove it or change `kind`",
        takers.join(" and "),
        kind.as_str()
    )
}

/// Reads a rule file, refusing one longer than [`MAX_RULE_FILE_BYTES`] at
/// the line and column where it crosses the limit, without reading the rest.
fn read_rule_file(path: &Path) -> Result<String, Diagnostic> {
    use std::io::Read;
    let cannot = |e: std::io::Error| Diagnostic::file(path, format!("cannot read rule file: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_RULE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(too_long(path, &String::from_utf8_lossy(&bytes)));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        // The lossy text is the same as the bytes up to the first bad one.
        Diagnostic::at(
            path,
            &text,
            valid,
            "invalid UTF-8: save the rule file as UTF-8",
        )
    })
}

/// A rule file over [`MAX_RULE_FILE_BYTES`], at the offset that crosses it.
fn too_long(path: &Path, source: &str) -> Diagnostic {
    let mut at = (MAX_RULE_FILE_BYTES as usize).min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    Diagnostic::at(
        path,
        source,
        at,
        format!(
            "rule file longer than the limit of {MAX_RULE_FILE_BYTES} bytes from here: \
             a watch takes a few hundred bytes, so keep one watch per file"
        ),
    )
}

/// Loads every `*.toml` file of `dir`. Returns the rule set, or every
/// diagnostic of every file (including duplicate watch names across files).
pub fn load_dir(
    dir: &Path,
    channels: Option<&HashSet<String>>,
) -> Result<RuleSet, Vec<Diagnostic>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![Diagnostic::file(
            dir,
            format!("cannot read rules directory: {e} (set daemon.rules_dir)"),
        )]
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut diags = Vec::new();
    let mut watches: Vec<Watch> = Vec::new();
    for path in paths {
        let source = match read_rule_file(&path) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        match parse_rule_file(&path, &source, channels) {
            Ok(_) if watches.len() == MAX_WATCHES => {
                diags.push(Diagnostic::file(
                    &path,
                    format!(
                        "more than {MAX_WATCHES} watches in {}: this file is one too many \
                         (the limit keeps the matcher and the metrics small): merge watches \
                         or run a second instance",
                        dir.display()
                    ),
                ));
            }
            Ok(w) => {
                if let Some(first) = watches.iter().find(|o| o.name == w.name) {
                    diags.push(Diagnostic::file(
                        &path,
                        format!(
                            "duplicate watch name `{}`: also defined in {}",
                            w.name,
                            first.path.display()
                        ),
                    ));
                } else {
                    watches.push(w);
                }
            }
            Err(mut d) => diags.append(&mut d),
        }
    }
    if diags.is_empty() {
        Ok(RuleSet { watches })
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels() -> HashSet<String> {
        ["mail".to_string(), "slack".to_string()]
            .into_iter()
            .collect()
    }

    fn check(src: &str) -> Result<Watch, Vec<String>> {
        parse_rule_file(Path::new("r.toml"), src, Some(&channels()))
            .map_err(|d| d.iter().map(|d| d.to_string()).collect())
    }

    const GOOD: &str = r#"
[watch]
name = "acme"
query = '"acme" OR "acme corp"'
exclude = '"acme road runner"'
languages = ["fr", "en"]
tags = ["brand"]

[[alert]]
name = "bad-buzz"
kind = "volume_spike"
window = "1h"
min_mentions = 20
factor = 3.0
negative_share = 0.4
severity = "critical"
notify = ["mail", "slack"]
cooldown = "2h"
"#;

    #[test]
    fn design_example_is_valid() {
        let w = check(GOOD).unwrap();
        assert_eq!(w.name, "acme");
        assert!(w.exclude.is_some());
        assert_eq!(w.alerts[0].negative_share, Some(0.4));
        assert_eq!(w.alerts[0].notify, vec!["mail", "slack"]);
    }

    #[test]
    fn name_and_kind_alone_get_defaults() {
        let w =
            check("[watch]\nname='a'\nquery='acme'\n[[alert]]\nname='x'\nkind='volume_spike'\n")
                .unwrap();
        let a = &w.alerts[0];
        assert_eq!(a.window, DEFAULT_WINDOW);
        assert_eq!(a.min_mentions, DEFAULT_MIN_MENTIONS);
        assert_eq!(a.factor, DEFAULT_FACTOR);
        assert_eq!(a.cooldown, DEFAULT_SPIKE_COOLDOWN);
        assert_eq!(a.severity, DEFAULT_SEVERITY);
        assert!(a.notify.is_empty());
    }

    #[test]
    fn the_default_cooldown_depends_on_the_kind() {
        let w = check(
            "[watch]\nname='a'\nquery='acme'\n[[alert]]\nname='s'\nkind='negative_surge'\n\
             [[alert]]\nname='k'\nkind='keyword'\nquery='boycott'\n",
        )
        .unwrap();
        assert_eq!(w.alerts[0].cooldown, Duration::from_secs(12 * 3600));
        assert_eq!(w.alerts[1].cooldown, Duration::from_secs(2 * 3600));
        for kind in AlertKind::ALL {
            let r = AlertRule::with_defaults("r", kind);
            assert_eq!(r.cooldown, kind.default_cooldown(), "{kind:?}");
        }
    }

    /// One bad file per validation rule, with the line:col it must report.
    #[test]
    fn bad_files_are_rejected_at_their_line() {
        let cases = [
            (
                "[watch]\nname='a'\nquery='\"acme'\n",
                "r.toml:3:8:",
                "quote",
            ),
            ("[watch]\nname='a'\nquery='acme OR'\n", "r.toml:3:", "OR"),
            (
                "[watch]\nname='a'\nquery='acme'\n[[alert]]\nname='x'\nkind='telepathy'\n",
                "r.toml:6:6:",
                "unknown alert kind `telepathy`",
            ),
            (
                "[watch]\nname='a'\nquery='acme'\n[[alert]]\nname='x'\nkind='volume_spike'\nwindow='1 hour'\n",
                "r.toml:7:8:",
                "bad duration",
            ),
            (
                "[watch]\nname='a'\nquery='acme'\n[[alert]]\nname='x'\nkind='volume_spike'\nnotify=['mail','pager']\n",
                "r.toml:7:16:",
                "unknown channel `pager`",
            ),
            ("[watch]\nname='a'\nquery='acme\n", "r.toml:3:", ""),
            (
                "[watch]\nname='a'\nquery='acme'\ncolour='red'\n",
                "r.toml:4:",
                "colour",
            ),
            (
                "[watch]\nname='a'\nquery='acme'\n[[alert]]\nname='x'\nkind='volume_spike'\nseverity='apocalyptic'\n",
                "r.toml:7:",
                "unknown severity",
            ),
        ];
        for (src, at, what) in cases {
            let errs = check(src).expect_err(src);
            assert!(
                errs.iter().any(|e| e.starts_with(at) && e.contains(what)),
                "{src:?}: expected {at} … {what}, got {errs:#?}"
            );
        }
    }

    /// The module doc's table, key by key: each kind accepts its keys and
    /// rejects the others at their line and column.
    #[test]
    fn each_alert_kind_takes_only_its_keys() {
        const ALL: [bool; 4] = [true; 4];
        const SPIKE: [bool; 4] = [true, true, false, false];
        let table = [
            ("window = '1h'", ALL),
            ("min_mentions = 3", ALL),
            ("severity = 'info'", ALL),
            ("notify = ['mail']", ALL),
            ("notify_resolved = true", ALL),
            ("cooldown = '1h'", ALL),
            ("for = '5m'", ALL),
            ("resolve_after = '1h'", ALL),
            ("repeat_interval = '1h'", ALL),
            ("factor = 2.0", SPIKE),
            ("significance = 1e-4", SPIKE),
            ("negative_share = 0.5", SPIKE),
            ("early_warning = true", SPIKE),
            ("warmup = '1h'", SPIKE),
            ("min_reach = 10", [false, false, false, true]),
            ("query = 'boycott'", [false, false, true, false]),
        ];
        for (line, takes) in table {
            for (kind, ok) in AlertKind::ALL.into_iter().zip(takes) {
                // A keyword alert needs its query; give it unless tested.
                let query = if kind == AlertKind::Keyword && !line.starts_with("query") {
                    "query = 'boycott'\n"
                } else {
                    ""
                };
                let src = format!(
                    "[watch]\nname='a'\nquery='acme'\n[[alert]]\nname='x'\nkind='{}'\n{query}{line}\n",
                    kind.as_str()
                );
                let line_no = if query.is_empty() { 7 } else { 8 };
                let col = line.find('=').unwrap() + 3;
                match check(&src) {
                    Ok(_) => assert!(ok, "{} should refuse {line}", kind.as_str()),
                    Err(errs) => {
                        assert!(!ok, "{} should take {line}: {errs:#?}", kind.as_str());
                        assert_eq!(errs.len(), 1, "{errs:#?}");
                        let key = line.split(' ').next().unwrap();
                        assert!(
                            errs[0].starts_with(&format!(
                                "r.toml:{line_no}:{col}: `{key}` belongs to "
                            )) && errs[0].contains(&format!("not to {} alerts", kind.as_str())),
                            "{errs:#?}"
                        );
                    }
                }
                assert_eq!(kind.takes(line.split(' ').next().unwrap()), ok);
            }
        }
        assert!(AlertKind::VolumeSpike.takes("name"));
    }

    #[test]
    fn load_dir_reports_duplicates_and_all_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), "[watch]\nname='a'\nquery='x'\n").unwrap();
        std::fs::write(dir.path().join("b.toml"), "[watch]\nname='a'\nquery='y'\n").unwrap();
        std::fs::write(dir.path().join("c.toml"), "[watch\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let errs = load_dir(dir.path(), None).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].to_string().contains("duplicate watch name `a`"));
        assert!(errs[1].path.ends_with("c.toml"));
    }
}
