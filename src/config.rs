//! Daemon configuration: the TOML file of DESIGN.md turned into a validated
//! [`Config`] in one place.
//!
//! Parsing goes through raw serde structs with `deny_unknown_fields`; every
//! semantic check (durations, kinds, URLs, duplicate names) is done here and
//! *all* problems are returned as [`Diagnostic`]s pointing at file:line:col.
//! Relative paths are resolved against the config file's directory. Secrets
//! are never read here: channels name the environment variable or file that
//! holds them, and notifiers resolve them at start-up.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::{self, Diagnostic};

/// Parses a duration such as `90s`, `5m`, `1h`, `7d`, `250ms` or `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration: write e.g. 90s, 5m, 1h or 7d".into());
    }
    if s.contains(char::is_whitespace) {
        return Err(format!(
            "bad duration `{s}`: write it without spaces, e.g. 90s, 5m, 1h or 7d"
        ));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("bad duration `{s}`: write e.g. 90s, 5m, 1h or 7d"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("bad duration `{s}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            "w" => Duration::from_secs(n * 7 * 86_400),
            "" => {
                return Err(format!(
                    "bad duration `{s}`: missing unit (ms, s, m, h, d or w), e.g. {n}s"
                ));
            }
            _ => {
                return Err(format!(
                    "bad duration `{s}`: unknown unit `{unit}` (use ms, s, m, h, d or w)"
                ));
            }
        };
        total += d;
    }
    Ok(total)
}

/// Formats a duration the way config files write them (`90s`, `5m`, `2h`).
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        format!("{}ms", d.as_millis())
    } else if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The validated daemon configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub sources: Vec<SourceConfig>,
    pub channels: Vec<ChannelConfig>,
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    pub rules_dir: PathBuf,
    pub listen: SocketAddr,
    pub user_agent: String,
    /// Commit the index at least this often while mentions arrive.
    pub commit_interval: Duration,
    /// Commit the index once this many mentions are pending.
    pub commit_docs: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// RSS 0.9x/1.0/2.0, Atom, JSON Feed.
    Feed,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    pub url: url::Url,
    pub interval: Duration,
    /// Total time allowed for one fetch (connect, headers and body).
    pub timeout: Duration,
    pub max_body_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Email(EmailConfig),
    Webhook(WebhookConfig),
    /// Writes each notification as an `.eml` file into a folder (demo, tests,
    /// or a mail pickup directory).
    File(FileChannelConfig),
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `smtp://[user@]host[:port][?tls=required|opportunistic|none]` or `smtps://…`.
    pub smtp: url::Url,
    pub from: String,
    pub to: Vec<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Json,
    Slack,
    Teams,
    Mattermost,
    Discord,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: url::Url,
    pub format: WebhookFormat,
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct FileChannelConfig {
    pub dir: PathBuf,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";
pub const DEFAULT_USER_AGENT: &str = concat!(
    "veilleur/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/veilleur/veilleur)"
);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_COMMIT_DOCS: usize = 1000;
/// The shortest poll interval accepted: politeness towards the servers polled.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    daemon: RawDaemon,
    #[serde(default, rename = "source")]
    sources: Vec<RawSource>,
    #[serde(default, rename = "channel")]
    channels: Vec<RawChannel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    data_dir: Spanned<String>,
    rules_dir: Spanned<String>,
    listen: Option<Spanned<String>>,
    user_agent: Option<String>,
    commit_interval: Option<Spanned<String>>,
    commit_docs: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    kind: Spanned<String>,
    url: Spanned<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    max_body_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: Spanned<String>,
    kind: Spanned<String>,
    // email
    smtp: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<Vec<String>>>,
    password_env: Option<String>,
    password_file: Option<String>,
    // webhook
    url: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    secret_env: Option<String>,
    secret_file: Option<String>,
    // file
    dir: Option<Spanned<String>>,
}

/// Collects diagnostics for one file.
struct Checker<'a> {
    path: &'a Path,
    source: &'a str,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err<T>(&mut self, span: &Spanned<T>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(
            self.path,
            self.source,
            span.span().start,
            msg,
        ));
    }

    fn duration(&mut self, v: &Option<Spanned<String>>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(d) => d,
                Err(e) => {
                    self.err(s, e);
                    default
                }
            },
        }
    }

    fn url(&mut self, v: &Spanned<String>, schemes: &[&str]) -> Option<url::Url> {
        match url::Url::parse(v.get_ref()) {
            Ok(u) if schemes.contains(&u.scheme()) => Some(u),
            Ok(u) => {
                self.err(
                    v,
                    format!(
                        "unsupported URL scheme `{}`: expected {}",
                        u.scheme(),
                        schemes.join(" or ")
                    ),
                );
                None
            }
            Err(e) => {
                self.err(v, format!("invalid URL `{}`: {e}", v.get_ref()));
                None
            }
        }
    }

    fn required<'v, T>(
        &mut self,
        v: &'v Option<Spanned<T>>,
        at: &Spanned<String>,
        what: &str,
    ) -> Option<&'v Spanned<T>> {
        if v.is_none() {
            self.err(at, format!("channel `{}` needs `{what}`", at.get_ref()));
        }
        v.as_ref()
    }
}

