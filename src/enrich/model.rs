//! The learned sentiment model: multinomial logistic regression (neg, neu,
//! pos) over hashed word uni/bi-grams, character n-grams and the lexicon
//! scorer's own features, with its file format, loading and training.
//!
//! Features ([`Features`]) are filled by [`super::sentiment`] from the same
//! tokens the lexicon scorer reads: the dense part is language-independent
//! (the lexicon's compound score, positive and negative sums, negation,
//! contrast, emoji polarity, `!`, `?`, caps, length, opinion density, links,
//! handles, hashtags) plus one bias per
//! language; the hashed part is seeded by the language, but the languages
//! share one table, so their n-grams do collide: each language is therefore
//! served by its own file ([`PerLanguage`], [`EMBEDDED`]), trained by its own
//! command. A file (`models/sentiment-<lang>.bin`, embedded with
//! `include_bytes!`) keeps the dense weights in `f32` and the
//! hashed weights in `i8` with one scale, 3 bytes per bucket, so one
//! look-up touches one cache line.
//!
//! [`train`] is deterministic: rows in the order given, shuffled each epoch
//! by a fixed-seed SplitMix64, one thread, AdaGrad; training twice on the
//! same rows gives identical bytes. Each class of each language weighs the
//! same, and within a class the sources (a big corpus, a few hand-written
//! rows) share that weight as set by `source_balance`.

use std::sync::LazyLock;

/// Languages with hashed weights, in file order.
pub(crate) const LANGS: [&str; 2] = ["en", "fr"];

/// Number of dense (language-independent) features, after the per-language biases.
pub(crate) const DENSE_SHARED: usize = 18;
/// Dense features in all: one bias per language, the shared ones, then a
/// copy of the shared ones per language (zero for the other languages), so
/// that training can give each language its own reading of them.
pub(crate) const DENSE: usize = LANGS.len() + DENSE_SHARED * (1 + LANGS.len());

/// Which dense weights [`train`] learns (the others stay zero, so every
/// model reads the same features).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DenseMode {
    /// One set of dense weights for all languages.
    Shared,
    /// Each language its own dense weights only.
    Language,
    /// The shared weights plus a per-language correction.
    Both,
    /// The shared weights learnt from the first language's rows only
    /// (English, the large corpora), each language's own block from its
    /// own rows: French rows move only French's block (and its bias).
    Anchored,
}

impl DenseMode {
    /// Whether dense feature `i` is trained, in this mode, by a row of
    /// language `lang` (an index into [`LANGS`]).
    fn learns(self, i: usize, lang: usize) -> bool {
        let copy = i >= LANGS.len() + DENSE_SHARED;
        let shared = i >= LANGS.len() && !copy;
        match self {
            DenseMode::Shared => !copy,
            DenseMode::Language => !shared,
            DenseMode::Both => true,
            DenseMode::Anchored => !shared || lang == 0,
        }
    }

    /// Parses the command-line spelling.
    pub(crate) fn from_name(name: &str) -> anyhow::Result<DenseMode> {
        match name {
            "shared" => Ok(DenseMode::Shared),
            "language" => Ok(DenseMode::Language),
            "both" => Ok(DenseMode::Both),
            "anchored" => Ok(DenseMode::Anchored),
            other => {
                anyhow::bail!("--dense must be shared, language, both or anchored, got {other:?}")
            }
        }
    }

    /// The command-line spelling.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DenseMode::Shared => "shared",
            DenseMode::Language => "language",
            DenseMode::Both => "both",
            DenseMode::Anchored => "anchored",
        }
    }
}

const MAGIC: &[u8; 4] = b"VSM1";

/// The shipped weights, one file per language of [`LANGS`], in that order
/// (`models/sentiment-en.bin`, `models/sentiment-fr.bin`, see
/// `models/README.md`): each is trained by its own recorded command and
/// serves only its own language, so retraining one language cannot move
/// another's scores (within one file the languages share the hash table).
pub(crate) static EMBEDDED: [&[u8]; LANGS.len()] = [
    include_bytes!("../../models/sentiment-en.bin"),
    include_bytes!("../../models/sentiment-fr.bin"),
];

/// One model per language of [`LANGS`] (or none: that language falls back
/// to the lexicon). A language is scored by its own model only.
#[derive(Debug, Clone, Default)]
pub(crate) struct PerLanguage {
    models: [Option<Model>; LANGS.len()],
}

