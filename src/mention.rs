//! The mention: the one record that flows through the whole pipeline.
//!
//! A source produces [`Mention`]s; enrichment fills `lang` and `sentiment`;
//! the matcher fills `watches`; the store persists them; detection counts them.
//! This module owns the type, its JSON line shape (DESIGN.md) and the stable id
//! derived from the canonical URL. It does no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One post, article, comment or item that may talk about a watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// Stable id: given by the source, or derived from the canonical URL.
    #[serde(default)]
    pub id: String,
    /// Configured source name (never a URL).
    #[serde(default)]
    pub source: String,
    /// Canonical URL of the mention.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub title: String,
    /// Plain text: HTML stripped, entities decoded, whitespace collapsed.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_followers: Option<u64>,
    /// Publication time; the fetch time when the source gives none, and never
    /// later than the fetch time.
    pub published: DateTime<Utc>,
    /// ISO 639-1 code, or `und` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Sentiment score in [-1, 1], filled by enrichment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<f32>,
    /// Names of the watches this mention matched, filled by the matcher.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watches: Vec<String>,
}

/// Sentiment score at or under which a mention counts as negative.
pub(crate) const NEGATIVE_THRESHOLD: f32 = -0.05;

impl Mention {
    /// Whether enrichment scored this mention as negative.
    pub fn is_negative(&self) -> bool {
        self.sentiment.is_some_and(|s| s <= NEGATIVE_THRESHOLD)
    }

    /// Reach used to rank mentions: the author's followers, 0 when unknown.
    pub(crate) fn reach(&self) -> u64 {
        self.author_followers.unwrap_or(0)
    }

    /// Parses one JSON line of the import/backtest format, fills a missing id
    /// from the URL, and clamps `published` to `now` (a mention can't come
    /// from the future).
    pub(crate) fn from_json_line(
        line: &str,
        now: DateTime<Utc>,
    ) -> Result<Mention, serde_json::Error> {
        let mut m: Mention = serde_json::from_str(line)?;
        if m.id.is_empty() {
            m.id = id_for(&m.url, &m.title, &m.text);
        }
        if m.published > now {
            m.published = now;
        }
        Ok(m)
    }
}

/// Derives a stable id from a canonical URL; when there is no URL, from the
/// title and text, so an item without link or guid still deduplicates.
pub fn id_for(canonical_url: &str, title: &str, text: &str) -> String {
    let mut h = Sha256::new();
    if canonical_url.is_empty() {
        h.update(b"content\0");
        h.update(title.as_bytes());
        h.update(b"\0");
        h.update(text.as_bytes());
    } else {
        h.update(b"url\0");
        h.update(canonical_url.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_without_id_gets_one_from_url() {
        let now = Utc::now();
        let m = Mention::from_json_line(
            r#"{"source":"s","url":"https://ex.org/a","title":"t","text":"x","author":"a","published":"2026-01-01T00:00:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!(m.id, id_for("https://ex.org/a", "", ""));
        assert_eq!(m.id.len(), 32);
        let other = id_for("https://ex.org/b", "", "");
        assert_ne!(m.id, other);
    }

    #[test]
    fn future_publication_is_clamped_to_now() {
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let m = Mention::from_json_line(
            r#"{"id":"x","url":"u","published":"2027-01-01T00:00:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!(m.published, now);
    }

    #[test]
    fn content_id_used_when_no_url() {
        assert_ne!(id_for("", "a", "b"), id_for("", "a", "c"));
        assert_eq!(id_for("", "a", "b"), id_for("", "a", "b"));
    }
}
