//! Matcher throughput: mentions per second on one core, for 10, 100, 1,000
//! and 10,000 watches, over a generated French/English corpus of short posts
//! (85 %) and news items (15 %) with hashtags, handles, elisions, accents and
//! emojis. Brands are drawn with a Zipf-like popularity, so a bigger rule set
//! also means more mentions that hit a watch and need a tree evaluation.
//!
//! ```text
//! cargo bench --bench matcher            # release build, prints a table
//! cargo bench --bench matcher -- 50000   # corpus size (default 20,000)
//! ```
//!
//! Goal (issue 3): ≥ 200,000 mentions/s at 1,000 watches; 10,000 watches at
//! most 2× slower than 10.

use std::hint::black_box;
use std::time::{Duration, Instant};

use veilleur::rules::RuleSet;
use veilleur::rules::matcher::Matcher;

fn main() {
    let n_mentions: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mut rng = corpus::Rng::new(0xC0FFEE);
    let mentions: Vec<_> = (0..n_mentions)
        .map(|i| corpus::mention(&mut rng, i))
        .collect();
    let words: usize = mentions
        .iter()
        .map(|m| veilleur::text::words(&m.title).len() + veilleur::text::words(&m.text).len())
        .sum();
    println!(
        "corpus: {n_mentions} mentions, {:.1} words each on average",
        words as f64 / n_mentions as f64
    );
    println!(
        "{:>8} {:>14} {:>12} {:>10}",
        "watches", "mentions/s", "ns/mention", "hits"
    );
    let mut first = None;
    for n_watches in [10, 100, 1_000, 10_000] {
        let rules = RuleSet {
            watches: (0..n_watches).map(corpus::watch).collect(),
        };
        let matcher = Matcher::new(&rules);
        // Warm up, and count hits once.
        let hits: usize = mentions.iter().map(|m| matcher.matches(m).len()).sum();
        let mut rounds = 0u32;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) || rounds < 2 {
            for m in &mentions {
                black_box(matcher.matches(black_box(m)));
            }
            rounds += 1;
        }
        let per_s = (mentions.len() as f64 * f64::from(rounds)) / start.elapsed().as_secs_f64();
        println!(
            "{n_watches:>8} {per_s:>14.0} {:>12.0} {hits:>10}",
            1e9 / per_s
        );
        let base = *first.get_or_insert(per_s);
        if n_watches == 10_000 {
            println!("slowdown 10,000 vs 10 watches: {:.2}x", base / per_s);
        }
    }
}

/// The generated corpus and rule sets, shared with `benches/search.rs`
/// (which includes this file as a module).
pub(crate) mod corpus {
    use chrono::{DateTime, Duration, Utc};
    use veilleur::mention::Mention;
    use veilleur::rules::{Watch, query};