impl PerLanguage {
    /// Parses one weights file per language of [`LANGS`], in that order; a
    /// file that cannot be read leaves its language without a model and
    /// says why in the error list (language, error).
    pub(crate) fn from_files(
        files: [&[u8]; LANGS.len()],
    ) -> (PerLanguage, Vec<(&'static str, ModelError)>) {
        let mut out = PerLanguage::default();
        let mut errors = Vec::new();
        for (li, bytes) in files.into_iter().enumerate() {
            match Model::from_bytes(bytes) {
                Ok(m) => out.models[li] = Some(m),
                Err(e) => errors.push((LANGS[li], e)),
            }
        }
        (out, errors)
    }

    /// The same model for every language (`eval-sentiment --model`).
    pub(crate) fn same_for_all(m: Model) -> PerLanguage {
        PerLanguage {
            models: std::array::from_fn(|_| Some(m.clone())),
        }
    }

    /// The model of language `li` (an index into [`LANGS`]).
    pub(crate) fn get(&self, li: usize) -> Option<&Model> {
        self.models.get(li).and_then(Option::as_ref)
    }

    /// Replaces language `lang`'s model (a code of [`LANGS`]; others are ignored).
    pub(crate) fn set(&mut self, lang: &str, m: Model) {
        if let Some(li) = LANGS.iter().position(|&l| l == lang) {
            self.models[li] = Some(m);
        }
    }

    /// Whether every language has its model.
    pub(crate) fn complete(&self) -> bool {
        self.models.iter().all(Option::is_some)
    }
}

/// The shipped models, parsed once (an invariant: the embedded files are
/// checked by the tests; a damaged one disables its language's model with a
/// log line rather than crash, and that language falls back to the lexicon).
pub(crate) static SHIPPED: LazyLock<PerLanguage> = LazyLock::new(|| {
    let (models, errors) = PerLanguage::from_files(EMBEDDED);
    for (lang, e) in errors {
        tracing::error!(
            "the embedded {lang} sentiment model is unreadable, using the lexicon: {e}"
        );
    }
    models
});

/// Features of one text; reused across calls (no allocation once grown).
#[derive(Debug, Clone)]
pub(crate) struct Features {
    pub dense: [f32; DENSE],
    /// Bucket indices (already reduced modulo the table size).
    pub hashed: Vec<u32>,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            dense: [0.0; DENSE],
            hashed: Vec::new(),
        }
    }
}

/// Training hyper-parameters; recorded in the file header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    /// log2 of the number of hash buckets.
    pub bits: u32,
    pub epochs: u32,
    pub learning_rate: f32,
    /// L2 penalty applied to the weights a row touches.
    pub l2: f32,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            bits: 18,
            epochs: 4,
            learning_rate: 0.05,
            l2: 0.05,
            seed: 15,
        }
    }
}

/// A loaded model.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub params: Params,
    /// `DENSE × 3` weights, class-major per feature.
    dense: Vec<f32>,
    /// `(1 << bits) × 3` quantised weights.
    hashed: Vec<i8>,
    scale: f32,
}

/// The FNV-1a hash of `bytes`, continuing from `h`.
pub(crate) fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The start of every hash of language `lang` (an index into [`LANGS`]) and
/// feature kind `kind`.
pub(crate) fn seed(lang: usize, kind: u8) -> u64 {
    fnv(0xcbf2_9ce4_8422_2325, &[lang as u8, kind])
}

/// Reduces a hash to a bucket of a `bits`-bit table.
pub(crate) fn bucket(h: u64, bits: u32) -> u32 {
    // Multiply-shift spreads the low-entropy FNV tail.
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as u32
}

/// The value of each hashed feature of a text that has `n` of them
/// (1/√n: long texts do not outweigh the dense features).
fn hashed_value(n: usize) -> f32 {
    if n == 0 { 0.0 } else { 1.0 / (n as f32).sqrt() }
}

/// Softmax of three logits, numerically stable.
fn softmax(z: [f32; 3]) -> [f32; 3] {
    let m = z[0].max(z[1]).max(z[2]);
    let e = [(z[0] - m).exp(), (z[1] - m).exp(), (z[2] - m).exp()];
    let s = e[0] + e[1] + e[2];
    [e[0] / s, e[1] / s, e[2] / s]
}

/// Why a model file cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ModelError {
    #[error("not a veilleur sentiment model (bad magic or truncated header)")]
    Header,
    #[error("model file has {got} bytes, its header announces {want}: retrain it")]
    Size { got: usize, want: usize },
    #[error("model built for {got} dense features, this binary uses {want}: retrain it")]
    Dense { got: usize, want: usize },
    #[error("model hash table of 2^{0} buckets is out of range (8..=24)")]
    Bits(u32),
}

