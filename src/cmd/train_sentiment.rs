//! `veilleur train-sentiment --out models/sentiment-<lang>.bin FILE.tsv...`: trains
//! the learned sentiment model of [`crate::enrich::model`] on labelled TSV
//! files and writes it with its manifest.
//!
//! The files have the `eval-sentiment` format (`id<TAB>lang<TAB>label<TAB>text`);
//! files ending in `.gz` are read gzip-compressed; rows whose id starts with
//! an `--exclude` prefix, or whose language has no model, are skipped; a
//! row's source (for `--source-balance`) is its id's prefix before `:`.
//! Training is deterministic (fixed seed, rows in the order given). Next to
//! the weights it writes `<out>` with the extension `toml`: the command line,
//! the parameters, each file's SHA-256 and row count, and the weights'
//! SHA-256, so a test can check that the shipped weights come from the
//! recorded command.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::eval_sentiment::{index, read_rows};
use crate::enrich::model::{self, DenseMode, Example, Features, LANGS, Params};
use crate::enrich::sentiment;

/// What the command was asked.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub files: Vec<PathBuf>,
    pub out: PathBuf,
    pub exclude: Vec<String>,
    pub params: Params,
    /// [`model::train`]'s `source_balance`, in [0, 1]; a row's source is
    /// its id's prefix before `:`.
    pub source_balance: f32,
    /// Which dense weights are learned (shared, per language, or both).
    pub dense: DenseMode,
}

/// The manifest path of a weights file: same name, extension `toml`.
pub(crate) fn manifest_path(out: &Path) -> PathBuf {
    out.with_extension("toml")
}