/// Resolves `p` against the directory holding the config file.
pub fn resolve_path(config_path: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(p)
    }
}

impl Config {
    /// Reads and validates a config file; on failure returns every problem.
    pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::file(
                path,
                format!("cannot read config file: {e}"),
            )]
        })?;
        Config::parse(path, &source)
    }

    /// Validates config text read from `path`.
    pub fn parse(path: &Path, source: &str) -> Result<Config, Vec<Diagnostic>> {
        let raw: RawConfig =
            toml::from_str(source).map_err(|e| vec![diag::from_toml(path, source, &e)])?;
        let mut c = Checker {
            path,
            source,
            diags: Vec::new(),
        };

        let d = &raw.daemon;
        let listen = match &d.listen {
            None => DEFAULT_LISTEN.parse().expect("constant address parses"),
            Some(l) => l.get_ref().parse().unwrap_or_else(|e| {
                c.err(
                    l,
                    format!(
                        "invalid listen address `{}`: {e} (e.g. 127.0.0.1:9464)",
                        l.get_ref()
                    ),
                );
                DEFAULT_LISTEN.parse().expect("constant address parses")
            }),
        };
        let commit_interval = c.duration(&d.commit_interval, DEFAULT_COMMIT_INTERVAL);
        let commit_docs = match &d.commit_docs {
            Some(n) if *n.get_ref() == 0 => {
                c.err(n, "commit_docs must be at least 1");
                DEFAULT_COMMIT_DOCS
            }
            Some(n) => *n.get_ref(),
            None => DEFAULT_COMMIT_DOCS,
        };
        let daemon = DaemonConfig {
            data_dir: resolve_path(path, d.data_dir.get_ref()),
            rules_dir: resolve_path(path, d.rules_dir.get_ref()),
            listen,
            user_agent: d
                .user_agent
                .clone()
                .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string()),
            commit_interval,
            commit_docs,
        };

        let mut names = HashSet::new();
        let mut sources = Vec::new();
        for s in &raw.sources {
            if !names.insert(s.name.get_ref().clone()) {
                c.err(
                    &s.name,
                    format!("duplicate source name `{}`", s.name.get_ref()),
                );
            }
            if s.name.get_ref().trim().is_empty() {
                c.err(&s.name, "source name must not be empty");
            }
            let kind = match s.kind.get_ref().as_str() {
                "feed" => Some(SourceKind::Feed),
                other => {
                    c.err(
                        &s.kind,
                        format!("unknown source kind `{other}`: expected feed"),
                    );
                    None
                }
            };
            let url = c.url(&s.url, &["http", "https"]);
            let interval = c.duration(&s.interval, DEFAULT_INTERVAL);
            if let Some(i) = &s.interval
                && interval < MIN_INTERVAL
            {
                c.err(i, "interval must be at least 1s");
            }
            let timeout = c.duration(&s.timeout, DEFAULT_TIMEOUT);
            if let (Some(kind), Some(url)) = (kind, url) {
                sources.push(SourceConfig {
                    name: s.name.get_ref().clone(),
                    kind,
                    url,
                    interval,
                    timeout,
                    max_body_bytes: s.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
                });
            }
        }

        let mut names = HashSet::new();
        let mut channels = Vec::new();
        for ch in &raw.channels {
            if !names.insert(ch.name.get_ref().clone()) {
                c.err(
                    &ch.name,
                    format!("duplicate channel name `{}`", ch.name.get_ref()),
                );
            }
            let kind = match ch.kind.get_ref().as_str() {
                "email" => {
                    let smtp = c
                        .required(&ch.smtp, &ch.name, "smtp")
                        .and_then(|s| c.url(s, &["smtp", "smtps"]));
                    if let Some(u) = &smtp
                        && let Some((_, tls)) = u.query_pairs().find(|(k, _)| k == "tls")
                        && !matches!(&*tls, "required" | "opportunistic" | "none")
                    {
                        let s = ch.smtp.as_ref().expect("checked above");
                        c.err(
                            s,
                            format!(
                                "unknown tls mode `{tls}`: expected required, opportunistic or none"
                            ),
                        );
                    }
                    let from = c
                        .required(&ch.from, &ch.name, "from")
                        .map(|f| f.get_ref().clone());
                    let to = c
                        .required(&ch.to, &ch.name, "to")
                        .map(|t| t.get_ref().clone());
                    if let Some(t) = &ch.to
                        && t.get_ref().is_empty()
                    {
                        c.err(t, "`to` needs at least one address");
                    }
                    match (smtp, from, to) {
                        (Some(smtp), Some(from), Some(to)) => {
                            Some(ChannelKind::Email(EmailConfig {
                                smtp,
                                from,
                                to,
                                password_env: ch.password_env.clone(),
                                password_file: ch
                                    .password_file
                                    .as_deref()
                                    .map(|p| resolve_path(path, p)),
                            }))
                        }
                        _ => None,
                    }
                }
                "webhook" => {
                    let url = c
                        .required(&ch.url, &ch.name, "url")
                        .and_then(|u| c.url(u, &["http", "https"]));
                    let format = match &ch.format {
                        None => Some(WebhookFormat::Json),
                        Some(f) => match f.get_ref().as_str() {
                            "json" => Some(WebhookFormat::Json),
                            "slack" => Some(WebhookFormat::Slack),
                            "teams" => Some(WebhookFormat::Teams),
                            "mattermost" => Some(WebhookFormat::Mattermost),
                            "discord" => Some(WebhookFormat::Discord),
                            other => {
                                c.err(f, format!("unknown webhook format `{other}`: expected json, slack, teams, mattermost or discord"));
                                None
                            }
                        },
                    };
                    match (url, format) {
                        (Some(url), Some(format)) => Some(ChannelKind::Webhook(WebhookConfig {
                            url,
                            format,
                            secret_env: ch.secret_env.clone(),
                            secret_file: ch.secret_file.as_deref().map(|p| resolve_path(path, p)),
                        })),
                        _ => None,
                    }
                }
                "file" => c.required(&ch.dir, &ch.name, "dir").map(|d| {
                    ChannelKind::File(FileChannelConfig {
                        dir: resolve_path(path, d.get_ref()),
                    })
                }),
                other => {
                    c.err(
                        &ch.kind,
                        format!("unknown channel kind `{other}`: expected email, webhook or file"),
                    );
                    None
                }
            };
            if let Some(kind) = kind {
                channels.push(ChannelConfig {
                    name: ch.name.get_ref().clone(),
                    kind,
                });
            }
        }

        if c.diags.is_empty() {
            Ok(Config {
                path: path.to_path_buf(),
                daemon,
                sources,
                channels,
            })
        } else {
            Err(c.diags)
        }
    }

    /// Names of the configured channels, for rule validation.
    pub fn channel_names(&self) -> HashSet<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("90s", 90),
            ("5m", 300),
            ("1h", 3600),
            ("7d", 604_800),
            ("1h30m", 5400),
            ("2w", 1_209_600),
        ];
        for (s, secs) in ok {
            assert_eq!(parse_duration(s).unwrap(), Duration::from_secs(secs), "{s}");
        }
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "5", "m", "5x", "1.5h", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    }

    fn parse(src: &str) -> Result<Config, Vec<Diagnostic>> {
        Config::parse(Path::new("/etc/veilleur/veilleur.toml"), src)
    }

    #[test]
    fn design_example_parses_with_relative_paths() {
        let c = parse(
            r#"
[daemon]
data_dir = "data"
rules_dir = "/etc/veilleur/rules"
listen = "127.0.0.1:9464"

[[source]]
name = "alerts"
kind = "feed"
url = "https://example.org/alerts/acme.xml"
interval = "5m"

[[channel]]
name = "comms-email"
kind = "email"
smtp = "smtp://mail.example.org:587?tls=required"
from = "veilleur@example.org"
to = ["comms@example.org"]
password_env = "VEILLEUR_SMTP_PASSWORD"

[[channel]]
name = "slack"
kind = "webhook"
url = "https://hooks.example.org/T000/B000"
format = "slack"
secret_env = "VEILLEUR_WEBHOOK_SECRET"
"#,
        )
        .unwrap();
        assert_eq!(c.daemon.data_dir, PathBuf::from("/etc/veilleur/data"));
        assert_eq!(c.sources[0].interval, Duration::from_secs(300));
        assert_eq!(c.channels.len(), 2);
        assert!(c.channel_names().contains("slack"));
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let errs = parse(
            r#"[daemon]
data_dir = "d"
rules_dir = "r"

[[source]]
name = "a"
kind = "gopher"
url = "not a url"
interval = "5 minutes"

[[channel]]
name = "x"
kind = "webhook"
format = "telex"
"#,
        )
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        assert_eq!(errs.len(), 5, "{text:#?}");
        assert!(text[0].starts_with("/etc/veilleur/veilleur.toml:7:8: unknown source kind"));
        assert!(text.iter().any(|t| t.contains(":8:7: invalid URL")));
        assert!(text.iter().any(|t| t.contains(":9:12: bad duration")));
        assert!(text.iter().any(|t| t.contains("needs `url`")));
        assert!(
            text.iter()
                .any(|t| t.contains(":14:10: unknown webhook format"))
        );
    }

    #[test]
    fn unknown_key_is_rejected_at_its_line() {
        let errs = parse("[daemon]\ndata_dir = \"d\"\nrules_dir = \"r\"\nlisten_addr = \"x\"\n")
            .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 4, "{}", errs[0]);
        assert!(errs[0].message.contains("listen_addr"), "{}", errs[0]);
    }
}
