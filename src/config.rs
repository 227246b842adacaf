//! Daemon configuration: the TOML file of DESIGN.md turned into a validated
//! [`Config`] in one place.
//!
//! The file is read once into toml's spanned tree, then each section is
//! parsed by its own function: `Parser::daemon`, `Parser::sources`,
//! `Parser::channels`. A `[[source]]` or `[[channel]]` table is split in
//! two: the keys every kind shares (`name`, `kind`, …) and the rest, which is
//! parsed by the kind's own raw struct (`deny_unknown_fields`), so a key of
//! another kind (an `email` channel with `url`) is an error at its
//! file:line:col. Source kinds parse their keys in their own file
//! (`SourceKind::parse`); channel kinds here.
//!
//! Every semantic check (durations, kinds, URLs, duplicate names) is done
//! here and *all* problems are returned as [`Diagnostic`]s. Relative paths
//! are resolved against the config file's directory. Secrets are never read
//! here: channels name the environment variable or file that holds them, and
//! notifiers resolve them at start-up.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::diag::{self, Diagnostic};

// Kept so that stages which imported these from here still compile; new
// code imports them from `crate::duration`.
pub use crate::source::{SourceConfig, SourceKind};

/// The validated daemon configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub sources: Vec<SourceConfig>,
    pub channels: Vec<ChannelConfig>,
    /// (channel, schedule) of every channel with a `digest` key
    /// (`"daily 08:30"`, `"weekly mon 08:30"`), in file order.
    pub digests: Vec<(String, crate::digest::schedule::Schedule)>,
    /// The `[api]` section (optional): who may call `/api` and `/-/reload`.
    pub api: ApiConfig,
}

/// The `[api]` section: bearer tokens of the HTTP API, named by the
/// environment variable or file that holds them (read at start-up, never
/// inline). A read token reads `/api/*`; an admin token also reloads.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub admin_token_env: Option<String>,
    pub admin_token_file: Option<PathBuf>,
    /// Clients on a loopback address need no token (key `trust_loopback`,
    /// default true); false makes every client show a token.
    pub trust_loopback: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            token_env: None,
            token_file: None,
            admin_token_env: None,
            admin_token_file: None,
            trust_loopback: true,
        }
    }
}

/// The `[daemon]` section.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Holds `index/` (tantivy) and `state` (redb).
    pub data_dir: PathBuf,
    /// One watch per `*.toml` file.
    pub rules_dir: PathBuf,
    /// `/metrics`, `/healthz`, `/api`.
    pub listen: SocketAddr,
    pub user_agent: String,
    /// Commit the index at least this often while mentions arrive.
    pub commit_interval: Duration,
    /// Commit the index once this many mentions are pending.
    pub commit_docs: usize,
    /// How long what the daemon remembers about past mentions is kept: seen
    /// ids (past it, a mention seen again counts as new), sent-log rows of
    /// the outbox and, later, the mentions themselves. Key `retention`,
    /// default [`DEFAULT_RETENTION`] (180 days).
    pub retention: Duration,
    /// The mention index back end. Key `index`, default `tantivy` (the only
    /// one today; see ARCHITECTURE.md for adding one).
    pub index: crate::store::Backend,
    /// Default language and time zone of the channels: keys `lang` (`en`,
    /// the default, or `fr`) and `timezone` (an IANA name, default `UTC`).
    pub locale: crate::i18n::Locale,
    /// Where the web page is served, for links in alerts. Key `public_url`.
    pub public_url: Option<url::Url>,
}

/// One `[[channel]]`: where alerts go.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// Language and time zone of its messages: the channel's `lang` and
    /// `timezone`, else the daemon's.
    pub locale: crate::i18n::Locale,
    /// `daemon.public_url`, copied so a notifier needs only its channel.
    pub public_url: Option<url::Url>,
}

/// A channel's kind and its own keys.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    Email(EmailConfig),
    Webhook(WebhookConfig),
    /// Writes each notification as an `.eml` file into a folder (demo, tests,
    /// or a mail pickup directory).
    File(FileChannelConfig),
}

/// `kind = "email"`.
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

/// `kind = "webhook"`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: url::Url,
    pub format: WebhookFormat,
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
}

/// `kind = "file"`.
#[derive(Debug, Clone)]
pub struct FileChannelConfig {
    pub dir: PathBuf,
}

pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:9464";
pub(crate) const DEFAULT_USER_AGENT: &str = concat!(
    "veilleur/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/veilleur/veilleur)"
);
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
pub(crate) const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// 10,000 rather than 1,000: each commit writes a tantivy segment, and a
/// segment every 1,000 mentions cost a fifth more CPU at 100k mentions
/// (segment term dictionaries built, then merged; README, Performance);
/// `commit_interval` still bounds how stale a search is.
pub(crate) const DEFAULT_COMMIT_DOCS: usize = 10_000;
/// Half a year: enough for a seasonal baseline and for a crisis post-mortem.
pub(crate) const DEFAULT_RETENTION: Duration = Duration::from_secs(180 * 86_400);
/// The shortest poll interval accepted: politeness towards the servers polled.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Keys every `[[source]]` takes, whatever its kind.
const SOURCE_KEYS: &[&str] = &["name", "kind", "interval", "timeout", "max_body_bytes"];
/// Keys every `[[channel]]` takes, whatever its kind.
const CHANNEL_KEYS: &[&str] = &["name", "kind", "lang", "timezone", "digest"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    data_dir: Spanned<String>,
    rules_dir: Spanned<String>,
    listen: Option<Spanned<String>>,
    user_agent: Option<String>,
    commit_interval: Option<Spanned<String>>,
    commit_docs: Option<Spanned<usize>>,
    retention: Option<Spanned<String>>,
    index: Option<Spanned<String>>,
    lang: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
}

/// The keys of [`SOURCE_KEYS`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    kind: Spanned<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    max_body_bytes: Option<Spanned<u64>>,
}

/// The keys of [`CHANNEL_KEYS`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: Spanned<String>,
    kind: Spanned<String>,
    lang: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    /// `"daily HH:MM"` or `"weekly DAY HH:MM"`.
    digest: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    smtp: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<Vec<Spanned<String>>>>,
    password_env: Option<String>,
    password_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    secret_env: Option<String>,
    secret_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    token_env: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    admin_token_env: Option<Spanned<String>>,
    admin_token_file: Option<Spanned<String>>,
    trust_loopback: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileChannel {
    dir: Option<Spanned<String>>,
}

/// Collects diagnostics for one config file; shared with the source kinds,
/// which parse their own keys.
pub(crate) struct Parser<'a> {
    path: &'a Path,
    source: &'a str,
    diags: Vec<Diagnostic>,
    /// Each channel's own `lang` and `timezone`, in order, resolved against
    /// the daemon's defaults once every section is read.
    channel_locales: Vec<(Option<crate::i18n::Lang>, Option<chrono_tz::Tz>)>,
    /// Digest schedules of the channels parsed so far.
    digests: Vec<(String, crate::digest::schedule::Schedule)>,
}

