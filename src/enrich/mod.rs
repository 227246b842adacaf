//! Enrichment: language and sentiment of a mention, pure CPU and no I/O.
//!
//! [`enrich`] is what the daemon calls (in `spawn_blocking`, over batches) on
//! each new mention: it keeps a language the source gave, detects one
//! otherwise ([`lang`]), and scores sentiment ([`sentiment`]) with the
//! lexicons of `lexicons/` (parsed once, see [`lexicon`]). It only reads the
//! mention's title and text and writes `lang` and `sentiment`; it never
//! touches matching, storage or detection.

pub mod fold;
pub mod lang;
pub mod lexicon;
pub(crate) mod model;
pub mod sentiment;

use crate::mention::Mention;

/// Fills `m.lang` (kept when already given, else detected from title + text;
/// `und` when too short or unsure) and `m.sentiment` (score in [-1, 1]).
/// Pure CPU, no I/O; the daemon calls it in `spawn_blocking` over batches.
pub fn enrich(m: &mut Mention) {
    let lang = match m.lang.as_deref().map(str::trim) {
        Some(given) if !given.is_empty() => given.to_ascii_lowercase(),
        _ => lang::detect_parts(&m.title, &m.text).to_owned(),
    };
    let s = if m.title.is_empty() {
        sentiment::score(&m.text, &lang)
    } else if m.text.is_empty() {
        sentiment::score(&m.title, &lang)
    } else {
        sentiment::score_parts(&m.title, &m.text, &lang)
    };
    m.lang = Some(lang);
    m.sentiment = Some(s.score);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(title: &str, text: &str, lang: Option<&str>) -> Mention {
        Mention {
            id: "x".into(),
            source: "s".into(),
            url: String::new(),
            title: title.into(),
            text: text.into(),
            author: String::new(),
            author_followers: None,
            published: "2026-01-01T00:00:00Z".parse().unwrap(),
            lang: lang.map(Into::into),
            sentiment: None,
            watches: vec![],
        }
    }

    #[test]
    fn given_language_is_kept() {
        let mut m = mention("", "this is a scam, never again", Some("fr"));
        enrich(&mut m);
        assert_eq!(m.lang.as_deref(), Some("fr"));
        assert!(m.sentiment.is_some());
    }

    #[test]
    fn language_is_detected_and_negative_mention_flagged() {
        let mut m = mention(
            "Acme : service client injoignable",
            "Je n'ai toujours pas reçu mon remboursement, c'est une véritable arnaque",
            None,
        );
        enrich(&mut m);
        assert_eq!(m.lang.as_deref(), Some("fr"));
        assert!(m.is_negative(), "{:?}", m.sentiment);
    }

    #[test]
    fn short_text_is_und() {
        let mut m = mention("", "ok", None);
        enrich(&mut m);
        assert_eq!(m.lang.as_deref(), Some("und"));
        assert!(!m.is_negative());
    }
}
