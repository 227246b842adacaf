//! The one text analyzer, shared by the streaming matcher and the tantivy index.
//!
//! Owns how text becomes searchable tokens, so that `rules::matcher` and
//! `store::index` agree on every document: the matcher calls [`for_each_token`]
//! directly; the index registers the same function as a tantivy tokenizer
//! (see `store::index`), and the query parser analyzes query words with it too.
//! It does not know about queries, fields or watches.
//!
//! The rules, in order:
//!
//! * **Words** are runs of alphanumeric characters (Unicode), combining marks
//!   included. Everything else separates words: `covid-19` is `covid` `19`,
//!   `acme.fr` is `acme` `fr`.
//! * **Case and accents fold**: lowercase, canonical decomposition with the
//!   combining marks dropped, plus the letters that do not decompose
//!   (`œ`→`oe`, `æ`→`ae`, `ß`→`ss`, `ø`→`o`, `ł`→`l`, `đ`→`d`, `ı`→`i`).
//!   `Réclamation`, `RECLAMATION` and `réclamation` all give `reclamation`.
//! * **French elision**: a word among `l d j m n s t c qu jusqu lorsqu puisqu
//!   quoiqu`, directly followed by an apostrophe (`'`, `’` or `ʼ`) and a word,
//!   is dropped and takes no position: `l'arnaque d’Acme` gives `arnaque acme`
//!   at positions 0 and 1. Any other apostrophe only separates
//!   (`aujourd'hui` gives `aujourd` `hui`, `don't` gives `don` `t`).
//! * **Hashtags and handles** are tokens of their own, sigil included:
//!   `#` or `@` not preceded by a word character and followed by one starts a
//!   tag whose body is alphanumerics and `_`: `#BoycottAcmé` gives
//!   `#boycottacme`, `@acme_fr` gives `@acme_fr`. So the word `boycott` does
//!   not match `#boycott`, and `#boycott` does not match the word. An `@`
//!   inside a word only separates (`contact@acme.fr` gives `contact` `acme` `fr`).
//! * **Emojis** are one token per pictograph (`😡😡` gives two `😡`); variation
//!   selectors, zero-width joiners, skin-tone and tag modifiers are dropped, so
//!   `👍🏽` is `👍`.
//! * A token longer than [`MAX_TOKEN_BYTES`] is dropped and takes no position
//!   (tantivy cannot index very long terms; both back ends must see the same).
//!
//! Invariants: the output only depends on the input string; positions start at
//! 0 and increase by exactly 1 per emitted token; every token is non-empty and
//! already normalized (analyzing a token again gives the same single token,
//! except for tags, whose sigil the analyzer only keeps at a tag's start).

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Tokens longer than this many bytes (after normalization) are dropped.
pub(crate) const MAX_TOKEN_BYTES: usize = 200;

/// French elided words dropped before an apostrophe.
const ELISIONS: [&str; 13] = [
    "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu",
];

/// One analyzed token: normalized text, position, byte range in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg(test)]
pub(crate) struct Token {
    pub text: String,
    pub position: u32,
    pub from: usize,
    pub to: usize,
}

/// Analyzes `text`, calling `f(token, position, byte_from, byte_to)` for each
/// token in order. The token `&str` is only valid during the call; this is
/// the allocation-free path the matcher uses.
pub(crate) fn for_each_token(text: &str, mut f: impl FnMut(&str, u32, usize, usize)) {
    let mut buf = String::with_capacity(32);
    let mut position: u32 = 0;
    let mut chars = text.char_indices().peekable();
    // Whether the previous character was part of a word (for `#`/`@`).
    let mut prev_word = false;
    while let Some((start, c)) = chars.next() {
        if (c == '#' || c == '@') && !prev_word {
            if let Some(&(_, n)) = chars.peek()
                && is_tag_char(n)
            {
                buf.clear();
                buf.push(c);
                let mut end = start + c.len_utf8();
                while let Some(&(i, n)) = chars.peek() {
                    if !is_tag_char(n) {
                        break;
                    }
                    push_folded(&mut buf, n);
                    end = i + n.len_utf8();
                    chars.next();
                }
                // A tag whose body folds away (`#` and a combining mark) is
                // no token: alone, its sigil would not analyze to itself.
                if buf.len() > c.len_utf8() && buf.len() <= MAX_TOKEN_BYTES {
                    f(&buf, position, start, end);
                    position += 1;
                }
                prev_word = true;
                continue;
            }
            prev_word = false;
            continue;
        }
        if is_word_char(c) {
            buf.clear();
            push_folded(&mut buf, c);
            let mut end = start + c.len_utf8();
            while let Some(&(i, n)) = chars.peek() {
                if !is_word_char(n) {
                    break;
                }
                push_folded(&mut buf, n);
                end = i + n.len_utf8();
                chars.next();
            }
            prev_word = true;
            if ELISIONS.contains(&buf.as_str()) && elided(&text[end..]) {
                continue;
            }
            if buf.len() <= MAX_TOKEN_BYTES && !buf.is_empty() {
                f(&buf, position, start, end);
                position += 1;
            }
            continue;
        }
        prev_word = false;
        if is_pictograph(c) {
            buf.clear();
            buf.push(c);
            f(&buf, position, start, start + c.len_utf8());
            position += 1;
        }
    }
}