/// Trains, writes the weights and the manifest, and reports to `log`.
pub(crate) fn run(args: &Args, mut log: impl Write) -> anyhow::Result<()> {
    if args.files.is_empty() {
        bail!(
            "no training file given: pass one or more TSV files with the header id, lang, label, text"
        );
    }
    let bits = args.params.bits;
    if !(8..=24).contains(&bits) {
        bail!("--bits must be between 8 and 24, got {bits}");
    }
    if !(0.0..=1.0).contains(&args.source_balance) {
        bail!(
            "--source-balance must be between 0 and 1, got {}",
            args.source_balance
        );
    }
    let mut sources: Vec<String> = Vec::new();
    let mut examples = Vec::new();
    let mut data = String::new();
    for path in &args.files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (rows, bad) = read_rows(path)?;
        let (mut used, mut excluded, mut other_lang) = (0usize, 0usize, 0usize);
        for row in &rows {
            if args.exclude.iter().any(|p| row.id.starts_with(p.as_str())) {
                excluded += 1;
                continue;
            }
            let Some(li) = LANGS.iter().position(|&l| l == row.lang) else {
                other_lang += 1;
                continue;
            };
            let mut features = Features::default();
            sentiment::features(&[&row.text], li, bits, &mut features);
            let prefix = row.id.split(':').next().unwrap_or_default();
            let source = match sources.iter().position(|s| s == prefix) {
                Some(i) => i,
                None => {
                    sources.push(prefix.to_owned());
                    sources.len() - 1
                }
            };
            examples.push(Example {
                features,
                class: index(row.label),
                lang: li,
                source: source as u32,
            });
            used += 1;
        }
        writeln!(
            log,
            "{}: {used} rows used, {excluded} excluded, {other_lang} in a language without a model, {bad} malformed",
            path.display()
        )?;
        data.push_str(&format!(
            "\n[[data]]\npath = {}\nsha256 = \"{}\"\nrows_used = {used}\n",
            toml_string(&path.display().to_string()),
            hex::encode(Sha256::digest(&bytes))
        ));
    }
    if examples.is_empty() {
        bail!(
            "no row to train on: check the files' lang column (en, fr) and the --exclude prefixes"
        );
    }
    let m = model::train(&examples, args.params, args.source_balance, args.dense);
    let bytes = m.to_bytes();
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;

    let p = args.params;
    let mut command = format!(
        "veilleur train-sentiment --out {} --bits {} --epochs {} --learning-rate {} --l2 {} --seed {} --source-balance {} --dense {}",
        args.out.display(),
        p.bits,
        p.epochs,
        p.learning_rate,
        p.l2,
        p.seed,
        args.source_balance,
        args.dense.name()
    );
    for e in &args.exclude {
        command.push_str(&format!(" --exclude {e}"));
    }
    for f in &args.files {
        command.push_str(&format!(" {}", f.display()));
    }
    let manifest = format!(
        "# Written by `veilleur train-sentiment`: how the weights next to this file were made.\n\
         command = {}\nbits = {}\nepochs = {}\nlearning_rate = {}\nl2 = {}\nseed = {}\n\
         source_balance = {}\ndense = \"{}\"\nexclude = [{}]\nrows = {}\nweights_sha256 = \"{}\"\nweights_bytes = {}\n{data}",
        toml_string(&command),
        p.bits,
        p.epochs,
        toml_float(p.learning_rate),
        toml_float(p.l2),
        p.seed,
        toml_float(args.source_balance),
        args.dense.name(),
        args.exclude
            .iter()
            .map(|e| toml_string(e))
            .collect::<Vec<_>>()
            .join(", "),
        examples.len(),
        hex::encode(Sha256::digest(&bytes)),
        bytes.len(),
    );
    let mpath = manifest_path(&args.out);
    std::fs::write(&mpath, manifest).with_context(|| format!("writing {}", mpath.display()))?;
    writeln!(
        log,
        "trained on {} rows: {} ({} bytes) and {}",
        examples.len(),
        args.out.display(),
        bytes.len(),
        mpath.display()
    )?;
    Ok(())
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML float that reads back to the same `f32`.
fn toml_float(x: f32) -> String {
    let s = format!("{x:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_twice_to_the_same_bytes_and_skips_excluded_rows() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.tsv");
        std::fs::write(
            &data,
            "id\tlang\tlabel\ttext\n\
             a:1\ten\tneg\tthis is a scam, refund me\n\
             a:2\ten\tpos\tgreat service, thank you\n\
             a:3\ten\tneu\tthe shop opens at nine\n\
             a:4\tfr\tneg\ttoujours pas de réponse du service client\n\
             a:5\tfr\tpos\tbravo, livraison rapide\n\
             a:6\tfr\tneu\tle magasin ouvre à 9h\n\
             held:1\ten\tpos\tnever train on me\n\
             x:1\tde\tpos\tsehr gut\n",
        )
        .unwrap();
        let args = |out: &str| Args {
            files: vec![data.clone()],
            out: dir.path().join(out),
            exclude: vec!["held:".into()],
            params: Params {
                bits: 10,
                ..Params::default()
            },
            source_balance: 0.5,
            dense: DenseMode::Both,
        };
        let mut log = Vec::new();
        run(&args("a.bin"), &mut log).unwrap();
        run(&args("b.bin"), Vec::new()).unwrap();
        let log = String::from_utf8(log).unwrap();
        assert!(
            log.contains("6 rows used, 1 excluded, 1 in a language"),
            "{log}"
        );
        let a = std::fs::read(dir.path().join("a.bin")).unwrap();
        assert_eq!(a, std::fs::read(dir.path().join("b.bin")).unwrap());
        let manifest: toml::Table = std::fs::read_to_string(dir.path().join("a.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            manifest["weights_sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&a))
        );
        assert_eq!(manifest["rows"].as_integer(), Some(6));
        assert_eq!(
            manifest["l2"].as_float().unwrap() as f32,
            Params::default().l2
        );
    }

    #[test]
    fn nothing_to_train_on_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.tsv");
        std::fs::write(&data, "id\tlang\tlabel\ttext\nx:1\tde\tpos\tsehr gut\n").unwrap();
        let args = Args {
            files: vec![data],
            out: dir.path().join("m.bin"),
            exclude: vec![],
            params: Params::default(),
            source_balance: 0.0,
            dense: DenseMode::Shared,
        };
        let e = run(&args, Vec::new()).unwrap_err();
        assert!(format!("{e:#}").contains("no row to train on"), "{e:#}");
        let args = Args {
            source_balance: 1.5,
            ..args
        };
        let e = run(&args, Vec::new()).unwrap_err();
        assert!(
            format!("{e:#}").contains("--source-balance must be between 0 and 1"),
            "{e:#}"
        );
    }
}
