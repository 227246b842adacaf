//! Sentiment lexicons, parsed once from the data files in `lexicons/`.
//!
//! Files are embedded with `include_str!` and parsed on first use into
//! [`LangLexicon`]s (one per language) plus shared emoji and emoticon tables.
//! Keys are folded (see [`super::fold`]); multi-word terms are space-joined
//! folded words, and every proper word-prefix of one is recorded so phrase
//! look-ahead stops as soon as nothing longer can match. Precedence within a
//! language: the curated `*-extra.tsv` overrides the VADER-derived file, which
//! overrides the Pattern-derived one (French) or AFINN (English). Each
//! language also says how an unknown word is retried ([`Backoff`]). This
//! module does no scoring.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use super::fold::fold;

const EN_AFINN: &str = include_str!("../../lexicons/en-afinn.tsv");
const EN_VADER: &str = include_str!("../../lexicons/en-vader.tsv");
const EN_EXTRA: &str = include_str!("../../lexicons/en-extra.tsv");
const FR_VADER: &str = include_str!("../../lexicons/fr-vader.tsv");
const FR_PATTERN: &str = include_str!("../../lexicons/fr-pattern.tsv");
const FR_EXTRA: &str = include_str!("../../lexicons/fr-extra.tsv");
const EMOJI: &str = include_str!("../../lexicons/emoji.tsv");
const MODIFIERS: &str = include_str!("../../lexicons/modifiers.tsv");

/// FxHash (rustc's hasher): short keys, trusted data, so speed over DoS resistance.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// How a grammar word changes the sentiment words around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Modifier {
    /// Negates the sentiment words among the next `scope` words.
    Negator { scope: u8 },
    /// Adds `delta` (positive: intensifier, negative: diminisher) to the
    /// magnitude of the next sentiment word.
    Booster { delta: f32 },
    /// Contrast: what follows weighs more (`but`) or, when `concessive`,
    /// the clause it opens weighs less (`although`).
    Contrast { concessive: bool },
    /// Excess (`too`): boosts a following sentiment word by `delta` like an
    /// intensifier, and makes a following content word outside the lexicon
    /// mildly negative (`too long`, `too late`, `too much`).
    Excess { delta: f32 },
}

/// How a word missing from the lexicon is retried with a related form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Backoff {
    /// No retry.
    #[default]
    None,
    /// English `-ly` adverbs retried as their adjective (`poorly` → `poor`,
    /// `happily` → `happy`, `horribly` → `horrible`).
    English,
    /// French plurals and regular feminines retried as the masculine
    /// singular (`catastrophiques` → `catastrophique`, `boostée` → `boosté`,
    /// `créative` → `créatif`, `trompeuse` → `trompeur`/`trompeux`).
    French,
}

/// One lexicon entry: a valence in -4..4, a modifier, or both (`super`, `no`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Term {
    pub valence: Option<f32>,
    pub modifier: Option<Modifier>,
}

/// The terms of one language.
#[derive(Default)]
pub(crate) struct LangLexicon {
    /// Whether apostrophes separate words (French elision) rather than
    /// vanish (English contractions: `don't` → `dont`).
    pub split_apostrophes: bool,
    /// How an unknown word is retried (see [`Backoff`]).
    pub backoff: Backoff,
    /// Folded term (words joined by one space) → entry.
    pub terms: FxMap<Box<str>, Term>,
    /// Every proper word-prefix of a multi-word term.
    pub prefixes: FxMap<Box<str>, ()>,
}

impl LangLexicon {
    fn set_valence(&mut self, term: &str, v: f32) {
        let key = normalise_term(term, self.split_apostrophes);
        if key.is_empty() {
            return;
        }
        self.add_prefixes(&key);
        self.terms.entry(key.into()).or_default().valence = Some(v);
    }

    fn set_modifier(&mut self, term: &str, m: Modifier) {
        let key = normalise_term(term, self.split_apostrophes);
        if key.is_empty() {
            return;
        }
        self.add_prefixes(&key);
        self.terms.entry(key.into()).or_default().modifier = Some(m);
    }

    fn add_prefixes(&mut self, key: &str) {
        for (i, c) in key.char_indices() {
            if c == ' ' {
                self.prefixes.insert(key[..i].into(), ());
            }
        }
    }

    /// The entry for a folded term.
    #[inline]
    pub(crate) fn get(&self, key: &str) -> Option<&Term> {
        self.terms.get(key)
    }

    /// Whether some longer term starts with the folded words `key`.
    #[inline]
    pub(crate) fn is_prefix(&self, key: &str) -> bool {
        self.prefixes.contains_key(key)
    }

    /// The valence of a folded single word, if any.
    #[inline]
    pub(crate) fn valence(&self, key: &str) -> Option<f32> {
        self.terms.get(key).and_then(|t| t.valence)
    }
}

/// Every lexicon, parsed once.
pub(crate) struct Lexicons {
    pub en: LangLexicon,
    pub fr: LangLexicon,
    /// Single emoji characters → valence.
    pub emoji: FxMap<char, f32>,
    /// ASCII emoticons as written (case matters: `:D`, `:P`) → valence.
    pub emoticons: FxMap<Box<str>, f32>,
}

/// The parsed lexicons; the first call parses the embedded files (a few ms).
pub(crate) static LEXICONS: LazyLock<Lexicons> = LazyLock::new(load);