impl Model {
    /// Class probabilities (neg, neu, pos) of a text's features.
    pub(crate) fn predict(&self, f: &Features) -> [f32; 3] {
        let mut z = [0f32; 3];
        for (i, &x) in f.dense.iter().enumerate() {
            if x != 0.0 {
                let w = &self.dense[i * 3..i * 3 + 3];
                z[0] += w[0] * x;
                z[1] += w[1] * x;
                z[2] += w[2] * x;
            }
        }
        let mut q = [0i32; 3];
        for &b in &f.hashed {
            let b = b as usize * 3;
            if let Some(w) = self.hashed.get(b..b + 3) {
                q[0] += i32::from(w[0]);
                q[1] += i32::from(w[1]);
                q[2] += i32::from(w[2]);
            }
        }
        let x = hashed_value(f.hashed.len()) * self.scale;
        for (zc, qc) in z.iter_mut().zip(q) {
            *zc += qc as f32 * x;
        }
        softmax(z)
    }

    /// Serialises the model: magic, bits, dense count, the parameters,
    /// scale, dense `f32` weights, hashed `i8` weights (little-endian).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.dense.len() * 4 + self.hashed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.params.bits.to_le_bytes());
        out.extend_from_slice(&(DENSE as u32).to_le_bytes());
        out.extend_from_slice(&self.params.epochs.to_le_bytes());
        out.extend_from_slice(&self.params.learning_rate.to_le_bytes());
        out.extend_from_slice(&self.params.l2.to_le_bytes());
        out.extend_from_slice(&self.params.seed.to_le_bytes());
        out.extend_from_slice(&self.scale.to_le_bytes());
        for w in &self.dense {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend(self.hashed.iter().map(|&w| w as u8));
        out
    }

