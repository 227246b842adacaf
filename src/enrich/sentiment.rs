//! Lexicon- and rule-based sentiment for French and English social text.
//!
//! [`score`] tokenizes a text (folded: case- and accent-insensitive), looks
//! words and phrases up in the lexicons of [`super::lexicon`] (longest match
//! first, so `pas terrible`, `fuite de données` or `never again` win over
//! their words), and sums valences with VADER-like rules:
//!
//! * negation with a scope of a few words, cut by punctuation or contrast
//!   (`pas du tout satisfait`, `ne … plus`, `sans`, `faute de`, `loin d'être`,
//!   `not bad`, `far from`); `ne … que` ("only") is not a negation;
//!   counterfactual modals negate too (`could have been better`,
//!   `aurait pu être mieux`: what they introduce did not happen);
//! * intensifiers and diminishers (`très`, `trop`, `un peu`, `so`, `barely`);
//!   excess: `too` before a word outside the lexicon makes it mildly
//!   negative (`too long`, `too late`), as `trop` does in French;
//! * contrast: before `mais`/`but` weighs half, after weighs 1.5× (unless
//!   nothing came before: `But the…` opening a text changes nothing); a
//!   concessive or conditional clause (`bien que`, `although`, `if`) weighs
//!   half;
//! * words missing from the lexicon are retried as a related form: French
//!   plurals and regular feminines (`catastrophiques`, `boostée`), English
//!   `-ly` adverbs (`poorly`, `superbly`);
//! * department names are neutral (`customer service` is not praise even
//!   though `service` or `support` alone may be);
//! * emphasis: a word in CAPS amid lowercase, an elongated word (`nuuuul`,
//!   `sooo`), and up to four `!`;
//! * emojis and emoticons; hashtags (`#arnaque`, `#BadBuzz`, `#arnaquetotale`)
//!   split into lexicon words where possible; URLs and `@handles` are skipped.
//!
//! The sum `x` is squashed as VADER does (`x / sqrt(x² + 15)`), then mapped
//! piecewise-linearly so that the label boundaries fall on ±0.05, the
//! [`crate::mention::NEGATIVE_THRESHOLD`] the detector uses. Scoring is pure
//! and allocation-free after a thread's first call (scratch buffers are
//! thread-local).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::fold::{is_apostrophe, push_folded};
use super::lexicon::{Backoff, LEXICONS, LangLexicon, Lexicons, Modifier, Term};
use super::model::{self, DENSE_SHARED, Features, LANGS, Model, PerLanguage};

/// Sentiment class of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Neg,
    Neu,
    Pos,
}

impl Label {
    /// `neg`, `neu` or `pos`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Neg => "neg",
            Label::Neu => "neu",
            Label::Pos => "pos",
        }
    }

    /// Parses `neg`, `neu` or `pos`.
    pub fn parse(s: &str) -> Option<Label> {
        match s {
            "neg" => Some(Label::Neg),
            "neu" => Some(Label::Neu),
            "pos" => Some(Label::Pos),
            _ => None,
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sentiment of one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sentiment {
    /// In [-1, 1]; `neg` at or under -0.05, `pos` at or over 0.05.
    pub score: f32,
    pub label: Label,
}

/// Score boundary of the labels, equal to the detector's negative threshold.
pub(crate) const LABEL_THRESHOLD: f32 = 0.05;

/// Raw compound magnitude under which a text is neutral (tuned on the dev
/// files for the whole set, not per source; see `eval-sentiment`).
const NEUTRAL_BAND_NEG: f32 = 0.10;
const NEUTRAL_BAND_POS: f32 = 0.30;

/// Multiplier of a negated valence (VADER's N_SCALAR).
const NEGATION: f32 = -0.74;
/// Added to |valence| for a word in CAPS amid lowercase (VADER's C_INCR).
const CAPS: f32 = 0.733;
/// Added to |valence| for an elongated word (`nuuuul`).
const ELONGATION: f32 = 0.4;
/// Added to the sum per `!`, at most four times (VADER).
const EXCLAMATION: f32 = 0.292;
/// Weights around a contrast word.
const BEFORE_CONTRAST: f32 = 0.5;
const AFTER_CONTRAST: f32 = 1.5;
const CONCESSIVE: f32 = 0.5;
/// Valence of a content word outside the lexicon right after an excess
/// word (`too long`, `too late`).
const EXCESS: f32 = -1.0;
/// Words that are not content words for [`EXCESS`] (`I too was`, `me too`).
const NOT_CONTENT: &[&str] = &[
    "the", "and", "was", "were", "are", "has", "had", "have", "for", "you", "his", "her", "its",
    "our", "their", "this", "that", "who", "can", "will", "did", "does", "with",
];
/// VADER's normalisation constant.
const ALPHA: f32 = 15.0;

/// Scores `text` written in `lang`: with that language's own learned model
/// for the languages served (`en`, `fr`), with the lexicon and rules
/// otherwise (see [`score_lexicon`]).
pub fn score(text: &str, lang: &str) -> Sentiment {
    score_parts_slice(&[text], lang, Scorer::Auto)
}

/// Scores `text` with the lexicon and rules only (`fr`, `en`; any other
/// code, `und` included, is scored with both lexicons and the one that
/// recognises more words wins). This is the fallback of [`score`] for
/// languages without a model, and one of the model's features.
pub fn score_lexicon(text: &str, lang: &str) -> Sentiment {
    score_parts_slice(&[text], lang, Scorer::Lexicon)
}

/// Scores a title and a text together, as if separated by a full stop.
pub(crate) fn score_parts(title: &str, text: &str, lang: &str) -> Sentiment {
    score_parts_slice(&[title, text], lang, Scorer::Auto)
}

/// Which scorer [`score_with`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scorer {
    /// The learned model where the language has one, else the lexicon.
    Auto,
    /// The lexicon and rules only.
    Lexicon,
}

/// Scores `text` with the scorer asked for (`eval-sentiment --compare`).
pub fn score_with(text: &str, lang: &str, scorer: Scorer) -> Sentiment {
    score_parts_slice(&[text], lang, scorer)
}

/// Languages [`score`] gives to the shipped model: both that have weights.
/// French is served since its n-grams learn from XED's French subtitles
/// and, on held-out French training rows, the model beats the lexicon
/// (`models/README.md`); other languages keep the lexicon.
const SERVED: [&str; 2] = ["en", "fr"];

/// Index of `lang` in the model's languages, when the shipped scorer uses
/// the model for it.
fn model_lang(lang: &str) -> Option<usize> {
    if !SERVED.contains(&lang) {
        return None;
    }
    LANGS.iter().position(|&l| l == lang)
}

fn score_parts_slice(text: &[&str], lang: &str, scorer: Scorer) -> Sentiment {
    match scorer {
        Scorer::Auto => score_per_language(text, lang, &model::SHIPPED),
        Scorer::Lexicon => score_lexicon_parts(text, lang),
    }
}

/// Scores with `models`: the language's own model where it has one and is
/// served, the lexicon otherwise. No other language's model is read.
fn score_per_language(text: &[&str], lang: &str, models: &PerLanguage) -> Sentiment {
    match model_lang(lang).and_then(|li| Some((li, models.get(li)?))) {
        Some((li, m)) => score_model(text, li, m),
        None => score_lexicon_parts(text, lang),
    }
}

fn score_lexicon_parts(text: &[&str], lang: &str) -> Sentiment {
    let lex = &*LEXICONS;
    let raw = SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        match lang {
            "fr" => analyse(text, &lex.fr, lex, s).sum,
            "en" => analyse(text, &lex.en, lex, s).sum,
            _ => {
                let en = analyse(text, &lex.en, lex, s);
                let fr = analyse(text, &lex.fr, lex, s);
                if fr.hits > en.hits { fr.sum } else { en.sum }
            }
        }
    });
    from_raw(raw)
}