impl Parser<'_> {
    pub(crate) fn err<T>(&mut self, span: &Spanned<T>, msg: impl Into<String>) {
        self.err_at(span.span().start, msg);
    }

    fn err_at(&mut self, offset: usize, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.path, self.source, offset, msg));
    }

    /// Deserializes a table with `T`, reporting a failure at its place. For
    /// a kind's own keys, `kind` is `(family, kind, common keys)` and an
    /// unknown key is explained as a key of another kind.
    pub(crate) fn table<T: DeserializeOwned>(
        &mut self,
        table: Spanned<DeTable<'_>>,
        kind: Option<(&str, &str, &[&str])>,
    ) -> Option<T> {
        let span = table.span();
        let value = Spanned::new(span, DeValue::Table(table.into_inner()));
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut d = diag::from_toml(self.path, self.source, &e);
                if let Some((family, kind, common)) = kind {
                    d.message = explain_unknown_key(&d.message, family, kind, common);
                }
                self.diags.push(d);
                None
            }
        }
    }

    /// A path written in the config, resolved against the config's folder.
    pub(crate) fn resolve(&self, p: &str) -> PathBuf {
        resolve_path(self.path, p)
    }

    pub(crate) fn duration(&mut self, v: &Option<Spanned<String>>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(s) => match crate::duration::parse_duration(s.get_ref()) {
                Ok(d) => d,
                Err(e) => {
                    self.err(s, e);
                    default
                }
            },
        }
    }

    pub(crate) fn url(&mut self, v: &Spanned<String>, schemes: &[&str]) -> Option<url::Url> {
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
                // Not echoed: webhook URLs hold tokens (line:col points at it).
                self.err(v, format!("invalid URL: {e}"));
                None
            }
        }
    }

    /// `v`, or an error at the table's `name` saying that `family` (source,
    /// channel) `name` needs key `what`.
    pub(crate) fn required<'v, T>(
        &mut self,
        v: &'v Option<Spanned<T>>,
        at: &Spanned<String>,
        family: &str,
        what: &str,
    ) -> Option<&'v Spanned<T>> {
        if v.is_none() {
            self.err(at, format!("{family} `{}` needs `{what}`", at.get_ref()));
        }
        v.as_ref()
    }

    /// The tables of a `[[section]]` array.
    fn array_of_tables<'i>(
        &mut self,
        key: &Spanned<std::borrow::Cow<'i, str>>,
        value: Spanned<DeValue<'i>>,
    ) -> Vec<Spanned<DeTable<'i>>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    let span = item.span();
                    match item.into_inner() {
                        DeValue::Table(t) => out.push(Spanned::new(span, t)),
                        other => self.err_at(
                            span.start,
                            format!("expected a table, found {}", other.type_str()),
                        ),
                    }
                }
                out
            }
            _ => {
                self.err_at(
                    span.start.min(key.span().start),
                    format!("`{0}` is a list of tables: write [[{0}]]", key.get_ref()),
                );
                Vec::new()
            }
        }
    }

    /// The `[daemon]` section.
    fn daemon(&mut self, value: Spanned<DeValue<'_>>) -> Option<DaemonConfig> {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.err_at(span.start, "`daemon` is a table: write [daemon]");
            return None;
        };
        let d: RawDaemon = self.table(Spanned::new(span, table), None)?;
        let default_listen = || -> SocketAddr {
            // Invariant: the constant is a valid socket address.
            DEFAULT_LISTEN.parse().expect("constant address parses")
        };
        let listen = match &d.listen {
            None => default_listen(),
            Some(l) => l.get_ref().parse().unwrap_or_else(|e| {
                self.err(
                    l,
                    format!(
                        "invalid listen address `{}`: {e} (e.g. 127.0.0.1:9464)",
                        l.get_ref()
                    ),
                );
                default_listen()
            }),
        };
        let commit_interval = self.duration(&d.commit_interval, DEFAULT_COMMIT_INTERVAL);
        let commit_docs = match &d.commit_docs {
            Some(n) if *n.get_ref() == 0 => {
                self.err(n, "commit_docs must be at least 1");
                DEFAULT_COMMIT_DOCS
            }
            Some(n) => *n.get_ref(),
            None => DEFAULT_COMMIT_DOCS,
        };
        let retention = self.duration(&d.retention, DEFAULT_RETENTION);
        if let Some(r) = &d.retention
            && retention < Duration::from_secs(86_400)
        {
            self.err(
                r,
                "retention must be at least 1d: seen ids younger than the oldest item a feed still lists would be fetched as new again",
            );
        }
        let index = match &d.index {
            None => crate::store::Backend::default(),
            Some(name) => crate::store::Backend::from_name(name.get_ref()).unwrap_or_else(|| {
                self.err(
                    name,
                    format!(
                        "unknown index back end `{}`: expected {}",
                        name.get_ref(),
                        crate::store::Backend::NAMES.join(" or ")
                    ),
                );
                crate::store::Backend::default()
            }),
        };
        let lang = self.lang(&d.lang).unwrap_or_default();
        let tz = self.timezone(&d.timezone).unwrap_or(chrono_tz::Tz::UTC);
        let public_url = d
            .public_url
            .as_ref()
            .and_then(|u| self.url(u, &["http", "https"]));
        Some(DaemonConfig {
            locale: crate::i18n::Locale { lang, tz },
            public_url,
            data_dir: resolve_path(self.path, d.data_dir.get_ref()),
            rules_dir: resolve_path(self.path, d.rules_dir.get_ref()),
            listen,
            user_agent: d
                .user_agent
                .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string()),
            commit_interval,
            commit_docs,
            retention,
            index,
        })
    }

    /// The `[api]` section.
    fn api(&mut self, value: Spanned<DeValue<'_>>) -> ApiConfig {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.err_at(span.start, "`api` is a table: write [api]");
            return ApiConfig::default();
        };
        let Some(raw) = self.table::<RawApi>(Spanned::new(span, table), None) else {
            return ApiConfig::default();
        };
        for (env, file, what) in [
            (&raw.token_env, &raw.token_file, "token"),
            (&raw.admin_token_env, &raw.admin_token_file, "admin_token"),
        ] {
            if let (Some(_), Some(f)) = (env, file) {
                self.err(f, format!("give `{what}_env` or `{what}_file`, not both"));
            }
            if let Some(e) = env
                && e.get_ref().trim().is_empty()
            {
                self.err(e, format!("`{what}_env` names no variable"));
            }
        }
        let path =
            |v: &Option<Spanned<String>>| v.as_ref().map(|p| resolve_path(self.path, p.get_ref()));
        ApiConfig {
            token_file: path(&raw.token_file),
            admin_token_file: path(&raw.admin_token_file),
            token_env: raw.token_env.map(|v| v.into_inner()),
            admin_token_env: raw.admin_token_env.map(|v| v.into_inner()),
            trust_loopback: raw.trust_loopback.unwrap_or(true),
        }
    }

    /// The `[[source]]` tables: shared keys here, the kind's own keys in its
    /// file under `source/`.
    fn sources(&mut self, tables: Vec<Spanned<DeTable<'_>>>) -> Vec<SourceConfig> {
        let mut names = HashSet::new();
        let mut sources = Vec::new();
        for table in tables {
            let (common, own) = split(table, SOURCE_KEYS);
            let Some(s) = self.table::<RawSource>(common, None) else {
                continue;
            };
            if !names.insert(s.name.get_ref().clone()) {
                self.err(
                    &s.name,
                    format!("duplicate source name `{}`", s.name.get_ref()),
                );
            }
            if s.name.get_ref().trim().is_empty() {
                self.err(&s.name, "source name must not be empty");
            }
            let interval = self.duration(
                &s.interval,
                SourceKind::default_interval(s.kind.get_ref(), DEFAULT_INTERVAL),
            );
            if let Some(i) = &s.interval
                && interval < MIN_INTERVAL
            {
                self.err(i, "interval must be at least 1s");
            }
            let timeout = self.duration(&s.timeout, DEFAULT_TIMEOUT);
            let kind = SourceKind::parse(self, &s.name, &s.kind, own, SOURCE_KEYS);
            if let Some(kind) = kind {
                sources.push(SourceConfig {
                    name: s.name.get_ref().clone(),
                    kind,
                    interval,
                    timeout,
                    max_body_bytes: s
                        .max_body_bytes
                        .map_or(DEFAULT_MAX_BODY_BYTES, |n| *n.get_ref()),
                });
            }
        }
        sources
    }

    /// The `[[channel]]` tables.
    fn channels(&mut self, tables: Vec<Spanned<DeTable<'_>>>) -> Vec<ChannelConfig> {
        let mut names = HashSet::new();
        let mut channels = Vec::new();
        for table in tables {
            let (common, own) = split(table, CHANNEL_KEYS);
            let Some(ch) = self.table::<RawChannel>(common, None) else {
                continue;
            };
            if !names.insert(ch.name.get_ref().clone()) {
                self.err(
                    &ch.name,
                    format!("duplicate channel name `{}`", ch.name.get_ref()),
                );
            }
            if let Some(d) = &ch.digest {
                match crate::digest::schedule::Schedule::parse(d.get_ref()) {
                    Ok(s) => self.digests.push((ch.name.get_ref().clone(), s)),
                    Err(e) => self.err(d, e),
                }
            }
            let keys = Some(("channel", ch.kind.get_ref().as_str(), CHANNEL_KEYS));
            let kind = match ch.kind.get_ref().as_str() {
                "email" => self
                    .table(own, keys)
                    .and_then(|raw| self.email(&ch.name, raw)),
                "webhook" => self
                    .table(own, keys)
                    .and_then(|raw| self.webhook(&ch.name, raw)),
                "file" => self
                    .table(own, keys)
                    .and_then(|raw| self.file_channel(&ch.name, raw)),
                other => {
                    self.err(
                        &ch.kind,
                        format!("unknown channel kind `{other}`: expected email, webhook or file"),
                    );
                    None
                }
            };
            let lang = self.lang(&ch.lang);
            let tz = self.timezone(&ch.timezone);
            if let Some(kind) = kind {
                channels.push(ChannelConfig {
                    name: ch.name.get_ref().clone(),
                    kind,
                    locale: crate::i18n::Locale::default(),
                    public_url: None,
                });
                self.channel_locales.push((lang, tz));
            }
        }
        channels
    }

    /// A `lang` key: `en` or `fr`.
    fn lang(&mut self, v: &Option<Spanned<String>>) -> Option<crate::i18n::Lang> {
        let v = v.as_ref()?;
        let lang = crate::i18n::Lang::from_name(v.get_ref());
        if lang.is_none() {
            self.err(
                v,
                format!(
                    "unknown language `{}`: expected {}",
                    v.get_ref(),
                    crate::i18n::Lang::NAMES.join(" or ")
                ),
            );
        }
        lang
    }

    /// A `timezone` key: an IANA name such as `Europe/Paris`.
    fn timezone(&mut self, v: &Option<Spanned<String>>) -> Option<chrono_tz::Tz> {
        let v = v.as_ref()?;
        match v.get_ref().parse::<chrono_tz::Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.err(
                    v,
                    format!(
                        "unknown time zone `{}`: write an IANA name such as Europe/Paris or UTC",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn email(&mut self, name: &Spanned<String>, raw: RawEmail) -> Option<ChannelKind> {
        let smtp = self
            .required(&raw.smtp, name, "channel", "smtp")
            .and_then(|s| self.url(s, &["smtp", "smtps"]));
        if let (Some(u), Some(s)) = (&smtp, &raw.smtp)
            && let Some((_, tls)) = u.query_pairs().find(|(k, _)| k == "tls")
            && !matches!(&*tls, "required" | "opportunistic" | "none")
        {
            self.err(
                s,
                format!("unknown tls mode `{tls}`: expected required, opportunistic or none"),
            );
        }
        // Addresses are parsed exactly as the email notifier parses them
        // (lettre's `Mailbox`), so `check` refuses what `run` would.
        let from = self
            .required(&raw.from, name, "channel", "from")
            .and_then(|f| self.mailbox(f, "from"));
        let to = self.required(&raw.to, name, "channel", "to").map(|t| {
            t.get_ref()
                .iter()
                .map(|a| self.mailbox(a, "to"))
                .collect::<Option<Vec<_>>>()
        });
        if let Some(t) = &raw.to
            && t.get_ref().is_empty()
        {
            self.err(t, "`to` needs at least one address");
        }
        let to = to.flatten();
        Some(ChannelKind::Email(EmailConfig {
            smtp: smtp?,
            from: from?,
            to: to?,
            password_env: raw.password_env,
            password_file: raw
                .password_file
                .as_deref()
                .map(|p| resolve_path(self.path, p)),
        }))
    }

    /// An email address as the email notifier reads it (`a@b.org` or
    /// `Name <a@b.org>`, no line breaks).
    fn mailbox(&mut self, v: &Spanned<String>, what: &str) -> Option<String> {
        match v.get_ref().parse::<lettre::message::Mailbox>() {
            Ok(_) => Some(v.get_ref().clone()),
            Err(e) => {
                self.err(
                    v,
                    format!(
                        "invalid {what} address `{}`: {e}: write `name@example.org` or `Name <name@example.org>`",
                        v.get_ref().escape_debug()
                    ),
                );
                None
            }
        }
    }

    fn webhook(&mut self, name: &Spanned<String>, raw: RawWebhook) -> Option<ChannelKind> {
        let url = self
            .required(&raw.url, name, "channel", "url")
            .and_then(|u| self.url(u, &["http", "https"]));
        let format = match &raw.format {
            None => Some(WebhookFormat::Json),
            Some(f) => match f.get_ref().as_str() {
                "json" => Some(WebhookFormat::Json),
                "slack" => Some(WebhookFormat::Slack),
                "teams" => Some(WebhookFormat::Teams),
                "mattermost" => Some(WebhookFormat::Mattermost),
                "discord" => Some(WebhookFormat::Discord),
                other => {
                    self.err(
                        f,
                        format!(
                            "unknown webhook format `{other}`: expected json, slack, teams, mattermost or discord"
                        ),
                    );
                    None
                }
            },
        };
        Some(ChannelKind::Webhook(WebhookConfig {
            url: url?,
            format: format?,
            secret_env: raw.secret_env,
            secret_file: raw
                .secret_file
                .as_deref()
                .map(|p| resolve_path(self.path, p)),
        }))
    }

    fn file_channel(&mut self, name: &Spanned<String>, raw: RawFileChannel) -> Option<ChannelKind> {
        let dir = self.required(&raw.dir, name, "channel", "dir")?;
        Some(ChannelKind::File(FileChannelConfig {
            dir: resolve_path(self.path, dir.get_ref()),
        }))
    }
}

/// Splits a table into the keys of `common` and the others, both keeping
/// the table's span (errors about a missing key point at the table).
fn split<'i>(
    table: Spanned<DeTable<'i>>,
    common: &[&str],
) -> (Spanned<DeTable<'i>>, Spanned<DeTable<'i>>) {
    let span = table.span();
    let (mut shared, mut own) = (DeTable::new(), DeTable::new());
    for (k, v) in table.into_inner() {
        if common.contains(&k.get_ref().as_ref()) {
            shared.insert(k, v);
        } else {
            own.insert(k, v);
        }
    }
    (Spanned::new(span.clone(), shared), Spanned::new(span, own))
}

/// Rewrites serde's "unknown field" message for a kind's own table: the key
/// belongs to another kind (or to none), and the kind's keys are listed.
fn explain_unknown_key(message: &str, family: &str, kind: &str, common: &[&str]) -> String {
    let Some(rest) = message.strip_prefix("unknown field ") else {
        return message.to_string();
    };
    let (field, expected) = match rest.split_once(", expected ") {
        Some((field, expected)) => (field, expected.trim_start_matches("one of ").to_string()),
        // "there are no fields"
        None => (
            rest.split(',').next().unwrap_or(rest),
            "no other key".to_string(),
        ),
    };
    let common: Vec<String> = common.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "a {family} of kind `{kind}` does not take {field}: it takes {}, and {expected}",
        common.join(", ")
    )
}