/// Analyzes `text` into owned [`Token`]s.
#[cfg(test)]
pub(crate) fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for_each_token(text, |t, position, from, to| {
        out.push(Token {
            text: t.to_string(),
            position,
            from,
            to,
        })
    });
    out
}

/// Analyzes `text` into its token texts only.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, |t, _, _, _| out.push(t.to_string()));
    out
}

/// Normalizes a keyword value (`source:`, `lang:`): trimmed and lowercased,
/// not tokenized. Both back ends compare keywords through this function.
pub fn keyword(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Whether `rest` (the text right after an elision candidate) starts with an
/// apostrophe followed by a word character.
fn elided(rest: &str) -> bool {
    let mut it = rest.chars();
    matches!(it.next(), Some('\'' | '\u{2019}' | '\u{02BC}')) && it.next().is_some_and(is_word_char)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && is_combining_mark(c))
}

fn is_tag_char(c: char) -> bool {
    c == '_' || is_word_char(c)
}

/// Emoji pictographs: the Unicode blocks emojis live in. Characters that are
/// alphanumeric are words first (checked before this).
fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1F3FA | 0x1F400..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF
        | 0x2300..=0x23FF | 0x2190..=0x21FF | 0x203C | 0x2049 | 0x2122 | 0x2139
        | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0xA9 | 0xAE)
}

/// Pushes `c` lowercased, accent-folded, onto `buf`.
fn push_folded(buf: &mut String, c: char) {
    if c.is_ascii() {
        buf.push(c.to_ascii_lowercase());
        return;
    }
    for l in c.to_lowercase() {
        // Decomposed first, so that a letter whose base does not decompose
        // (`ǿ` is `ø` and an accent) folds as far as its base does.
        decompose_canonical(l, |d| {
            if !is_combining_mark(d) {
                push_base(buf, d);
            }
        });
    }
}

/// Pushes a lowercase letter without marks, spelling out the letters that
/// do not decompose.
fn push_base(buf: &mut String, d: char) {
    match d {
        'œ' => buf.push_str("oe"),
        'æ' => buf.push_str("ae"),
        'ß' => buf.push_str("ss"),
        'ø' => buf.push('o'),
        'ł' => buf.push('l'),
        'đ' => buf.push('d'),
        'ı' => buf.push('i'),
        _ => buf.push(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[&str]) {
        assert_eq!(words(input), expected, "analyzing {input:?}");
    }

    #[test]
    fn case_and_accents_fold() {
        check(
            r#"Réclamation RECLAMATION réclamation Acmé"#,
            &["reclamation", "reclamation", "reclamation", "acme"],
        );
        check(
            "Œuvre ÉLÈVE naïve Straße",
            &["oeuvre", "eleve", "naive", "strasse"],
        );
        // Decomposed input (e + combining acute) folds the same.
        check("re\u{301}clamation", &["reclamation"]);
    }

    #[test]
    fn french_elision_is_dropped_with_either_apostrophe() {
        check("l'arnaque d’Acme qu'ils", &["arnaque", "acme", "ils"]);
        check("jusqu'ici lorsqu’on", &["ici", "on"]);
        check("aujourd'hui don't", &["aujourd", "hui", "don", "t"]);
        // A lone article is a word; an apostrophe not followed by a word too.
        check("l ' l'", &["l", "l"]);
        let t = tokens("l'arnaque d'acme");
        assert_eq!((t[0].position, t[1].position), (0, 1));
        assert_eq!(&"l'arnaque d'acme"[t[0].from..t[0].to], "arnaque");
    }

    #[test]
    fn hashtags_and_handles_keep_their_sigil() {
        check("#BoycottAcmé @acme_fr", &["#boycottacme", "@acme_fr"]);
        check("contact@acme.fr", &["contact", "acme", "fr"]);
        check("# @ a#b", &["a", "b"]);
        check("##acme", &["#acme"]);
    }

    #[test]
    fn separators_split_words() {
        check("covid-19, acme.fr!", &["covid", "19", "acme", "fr"]);
        check("", &[]);
        check("  --  ", &[]);
    }

    #[test]
    fn emojis_are_tokens() {
        check("nul😡😡 👍🏽 ❤️", &["nul", "😡", "😡", "👍", "❤"]);
    }

    #[test]
    fn overlong_tokens_are_dropped_without_position() {
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        let t = tokens(&format!("x {long} y"));
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].position, 1);
    }

    /// Every character, alone, after a letter and after each sigil: its
    /// tokens analyze again to themselves (the query parser and the index
    /// rely on it: a printed query parses back to the same words).
    #[test]
    fn analyzing_tokens_again_changes_nothing() {
        let mut broken = Vec::new();
        for c in (0..0x3_0000u32).filter_map(char::from_u32) {
            for input in [
                format!("{c}"),
                format!("a{c}"),
                format!("#{c}"),
                format!("@a{c}"),
            ] {
                let once = words(&input);
                let twice = words(&once.join(" "));
                if once != twice {
                    broken.push((input, once, twice));
                }
            }
        }
        assert!(
            broken.is_empty(),
            "{} not idempotent, first: {:?}",
            broken.len(),
            &broken[..broken.len().min(5)]
        );
        check("ǿ ǽ Ǿ", &["o", "ae", "o"]);
        check("#\u{301} @\u{301}x", &["@x"]);
    }

    #[test]
    fn keyword_is_trimmed_lowercase() {
        assert_eq!(keyword(" Reddit "), "reddit");
    }
}
