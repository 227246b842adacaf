//! Language identification of short social posts.
//!
//! Two signals are combined: function words (closed-class words that make
//! up a large share of any sentence, so they speak even in a five-word
//! tweet) and whatlang's trigram model restricted to the languages we
//! support. Function words decide short texts, where trigrams are noisy;
//! whatlang breaks ties and decides texts with none. A text with too few
//! letters, or where neither signal is clear, is `und`. URLs, `@handles`
//! and hashtags are ignored: they are names, not language.
//!
//! Cost: one hash look-up per token in one table of every function word
//! (each with the set of languages listing it), a scan that stops once the
//! function words lead beyond doubt, and the text for the trigrams built
//! only when function words did not decide.

use std::cell::RefCell;
use std::collections::HashMap;

use whatlang::{Detector, Lang};

use super::fold::{is_apostrophe, push_folded};

/// Languages we detect, in ISO 639-1, indexed like [`FUNCTION_WORDS`].
pub const LANGS: [&str; 7] = ["fr", "en", "es", "de", "it", "pt", "nl"];

/// Undetermined: too short, mixed or unreliable.
pub(crate) const UND: &str = "und";

/// Fewer letters than this (URLs, handles and hashtags excluded) is `und`.
const MIN_LETTERS: usize = 8;

/// Folded function words per language; a word listed for several languages
/// counts for each, divided by how many.
const FUNCTION_WORDS: [&[&str]; 7] = [
    // fr
    &[
        "le", "la", "les", "des", "du", "un", "une", "et", "est", "sont", "pas", "je", "tu", "il",
        "elle", "nous", "vous", "ils", "elles", "que", "qui", "dans", "pour", "sur", "avec", "ce",
        "cette", "ces", "mais", "ou", "au", "aux", "c", "j", "l", "d", "n", "qu", "s", "m", "plus",
        "tres", "mon", "ma", "mes", "ton", "ta", "leur", "tout", "bien", "on", "ne", "se", "sa",
        "ses", "suis", "ai", "avez", "etait", "fait", "comme", "quand", "aussi", "encore", "merci",
        "toujours", "rien", "trop", "moi", "toi", "y", "car", "donc", "chez", "ca", "deja",
    ],
    // en
    &[
        "the", "and", "is", "are", "was", "were", "to", "of", "it", "this", "that", "for", "with",
        "you", "i", "my", "not", "be", "have", "has", "had", "on", "at", "just", "so", "but",
        "what", "they", "we", "me", "your", "its", "dont", "im", "can", "will", "all", "get",
        "from", "about", "would", "there", "their", "been", "if", "or", "an", "do", "did", "very",
        "really", "than", "when", "who", "which", "out", "up", "how", "our", "he", "she", "his",
        "her", "them", "too", "no", "by", "like", "one", "more", "after", "still", "why",
    ],
    // es
    &[
        "el", "los", "las", "y", "es", "que", "del", "por", "para", "con", "una", "lo", "se", "no",
        "muy", "pero", "como", "mas", "esta", "esto", "hay", "yo", "mi", "tu", "al", "la", "de",
        "en", "un", "su", "sus", "le", "ya", "todo", "porque", "cuando", "tiene", "son", "fue",
        "estoy", "este", "gracias", "nada", "bien", "hoy", "nos", "ni", "pues",
    ],
    // de
    &[
        "der", "die", "das", "und", "ist", "nicht", "ich", "du", "es", "ein", "eine", "mit", "auf",
        "den", "dem", "zu", "von", "sich", "auch", "wie", "aber", "sehr", "wir", "sie", "noch",
        "nur", "fur", "im", "bei", "mein", "meine", "hat", "habe", "war", "wird", "kein", "keine",
        "schon", "mal", "doch", "oder", "wenn", "dass", "wieder", "heute", "danke", "nach",
    ],
    // it
    &[
        "il", "lo", "gli", "della", "di", "che", "non", "e", "per", "con", "una", "sono", "ma",
        "come", "anche", "piu", "questo", "questa", "mi", "ho", "hai", "ci", "sei", "molto", "nel",
        "alla", "cosa", "grazie", "del", "la", "le", "un", "si", "ha", "io", "tutto", "sempre",
        "ancora", "oggi", "perche", "solo", "dei", "delle", "sul", "gia",
    ],
    // pt
    &[
        "o", "os", "as", "do", "da", "dos", "das", "em", "um", "uma", "nao", "com", "para", "que",
        "se", "muito", "mais", "mas", "voce", "eu", "ele", "ela", "isso", "esta", "tem", "foi",
        "sao", "meu", "minha", "obrigado", "obrigada", "no", "na", "nos", "e", "de", "ao", "por",
        "tudo", "ja", "hoje", "quando", "porque", "ainda", "sem", "pra", "estou",
    ],
    // nl
    &[
        "de", "het", "een", "en", "van", "is", "niet", "ik", "je", "dat", "die", "met", "op",
        "voor", "zijn", "maar", "ook", "als", "wat", "er", "naar", "dit", "wel", "nog", "heel",
        "geen", "bij", "mijn", "te", "in", "aan", "om", "hij", "ze", "we", "was", "heb", "hebben",
        "kan", "nu", "dan", "al", "zo", "echt", "wordt", "of",
    ],
];

