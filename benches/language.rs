//! Language detection compared on labelled TSV files (columns id, lang,
//! label, text): veilleur's detector, whatlang alone and lingua, restricted
//! to the same seven languages — share correct, `und` and wrong, and texts/s
//! on one core. Takes the paths as arguments (the data is external):
//! `cargo bench --bench language -- ../shared/eval/sentiment/en-dev.tsv ../shared/eval/sentiment/fr-dev.tsv`

use lingua::{Language, LanguageDetectorBuilder};
use std::time::Instant;

fn code(l: Language) -> &'static str {
    match l {
        Language::English => "en",
        Language::French => "fr",
        Language::Spanish => "es",
        Language::German => "de",
        Language::Italian => "it",
        Language::Portuguese => "pt",
        Language::Dutch => "nl",
    }
}

fn main() {
    let paths: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if paths.is_empty() {
        println!(
            "usage: cargo bench --bench language -- FILE.tsv... (TSV with columns id, lang, label, text)"
        );
        return;
    }
    let mut rows = Vec::new();
    for p in paths {
        for line in std::fs::read_to_string(&p).unwrap().lines().skip(1) {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            if f.len() == 4 {
                rows.push((f[1].to_string(), f[3].to_string()));
            }
        }
    }
    let langs = [
        Language::English,
        Language::French,
        Language::Spanish,
        Language::German,
        Language::Italian,
        Language::Portuguese,
        Language::Dutch,
    ];
    let lingua = LanguageDetectorBuilder::from_languages(&langs).build();
    let lingua_conf = LanguageDetectorBuilder::from_languages(&langs)
        .with_minimum_relative_distance(0.25)
        .build();
    let wl = whatlang::Detector::with_allowlist(vec![
        whatlang::Lang::Eng,
        whatlang::Lang::Fra,
        whatlang::Lang::Spa,
        whatlang::Lang::Deu,
        whatlang::Lang::Ita,
        whatlang::Lang::Por,
        whatlang::Lang::Nld,
    ]);
    let tally = |name: &str, f: &dyn Fn(&str) -> String| {
        let t = Instant::now();
        let (mut ok, mut und, mut bad) = (0, 0, 0);
        for (gold, text) in &rows {
            let got = f(text);
            if got == "und" {
                und += 1
            } else if &got == gold {
                ok += 1
            } else {
                bad += 1
            }
        }
        let n = rows.len() as f64;
        println!(
            "{name:<34} correct {:.3}  und {:.3}  wrong {:.3}  {:>9.0} texts/s",
            ok as f64 / n,
            und as f64 / n,
            bad as f64 / n,
            n / t.elapsed().as_secs_f64()
        );
    };
    let _ = lingua.detect_language_of("warm up the models");
    let _ = lingua_conf.detect_language_of("préchauffer les modèles");
    println!("{} rows", rows.len());
    tally("veilleur (function words+whatlang)", &|t| {
        veilleur::enrich::lang::detect(t).to_string()
    });
    tally("whatlang alone (allowlist 7)", &|t| {
        wl.detect(t)
            .filter(|i| i.is_reliable())
            .map(|i| {
                match i.lang() {
                    whatlang::Lang::Eng => "en",
                    whatlang::Lang::Fra => "fr",
                    whatlang::Lang::Spa => "es",
                    whatlang::Lang::Deu => "de",
                    whatlang::Lang::Ita => "it",
                    whatlang::Lang::Por => "pt",
                    _ => "nl",
                }
                .to_string()
            })
            .unwrap_or("und".into())
    });
    tally("lingua 1.8 (7 languages)", &|t| {
        lingua
            .detect_language_of(t)
            .map(|l| code(l).to_string())
            .unwrap_or("und".into())
    });
    tally("lingua 1.8 (min distance 0.25)", &|t| {
        lingua_conf
            .detect_language_of(t)
            .map(|l| code(l).to_string())
            .unwrap_or("und".into())
    });
}