/// Scores with `m` (language index `li`).
fn score_model(text: &[&str], li: usize, m: &Model) -> Sentiment {
    if text.iter().all(|t| t.trim().is_empty()) {
        // Nothing to read: neutral at 0, as the lexicon says.
        return Sentiment {
            score: 0.0,
            label: Label::Neu,
        };
    }
    let lex = &*LEXICONS;
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        let mut f = std::mem::take(&mut s.features);
        extract(text, li, m.params.bits, lex, s, &mut f);
        let p = m.predict(&f);
        s.features = f;
        from_probabilities(p)
    })
}

/// Scores `text` with models loaded from files (`eval-sentiment
/// --model`): each language with a model by its own, the lexicon otherwise.
pub(crate) fn score_with_models(text: &str, lang: &str, models: &PerLanguage) -> Sentiment {
    match LANGS.iter().position(|&l| l == lang) {
        Some(li) => match models.get(li) {
            Some(m) => score_model(&[text], li, m),
            None => score_lexicon(text, lang),
        },
        None => score_lexicon(text, lang),
    }
}

/// The public score and label of the model's class probabilities (neg,
/// neu, pos): the label is the likeliest class, the score P(pos) − P(neg),
/// moved just inside or outside the ±0.05 boundaries so that the label and
/// the score agree (a neutral text stays within the band, in proportion).
fn from_probabilities(p: [f32; 3]) -> Sentiment {
    let d = (p[2] - p[0]).clamp(-1.0, 1.0);
    let label = if p[1] >= p[0] && p[1] >= p[2] {
        Label::Neu
    } else if p[2] > p[0] {
        Label::Pos
    } else {
        Label::Neg
    };
    let score = match label {
        Label::Neu => d * (LABEL_THRESHOLD * 0.98),
        Label::Pos => d.max(LABEL_THRESHOLD),
        Label::Neg => d.min(-LABEL_THRESHOLD),
    };
    Sentiment { score, label }
}

/// Hashed feature kinds.
const UNIGRAM: u8 = 0;
const BIGRAM: u8 = 1;
const CHARGRAM: u8 = 2;
const NEGATED: u8 = 3;
const EMOJI: u8 = 4;

/// Fills `f` with the model's features of `parts` in language `li` (an
/// index into [`LANGS`]), for a hash table of `bits` bits: the lexicon
/// analysis as dense features, then hashed word uni/bi-grams (a word in a
/// negation's scope hashed apart), character 3-grams of each word with its
/// boundaries, and emoji polarity.
pub(crate) fn features(parts: &[&str], li: usize, bits: u32, f: &mut Features) {
    let lex = &*LEXICONS;
    SCRATCH.with(|s| extract(parts, li, bits, lex, &mut s.borrow_mut(), f));
}

