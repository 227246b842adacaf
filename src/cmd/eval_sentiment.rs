//! `veilleur eval-sentiment FILE.tsv...`: measures sentiment (and language
//! detection) against labelled files.
//!
//! Each file is TSV with the header `id<TAB>lang<TAB>label<TAB>text` (label `neg`, `neu`
//! or `pos`; no quoting). For each file, and for each source within it (the
//! id's prefix before `:`), it prints accuracy, macro-F1 over the three
//! classes, per-class F1 and the 3×3 confusion matrix; then the accuracy of
//! language detection against the `lang` column, and the scoring throughput
//! (texts per second on one thread, scoring only, file reading excluded).
//! Scoring uses the row's `lang`, as enrichment does when a source gives one.
//!
//! `--by-length` adds the same table by text length (short texts, under
//! 80 characters, apart), and `--compare` reports the lexicon scorer next to
//! the default one (the learned model where the language has one).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::enrich::model::{LANGS, Model, PerLanguage, SHIPPED};
use crate::enrich::sentiment::{Label, Scorer};
use crate::enrich::{lang, sentiment};

const LABELS: [Label; 3] = [Label::Neg, Label::Neu, Label::Pos];

/// A 3×3 confusion matrix, rows = gold label, columns = predicted.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Confusion(pub [[u64; 3]; 3]);

impl Confusion {
    /// Records one prediction.
    pub(crate) fn add(&mut self, gold: Label, predicted: Label) {
        self.0[index(gold)][index(predicted)] += 1;
    }

    /// Number of rows recorded.
    pub(crate) fn total(&self) -> u64 {
        self.0.iter().flatten().sum()
    }

    /// Share of correct predictions (0 when empty).
    pub(crate) fn accuracy(&self) -> f64 {
        let correct: u64 = (0..3).map(|i| self.0[i][i]).sum();
        ratio(correct, self.total())
    }

    /// F1 of one class (0 when undefined).
    pub(crate) fn f1(&self, class: Label) -> f64 {
        let c = index(class);
        let tp = self.0[c][c];
        let predicted: u64 = (0..3).map(|g| self.0[g][c]).sum();
        let gold: u64 = self.0[c].iter().sum();
        let (p, r) = (ratio(tp, predicted), ratio(tp, gold));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Unweighted mean of the three classes' F1.
    pub(crate) fn macro_f1(&self) -> f64 {
        LABELS.iter().map(|&l| self.f1(l)).sum::<f64>() / 3.0
    }
}

/// The class index of a label: 0 neg, 1 neu, 2 pos.
pub(crate) fn index(l: Label) -> usize {
    match l {
        Label::Neg => 0,
        Label::Neu => 1,
        Label::Pos => 2,
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One labelled row.
pub(crate) struct Row {
    pub id: String,
    pub lang: String,
    pub label: Label,
    pub text: String,
}

/// Reads a labelled TSV file (gzip-compressed when its name ends in `.gz`):
/// its rows and the number of malformed lines.
pub(crate) fn read_rows(path: &Path) -> anyhow::Result<(Vec<Row>, usize)> {
    let data = read_text(path)?;
    let mut lines = data.lines();
    match lines.next() {
        Some(h) if h.trim_end() == "id\tlang\tlabel\ttext" => {}
        _ => bail!(
            "{}: first line must be the header `id<TAB>lang<TAB>label<TAB>text`",
            path.display()
        ),
    }
    let mut rows = Vec::new();
    let mut bad = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut it = line.splitn(4, '\t');
        let (Some(id), Some(lang), Some(label), Some(text)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            bad += 1;
            continue;
        };
        let Some(label) = Label::parse(label) else {
            bad += 1;
            continue;
        };
        rows.push(Row {
            id: id.into(),
            lang: lang.into(),
            label,
            text: text.into(),
        });
    }
    Ok((rows, bad))
}

/// The text of a file, decompressed first when its name ends in `.gz`.
pub(crate) fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .with_context(|| format!("{}: not a valid gzip file", path.display()))?;
        out
    } else {
        bytes
    };
    String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))
}