/// Function votes stop counting once the leader has this many…
const EARLY_VOTES: f32 = 6.0;
/// …and this many times the runner-up's: the rest of a long article cannot
/// turn such a lead (the decision below needs only twice).
const EARLY_LEAD: f32 = 4.0;

/// A function word's languages: bit `i` for [`LANGS`]`[i]`.
type LangSet = u8;

/// Every function word once, with the languages listing it: one hash
/// look-up per token instead of a scan of seven lists.
static WORDS: std::sync::LazyLock<HashMap<&'static str, LangSet, Fnv>> =
    std::sync::LazyLock::new(|| {
        let mut m = HashMap::with_capacity_and_hasher(400, Fnv);
        for (i, list) in FUNCTION_WORDS.iter().enumerate() {
            for w in *list {
                *m.entry(*w).or_insert(0) |= 1 << i;
            }
        }
        m
    });

/// FNV-1a: function words are a few ASCII bytes, where SipHash's set-up
/// costs more than the hashing; nobody chooses the keys of this table.
#[derive(Clone, Copy, Default)]
struct Fnv;

struct FnvHasher(u64);

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

struct Scratch {
    folded: String,
    cleaned: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { folded: String::new(), cleaned: String::new() })
    };
}

static DETECTOR: std::sync::LazyLock<Detector> = std::sync::LazyLock::new(|| {
    Detector::with_allowlist(vec![
        Lang::Fra,
        Lang::Eng,
        Lang::Spa,
        Lang::Deu,
        Lang::Ita,
        Lang::Por,
        Lang::Nld,
    ])
});

/// ISO 639-1 code of the text's language among fr, en, es, de, it, pt, nl,
/// or `und` when too short, mixed or unreliable.
pub fn detect(text: &str) -> &'static str {
    detect_parts(text, "")
}

/// [`detect`] over a title and a text together.
pub(crate) fn detect_parts(title: &str, text: &str) -> &'static str {
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        detect_in(&[title, text], s)
    })
}

/// Whether a whitespace-separated chunk is a name rather than language.
fn is_name(chunk: &str) -> bool {
    chunk.starts_with("http")
        || chunk.starts_with("www.")
        || chunk.starts_with('@')
        || chunk.starts_with('#')
}

fn detect_in(parts: &[&str], s: &mut Scratch) -> &'static str {
    let mut votes = [0.0f32; 7];
    let mut letters = 0usize;
    'scan: for chunk in parts.iter().flat_map(|p| p.split_whitespace()) {
        if is_name(chunk) {
            continue;
        }
        s.folded.clear();
        let mut voted = false;
        for c in chunk.chars() {
            if c.is_alphabetic() {
                letters += 1;
                push_folded(c, &mut s.folded);
            } else {
                // `l'arnaque`, `c'est`, `don't`: the part before an apostrophe
                // is a word of its own (French elision); English `don't` →
                // `don` + `t`, neither listed, which costs little.
                if (is_apostrophe(c) || !c.is_alphanumeric()) && !s.folded.is_empty() {
                    voted |= vote(&s.folded, &mut votes);
                }
                s.folded.clear();
            }
        }
        if !s.folded.is_empty() {
            voted |= vote(&s.folded, &mut votes);
        }
        if voted && letters >= MIN_LETTERS {
            let (_, best_v, second_v) = top2(&votes);
            if best_v >= EARLY_VOTES && best_v >= EARLY_LEAD * second_v {
                break 'scan;
            }
        }
    }
    if letters < MIN_LETTERS {
        return UND;
    }
    let (best, best_v, second_v) = top2(&votes);
    // Function words clearly in favour: trust them.
    if best_v >= 2.0 && best_v >= 2.0 * second_v {
        return LANGS[best];
    }
    // Only now the text for the trigrams: most texts never need it.
    s.cleaned.clear();
    for chunk in parts.iter().flat_map(|p| p.split_whitespace()) {
        if !is_name(chunk) {
            s.cleaned.push_str(chunk);
            s.cleaned.push(' ');
        }
    }
    let trigram = DETECTOR.detect(&s.cleaned).and_then(|info| {
        let i = LANGS.iter().position(|&l| l == iso639_1(info.lang()))?;
        Some((i, info.confidence() as f32, info.is_reliable()))
    });
    match trigram {
        // Trigrams agree with the leading function words, or are confident
        // and function words do not contradict them.
        Some((i, conf, reliable)) => {
            let margin = votes[i] - best_v;
            if (i == best && best_v > second_v)
                || (reliable && margin > -1.0)
                || (conf >= 0.3 && margin >= 0.0)
            {
                LANGS[i]
            } else if best_v >= 1.0 && best_v > second_v + 0.5 {
                LANGS[best]
            } else {
                UND
            }
        }
        None if best_v >= 1.0 && best_v > second_v + 0.5 => LANGS[best],
        None => UND,
    }
}