fn extract(
    parts: &[&str],
    li: usize,
    bits: u32,
    lex: &Lexicons,
    s: &mut Scratch,
    f: &mut Features,
) {
    let lang = if LANGS[li] == "fr" { &lex.fr } else { &lex.en };
    let a = analyse(parts, lang, lex, s);
    let squash = |x: f32| {
        if x == 0.0 {
            0.0
        } else {
            x / (x * x + ALPHA).sqrt()
        }
    };
    f.dense = [0.0; model::DENSE];
    f.dense[li] = 1.0;
    let c = squash(a.sum);
    let shared: [f32; DENSE_SHARED] = [
        c,
        from_raw(a.sum).score,
        squash(a.pos),
        squash(a.neg),
        f32::from(u8::from(a.hits > 0)),
        a.negated.min(3) as f32 / 3.0,
        f32::from(u8::from(a.contrast)),
        squash(a.emoji),
        a.exclamations.min(4) as f32 / 4.0,
        f32::from(u8::from(parts.iter().any(|p| p.contains('?')))),
        f32::from(u8::from(s.toks.iter().any(|t| t.caps))),
        ((1 + a.words) as f32).ln() / 4.0,
        c.abs(),
        f32::from(u8::from(s.toks.iter().any(|t| t.elongated))),
        // Opinion density: news-like sentences carry few lexicon words.
        a.hits as f32 / a.words.max(1) as f32,
        chunks(parts, |c| c.starts_with("http") || c.starts_with("www.")).min(2) as f32 / 2.0,
        chunks(parts, |c| c.starts_with('@')).min(3) as f32 / 3.0,
        chunks(parts, |c| c.starts_with('#')).min(3) as f32 / 3.0,
    ];
    f.dense[LANGS.len()..LANGS.len() + DENSE_SHARED].copy_from_slice(&shared);
    let copy = LANGS.len() + DENSE_SHARED * (1 + li);
    f.dense[copy..copy + DENSE_SHARED].copy_from_slice(&shared);

    f.hashed.clear();
    let buf = &s.buf;
    let mut prev: Option<&str> = None;
    for t in &s.toks {
        match t.kind {
            Kind::Break => prev = None,
            Kind::Emo(v) => {
                let sign: &[u8] = if v > 0.0 { b"+" } else { b"-" };
                f.hashed.push(model::bucket(
                    model::fnv(model::seed(li, EMOJI), sign),
                    bits,
                ));
                prev = None;
            }
            Kind::Word => {
                let w = &buf[t.start as usize..t.end as usize];
                let kind = if t.negated { NEGATED } else { UNIGRAM };
                f.hashed.push(model::bucket(
                    model::fnv(model::seed(li, kind), w.as_bytes()),
                    bits,
                ));
                let h = model::fnv(model::seed(li, BIGRAM), prev.unwrap_or("").as_bytes());
                f.hashed
                    .push(model::bucket(model::fnv(h ^ 0xff, w.as_bytes()), bits));
                prev = Some(w);
                let b = w.as_bytes();
                if b.len() >= 3 && b.len() <= 24 {
                    // Boundary-marked 3-grams: `^ab`, `abc`, …, `yz$`.
                    let s = model::seed(li, CHARGRAM);
                    f.hashed
                        .push(model::bucket(model::fnv(s, &[b'^', b[0], b[1]]), bits));
                    for g in b.windows(3) {
                        f.hashed.push(model::bucket(model::fnv(s, g), bits));
                    }
                    let n = b.len();
                    f.hashed.push(model::bucket(
                        model::fnv(s, &[b[n - 2], b[n - 1], b'$']),
                        bits,
                    ));
                }
            }
        }
    }
    if prev.is_some() || s.toks.is_empty() {
        // End-of-text bigram.
        let h = model::fnv(model::seed(li, BIGRAM), prev.unwrap_or("").as_bytes());
        f.hashed
            .push(model::bucket(model::fnv(h ^ 0xfe, b""), bits));
    }
}

/// How many whitespace-separated chunks of `parts` satisfy `f`.
fn chunks(parts: &[&str], f: impl Fn(&str) -> bool) -> usize {
    parts
        .iter()
        .flat_map(|p| p.split_whitespace())
        .filter(|c| f(c))
        .count()
}

/// Whether the shipped models of every served language are loaded (false
/// only if an embedded file is damaged).
pub fn model_loaded() -> bool {
    model::SHIPPED.complete()
}

/// Size of the embedded model files in bytes (one per language); the loaded
/// models take about as much memory again.
pub fn model_bytes() -> usize {
    model::EMBEDDED.iter().map(|b| b.len()).sum()
}