/// Resolves `p` against the directory holding the config file.
pub(crate) fn resolve_path(config_path: &Path, p: &str) -> PathBuf {
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

    /// Validates config text read from `path`: each section by its own
    /// function, every problem of every section reported.
    pub fn parse(path: &Path, source: &str) -> Result<Config, Vec<Diagnostic>> {
        let root = DeTable::parse(source).map_err(|e| vec![diag::from_toml(path, source, &e)])?;
        let mut p = Parser {
            path,
            source,
            diags: Vec::new(),
            channel_locales: Vec::new(),
            digests: Vec::new(),
        };
        let (mut daemon, mut daemon_seen) = (None, false);
        let (mut sources, mut channels) = (Vec::new(), Vec::new());
        let mut api = ApiConfig::default();
        for (key, value) in root.into_inner() {
            match key.get_ref().as_ref() {
                "daemon" => {
                    daemon_seen = true;
                    daemon = p.daemon(value);
                }
                "source" => {
                    let tables = p.array_of_tables(&key, value);
                    sources = p.sources(tables);
                }
                "channel" => {
                    let tables = p.array_of_tables(&key, value);
                    channels = p.channels(tables);
                }
                "api" => api = p.api(value),
                other => p.err(
                    &key,
                    format!(
                        "unknown section `{other}`: expected [daemon], [[source]], [[channel]] or [api]"
                    ),
                ),
            }
        }
        if !daemon_seen {
            p.err_at(0, "missing section [daemon] (with data_dir and rules_dir)");
        }
        // Sections come in key order; report in file order.
        p.diags.sort_by_key(|d| (d.line, d.col));
        if let Some(d) = &daemon {
            for (ch, (lang, tz)) in channels.iter_mut().zip(&p.channel_locales) {
                ch.locale = crate::i18n::Locale {
                    lang: lang.unwrap_or(d.locale.lang),
                    tz: tz.unwrap_or(d.locale.tz),
                };
                ch.public_url = d.public_url.clone();
            }
            // Digests are due in their channel's time zone.
            for (name, schedule) in &mut p.digests {
                if let Some(ch) = channels.iter().find(|c| c.name == *name) {
                    *schedule = schedule.in_zone(ch.locale.tz);
                }
            }
        }
        match daemon {
            Some(daemon) if p.diags.is_empty() => Ok(Config {
                path: path.to_path_buf(),
                daemon,
                sources,
                channels,
                digests: p.digests,
                api,
            }),
            _ => Err(p.diags),
        }
    }

    /// Names of the configured channels, for rule validation.
    pub(crate) fn channel_names(&self) -> HashSet<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Config, Vec<Diagnostic>> {
        Config::parse(Path::new("/etc/veilleur/veilleur.toml"), src)
    }

    fn errors(src: &str) -> Vec<String> {
        parse(src)
            .unwrap_err()
            .iter()
            .map(|d| d.to_string())
            .collect()
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
        assert_eq!(c.daemon.retention, DEFAULT_RETENTION);
        assert_eq!(c.sources[0].interval, Duration::from_secs(300));
        let SourceKind::Feed(feed) = &c.sources[0].kind else {
            panic!("a feed source")
        };
        assert_eq!(feed.url.as_str(), "https://example.org/alerts/acme.xml");
        assert_eq!(c.channels.len(), 2);
        assert!(c.channel_names().contains("slack"));
        assert!(
            matches!(&c.channels[0].kind, ChannelKind::Email(e) if e.to == ["comms@example.org"])
        );
    }

    #[test]
    fn api_section_names_its_token_sources_and_refuses_mistakes_at_their_line() {
        let head = "[daemon]\ndata_dir = \"d\"\nrules_dir = \"r\"\n\n";
        let c = parse(&format!(
            "{head}[api]\ntoken_file = \"api-token\"\nadmin_token_env = \"ADMIN\"\ntrust_loopback = false\n"
        ))
        .unwrap();
        assert_eq!(
            c.api.token_file,
            Some(PathBuf::from("/etc/veilleur/api-token"))
        );
        assert_eq!(c.api.admin_token_env.as_deref(), Some("ADMIN"));
        assert!(!c.api.trust_loopback);
        let none = parse(head).unwrap();
        assert!(none.api.trust_loopback && none.api.token_env.is_none());
        let e = errors(&format!(
            "{head}[api]\ntoken_env = \"A\"\ntoken_file = \"f\"\n"
        ));
        assert!(
            e.iter()
                .any(|d| d.contains(":7:") && d.contains("not both")),
            "{e:?}"
        );
        let e = errors(&format!("{head}[api]\ntoken = \"inline-secret\"\n"));
        assert!(
            e.iter().any(|d| d.contains(":6:") && d.contains("token")),
            "{e:?}"
        );
        let e = errors(&format!("{head}[api]\nadmin_token_env = \"\"\n"));
        assert!(e.iter().any(|d| d.contains("names no variable")), "{e:?}");
    }

    #[test]
    fn email_addresses_are_parsed_as_the_notifier_parses_them() {
        let email = |from: &str, to: &str| -> Vec<String> {
            let diags = parse(&format!(
                "[daemon]\ndata_dir = \"d\"\nrules_dir = \"r\"\n\n[[channel]]\nname = \"m\"\nkind = \"email\"\nsmtp = \"smtp://127.0.0.1\"\nfrom = {from}\nto = {to}\n"
            ));
            diags
                .err()
                .unwrap_or_default()
                .iter()
                .map(|d| d.to_string())
                .collect()
        };
        let good = ["\"a@example.org\"", "\"Veille <a@example.org>\""];
        for from in good {
            assert!(email(from, "[\"b@example.org\"]").is_empty(), "{from}");
        }
        // A header injection through `from`: refused at its place, as `run`
        // would refuse it.
        let text = email(
            "\"a@example.org\\r\\nBcc: x@example.org\"",
            "[\"b@example.org\", \"not an address\"]",
        );
        assert_eq!(text.len(), 2, "{text:#?}");
        assert!(
            text[0].starts_with("/etc/veilleur/veilleur.toml:9:8: invalid from address `a@example.org\\r\\nBcc: x@example.org`"),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with(
                "/etc/veilleur/veilleur.toml:10:24: invalid to address `not an address`"
            ),
            "{text:#?}"
        );
        assert_eq!(email("\"a@example.org\"", "[]").len(), 1);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = errors(
            r#"[daemon]
data_dir = "d"
rules_dir = "r"

[[source]]
name = "a"
kind = "gopher"
url = "gopher://x"

[[source]]
name = "b"
kind = "feed"
url = "not a url"
interval = "5 minutes"

[[channel]]
name = "x"
kind = "webhook"
format = "telex"
"#,
        );
        assert_eq!(text.len(), 5, "{text:#?}");
        assert!(
            text[0].starts_with("/etc/veilleur/veilleur.toml:7:8: unknown source kind"),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|t| t.contains(":13:7: invalid URL")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|t| t.contains(":14:12: bad duration")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|t| t.contains("channel `x` needs `url`")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains(":19:10: unknown webhook format")),
            "{text:#?}"
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

    const DAEMON: &str = "[daemon]\ndata_dir = \"d\"\nrules_dir = \"r\"\n";

    /// A key of another kind, in a channel or a source, is an error at its
    /// line and column, and every such key of the file is reported.
    #[test]
    fn keys_of_another_kind_are_rejected_where_they_are() {
        let text = errors(&format!(
            "{DAEMON}
[[channel]]
name = \"mail\"
kind = \"email\"
smtp = \"smtp://mail.example.org\"
from = \"a@example.org\"
to = [\"b@example.org\"]
url = \"https://hooks.example.org/x\"

[[channel]]
name = \"files\"
kind = \"file\"
dir = \"out\"
  format = \"slack\"

[[channel]]
name = \"hook\"
kind = \"webhook\"
url = \"https://hooks.example.org/x\"
password_env = \"X\"

[[source]]
name = \"f\"
kind = \"feed\"
url = \"https://example.org/feed.xml\"
hashtags = [\"acme\"]
"
        ));
        assert_eq!(text.len(), 4, "{text:#?}");
        assert!(
            text[0].starts_with("/etc/veilleur/veilleur.toml:11:1: a channel of kind `email` does not take `url`: it takes `name`, `kind`, `lang`, `timezone`, `digest`, and `smtp`, `from`, `to`, `password_env`, `password_file`"),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with(
                "/etc/veilleur/veilleur.toml:17:3: a channel of kind `file` does not take `format`"
            ),
            "{text:#?}"
        );
        assert!(text[2].starts_with("/etc/veilleur/veilleur.toml:23:1: a channel of kind `webhook` does not take `password_env`"), "{text:#?}");
        assert!(
            text[3].starts_with(
                "/etc/veilleur/veilleur.toml:29:1: a source of kind `feed` does not take `hashtags`"
            ),
            "{text:#?}"
        );
    }

    #[test]
    fn sections_must_have_their_shape() {
        for (src, at, what) in [
            (
                "[demon]\ndata_dir = \"d\"\n",
                ":1:2:",
                "unknown section `demon`",
            ),
            (
                "[[daemon]]\ndata_dir = \"d\"\n",
                ":1:",
                "`daemon` is a table",
            ),
            (
                &format!("{DAEMON}[source]\nname = \"a\"\n"),
                ":4:",
                "write [[source]]",
            ),
            (
                "[[source]]\nname = \"a\"\nkind = \"feed\"\nurl = \"https://x/\"\n",
                ":1:1:",
                "missing section [daemon]",
            ),
            (
                &format!("{DAEMON}[[source]]\nkind = \"feed\"\nurl = \"https://x/\"\n"),
                ":4:",
                "missing field `name`",
            ),
            (
                &format!("{DAEMON}[[source]]\nname = \"a\"\nkind = \"feed\"\n"),
                ":5:8:",
                "source `a` needs `url`",
            ),
            (
                &format!("{DAEMON}retention = \"2h\"\n"),
                ":4:13:",
                "retention must be at least 1d",
            ),
            (
                &format!("{DAEMON}retention = \"213503982334602d\"\n"),
                ":4:13:",
                "too large",
            ),
            (
                &format!("{DAEMON}index = \"elastic\"\n"),
                ":4:9:",
                "unknown index back end `elastic`: expected tantivy",
            ),
        ] {
            let text = errors(src);
            assert!(
                text.iter().any(|t| t.contains(at) && t.contains(what)),
                "{src:?}: expected {at} … {what}, got {text:#?}"
            );
        }
    }

    #[test]
    fn retention_is_read() {
        let c = parse(&format!("{DAEMON}retention = \"30d\"\n")).unwrap();
        assert_eq!(c.daemon.retention, Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn index_back_end_is_read() {
        let c = parse(&format!("{DAEMON}index = \"tantivy\"\n")).unwrap();
        assert_eq!(c.daemon.index, crate::store::Backend::Tantivy);
        assert_eq!(
            parse(DAEMON).unwrap().daemon.index,
            crate::store::Backend::Tantivy
        );
    }
}