    /// Parses a model written by [`Model::to_bytes`].
    pub(crate) fn from_bytes(b: &[u8]) -> Result<Model, ModelError> {
        const HEADER: usize = 4 + 4 + 4 + 4 + 4 + 4 + 8 + 4;
        if b.len() < HEADER || &b[..4] != MAGIC {
            return Err(ModelError::Header);
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let f32_at = |i: usize| f32::from_bits(u32_at(i));
        let bits = u32_at(4);
        if !(8..=24).contains(&bits) {
            return Err(ModelError::Bits(bits));
        }
        let dense_n = u32_at(8) as usize;
        if dense_n != DENSE {
            return Err(ModelError::Dense {
                got: dense_n,
                want: DENSE,
            });
        }
        let mut seed_bytes = [0u8; 8];
        seed_bytes.copy_from_slice(&b[24..32]);
        let params = Params {
            bits,
            epochs: u32_at(12),
            learning_rate: f32_at(16),
            l2: f32_at(20),
            seed: u64::from_le_bytes(seed_bytes),
        };
        let scale = f32_at(32);
        let want = HEADER + DENSE * 3 * 4 + (3usize << bits);
        if b.len() != want {
            return Err(ModelError::Size { got: b.len(), want });
        }
        let dense = (0..DENSE * 3).map(|i| f32_at(HEADER + i * 4)).collect();
        let hashed = b[HEADER + DENSE * 3 * 4..]
            .iter()
            .map(|&x| x as i8)
            .collect();
        Ok(Model {
            params,
            dense,
            hashed,
            scale,
        })
    }
}

/// A training example: its features and gold class (0 neg, 1 neu, 2 pos).
#[derive(Debug, Clone)]
pub(crate) struct Example {
    pub features: Features,
    pub class: usize,
    /// Index into [`LANGS`], for per-language class balancing.
    pub lang: usize,
    /// The row's source (any number the caller keeps distinct per source,
    /// e.g. per id prefix), for [`train`]'s `source_balance`.
    pub source: u32,
}

/// SplitMix64, the fixed-seed generator of the training order.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Trains a model on `examples` (their hashed indices must come from a
/// table of `params.bits` bits). Each class of each language weighs as
/// much in all (inverse-frequency weights), since the goal is macro-F1.
/// Within a class of a language, source `s` with `c_s` rows gets a share
/// of that weight proportional to `c_s^(1 − source_balance)`: 0 leaves
/// every row equal (big sources dominate), 1 gives every source the same
/// share, whatever its size. `dense_mode` says which dense weights are
/// learned.
pub(crate) fn train(
    examples: &[Example],
    params: Params,
    source_balance: f32,
    dense_mode: DenseMode,
) -> Model {
    // Which dense features each language's rows train.
    let learns: Vec<Vec<bool>> = (0..LANGS.len())
        .map(|lang| (0..DENSE).map(|i| dense_mode.learns(i, lang)).collect())
        .collect();
    let n = 1usize << params.bits;
    let mut dense = vec![0f32; DENSE * 3];
    let mut hashed = vec![0f32; n * 3];
    let mut g_dense = vec![1e-2f32; DENSE * 3];
    let mut g_hashed = vec![1e-2f32; n * 3];

    let mut counts = [[0usize; 3]; LANGS.len()];
    for e in examples {
        counts[e.lang][e.class] += 1;
    }
    let weight = |lang: usize, class: usize| {
        let total: usize = counts[lang].iter().sum();
        let present = counts[lang].iter().filter(|&&c| c > 0).count().max(1);
        total as f32 / (present as f32 * counts[lang][class].max(1) as f32)
    };
    // Rows per (language, class, source), and each class's sum of
    // `c_s^(1 − source_balance)` over its sources.
    let mut cells: std::collections::BTreeMap<(usize, usize, u32), usize> =
        std::collections::BTreeMap::new();
    for e in examples {
        *cells.entry((e.lang, e.class, e.source)).or_default() += 1;
    }
    let power = 1.0 - f64::from(source_balance.clamp(0.0, 1.0));
    let mut shares = [[0f64; 3]; LANGS.len()];
    for (&(lang, class, _), &c) in &cells {
        shares[lang][class] += (c as f64).powf(power);
    }
    let weights: Vec<f32> = examples
        .iter()
        .map(|e| {
            if power == 1.0 {
                return weight(e.lang, e.class);
            }
            let c = cells[&(e.lang, e.class, e.source)] as f64;
            let class_rows = counts[e.lang][e.class] as f64;
            // The class's total weight, split between its sources.
            let share = c.powf(power) / shares[e.lang][e.class];
            weight(e.lang, e.class) * (class_rows * share / c) as f32
        })
        .collect();

    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = SplitMix(params.seed);
    for _ in 0..params.epochs {
        // Fisher–Yates with the fixed-seed generator.
        for i in (1..order.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for &k in &order {
            let e = &examples[k];
            let mut z = [0f32; 3];
            for (i, &x) in e.features.dense.iter().enumerate() {
                for (c, zc) in z.iter_mut().enumerate() {
                    *zc += dense[i * 3 + c] * x;
                }
            }
            let hx = hashed_value(e.features.hashed.len());
            for &b in &e.features.hashed {
                for (c, zc) in z.iter_mut().enumerate() {
                    *zc += hashed[b as usize * 3 + c] * hx;
                }
            }
            let p = softmax(z);
            let w = weights[k];
            let learns = &learns[e.lang];
            for (c, &pc) in p.iter().enumerate() {
                let target = if c == e.class { 1.0 } else { 0.0 };
                let err = (pc - target) * w;
                for (i, &x) in e.features.dense.iter().enumerate() {
                    if x != 0.0 && learns[i] {
                        let j = i * 3 + c;
                        let g = err * x + params.l2 * dense[j];
                        g_dense[j] += g * g;
                        dense[j] -= params.learning_rate * g / g_dense[j].sqrt();
                    }
                }
                for &b in &e.features.hashed {
                    let j = b as usize * 3 + c;
                    let g = err * hx + params.l2 * hashed[j];
                    g_hashed[j] += g * g;
                    hashed[j] -= params.learning_rate * g / g_hashed[j].sqrt();
                }
            }
        }
    }
    let max = hashed.iter().fold(0f32, |m, w| m.max(w.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let hashed = hashed
        .iter()
        .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    Model {
        params,
        dense,
        hashed,
        scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(dense0: f32, hashed: &[u32], class: usize) -> Example {
        let mut f = Features::default();
        f.dense[0] = 1.0;
        f.dense[LANGS.len()] = dense0;
        f.hashed.extend_from_slice(hashed);
        Example {
            features: f,
            class,
            lang: 0,
            source: 0,
        }
    }

    #[test]
    fn learns_a_separable_toy_problem_and_round_trips() {
        let params = Params {
            bits: 8,
            epochs: 20,
            ..Params::default()
        };
        let rows: Vec<Example> = (0..60)
            .map(|i| match i % 3 {
                0 => example(-1.0, &[1, 2], 0),
                1 => example(0.0, &[3], 1),
                _ => example(1.0, &[4, 5], 2),
            })
            .collect();
        let m = train(&rows, params, 0.0, DenseMode::Shared);
        for e in &rows[..3] {
            let p = m.predict(&e.features);
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(best, e.class, "{p:?}");
        }
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.params, params);
        assert_eq!(
            train(&rows, params, 0.0, DenseMode::Shared).to_bytes(),
            bytes
        );
    }

    #[test]
    fn source_balance_lets_a_small_source_be_heard() {
        // A big source says feature 7 is negative, a small one says it is
        // positive; features 1 and 2 anchor the classes.
        let mut rows = Vec::new();
        for i in 0..400 {
            let mut e = example(0.0, &[7], 0);
            e.source = 0;
            rows.push(e);
            let mut e = example(0.0, &[if i % 2 == 0 { 1 } else { 2 }], 2 * (i % 2));
            e.source = 0;
            rows.push(e);
        }
        for _ in 0..8 {
            let mut e = example(0.0, &[7], 2);
            e.source = 1;
            rows.push(e);
        }
        let params = Params {
            bits: 8,
            epochs: 6,
            ..Params::default()
        };
        let probe = example(0.0, &[7], 0).features;
        let p_pos =
            |balance: f32| train(&rows, params, balance, DenseMode::Shared).predict(&probe)[2];
        let (rows_alike, sources_alike) = (p_pos(0.0), p_pos(1.0));
        assert!(
            sources_alike > rows_alike + 0.2,
            "{rows_alike} vs {sources_alike}"
        );
        // Deterministic at any setting.
        assert_eq!(
            train(&rows, params, 0.75, DenseMode::Shared).to_bytes(),
            train(&rows, params, 0.75, DenseMode::Shared).to_bytes()
        );
    }

    #[test]
    fn dense_mode_chooses_which_dense_weights_learn() {
        // Feature LANGS.len() is the first shared feature; its copies for
        // English and French follow the shared block.
        let (shared, en, fr) = (
            LANGS.len(),
            LANGS.len() + DENSE_SHARED,
            LANGS.len() + 2 * DENSE_SHARED,
        );
        let rows: Vec<Example> = (0..60)
            .map(|i| {
                let (x, class) = if i % 2 == 0 { (1.0, 2) } else { (-1.0, 0) };
                let mut e = example(x, &[], class);
                let lang = (i / 2) % 2;
                e.lang = lang;
                e.features.dense[0] = 0.0;
                e.features.dense[lang] = 1.0;
                e.features.dense[if lang == 0 { en } else { fr }] = x;
                e
            })
            .collect();
        let params = Params {
            bits: 8,
            epochs: 5,
            ..Params::default()
        };
        let learned = |mode: DenseMode, i: usize| {
            let m = train(&rows, params, 0.0, mode);
            m.dense[i * 3..i * 3 + 3].iter().any(|&w| w != 0.0)
        };
        assert!(learned(DenseMode::Shared, shared));
        assert!(!learned(DenseMode::Shared, en) && !learned(DenseMode::Shared, fr));
        assert!(!learned(DenseMode::Language, shared));
        assert!(learned(DenseMode::Language, en) && learned(DenseMode::Language, fr));
        assert!(learned(DenseMode::Both, shared) && learned(DenseMode::Both, fr));
        assert!(learned(DenseMode::Anchored, shared) && learned(DenseMode::Anchored, fr));
        // Anchored: French rows alone never move the shared block.
        let french: Vec<Example> = rows.iter().filter(|e| e.lang == 1).cloned().collect();
        let m = train(&french, params, 0.0, DenseMode::Anchored);
        assert!(
            m.dense[shared * 3..shared * 3 + 3]
                .iter()
                .all(|&w| w == 0.0)
        );
        assert!(m.dense[fr * 3..fr * 3 + 3].iter().any(|&w| w != 0.0));
        let m = train(&french, params, 0.0, DenseMode::Both);
        assert!(
            m.dense[shared * 3..shared * 3 + 3]
                .iter()
                .any(|&w| w != 0.0)
        );
        assert_eq!(
            DenseMode::from_name("language").unwrap(),
            DenseMode::Language
        );
        assert_eq!(
            DenseMode::from_name(DenseMode::Anchored.name()).unwrap(),
            DenseMode::Anchored
        );
        let e = DenseMode::from_name("all").unwrap_err();
        assert!(format!("{e:#}").contains("--dense must be"), "{e:#}");
    }

    #[test]
    fn damaged_files_are_errors() {
        assert!(matches!(
            Model::from_bytes(b"nope"),
            Err(ModelError::Header)
        ));
        let m = train(
            &[example(1.0, &[1], 2)],
            Params {
                bits: 8,
                ..Params::default()
            },
            0.0,
            DenseMode::Shared,
        );
        let bytes = m.to_bytes();
        assert!(matches!(
            Model::from_bytes(&bytes[..bytes.len() - 1]),
            Err(ModelError::Size { .. })
        ));
    }
}