/// Maps a raw valence sum to the public score and label.
fn from_raw(sum: f32) -> Sentiment {
    let c = if sum == 0.0 {
        0.0
    } else {
        (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
    };
    let band = if c < 0.0 {
        NEUTRAL_BAND_NEG
    } else {
        NEUTRAL_BAND_POS
    };
    let m = c.abs();
    let mapped = if m < band {
        m / band * LABEL_THRESHOLD
    } else {
        LABEL_THRESHOLD + (m - band) / (1.0 - band) * (1.0 - LABEL_THRESHOLD)
    };
    let score = (mapped * c.signum()).clamp(-1.0, 1.0);
    let label = if score <= -LABEL_THRESHOLD {
        Label::Neg
    } else if score >= LABEL_THRESHOLD {
        Label::Pos
    } else {
        Label::Neu
    };
    Sentiment { score, label }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Word,
    /// An emoji or emoticon with its valence.
    Emo(f32),
    /// Clause punctuation: ends negation and booster scope.
    Break,
}

/// One token; words point into `Scratch::buf`.
#[derive(Debug, Clone, Copy)]
struct Tok {
    start: u32,
    end: u32,
    kind: Kind,
    caps: bool,
    elongated: bool,
    /// Set by the analysis: the word is in a negation's scope.
    negated: bool,
}

#[derive(Default)]
struct Scratch {
    /// Folded words, concatenated.
    buf: String,
    toks: Vec<Tok>,
    /// Phrase look-up key.
    key: String,
    /// The model's features of the last text.
    features: Features,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Result of one pass over a text with one language's lexicon.
#[derive(Debug, Clone, Copy, Default)]
struct Analysis {
    sum: f32,
    /// Lexicon terms (sentiment or modifier) recognised.
    hits: u32,
    /// The positive and negative parts of `sum` (before `!` emphasis).
    pos: f32,
    neg: f32,
    /// Valences flipped by a negation.
    negated: u32,
    /// Whether a contrast or concessive word weighed the clauses.
    contrast: bool,
    /// Sum of emoji and emoticon valences.
    emoji: f32,
    exclamations: u32,
    words: u32,
}

impl Analysis {
    fn add(&mut self, v: f32) {
        self.sum += v;
        if v > 0.0 {
            self.pos += v;
        } else {
            self.neg += v;
        }
    }
}

/// Tokenizer state for the word being read.
struct WordState {
    start: usize,
    letters: u32,
    upper: u32,
    prev_lower: bool,
}

fn tokenize(parts: &[&str], lang: &LangLexicon, lex: &Lexicons, s: &mut Scratch) -> u32 {
    s.buf.clear();
    s.toks.clear();
    let mut exclamations = 0u32;
    for (n, chunk) in parts
        .iter()
        .enumerate()
        .flat_map(|(n, p)| p.split_whitespace().map(move |c| (n, c)))
    {
        if n > 0
            && s.toks.last().is_some_and(|t| t.kind != Kind::Break)
            && chunk_starts_part(parts, n, chunk)
        {
            s.toks.push(brk());
        }
        if chunk.starts_with("http") || chunk.starts_with("www.") || chunk.starts_with('@') {
            continue;
        }
        if let Some(&v) = lex.emoticons.get(chunk) {
            s.toks.push(emo(v));
            continue;
        }
        let mut hashtag = false;
        let mut word: Option<WordState> = None;
        for c in chunk.chars() {
            if c.is_alphanumeric() {
                let upper = c.is_uppercase();
                if let Some(w) = &word {
                    // `#BadBuzz` → `bad` `buzz`.
                    if hashtag && upper && w.prev_lower {
                        end_word(&mut word, hashtag, lang, s);
                    }
                }
                let w = word.get_or_insert(WordState {
                    start: s.buf.len(),
                    letters: 0,
                    upper: 0,
                    prev_lower: false,
                });
                if c.is_alphabetic() {
                    w.letters += 1;
                    w.upper += u32::from(upper);
                }
                w.prev_lower = c.is_lowercase();
                push_folded(c, &mut s.buf);
                continue;
            }
            if is_apostrophe(c) && word.is_some() && !lang.split_apostrophes {
                continue; // `don't` → `dont`
            }
            end_word(&mut word, hashtag, lang, s);
            match c {
                '#' => hashtag = true,
                '!' => {
                    exclamations += 1;
                    s.toks.push(brk());
                }
                '.' | ',' | ';' | ':' | '?' | '(' | ')' | '[' | ']' | '"' | '«' | '»' | '…'
                | '|' | '/' | '–' | '—' => s.toks.push(brk()),
                _ if !c.is_ascii() => {
                    if let Some(&v) = lex.emoji.get(&c) {
                        s.toks.push(emo(v));
                    }
                }
                _ => {}
            }
        }
        end_word(&mut word, hashtag, lang, s);
    }
    exclamations
}

/// Whether `chunk` is the first chunk of part `n`.
fn chunk_starts_part(parts: &[&str], n: usize, chunk: &str) -> bool {
    parts[n].trim_start().as_ptr() == chunk.as_ptr()
}

fn emo(v: f32) -> Tok {
    Tok {
        start: 0,
        end: 0,
        kind: Kind::Emo(v),
        caps: false,
        elongated: false,
        negated: false,
    }
}

fn brk() -> Tok {
    Tok {
        start: 0,
        end: 0,
        kind: Kind::Break,
        caps: false,
        elongated: false,
        negated: false,
    }
}

/// Closes the word being read: collapses elongations (`nuuuul` → `nuul`,
/// retried as `nul` at look-up) and splits unknown hashtags.
fn end_word(word: &mut Option<WordState>, hashtag: bool, lang: &LangLexicon, s: &mut Scratch) {
    let Some(w) = word.take() else { return };
    let elongated = collapse_runs(&mut s.buf, w.start);
    let end = s.buf.len();
    let tok = Tok {
        start: w.start as u32,
        end: end as u32,
        kind: Kind::Word,
        caps: w.letters >= 2 && w.upper == w.letters,
        elongated,
        negated: false,
    };
    if hashtag && lang.get(&s.buf[w.start..end]).is_none() && split_hashtag(tok, lang, s) {
        return;
    }
    s.toks.push(tok);
}

/// Rewrites runs of 3+ identical characters from `start` on to 2; returns
/// whether any was found.
fn collapse_runs(buf: &mut String, start: usize) -> bool {
    let b = &buf.as_bytes()[start..];
    if !b.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return false;
    }
    let word: String = buf[start..].to_owned();
    buf.truncate(start);
    let (mut prev, mut run) = ('\0', 0);
    for c in word.chars() {
        run = if c == prev { run + 1 } else { 1 };
        prev = c;
        if run <= 2 {
            buf.push(c);
        }
    }
    true
}

/// Splits a hashtag unknown to the lexicon into two known terms
/// (`#arnaquetotale` → `arnaque` `totale`), or keeps its longest known
/// sentiment-bearing prefix or suffix. Returns whether tokens were pushed.
fn split_hashtag(tok: Tok, lang: &LangLexicon, s: &mut Scratch) -> bool {
    let (start, end) = (tok.start as usize, tok.end as usize);
    let word = &s.buf[start..end];
    if word.len() < 6 || !word.is_ascii() {
        return false;
    }
    let known = |w: &str| lang.get(w).is_some();
    let sentiment = |w: &str| w.len() >= 4 && lang.valence(w).is_some();
    let mut best: Option<(usize, usize)> = None;
    for k in (3..=word.len() - 3).rev() {
        let (a, b) = word.split_at(k);
        if known(a) && known(b) && (sentiment(a) || sentiment(b) || lang.valence(a).is_some()) {
            s.toks.push(Tok {
                end: (start + k) as u32,
                ..tok
            });
            s.toks.push(Tok {
                start: (start + k) as u32,
                ..tok
            });
            return true;
        }
        if best.is_none() && sentiment(a) {
            best = Some((start, start + k));
        }
        if best.is_none() && sentiment(b) {
            best = Some((start + k, end));
        }
    }
    match best {
        Some((a, b)) => {
            s.toks.push(Tok {
                start: a as u32,
                end: b as u32,
                ..tok
            });
            true
        }
        None => false,
    }
}

fn analyse(text: &[&str], lang: &LangLexicon, lex: &Lexicons, s: &mut Scratch) -> Analysis {
    let exclamations = tokenize(text, lang, lex, s);
    let Scratch { buf, toks, key, .. } = s;
    let word = |t: &Tok| &buf[t.start as usize..t.end as usize];

    // CAPS only emphasises when the rest is not shouting too.
    let (mut words, mut caps) = (0u32, 0u32);
    for t in toks.iter().filter(|t| t.kind == Kind::Word) {
        words += 1;
        caps += u32::from(t.caps);
    }
    let caps_emphasis = caps > 0 && caps < words;

    let mut out = Analysis {
        exclamations,
        words,
        ..Analysis::default()
    };
    let mut neg_scope = 0u8;
    let mut ne_only = false; // scope opened by a bare `ne`, cancelled by `que`
    let mut boost = 0.0f32;
    let mut boost_left = 0u8;
    let mut weight = 1.0f32;
    let mut concessive = false;
    // Set by an excess word (`too`) for the word right after it.
    let mut excess_next = false;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        match t.kind {
            Kind::Break => {
                neg_scope = 0;
                boost_left = 0;
                excess_next = false;
                if concessive {
                    concessive = false;
                    weight = AFTER_CONTRAST;
                }
                i += 1;
                continue;
            }
            Kind::Emo(v) => {
                excess_next = false;
                out.add(v * weight);
                out.emoji += v;
                out.hits += 1;
                i += 1;
                continue;
            }
            Kind::Word => toks[i].negated = neg_scope > 0,
        }
        let (term, len) = longest_match(i, toks, buf, key, lang);
        let next = i + len;
        let excess = std::mem::take(&mut excess_next);
        let Some(term) = term else {
            let w = word(&t);
            if excess && w.len() >= 3 && !NOT_CONTENT.contains(&w) {
                let v = if neg_scope > 0 {
                    EXCESS * NEGATION
                } else {
                    EXCESS
                };
                out.add(v * weight);
                out.hits += 1;
            }
            if ne_only && matches!(word(&t), "que" | "qu") {
                neg_scope = 0;
                ne_only = false;
            }
            neg_scope = neg_scope.saturating_sub(1);
            boost_left = boost_left.saturating_sub(1);
            i = next;
            continue;
        };
        out.hits += 1;
        // A word both modifier and sentiment (`super`, `no`, `grave`) modifies
        // only when a sentiment word follows.
        let modifier = match (term.modifier, term.valence) {
            (Some(m), Some(_)) => {
                let follows = toks
                    .get(next)
                    .is_some_and(|n| n.kind == Kind::Word && lang.valence(word(n)).is_some());
                follows.then_some(m)
            }
            (m, _) => m,
        };
        match (modifier, term.valence) {
            (Some(Modifier::Negator { scope }), _) => {
                let bare_ne = len == 1 && matches!(word(&t), "ne" | "n");
                ne_only = bare_ne && (neg_scope == 0 || ne_only);
                neg_scope = scope + len as u8; // the decrement below is for this term
            }
            (Some(Modifier::Booster { delta }), _) => {
                boost += delta;
                boost_left = 2 + 1;
            }
            (Some(Modifier::Excess { delta }), _) => {
                boost += delta;
                boost_left = 2 + 1;
                excess_next = true;
            }
            (Some(Modifier::Contrast { concessive: c }), _) => {
                neg_scope = 0;
                boost_left = 0;
                out.contrast = true;
                if c {
                    concessive = true;
                    weight = CONCESSIVE;
                } else if out.sum != 0.0 {
                    out.sum *= BEFORE_CONTRAST;
                    out.pos *= BEFORE_CONTRAST;
                    out.neg *= BEFORE_CONTRAST;
                    weight = AFTER_CONTRAST;
                } else {
                    // Nothing to contrast with (`But the…` opening a text):
                    // the clause after weighs as usual.
                    weight = 1.0;
                }
                i = next;
                continue;
            }
            (None, Some(v)) => {
                let sign = v.signum();
                let mut m = v.abs();
                let span = &toks[i..next];
                if caps_emphasis && span.iter().any(|t| t.caps) {
                    m += CAPS;
                }
                if span.iter().any(|t| t.elongated) {
                    m += ELONGATION;
                }
                if boost_left > 0 {
                    m = (m + boost).max(m * 0.3);
                }
                let mut v = sign * m;
                // `je n'ai toujours pas reçu`: a phrase that carries the
                // `pas` of a bare `ne` is that negation, not a second one.
                let carries_negation = ne_only
                    && len > 1
                    && toks[i..next].iter().any(|t| {
                        matches!(
                            word(t),
                            "pas" | "plus" | "jamais" | "rien" | "aucun" | "aucune"
                        )
                    });
                if neg_scope > 0 && !carries_negation {
                    v *= NEGATION;
                    out.negated += 1;
                }
                out.add(v * weight);
                boost = 0.0;
                boost_left = 0;
            }
            (None, None) => {}
        }
        if boost_left == 0 {
            boost = 0.0;
        }
        neg_scope = neg_scope.saturating_sub(len as u8);
        boost_left = boost_left.saturating_sub(1);
        i = next;
    }
    if out.sum != 0.0 {
        out.sum += out.sum.signum() * EXCLAMATION * exclamations.min(4) as f32;
    }
    out
}