/// What `eval-sentiment` reports beyond the per-file and per-source tables.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// Model files to use instead of the embedded ones (experiments):
    /// `FILE` for every language, `LANG=FILE` for one.
    pub model: Vec<String>,
    /// A table by text length too.
    pub by_length: bool,
    /// The lexicon scorer's figures next to the default scorer's.
    pub compare: bool,
}

/// Length groups of `--by-length`, by characters: upper bound and name.
const LENGTHS: [(usize, &str); 3] = [(80, "len<80"), (200, "len80-199"), (usize::MAX, "len>=200")];

fn length_group(text: &str) -> &'static str {
    let n = text.chars().count();
    LENGTHS
        .iter()
        .find(|(max, _)| n < *max)
        .map_or("len>=200", |(_, name)| name)
}

/// Evaluates each file and prints the report to `out`.
pub(crate) fn run(paths: &[PathBuf], options: Options, out: impl Write) -> anyhow::Result<()> {
    let mut out = out;
    if paths.is_empty() {
        bail!("no file given: pass one or more TSV files with the header id, lang, label, text");
    }
    let model = models_given(&options.model)?;
    let scorers: &[(Scorer, &str)] = if options.compare {
        &[(Scorer::Auto, "model"), (Scorer::Lexicon, "lexicon")]
    } else {
        &[(Scorer::Auto, "model")]
    };
    for path in paths {
        let (rows, bad) = read_rows(path)?;
        writeln!(
            out,
            "== {} ({} rows{})",
            path.display(),
            rows.len(),
            if bad > 0 {
                format!(", {bad} malformed lines skipped")
            } else {
                String::new()
            }
        )?;
        for &(scorer, name) in scorers {
            report(&rows, scorer, name, &options, model.as_ref(), &mut out)?;
        }
        let (mut lang_ok, mut lang_und) = (0u64, 0u64);
        for row in &rows {
            match lang::detect(&row.text) {
                l if l == row.lang => lang_ok += 1,
                lang::UND => lang_und += 1,
                _ => {}
            }
        }
        let n = rows.len() as u64;
        writeln!(
            out,
            "language detection: {:.3} correct, {:.3} und, {:.3} wrong ({} rows)",
            ratio(lang_ok, n),
            ratio(lang_und, n),
            ratio(n - lang_ok - lang_und, n),
            n
        )?;
        writeln!(out)?;
    }
    Ok(())
}

/// The models `--model` asks for: `FILE` for every language, `LANG=FILE`
/// for that language only (the others keep the embedded model); none given,
/// none (the embedded models).
fn models_given(specs: &[String]) -> anyhow::Result<Option<PerLanguage>> {
    let mut out: Option<PerLanguage> = None;
    for spec in specs {
        let (lang, path) = match spec.split_once('=') {
            Some((l, p)) if LANGS.contains(&l) => (Some(l), p),
            _ => (None, spec.as_str()),
        };
        let bytes = std::fs::read(path).with_context(|| format!("reading --model {path}"))?;
        let m = Model::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("--model {path}: {e}"))?;
        out = Some(match (lang, out) {
            (None, _) => PerLanguage::same_for_all(m),
            (Some(l), prev) => {
                let mut p = prev.unwrap_or_else(|| SHIPPED.clone());
                p.set(l, m);
                p
            }
        });
    }
    Ok(out)
}