/// Counts `word` for the languages listing it, divided by how many; whether
/// it is a function word.
fn vote(word: &str, votes: &mut [f32; 7]) -> bool {
    let Some(&set) = WORDS.get(word) else {
        return false;
    };
    let w = 1.0 / set.count_ones() as f32;
    for (i, v) in votes.iter_mut().enumerate() {
        if set & (1 << i) != 0 {
            *v += w;
        }
    }
    true
}

fn top2(votes: &[f32; 7]) -> (usize, f32, f32) {
    let mut best = 0;
    for i in 1..votes.len() {
        if votes[i] > votes[best] {
            best = i;
        }
    }
    let second = votes
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != best)
        .map(|(_, &v)| v)
        .fold(0.0f32, f32::max);
    (best, votes[best], second)
}

fn iso639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Fra => "fr",
        Lang::Eng => "en",
        Lang::Spa => "es",
        Lang::Deu => "de",
        Lang::Ita => "it",
        Lang::Por => "pt",
        Lang::Nld => "nl",
        _ => UND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: &str) {
        assert_eq!(detect(text), expected, "{text:?}");
    }

    #[test]
    fn short_french_posts() {
        check("c'est nul, je ne recommande pas", "fr");
        check("Service client injoignable depuis trois jours", "fr");
        check("J'adore leur nouvelle pub 😍", "fr");
        check("Encore une panne chez @acme ce matin #fail", "fr");
    }

    #[test]
    fn short_english_posts() {
        check("this is a scam, never again", "en");
        check("Still waiting for my refund from @acme", "en");
        check("I love the new ad 😍", "en");
        check("Worst customer service ever", "en");
    }

    #[test]
    fn short_spanish_german_and_others() {
        check("El servicio de atención al cliente es muy malo", "es");
        check("Ich warte immer noch auf meine Rückerstattung", "de");
        check("Il servizio clienti non risponde mai", "it");
        check("O atendimento ao cliente é muito ruim", "pt");
        check("De klantenservice is echt slecht", "nl");
    }

    #[test]
    fn every_function_word_is_in_the_table_with_its_languages() {
        for (i, list) in FUNCTION_WORDS.iter().enumerate() {
            for w in *list {
                let set = WORDS.get(w).copied().unwrap_or(0);
                assert!(set & (1 << i) != 0, "{w:?} for {}", LANGS[i]);
            }
        }
        let listed = |w: &str| FUNCTION_WORDS.iter().filter(|l| l.contains(&w)).count();
        for (w, set) in WORDS.iter() {
            assert_eq!(set.count_ones() as usize, listed(w), "{w:?}");
        }
    }

    #[test]
    fn a_long_article_is_decided_by_its_beginning() {
        let fr = "Le service client de la marque est injoignable depuis trois jours et les \
                  abonnés se plaignent sur les réseaux sociaux, mais la direction ne répond pas.";
        // An English quote after a clear French lead does not change it…
        check(
            &format!("{fr} {fr} \"This is the worst service I have ever had\""),
            "fr",
        );
        // …and a text that is English throughout stays English.
        let en = "The customer service of the brand has been unreachable for three days and \
                  the subscribers complain on social media, but the management does not answer.";
        check(&format!("{en} {en}"), "en");
    }

    #[test]
    fn very_short_or_empty_text_is_und() {
        check("", "und");
        check("ok", "und");
        check("lol 😂", "und");
        check("@acme http://t.co/x #fail", "und");
    }
}