/// The longest lexicon term starting at word `i` and how many words it
/// covers (1 when nothing matches). An elongated word is retried with its
/// runs collapsed to one letter (`nuul` → `nul`).
fn longest_match<'l>(
    i: usize,
    toks: &[Tok],
    buf: &str,
    key: &mut String,
    lang: &'l LangLexicon,
) -> (Option<&'l Term>, usize) {
    let t = toks[i];
    let first = &buf[t.start as usize..t.end as usize];
    let mut best = lang.get(first).map(|term| (term, 1));
    if best.is_none() && t.elongated {
        key.clear();
        let mut prev = '\0';
        for c in first.chars() {
            if c != prev {
                key.push(c);
            }
            prev = c;
        }
        best = lang.get(key).map(|term| (term, 1));
    }
    if best.is_none() && lang.get(first).is_none() {
        best = backoff(first, lang, key).map(|term| (term, 1));
    }
    if lang.is_prefix(first) {
        key.clear();
        key.push_str(first);
        let mut j = i;
        while lang.is_prefix(key) {
            j += 1;
            let Some(n) = toks.get(j).filter(|n| n.kind == Kind::Word) else {
                break;
            };
            key.push(' ');
            key.push_str(&buf[n.start as usize..n.end as usize]);
            if let Some(term) = lang.get(key) {
                best = Some((term, j - i + 1));
            }
        }
    }
    match best {
        Some((term, len)) => (Some(term), len),
        None => (None, 1),
    }
}

