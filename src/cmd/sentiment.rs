//! `veilleur sentiment`: scores JSON lines from stdin.
//!
//! Reads `{"id","text"[,"lang"]}` objects, one a line, and writes
//! `{"id","lang","label","score"}` lines (DESIGN.md). A missing or empty
//! `lang` is detected. A bad line gets an error naming its line number on the
//! error stream and processing goes on; the caller exits 1 at the end when
//! [`run`] returns `Ok(false)`.

use std::io::{BufRead, Write};

use crate::lines::{Line, Lines};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::enrich::lang;
use crate::enrich::sentiment::{self, Label};

#[derive(Deserialize)]
struct Input {
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Serialize)]
struct Output<'a> {
    id: &'a serde_json::Value,
    lang: &'a str,
    label: Label,
    score: f32,
}

/// Scores every line of `input` to `output`; bad lines are reported to
/// `errors`. Returns `Ok(true)` when every line was fine; `Err` only when
/// reading or writing fails.
pub(crate) fn run(
    input: impl BufRead,
    output: impl Write,
    errors: impl Write,
) -> anyhow::Result<bool> {
    let (mut output, mut errors) = (output, errors);
    let mut all_ok = true;
    for (n, line) in Lines::new(input) {
        let line = match line.with_context(|| format!("reading line {n}"))? {
            Line::Text(t) => t,
            bad => {
                all_ok = false;
                let problem = bad.problem().unwrap_or_default();
                writeln!(errors, "line {n}: {problem}").context("writing error")?;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Input = match serde_json::from_str(&line) {
            Ok(p) => p,
            Err(e) => {
                all_ok = false;
                writeln!(
                    errors,
                    "line {n}: {e}: expected {{\"id\",\"text\"[,\"lang\"]}}"
                )
                .context("writing error")?;
                continue;
            }
        };
        let lang = match parsed.lang.as_deref().map(str::trim) {
            Some(l) if !l.is_empty() => l.to_ascii_lowercase(),
            _ => lang::detect(&parsed.text).to_owned(),
        };
        let s = sentiment::score(&parsed.text, &lang);
        let out = Output {
            id: &parsed.id,
            lang: &lang,
            label: s.label,
            score: round(s.score),
        };
        serde_json::to_writer(&mut output, &out).context("writing output")?;
        output.write_all(b"\n").context("writing output")?;
    }
    output.flush().context("writing output")?;
    Ok(all_ok)
}

/// Four decimals are plenty and keep the output stable across platforms.
fn round(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str) -> (bool, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let ok = run(input.as_bytes(), &mut out, &mut err).unwrap();
        (
            ok,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn scores_lines_and_detects_missing_language() {
        let (ok, out, err) = check(
            "{\"id\":\"1\",\"text\":\"c'est une arnaque, service client injoignable\"}\n\
             {\"id\":2,\"text\":\"I love it\",\"lang\":\"en\"}\n",
        );
        assert!(ok && err.is_empty(), "{err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["id"], "1");
        assert_eq!(lines[0]["lang"], "fr");
        assert_eq!(lines[0]["label"], "neg");
        assert!(lines[0]["score"].as_f64().unwrap() < -0.05);
        assert_eq!(lines[1]["id"], 2);
        assert_eq!(lines[1]["lang"], "en");
        assert_eq!(lines[1]["label"], "pos");
    }

    #[test]
    fn bad_line_is_reported_with_its_number_and_the_rest_goes_on() {
        let (ok, out, err) = check(
            "{\"id\":\"1\",\"text\":\"great\"}\nnot json\n{\"id\":\"3\"}\n{\"id\":\"4\",\"text\":\"awful\"}\n",
        );
        assert!(!ok);
        assert_eq!(out.lines().count(), 2);
        assert!(err.contains("line 2:"), "{err}");
        assert!(err.contains("line 3:"), "{err}");
    }

    #[test]
    fn invalid_utf8_line_is_reported_and_the_rest_goes_on() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let input: &[u8] = b"{\"id\":\"1\",\"text\":\"great\"}\n{\"id\":\"2\",\"text\":\"caf\xe9\"}\n{\"id\":\"3\",\"text\":\"awful\"}\n";
        let ok = run(input, &mut out, &mut err).unwrap();
        let (out, err) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        );
        assert!(!ok);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(err.contains("line 2: not valid UTF-8"), "{err}");
    }
}