    /// xorshift64*: deterministic, no dependency.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.max(1))
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        pub(crate) fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len())]
        }

        /// Zipf-like index in 0..n: small indices much more likely.
        pub(crate) fn zipf(&mut self, n: usize) -> usize {
            let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
        }
    }

    const FR: &[&str] = &[
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "et",
        "est",
        "pas",
        "que",
        "qui",
        "dans",
        "pour",
        "sur",
        "avec",
        "mais",
        "très",
        "vraiment",
        "encore",
        "toujours",
        "jamais",
        "service",
        "client",
        "commande",
        "livraison",
        "colis",
        "remboursement",
        "réclamation",
        "attente",
        "semaine",
        "aujourd'hui",
        "depuis",
        "merci",
        "bravo",
        "nul",
        "génial",
        "déçu",
        "problème",
        "panne",
        "appli",
        "site",
        "prix",
        "hausse",
        "offre",
        "produit",
        "qualité",
        "équipe",
        "réponse",
        "conseiller",
        "téléphone",
        "magasin",
        "retard",
        "annulé",
        "grève",
        "rappel",
        "sécurité",
        "données",
        "fuite",
        "enquête",
        "scandale",
        "arnaque",
        "avis",
        "clients",
        "l'entreprise",
        "l'application",
        "d'attente",
        "qu'ils",
        "n'est",
        "c'est",
        "j'ai",
        "m'a",
        "s'il",
        "l'équipe",
        "d'un",
        "d'une",
        "à",
        "où",
        "été",
        "fait",
        "dit",
        "veut",
    ];
    const EN: &[&str] = &[
        "the",
        "a",
        "an",
        "and",
        "is",
        "not",
        "that",
        "who",
        "in",
        "for",
        "on",
        "with",
        "but",
        "really",
        "still",
        "never",
        "customer",
        "service",
        "order",
        "delivery",
        "parcel",
        "refund",
        "complaint",
        "waiting",
        "week",
        "today",
        "since",
        "thanks",
        "great",
        "awful",
        "disappointed",
        "problem",
        "outage",
        "app",
        "website",
        "price",
        "increase",
        "offer",
        "product",
        "quality",
        "team",
        "answer",
        "support",
        "phone",
        "store",
        "late",
        "cancelled",
        "strike",
        "recall",
        "security",
        "data",
        "breach",
        "investigation",
        "scandal",
        "scam",
        "review",
        "customers",
        "don't",
        "it's",
        "I'm",
        "can't",
        "they're",
    ];
    const TAGS: &[&str] = &[
        "#fail", "#sav", "#service", "#boycott", "#news", "#tech", "#grève", "#promo", "@support",
        "@sncf", "@orange", "😡", "👍", "🔥", "🙏", "😂",
    ];
    const SYL: &[&str] = &[
        "ac", "me", "glo", "bex", "ini", "tech", "vor", "tal", "zen", "pha", "ro", "lux", "dy",
        "nam", "ix", "cor", "pa", "sol", "ver", "qui", "nex", "ta", "bo", "lia", "mo", "ra",
    ];
    const SOURCES: &[&str] = &["feed", "reddit", "mastodon", "bluesky", "news"];

    /// Brand name `i`: three syllables and the index, unique.
    pub(crate) fn brand(i: usize) -> String {
        let n = SYL.len();
        format!(
            "{}{}{}{i}",
            SYL[i % n],
            SYL[(i / n) % n],
            SYL[(i / n / n) % n]
        )
    }

    /// Brand pool the corpus mentions (as many as the biggest rule set).
    pub(crate) const BRANDS: usize = 10_000;

    fn sentence(rng: &mut Rng, words: usize, fr: bool) -> String {
        let mut s = String::new();
        for k in 0..words {
            let w: String = match rng.below(100) {
                0..=4 => brand(rng.zipf(BRANDS)),
                5..=9 => rng.pick(TAGS).to_string(),
                10..=12 => {
                    let b = brand(rng.zipf(BRANDS));
                    match rng.below(3) {
                        0 => format!("#{b}"),
                        1 => format!("@{b}"),
                        _ => format!("d'{}", b.to_uppercase()),
                    }
                }
                _ => rng.pick(if fr { FR } else { EN }).to_string(),
            };
            if k > 0 {
                s.push_str(if rng.below(8) == 0 { ", " } else { " " });
            }
            s.push_str(&w);
        }
        s.push_str(if rng.below(3) == 0 { " !" } else { "." });
        s
    }

    /// Mention `i`: a short post (85 %) or a news item with a title (15 %).
    pub(crate) fn mention(rng: &mut Rng, i: usize) -> Mention {
        let fr = rng.below(10) < 6;
        let news = rng.below(100) < 15;
        let (title, text) = if news {
            let mut body = Vec::new();
            for _ in 0..3 + rng.below(5) {
                let n = 12 + rng.below(20);
                body.push(sentence(rng, n, fr));
            }
            let n = 6 + rng.below(6);
            (sentence(rng, n, fr), body.join(" "))
        } else {
            let n = 8 + rng.below(30);
            (String::new(), sentence(rng, n, fr))
        };
        let published: DateTime<Utc> =
            DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_760_000_000 + i as i64 * 7);
        Mention {
            id: format!("m{i}"),
            source: rng.pick(SOURCES).to_string(),
            url: format!("https://{}.example.org/p/{i}", rng.pick(SOURCES)),
            title,
            text,
            author: format!("@user{}", rng.below(5_000)),
            author_followers: Some(rng.below(100_000) as u64),
            published,
            lang: Some(if fr { "fr" } else { "en" }.to_string()),
            sentiment: None,
            watches: Vec::new(),
        }
    }

    /// Query `i` of a rule set: brand `i` in one of the usual watch shapes.
    pub(crate) fn watch_query(i: usize) -> (String, Option<String>) {
        let b = brand(i);
        match i % 5 {
            0 => (
                format!(r#""{b}" OR @{b} OR #{b}"#),
                Some(format!(r#""{b} promo""#)),
            ),
            1 => (
                format!(r#"{b} (arnaque OR scam* OR panne OR "service client")"#),
                None,
            ),
            2 => (
                format!("{b} NEAR/5 (remboursement OR refund OR réclamation)"),
                None,
            ),
            3 => (format!("({b} OR #{b}) NOT (concours OR #promo)"), None),
            _ => (format!(r#"title:{b} OR "{b} support" OR @{b}"#), None),
        }
    }

    /// Watch `i`, with a language filter on one watch in three.
    pub(crate) fn watch(i: usize) -> Watch {
        let (q, exclude) = watch_query(i);
        Watch {
            name: format!("w{i}"),
            query: query::parse(&q).unwrap_or_else(|e| panic!("{q}: {e}")),
            exclude: exclude.map(|x| query::parse(&x).unwrap_or_else(|e| panic!("{x}: {e}"))),
            languages: if i.is_multiple_of(3) {
                vec!["fr".into()]
            } else {
                Vec::new()
            },
            sources: Vec::new(),
            tags: Vec::new(),
            alerts: Vec::new(),
            path: format!("w{i}.toml").into(),
        }
    }
}