/// Retries a word missing from the lexicon as a related form that has a
/// valence (see [`Backoff`]); `key` is scratch space.
fn backoff<'l>(word: &str, lang: &'l LangLexicon, key: &mut String) -> Option<&'l Term> {
    let valenced = |k: &str| lang.get(k).filter(|t| t.valence.is_some());
    if word.len() < 5 || !word.is_ascii() {
        return None;
    }
    match lang.backoff {
        Backoff::None => None,
        Backoff::English => {
            let stem = word.strip_suffix("ly")?;
            key.clear();
            if let Some(s) = stem.strip_suffix('i') {
                key.push_str(s); // happily → happy
                key.push('y');
            } else if stem.ends_with("bl") {
                key.push_str(stem); // horribly → horrible
                key.push('e');
            } else {
                key.push_str(stem); // poorly → poor
            }
            valenced(key)
        }
        Backoff::French => {
            let singular = word.strip_suffix(['s', 'x']);
            if let Some(t) = singular.and_then(valenced) {
                return Some(t);
            }
            let base = singular.unwrap_or(word);
            for (fem, masc) in FEMININE {
                if let Some(stem) = base.strip_suffix(fem) {
                    key.clear();
                    key.push_str(stem);
                    key.push_str(masc);
                    if let Some(t) = valenced(key) {
                        return Some(t);
                    }
                }
            }
            None
        }
    }
}

/// Regular French feminine endings (folded) and their masculine.
const FEMININE: [(&str, &str); 9] = [
    ("euse", "eux"),
    ("euse", "eur"),
    ("ive", "if"),
    ("ee", "e"),
    ("ante", "ant"),
    ("ente", "ent"),
    ("elle", "el"),
    ("ienne", "ien"),
    ("ite", "it"),
];

#[cfg(test)]
mod tests {
    use super::*;

    // These cases test the lexicon and its rules, which stay the fallback
    // and the model's features; `tests/sentiment_model.rs` runs the same
    // kind of cases through the shipped scorer.
    #[track_caller]
    fn check(lang: &str, text: &str, expected: Label) {
        let s = score_lexicon(text, lang);
        assert_eq!(s.label, expected, "{lang} {text:?} scored {}", s.score);
    }

    fn raw(lang: &str, text: &str) -> f32 {
        score_lexicon(text, lang).score
    }

    #[test]
    fn plain_words_in_both_languages() {
        check("fr", "J'adore ce produit", Label::Pos);
        check("fr", "c'est nul", Label::Neg);
        check("fr", "Le colis est arrivé mardi", Label::Neu);
        check("en", "I love this product", Label::Pos);
        check("en", "this is awful", Label::Neg);
        check("en", "The parcel arrived on Tuesday", Label::Neu);
    }

    #[test]
    fn negation_with_scope_french() {
        check("fr", "pas terrible", Label::Neg);
        check("fr", "je ne suis pas du tout satisfait", Label::Neg);
        check("fr", "jamais plus je ne commanderai chez eux", Label::Neg);
        check("fr", "je ne l'aime plus", Label::Neg);
        check("fr", "livraison rapide et sans problème", Label::Pos);
        assert!(raw("fr", "sans problème") > 0.0);
        check("fr", "pas mal du tout", Label::Pos);
        check("fr", "ce n'est pas génial", Label::Neg);
        // `ne … que` means "only": not a negation.
        check("fr", "je n'ai que des éloges, excellent", Label::Pos);
        // Punctuation ends the scope.
        check("fr", "pas reçu, mais le service est excellent", Label::Pos);
    }

    #[test]
    fn negation_with_scope_english() {
        check("en", "not bad", Label::Pos);
        check("en", "never again", Label::Neg);
        check("en", "I don't like it", Label::Neg);
        check("en", "this isn't good at all", Label::Neg);
        check("en", "no problem at all", Label::Pos);
        check("en", "not at all happy", Label::Neg);
    }

    #[test]
    fn a_phrase_holding_the_pas_of_ne_is_not_negated_twice() {
        check("fr", "je n'ai toujours pas reçu ma commande", Label::Neg);
        check("fr", "il n'y a toujours pas de réponse", Label::Neg);
        check("fr", "je ne suis pas content", Label::Neg);
    }

    #[test]
    fn counterfactual_modals_negate() {
        check("en", "it could have been better", Label::Neg);
        check("en", "it should have been great", Label::Neg);
        check("en", "it could have been worse", Label::Pos);
        check("en", "far from perfect", Label::Neg);
        check("fr", "ça aurait pu être mieux", Label::Neg);
        check("fr", "loin d'être parfait", Label::Neg);
        check("fr", "faute de succès", Label::Neg);
    }

    #[test]
    fn excess_before_an_unknown_word_is_negative() {
        check("en", "way too long", Label::Neg);
        check("en", "too late", Label::Neg);
        check("en", "not too bad", Label::Pos);
        check("en", "me too", Label::Neu);
        check("en", "I love it too", Label::Pos);
        assert!(raw("en", "too expensive") < raw("en", "expensive"));
        check("fr", "c'est trop long", Label::Neg);
        check("fr", "trop bien", Label::Pos);
    }

    #[test]
    fn inflected_forms_back_off_to_the_lexicon_form() {
        check("fr", "des résultats catastrophiques", Label::Neg);
        check("fr", "une réponse créative", Label::Pos);
        assert!(raw("fr", "boostée") > 0.0);
        check("fr", "des réponses décevantes", Label::Neg);
        check("en", "poorly made", Label::Neg);
        check("en", "superbly acted", Label::Pos);
        // An adverb whose adjective means something else is not backed off.
        check("en", "likely tomorrow", Label::Neu);
    }

    #[test]
    fn department_names_are_neutral() {
        check("en", "I called customer service", Label::Neu);
        check("en", "customer support was awful", Label::Neg);
        check("fr", "j'ai appelé le service client", Label::Neu);
        check("fr", "le service client est nul", Label::Neg);
    }