/// Scores `rows` with one scorer and prints its tables.
fn report(
    rows: &[Row],
    scorer: Scorer,
    name: &str,
    options: &Options,
    model: Option<&PerLanguage>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let score = |t: &str, l: &str| match (scorer, model) {
        (Scorer::Auto, Some(m)) => sentiment::score_with_models(t, l, m),
        _ => sentiment::score_with(t, l, scorer),
    };
    let texts: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.text.as_str(), r.lang.as_str()))
        .collect();
    // The first calls parse the embedded lexicons and model: keep them out
    // of the timing.
    score("", "en");
    let start = Instant::now();
    let predicted: Vec<Label> = texts.iter().map(|&(t, l)| score(t, l).label).collect();
    let elapsed = start.elapsed().as_secs_f64();

    let mut all = Confusion::default();
    let mut by_source: BTreeMap<&str, Confusion> = BTreeMap::new();
    let mut by_length: BTreeMap<&str, Confusion> = BTreeMap::new();
    for (row, &p) in rows.iter().zip(&predicted) {
        all.add(row.label, p);
        let source = row.id.split_once(':').map_or(row.id.as_str(), |(s, _)| s);
        by_source.entry(source).or_default().add(row.label, p);
        by_length
            .entry(length_group(&row.text))
            .or_default()
            .add(row.label, p);
    }
    let label = match scorer {
        Scorer::Auto if model.is_some() => {
            "the model files given (--model) for en and fr, lexicon otherwise"
        }
        Scorer::Auto if sentiment::model_loaded() => "model for en and fr, lexicon otherwise",
        Scorer::Auto => "lexicon (the embedded model is unreadable)",
        Scorer::Lexicon => "lexicon and rules only",
    };
    writeln!(out, "-- scorer: {name} ({label})")?;
    writeln!(
        out,
        "{:<16} {:>6} {:>7} {:>8} {:>7} {:>7} {:>7}",
        "source", "rows", "acc", "macro-F1", "F1 neg", "F1 neu", "F1 pos"
    )?;
    // The per-source rows, then the whole file.
    let groups: Vec<(&str, &Confusion)> = by_source
        .iter()
        .map(|(s, c)| (*s, c))
        .chain(std::iter::once(("all", &all)))
        .collect();
    let lengths: Vec<(&str, &Confusion)> = LENGTHS
        .iter()
        .filter_map(|(_, n)| by_length.get(n).map(|c| (*n, c)))
        .collect();
    let tables: &[(&str, &Confusion)] = &groups;
    for &(source, c) in tables
        .iter()
        .chain(if options.by_length { &lengths[..] } else { &[] })
    {
        writeln!(
            out,
            "{:<16} {:>6} {:>7.3} {:>8.3} {:>7.3} {:>7.3} {:>7.3}",
            source,
            c.total(),
            c.accuracy(),
            c.macro_f1(),
            c.f1(Label::Neg),
            c.f1(Label::Neu),
            c.f1(Label::Pos)
        )?;
    }
    for &(source, c) in &groups {
        writeln!(
            out,
            "confusion {source} (rows = gold, columns = predicted neg/neu/pos)"
        )?;
        for (l, row) in LABELS.iter().zip(c.0) {
            writeln!(
                out,
                "  {:<3} {:>7} {:>7} {:>7}",
                l.as_str(),
                row[0],
                row[1],
                row[2]
            )?;
        }
    }
    let rate = if elapsed > 0.0 {
        rows.len() as f64 / elapsed
    } else {
        0.0
    };
    writeln!(
        out,
        "throughput ({name}): {rate:.0} texts/s (one thread, scoring only)"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_metrics() {
        let mut c = Confusion::default();
        c.add(Label::Neg, Label::Neg);
        c.add(Label::Neg, Label::Neu);
        c.add(Label::Pos, Label::Pos);
        c.add(Label::Neu, Label::Neu);
        assert_eq!(c.total(), 4);
        assert!((c.accuracy() - 0.75).abs() < 1e-9);
        assert!((c.f1(Label::Pos) - 1.0).abs() < 1e-9);
        assert!((c.f1(Label::Neg) - 2.0 / 3.0).abs() < 1e-9);
        assert!((c.f1(Label::Neu) - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn evaluates_a_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tsv");
        std::fs::write(
            &path,
            "id\tlang\tlabel\ttext\na:1\tfr\tneg\tc'est une arnaque honteuse\nb:2\ten\tpos\tI love it, great product\nb:3\ten\tneu\n",
        )
        .unwrap();
        let mut out = Vec::new();
        run(std::slice::from_ref(&path), Options::default(), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("1 malformed lines skipped"), "{out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with("all") && l.contains("1.000")),
            "{out}"
        );
        assert!(out.contains("confusion a"), "{out}");
        assert!(out.contains("throughput (model):"), "{out}");
        assert!(!out.contains("len<80"), "{out}");
        let mut out = Vec::new();
        let options = Options {
            by_length: true,
            compare: true,
            model: Vec::new(),
        };
        run(&[path], options, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("-- scorer: lexicon"), "{out}");
        assert!(out.contains("throughput (lexicon):"), "{out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with("len<80") && l.contains(" 2 ")),
            "{out}"
        );
    }

    #[test]
    fn model_files_replace_one_language_or_all() {
        use crate::enrich::model::EMBEDDED;
        let dir = tempfile::tempdir().unwrap();
        // The shipped French file, given for English: English is then read
        // by French weights, French stays the shipped model.
        let fr = dir.path().join("fr.bin");
        std::fs::write(&fr, EMBEDDED[1]).unwrap();
        let fr = fr.display().to_string();
        let m = models_given(&[format!("en={fr}")]).unwrap().unwrap();
        let shipped_fr = Model::from_bytes(EMBEDDED[1]).unwrap();
        let shipped_en = Model::from_bytes(EMBEDDED[0]).unwrap();
        assert_eq!(m.get(0).unwrap().params, shipped_fr.params);
        assert_eq!(m.get(1).unwrap().params, shipped_fr.params);
        assert_ne!(shipped_en.params, shipped_fr.params);
        let text = "still waiting for my refund";
        assert_eq!(
            sentiment::score_with_models(text, "fr", &m),
            sentiment::score(text, "fr")
        );
        // A bare file is for every language; none given, the embedded ones.
        let all = models_given(std::slice::from_ref(&fr)).unwrap().unwrap();
        assert!(all.get(0).is_some() && all.get(1).is_some());
        assert!(models_given(&[]).unwrap().is_none());
        // A missing or damaged file says which.
        let e = models_given(&["fr=/nonexistent/m.bin".into()])
            .err()
            .unwrap();
        assert!(
            format!("{e:#}").contains("reading --model /nonexistent/m.bin"),
            "{e:#}"
        );
        let bad = dir.path().join("bad.bin");
        std::fs::write(&bad, b"VSM1").unwrap();
        let e = models_given(&[bad.display().to_string()]).err().unwrap();
        assert!(
            format!("{e:#}").contains("not a veilleur sentiment model"),
            "{e:#}"
        );
    }

    #[test]
    fn reads_gzip_files_like_plain_ones() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let text = "id\tlang\tlabel\ttext\na:1\ten\tneg\tstill no refund\na:2\tfr\tpos\tsuper 😍\n";
        let plain = dir.path().join("x.tsv");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.path().join("x.tsv.gz");
        let mut enc =
            flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        let (a, bad_a) = read_rows(&plain).unwrap();
        let (b, bad_b) = read_rows(&gz).unwrap();
        assert_eq!((bad_a, bad_b), (0, 0));
        assert_eq!(a.len(), 2);
        let key = |r: &Row| (r.id.clone(), r.lang.clone(), r.label, r.text.clone());
        assert_eq!(
            a.iter().map(key).collect::<Vec<_>>(),
            b.iter().map(key).collect::<Vec<_>>()
        );
        // A `.gz` name on a file that is not gzip says so.
        let fake = dir.path().join("y.tsv.gz");
        std::fs::write(&fake, text).unwrap();
        let e = read_rows(&fake).err().unwrap();
        assert!(format!("{e:#}").contains("not a valid gzip file"), "{e:#}");
    }

    #[test]
    fn missing_header_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tsv");
        std::fs::write(&path, "a\tb\n").unwrap();
        assert!(run(&[path], Options::default(), Vec::new()).is_err());
    }
}
