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

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::enrich::sentiment::Label;
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

fn index(l: Label) -> usize {
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
struct Row {
    id: String,
    lang: String,
    label: Label,
    text: String,
}

fn read_rows(path: &Path) -> anyhow::Result<(Vec<Row>, usize)> {
    let data =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
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

/// Evaluates each file and prints the report to `out`.
pub(crate) fn run(paths: &[PathBuf], out: impl Write) -> anyhow::Result<()> {
    let mut out = out;
    if paths.is_empty() {
        bail!("no file given: pass one or more TSV files with the header id, lang, label, text");
    }
    for path in paths {
        let (rows, bad) = read_rows(path)?;
        let texts: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.text.as_str(), r.lang.as_str()))
            .collect();
        // The first call parses the embedded lexicons: keep it out of the timing.
        sentiment::score("", "en");
        let start = Instant::now();
        let predicted: Vec<Label> = texts
            .iter()
            .map(|&(t, l)| sentiment::score(t, l).label)
            .collect();
        let elapsed = start.elapsed().as_secs_f64();

        let mut all = Confusion::default();
        let mut by_source: BTreeMap<&str, Confusion> = BTreeMap::new();
        let (mut lang_ok, mut lang_und) = (0u64, 0u64);
        for (row, &p) in rows.iter().zip(&predicted) {
            all.add(row.label, p);
            let source = row.id.split_once(':').map_or(row.id.as_str(), |(s, _)| s);
            by_source.entry(source).or_default().add(row.label, p);
            match lang::detect(&row.text) {
                l if l == row.lang => lang_ok += 1,
                lang::UND => lang_und += 1,
                _ => {}
            }
        }

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
        for &(source, c) in &groups {
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
        let n = rows.len() as u64;
        writeln!(
            out,
            "language detection: {:.3} correct, {:.3} und, {:.3} wrong ({} rows)",
            ratio(lang_ok, n),
            ratio(lang_und, n),
            ratio(n - lang_ok - lang_und, n),
            n
        )?;
        let rate = if elapsed > 0.0 {
            rows.len() as f64 / elapsed
        } else {
            0.0
        };
        writeln!(
            out,
            "throughput: {rate:.0} texts/s (one thread, scoring only)"
        )?;
        writeln!(out)?;
    }
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
        run(&[path], &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("1 malformed lines skipped"), "{out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with("all") && l.contains("1.000")),
            "{out}"
        );
        assert!(out.contains("confusion a"), "{out}");
        assert!(out.contains("throughput:"), "{out}");
    }

    #[test]
    fn missing_header_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tsv");
        std::fs::write(&path, "a\tb\n").unwrap();
        assert!(run(&[path], Vec::new()).is_err());
    }
}