    #[test]
    fn conditional_clause_weighs_less() {
        assert!(raw("en", "if it is good") < raw("en", "it is good"));
        assert!(raw("en", "if it is good") > 0.0);
        check(
            "en",
            "if you liked the first one, this is awful",
            Label::Neg,
        );
    }

    #[test]
    fn afinn_words_are_known() {
        check("en", "atrocious", Label::Neg);
        check("en", "bankruptcy", Label::Neg);
    }

    #[test]
    fn intensifiers_and_diminishers() {
        assert!(raw("fr", "très bon") > raw("fr", "bon"));
        assert!(raw("fr", "vraiment nul") < raw("fr", "nul"));
        assert!(raw("fr", "trop cher") < raw("fr", "cher"));
        assert!(raw("fr", "un peu déçu") > raw("fr", "déçu"));
        assert!(raw("fr", "un peu déçu") < 0.0);
        assert!(raw("en", "so good") > raw("en", "good"));
        assert!(raw("en", "barely good") < raw("en", "good"));
        assert!(raw("en", "barely good") > 0.0);
    }

    #[test]
    fn contrast_favours_the_clause_after() {
        check(
            "fr",
            "le produit est bien mais le service client est nul",
            Label::Neg,
        );
        check(
            "fr",
            "livraison lente, pourtant le produit est excellent",
            Label::Pos,
        );
        check(
            "en",
            "the food was good but the service was terrible",
            Label::Neg,
        );
        check("en", "it was expensive, however it works great", Label::Pos);
        check(
            "en",
            "although the staff was nice, the room was horrible",
            Label::Neg,
        );
    }

    #[test]
    fn contrast_opening_a_text_changes_nothing() {
        assert_eq!(raw("en", "But it is good"), raw("en", "it is good"));
        assert_eq!(raw("fr", "Mais c'est bien"), raw("fr", "c'est bien"));
    }

    #[test]
    fn emojis_and_emoticons() {
        check("fr", "Ma commande 😡", Label::Neg);
        check("fr", "reçu aujourd'hui 😍", Label::Pos);
        check("en", "my order :(", Label::Neg);
        check("en", "got it today :)", Label::Pos);
        check("en", "delivery 👍", Label::Pos);
    }

    #[test]
    fn caps_and_exclamations_emphasise() {
        assert!(raw("fr", "c'est NUL") < raw("fr", "c'est nul"));
        assert!(raw("fr", "c'est nul !!!") < raw("fr", "c'est nul"));
        assert!(raw("en", "this is GREAT") > raw("en", "this is great"));
        assert!(raw("en", "this is great!!!") > raw("en", "this is great"));
    }

    #[test]
    fn elongations_are_recognised_and_emphasise() {
        check("fr", "nuuuul", Label::Neg);
        assert!(raw("fr", "c'est nuuuul") < raw("fr", "c'est nul"));
        check("en", "sooo good", Label::Pos);
        assert!(raw("en", "goooood") > 0.0);
    }

    #[test]
    fn french_elision_and_contractions() {
        check("fr", "j'adore", Label::Pos);
        check("fr", "c'est nul", Label::Neg);
        check("fr", "n'importe quoi ce service", Label::Neg);
        check("fr", "l'arnaque du siècle", Label::Neg);
        check("fr", "qu’ils aillent au diable, c’est honteux", Label::Neg);
        check("en", "I can't stand it", Label::Neg);
        check("en", "it's wonderful", Label::Pos);
    }

    #[test]
    fn hashtags_are_split_into_words() {
        check("fr", "#arnaque", Label::Neg);
        check("fr", "encore une #ArnaqueTotale", Label::Neg);
        check("fr", "#arnaquetotale", Label::Neg);
        check("en", "#scam", Label::Neg);
        check("en", "#BestDayEver", Label::Pos);
    }

    #[test]
    fn e_reputation_vocabulary_french() {
        for text in [
            "Acme, c'est une arnaque",
            "escroquerie totale",
            "j'attends toujours mon remboursement",
            "boycott Acme",
            "quel scandale",
            "c'est honteux",
            "rappel de produit chez Acme",
            "encore une panne",
            "fuite de données chez Acme",
            "je vais porter plainte",
            "service client injoignable",
        ] {
            check("fr", text, Label::Neg);
            assert_eq!(score(text, "fr").label, Label::Neg, "model: {text}");
        }
    }

    #[test]
    fn e_reputation_vocabulary_english() {
        for text in [
            "Acme is a scam",
            "still waiting for my refund",
            "another product recall",
            "major outage today",
            "Acme data breach",
            "class action lawsuit against Acme",
            "unreachable support",
            "boycott Acme",
        ] {
            check("en", text, Label::Neg);
            assert_eq!(score(text, "en").label, Label::Neg, "model: {text}");
        }
    }

    #[test]
    fn case_and_accent_insensitive() {
        assert_eq!(raw("fr", "DÉÇU"), raw("fr", "DECU"));
        assert_eq!(raw("fr", "décevant"), raw("fr", "decevant"));
        assert_eq!(raw("fr", "Génial"), raw("fr", "génial"));
    }

    #[test]
    fn unknown_language_uses_the_better_lexicon() {
        check("und", "c'est une arnaque", Label::Neg);
        check("und", "great stuff", Label::Pos);
        check("de", "", Label::Neu);
    }

    #[test]
    fn urls_and_handles_are_ignored() {
        check("en", "@terrible http://awful.example", Label::Neu);
    }

    #[test]
    fn model_scores_agree_with_their_labels() {
        for p in [
            [0.2, 0.5, 0.3],
            [0.5, 0.1, 0.4],
            [0.1, 0.2, 0.7],
            [0.34, 0.33, 0.33],
            [0.0, 1.0, 0.0],
        ] {
            let s = from_probabilities(p);
            assert!((-1.0..=1.0).contains(&s.score));
            let from_score = if s.score <= -LABEL_THRESHOLD {
                Label::Neg
            } else if s.score >= LABEL_THRESHOLD {
                Label::Pos
            } else {
                Label::Neu
            };
            assert_eq!(s.label, from_score, "{p:?} → {s:?}");
        }
        assert_eq!(from_probabilities([0.2, 0.5, 0.3]).label, Label::Neu);
        assert!(from_probabilities([0.1, 0.2, 0.7]).score > 0.5);
    }