/// Folds a term and splits it into words the way the tokenizer does:
/// apostrophes and hyphens separate words in French and vanish in English
/// contractions, so both spellings are stored.
fn normalise_term(term: &str, split_apostrophes: bool) -> String {
    let mut folded = fold(term.trim());
    if !split_apostrophes {
        folded.retain(|c| !super::fold::is_apostrophe(c));
    }
    let mut out = String::with_capacity(folded.len());
    for w in folded.split(|c: char| c.is_whitespace() || c == '-' || super::fold::is_apostrophe(c))
    {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Whether a term of the VADER file is an ASCII emoticon rather than a word.
fn is_emoticon(term: &str) -> bool {
    !term.contains(' ')
        && term
            .chars()
            .any(|c| c.is_ascii_punctuation() && !matches!(c, '\'' | '-' | '&' | '.'))
}

/// Parses `term TAB number` lines, skipping comments and blank lines.
pub fn rows(data: &str) -> impl Iterator<Item = Result<(&str, f32), &str>> {
    data.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("# "))
        .map(|l| {
            let (t, v) = l.split_once('\t').ok_or(l)?;
            let v: f32 = v.trim().parse().map_err(|_| l)?;
            Ok((t, v))
        })
}

fn load() -> Lexicons {
    let mut lex = Lexicons {
        en: LangLexicon {
            backoff: Backoff::English,
            ..LangLexicon::default()
        },
        fr: LangLexicon {
            split_apostrophes: true,
            backoff: Backoff::French,
            ..LangLexicon::default()
        },
        emoji: FxMap::default(),
        emoticons: FxMap::default(),
    };
    // A malformed line is a data bug caught by `all_lexicon_lines_parse`; at
    // run time it is skipped rather than taking the daemon down.
    // AFINN rates on -5..5; 0.8 brings it to VADER's -4..4. Lowest precedence.
    for (t, v) in rows(EN_AFINN).flatten() {
        if !is_emoticon(t) {
            lex.en.set_valence(t, v * 0.8);
        }
    }
    for (t, v) in rows(EN_VADER).flatten() {
        if is_emoticon(t) {
            lex.emoticons.insert(t.into(), v);
        } else {
            lex.en.set_valence(t, v);
        }
    }
    for (t, v) in rows(EN_EXTRA).flatten() {
        lex.en.set_valence(t, v);
    }
    for (t, v) in rows(FR_PATTERN).flatten() {
        lex.fr.set_valence(t, v);
    }
    for (t, v) in rows(FR_VADER).flatten() {
        if !is_emoticon(t) {
            lex.fr.set_valence(t, v);
        }
    }
    for (t, v) in rows(FR_EXTRA).flatten() {
        lex.fr.set_valence(t, v);
    }
    for (t, v) in rows(EMOJI).flatten() {
        let mut cs = t.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) => {
                lex.emoji.insert(c, v);
            }
            _ => {
                lex.emoticons.insert(t.into(), v);
            }
        }
    }
    for line in MODIFIERS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((lang, kind, term, value)) = modifier_row(line) else {
            continue;
        };
        let m = match kind {
            "neg" => Modifier::Negator {
                scope: value.clamp(1.0, 8.0) as u8,
            },
            "inc" => Modifier::Booster { delta: value },
            "dec" => Modifier::Booster { delta: -value },
            "exc" => Modifier::Excess { delta: value },
            "but" => Modifier::Contrast {
                concessive: value < 0.0,
            },
            _ => continue,
        };
        match lang {
            "en" => lex.en.set_modifier(term, m),
            "fr" => lex.fr.set_modifier(term, m),
            _ => {}
        }
    }
    lex
}

/// Splits a `lang TAB kind TAB term TAB value` line of `modifiers.tsv`.
pub(crate) fn modifier_row(line: &str) -> Option<(&str, &str, &str, f32)> {
    let mut it = line.split('\t');
    let lang = it.next()?;
    let kind = it.next()?;
    let term = it.next()?;
    let value = it.next()?.trim().parse().ok()?;
    Some((lang, kind, term, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lexicon_lines_parse() {
        for data in [
            EN_AFINN, EN_VADER, EN_EXTRA, FR_VADER, FR_PATTERN, FR_EXTRA, EMOJI,
        ] {
            let bad: Vec<_> = rows(data).filter_map(Result::err).collect();
            assert!(bad.is_empty(), "bad lines: {bad:?}");
        }
        for line in MODIFIERS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            assert!(modifier_row(line).is_some(), "bad modifier line: {line}");
        }
    }

    #[test]
    fn lexicons_are_folded_and_phrases_indexed() {
        let l = &*LEXICONS;
        assert!(l.fr.valence("arnaque").unwrap() < -2.0);
        assert!(l.fr.valence("decu").unwrap() < -2.0);
        assert!(l.fr.is_prefix("fuite de"));
        assert!(l.fr.valence("fuite de donnees").unwrap() < -2.0);
        assert!(l.fr.valence("n importe quoi").unwrap() < -2.0);
        assert!(l.en.valence("data breach").unwrap() < -2.0);
        assert!(matches!(
            l.en.get("dont").and_then(|t| t.modifier),
            Some(Modifier::Negator { .. })
        ));
        assert!(l.emoticons.get(":)").copied().unwrap() > 0.0);
        assert!(l.emoji.get(&'😡').copied().unwrap() < 0.0);
    }
}
