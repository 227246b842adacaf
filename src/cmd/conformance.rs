//! `veilleur conformance DIR`: runs every sample payload under `DIR`
//! through the parser that would read it, and reports.
//!
//! `DIR/feeds/*` go to the feed parser; `DIR/social/<kind>/*` to that API
//! kind's `parse_payload` (the folder names the kind: `mastodon`, `reddit`,
//! `bluesky`, `hackernews`, `youtube`, `discourse`); `DIR/forums/*` to the
//! forum page parser. One line per file, `ok` with the number of mentions or
//! `failed` with the reason, then `N of M parsed`.
//!
//! It is a report: the exit code is 0 whatever failed, and non-zero only
//! when `DIR` cannot be read. Files are read whole (sample payloads are
//! small); the parsers are the pure ones the sources use, with a fixed
//! clock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::source::social::{ApiError, Payload};

/// Parses the payload of one social folder.
type SocialParser = fn(&[u8], DateTime<Utc>) -> Result<Payload, ApiError>;

/// The API kinds by folder name.
const SOCIAL: &[(&str, SocialParser)] = &[
    ("mastodon", crate::source::social::mastodon::parse_payload),
    ("reddit", crate::source::social::reddit::parse_payload),
    ("bluesky", crate::source::social::bluesky::parse_payload),
    (
        "hackernews",
        crate::source::social::hackernews::parse_payload,
    ),
    ("youtube", crate::source::social::youtube::parse_payload),
    ("discourse", crate::source::social::discourse::parse_payload),
];

pub(crate) fn run(dir: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory of sample payloads", dir.display());
    }
    let now = Utc::now();
    let (mut ok, mut total) = (0usize, 0usize);
    let mut report = |out: &mut dyn Write, path: &Path, result: Result<usize, String>| {
        total += 1;
        let shown = path.strip_prefix(dir).unwrap_or(path).display();
        match result {
            Ok(n) => {
                ok += 1;
                writeln!(out, "ok      {shown}: {n} mentions")
            }
            Err(e) => writeln!(out, "failed  {shown}: {e}"),
        }
    };

    for path in files(&dir.join("feeds"))? {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let url = url::Url::from_file_path(&path)
            .or_else(|_| url::Url::parse("file:///feed"))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let got = crate::source::feed::parse_feed("conformance", &url, &bytes, now)
            .map(|m| m.len())
            .map_err(|e| format!("{e:#}"));
        report(out, &path, got)?;
    }

    let social = dir.join("social");
    for kind_dir in dirs(&social)? {
        let kind = kind_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parser = SOCIAL.iter().find(|(k, _)| *k == kind).map(|(_, f)| *f);
        for path in files(&kind_dir)? {
            let got = match parser {
                None => Err(format!(
                    "no source kind `{kind}` (folders under social/ are named after kinds)"
                )),
                Some(parse) => {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    parse(&bytes, now)
                        .map(|p| p.items.len())
                        .map_err(|e| e.to_string())
                }
            };
            report(out, &path, got)?;
        }
    }

    for path in files(&dir.join("forums"))? {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        report(out, &path, forum_page(&bytes, now))?;
    }

    writeln!(out, "{ok} of {total} parsed")?;
    Ok(ExitCode::SUCCESS)
}

/// A forum page read with each preset in turn: the preset that finds the
/// most posts (with text) wins, as a user trying the presets would.
fn forum_page(bytes: &[u8], now: DateTime<Utc>) -> Result<usize, String> {
    use crate::source::html::{HtmlConfig, parse_document};
    let base = url::Url::parse("https://forum.example/").map_err(|e| e.to_string())?;
    let mut best: Option<(usize, &'static str)> = None;
    let mut last_err = String::from("no preset");
    for name in HtmlConfig::presets() {
        let Some(cfg) = HtmlConfig::from_preset(base.clone(), name, chrono_tz::UTC) else {
            continue;
        };
        match parse_document(bytes, None, &base, &cfg, now) {
            Ok(page) => {
                let n = page.items.len();
                if n > 0 && best.is_none_or(|(m, _)| n > m) {
                    best = Some((n, name));
                }
            }
            Err(e) => last_err = format!("{e:#}"),
        }
    }
    match best {
        Some((n, _)) => Ok(n),
        None => Err(format!("no preset finds a post ({last_err})")),
    }
}

/// The files of `dir` (not recursive), sorted; none if it does not exist.
fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    entries(dir, false)
}

/// The subfolders of `dir`, sorted; none if it does not exist.
fn dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    entries(dir, true)
}

fn entries(dir: &Path, want_dirs: bool) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = e
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        if path.is_dir() == want_dirs {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