    #[test]
    fn dense_features_have_a_copy_for_the_text_language_only() {
        let mut f = Features::default();
        features(&["this is a total scam!"], 0, 18, &mut f);
        let shared = LANGS.len()..LANGS.len() + DENSE_SHARED;
        let en = LANGS.len() + DENSE_SHARED..LANGS.len() + 2 * DENSE_SHARED;
        let fr = LANGS.len() + 2 * DENSE_SHARED..model::DENSE;
        assert!(f.dense[shared.clone()].iter().any(|&x| x != 0.0));
        assert_eq!(f.dense[shared.clone()], f.dense[en]);
        assert!(f.dense[fr.clone()].iter().all(|&x| x == 0.0));
        features(&["c'est une arnaque !"], 1, 18, &mut f);
        assert_eq!(f.dense[shared], f.dense[fr]);
        assert_eq!(f.dense[..LANGS.len()], [0.0, 1.0]);
    }

    #[test]
    fn features_are_deterministic_and_language_seeded() {
        let mut a = Features::default();
        let mut b = Features::default();
        features(&["toujours pas de réponse"], 1, 18, &mut a);
        features(&["toujours pas de réponse"], 1, 18, &mut b);
        assert_eq!(a.hashed, b.hashed);
        assert_eq!(a.dense, b.dense);
        features(&["toujours pas de réponse"], 0, 18, &mut b);
        assert_ne!(a.hashed, b.hashed);
        assert!(a.hashed.iter().all(|&h| h < 1 << 18));
        // A word in a negation's scope is hashed apart from the plain word.
        let mut plain = Features::default();
        features(&["rapide"], 1, 18, &mut plain);
        features(&["ce n'est pas rapide"], 1, 18, &mut a);
        // [0] unigram, [1] bigram from the start, [2] the 3-gram `^ra`.
        assert!(a.hashed.contains(&plain.hashed[2]));
        assert!(!a.hashed.contains(&plain.hashed[0]));
        features(&["c'est rapide"], 1, 18, &mut a);
        assert!(a.hashed.contains(&plain.hashed[0]));
    }

    #[test]
    fn score_stays_in_range() {
        let s = score(&"nul ".repeat(500), "fr");
        assert!((-1.0..=1.0).contains(&s.score));
        let s = score(&"génial! 😍 ".repeat(500), "fr");
        assert!((-1.0..=1.0).contains(&s.score));
        assert_eq!(score("", "fr").score, 0.0);
        assert_eq!(score(" \n", "en").label, Label::Neu);
        assert_eq!(score(" \n", "en").score, 0.0);
    }

    /// Rows (label, text) of a committed training file.
    fn rows(tsv: &str) -> Vec<(Label, &str)> {
        tsv.lines()
            .skip(1)
            .filter_map(|line| {
                let cols: Vec<&str> = line.split('\t').collect();
                Some((Label::parse(cols.get(2)?)?, *cols.get(3)?))
            })
            .collect()
    }

    #[test]
    fn an_english_only_retrain_changes_no_french_score() {
        // Retrain English alone, on the committed English rows, with other
        // settings than the shipped ones, and put it next to the shipped
        // French model, as a new `models/sentiment-en.bin` would be.
        let en_rows = rows(include_str!("../../models/data/veilleur-en.tsv"));
        let examples: Vec<model::Example> = en_rows
            .iter()
            .map(|&(label, text)| {
                let mut f = Features::default();
                features(&[text], 0, 18, &mut f);
                model::Example {
                    features: f,
                    class: crate::cmd::eval_sentiment::index(label),
                    lang: 0,
                    source: 0,
                }
            })
            .collect();
        let params = model::Params {
            epochs: 2,
            ..model::Params::default()
        };
        let retrained = model::train(&examples, params, 0.5, model::DenseMode::Both).to_bytes();
        let (composed, errors) = PerLanguage::from_files([&retrained, model::EMBEDDED[1]]);
        assert!(errors.is_empty(), "{errors:?}");
        // Every French score is the shipped one, to the bit.
        let fr_rows = rows(include_str!("../../models/data/veilleur-fr.tsv"));
        assert!(fr_rows.len() > 100);
        for (_, text) in &fr_rows {
            let shipped = score(text, "fr");
            let now = score_per_language(&[text], "fr", &composed);
            assert_eq!(
                (now.score.to_bits(), now.label),
                (shipped.score.to_bits(), shipped.label),
                "{text}"
            );
        }
        // The retrain did change English, and French is read by its model.
        let changed = en_rows
            .iter()
            .filter(|(_, t)| score_per_language(&[t], "en", &composed) != score(t, "en"))
            .count();
        assert!(changed > 10, "only {changed} English scores changed");
        assert!(
            fr_rows
                .iter()
                .any(|(_, t)| score(t, "fr") != score_lexicon(t, "fr"))
        );
    }

    #[test]
    fn a_language_without_its_file_falls_back_to_the_lexicon_alone() {
        // A damaged French file leaves English on its model and French on
        // the lexicon.
        let (models, errors) = PerLanguage::from_files([model::EMBEDDED[0], b"VSM1"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "fr");
        assert!(!models.complete());
        for text in ["toujours pas de réponse du service client", "bof", "génial"] {
            assert_eq!(
                score_per_language(&[text], "fr", &models),
                score_lexicon(text, "fr")
            );
        }
        for text in ["meh", "still waiting for my refund", "not bad"] {
            assert_eq!(
                score_per_language(&[text], "en", &models),
                score(text, "en")
            );
        }
    }

    #[test]
    fn labels_serialise_lowercase() {
        assert_eq!(serde_json::to_string(&Label::Neg).unwrap(), "\"neg\"");
        assert_eq!(Label::parse("pos"), Some(Label::Pos));
    }
}
