//! A learned sentiment model beside the lexicon: multinomial logistic regression over the
//! hashed features of [`super::features`], trained by ondata itself.
//!
//! Training is AdaGrad over the examples in a seeded order with an L2 penalty on the weights
//! an example touches, a fixed number of passes: the same labelled file gives the same model,
//! byte for byte, in a second or two. The file is one magic line, one JSON header line (the
//! language, the size, what it was trained on, its cross-validated scores) and the weights
//! as little-endian 16-bit integers scaled by the header's `scale`: 1.5 MB at the default
//! 2^18 slots.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::features::{Features, DENSE};
use super::sentiment::{Label, Lang};

const MAGIC: &str = "ondata-sentiment-model";
const FORMAT: u32 = 1;
pub const CLASSES: usize = 3;
pub const LABELS: [Label; CLASSES] = [Label::Negative, Label::Neutral, Label::Positive];

/// What a model file says about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelMeta {
    pub format: u32,
    pub lang: String,
    pub bits: u32,
    pub dense: usize,
    pub scale: f32,
    pub bias: [f32; CLASSES],
    /// The labelled file(s) it was trained on, as given to `train`.
    pub trained_on: String,
    pub examples: usize,
    /// Cross-validated on the training file: macro-F1 and F1 per class (negative, neutral,
    /// positive).
    pub cv_macro_f1: f64,
    pub cv_f1: [f64; CLASSES],
    pub options: TrainOptions,
}

/// How a model is trained.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    /// Hashed slots: 2^bits.
    pub bits: u32,
    pub epochs: u32,
    pub rate: f32,
    pub l2: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            bits: 18,
            // Chosen by 5-fold cross-validation on UMSAB's Italian training tweets (0.640;
            // rates 0.02-1.0, 3-25 passes, L2 1e-6-1e-2, 2^16-2^20 slots tried).
            epochs: 10,
            rate: 0.05,
            l2: 1e-3,
            seed: 17,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read the sentiment model {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not an ondata sentiment model: {1}")]
    Invalid(String, String),
}

/// A trained model.
#[derive(Debug, Clone)]
pub struct SentimentModel {
    pub meta: ModelMeta,
    pub lang: Lang,
    /// `(2^bits + DENSE) × CLASSES`, slot-major.
    weights: Vec<f32>,
}

impl SentimentModel {
    pub fn bits(&self) -> u32 {
        self.meta.bits
    }

    /// Class scores before the softmax.
    pub fn logits(&self, f: &Features) -> [f32; CLASSES] {
        logits_raw(&self.weights, self.meta.bias, self.meta.bits, f)
    }

    pub fn probabilities(&self, f: &Features) -> [f32; CLASSES] {
        softmax(self.logits(f))
    }

    /// Each hashed slot's and dense signal's push towards positive (its weight for positive
    /// minus its weight for negative, times its value), strongest first.
    pub fn contributions(&self, f: &Features) -> Vec<(String, f32)> {
        let v = value_of(f);
        let names = f.names.clone().unwrap_or_default();
        let mut out: Vec<(String, f32)> = f
            .hashed
            .iter()
            .zip(names)
            .map(|(&i, name)| {
                let w = &self.weights[i as usize * CLASSES..][..CLASSES];
                (name, v * (w[2] - w[0]))
            })
            .collect();
        let base = (1usize << self.meta.bits) * CLASSES;
        for (j, &x) in f.dense.iter().enumerate() {
            if x != 0.0 {
                let w = &self.weights[base + j * CLASSES..][..CLASSES];
                out.push((
                    super::features::DENSE_NAMES[j].to_string(),
                    x * (w[2] - w[0]),
                ));
            }
        }
        out.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        out
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let scale = self
            .weights
            .iter()
            .fold(0.0f32, |m, w| m.max(w.abs()))
            .max(1e-12)
            / f32::from(i16::MAX);
        let meta = ModelMeta {
            scale,
            ..self.meta.clone()
        };
        let mut out =
            format!("{MAGIC}\n{}\n", serde_json::to_string(&meta).expect("meta")).into_bytes();
        out.reserve(self.weights.len() * 2);
        for w in &self.weights {
            out.extend_from_slice(&((w / scale).round() as i16).to_le_bytes());
        }
        out
    }

    /// Reads a model; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, ModelError> {
        let bad = |why: String| ModelError::Invalid(origin.to_string(), why);
        let mut lines = bytes.splitn(3, |b| *b == b'\n');
        if lines.next() != Some(MAGIC.as_bytes()) {
            return Err(bad(format!("it does not start with `{MAGIC}`")));
        }
        let header = lines.next().ok_or_else(|| bad("no header".into()))?;
        let meta: ModelMeta = serde_json::from_slice(header)
            .map_err(|e| bad(format!("its header is not valid: {e}")))?;
        if meta.format != FORMAT {
            return Err(bad(format!(
                "format {} (this ondata reads format {FORMAT})",
                meta.format
            )));
        }
        if meta.dense != DENSE || !(10..=24).contains(&meta.bits) {
            return Err(bad(format!(
                "made for other features ({} dense signals, 2^{} slots; this ondata has {DENSE})",
                meta.dense, meta.bits
            )));
        }
        let lang = match meta.lang.as_str() {
            "it" => Lang::It,
            "en" => Lang::En,
            other => return Err(bad(format!("language `{other}` (it or en)"))),
        };
        if !meta.scale.is_finite() || meta.bias.iter().any(|b| !b.is_finite()) {
            return Err(bad("its scale or bias is not a number".into()));
        }
        let body = lines.next().unwrap_or_default();
        let n = ((1usize << meta.bits) + DENSE) * CLASSES;
        if body.len() != n * 2 {
            return Err(bad(format!(
                "{} bytes of weights where {} were expected (a truncated file?)",
                body.len(),
                n * 2
            )));
        }
        let weights = body
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) * meta.scale)
            .collect();
        Ok(Self {
            meta,
            lang,
            weights,
        })
    }

    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

/// Every hashed feature counts `1/√n`, so long and short comments weigh alike.
#[inline]
fn value_of(f: &Features) -> f32 {
    if f.hashed.is_empty() {
        0.0
    } else {
        1.0 / (f.hashed.len() as f32).sqrt()
    }
}

fn softmax(z: [f32; CLASSES]) -> [f32; CLASSES] {
    let m = z.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    let e = z.map(|x| (x - m).exp());
    let s: f32 = e.iter().sum();
    e.map(|x| x / s)
}

/// The label with the highest probability.
pub fn argmax(p: &[f32; CLASSES]) -> usize {
    (0..CLASSES).fold(0, |best, c| if p[c] > p[best] { c } else { best })
}

/// Trains a model on `examples` (features, class 0 negative / 1 neutral / 2 positive).
pub fn train(examples: &[(Features, u8)], lang: Lang, opts: &TrainOptions) -> SentimentModel {
    let n = ((1usize << opts.bits) + DENSE) * CLASSES;
    let mut w = vec![0.0f32; n];
    let mut g2 = vec![0.0f32; n];
    let mut bias = [0.0f32; CLASSES];
    let mut bias_g2 = [0.0f32; CLASSES];
    let mut rng = opts.seed.max(1);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let base = (1usize << opts.bits) * CLASSES;
    let step = |w: &mut [f32], g2: &mut [f32], k: usize, g: f32| {
        let g = g + opts.l2 * w[k];
        g2[k] += g * g;
        w[k] -= opts.rate * g / (g2[k].sqrt() + 1e-6);
    };
    for _ in 0..opts.epochs {
        // Fisher-Yates with xorshift64: the same seed, the same order, everywhere.
        for i in (1..order.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            order.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        for &e in &order {
            let (f, y) = &examples[e];
            let p = softmax(logits_raw(&w, bias, opts.bits, f));
            let v = value_of(f);
            for c in 0..CLASSES {
                let g = p[c] - if usize::from(*y) == c { 1.0 } else { 0.0 };
                for &i in &f.hashed {
                    step(&mut w, &mut g2, i as usize * CLASSES + c, g * v);
                }
                for (j, &x) in f.dense.iter().enumerate() {
                    if x != 0.0 {
                        step(&mut w, &mut g2, base + j * CLASSES + c, g * x);
                    }
                }
                bias_g2[c] += g * g;
                bias[c] -= opts.rate * g / (bias_g2[c].sqrt() + 1e-6);
            }
        }
    }
    SentimentModel {
        meta: meta(lang, opts, bias, String::new(), examples.len()),
        lang,
        weights: w,
    }
}

fn logits_raw(w: &[f32], bias: [f32; CLASSES], bits: u32, f: &Features) -> [f32; CLASSES] {
    let mut z = bias;
    let v = value_of(f);
    for &i in &f.hashed {
        let w = &w[i as usize * CLASSES..][..CLASSES];
        for c in 0..CLASSES {
            z[c] += v * w[c];
        }
    }
    let base = (1usize << bits) * CLASSES;
    for (j, &x) in f.dense.iter().enumerate() {
        if x != 0.0 {
            let w = &w[base + j * CLASSES..][..CLASSES];
            for c in 0..CLASSES {
                z[c] += x * w[c];
            }
        }
    }
    z
}

fn meta(
    lang: Lang,
    opts: &TrainOptions,
    bias: [f32; CLASSES],
    trained_on: String,
    examples: usize,
) -> ModelMeta {
    ModelMeta {
        format: FORMAT,
        lang: lang.as_str().to_string(),
        bits: opts.bits,
        dense: DENSE,
        scale: 1.0,
        bias,
        trained_on,
        examples,
        cv_macro_f1: 0.0,
        cv_f1: [0.0; CLASSES],
        options: *opts,
    }
}

/// A confusion matrix: `counts[gold][predicted]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confusion {
    pub counts: [[u32; CLASSES]; CLASSES],
}

impl Confusion {
    pub fn add(&mut self, gold: usize, predicted: usize) {
        self.counts[gold][predicted] += 1;
    }

    pub fn f1(&self, c: usize) -> f64 {
        let tp = f64::from(self.counts[c][c]);
        let fp: f64 = (0..CLASSES)
            .filter(|g| *g != c)
            .map(|g| f64::from(self.counts[g][c]))
            .sum();
        let fn_: f64 = (0..CLASSES)
            .filter(|p| *p != c)
            .map(|p| f64::from(self.counts[c][p]))
            .sum();
        if tp == 0.0 {
            0.0
        } else {
            2.0 * tp / (2.0 * tp + fp + fn_)
        }
    }

    pub fn macro_f1(&self) -> f64 {
        (0..CLASSES).map(|c| self.f1(c)).sum::<f64>() / CLASSES as f64
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }
}

/// `folds`-fold cross-validation (example `i` in fold `i % folds`).
pub fn cross_validate(
    examples: &[(Features, u8)],
    lang: Lang,
    opts: &TrainOptions,
    folds: usize,
) -> Confusion {
    let folds = folds.max(2);
    let mut confusion = Confusion::default();
    for k in 0..folds {
        let train_set: Vec<(Features, u8)> = examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != k)
            .map(|(_, e)| e.clone())
            .collect();
        let model = train(&train_set, lang, opts);
        for (_, (f, y)) in examples.iter().enumerate().filter(|(i, _)| i % folds == k) {
            confusion.add(usize::from(*y), argmax(&model.probabilities(f)));
        }
    }
    confusion
}

/// Fills in what `train` cannot know: the source and the cross-validated scores.
pub fn describe(model: &mut SentimentModel, trained_on: &str, cv: &Confusion) {
    model.meta.trained_on = trained_on.to_string();
    model.meta.cv_macro_f1 = (cv.macro_f1() * 1000.0).round() / 1000.0;
    model.meta.cv_f1 = [0, 1, 2].map(|c| (cv.f1(c) * 1000.0).round() / 1000.0);
}

/// The models a scorer uses, by language (none: the lexicon alone decides).
#[derive(Debug, Clone, Default)]
pub struct Models {
    pub it: Option<std::sync::Arc<SentimentModel>>,
    pub en: Option<std::sync::Arc<SentimentModel>>,
}

const BUNDLED_IT: &[u8] = include_bytes!("../../models/sentiment-it.model");
const BUNDLED_EN: &[u8] = include_bytes!("../../models/sentiment-en.model");

impl Models {
    /// The models shipped with ondata (trained on UMSAB's training tweets; see
    /// `models/README.md`), decoded once per process.
    pub fn bundled() -> Models {
        static BUNDLED: std::sync::OnceLock<Models> = std::sync::OnceLock::new();
        BUNDLED
            .get_or_init(|| {
                let load = |bytes: &[u8], name: &str| {
                    (!bytes.is_empty()).then(|| {
                        std::sync::Arc::new(
                            SentimentModel::from_bytes(bytes, name)
                                .expect("the shipped sentiment model is valid"),
                        )
                    })
                };
                Models {
                    it: load(BUNDLED_IT, "models/sentiment-it.model"),
                    en: load(BUNDLED_EN, "models/sentiment-en.model"),
                }
            })
            .clone()
    }

    /// What `[sentiment] model` asks for, files aside: the shipped models for `shipped`,
    /// else none.
    pub fn built_in(setting: Option<&str>) -> Models {
        if setting == Some("shipped") {
            Self::bundled()
        } else {
            Models::default()
        }
    }

    /// What `[sentiment] model` asks for: nothing or `none`, the lexicon alone; `shipped`,
    /// the shipped models; a path, that model for its language (the lexicon for the other).
    pub fn for_config(setting: Option<&str>) -> Result<Models, ModelError> {
        match setting {
            None | Some("none" | "shipped") => Ok(Self::built_in(setting)),
            Some(p) => {
                let model = std::sync::Arc::new(SentimentModel::load(Path::new(p))?);
                Ok(match model.lang {
                    Lang::En => Models {
                        en: Some(model),
                        ..Models::default()
                    },
                    _ => Models {
                        it: Some(model),
                        ..Models::default()
                    },
                })
            }
        }
    }

    pub fn get(&self, lang: Lang) -> Option<&SentimentModel> {
        match lang {
            Lang::It => self.it.as_deref(),
            Lang::En => self.en.as_deref(),
            Lang::Other => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SentimentConfig;
    use crate::text::lexicon::Lexicon;
    use crate::text::sentiment::SentimentScorer;

    fn examples(bits: u32) -> Vec<(Features, u8)> {
        let mut s = SentimentScorer::with_models(
            std::sync::Arc::new(Lexicon::bundled()),
            Models::default(),
            &SentimentConfig::default(),
        );
        let texts = [
            ("il servizio è un disastro", 0),
            ("nessuno risponde, vergogna", 0),
            ("dove si trova l'ufficio", 1),
            ("a che ora apre lo sportello", 1),
            ("grazie, tutto risolto", 2),
            ("operatore gentilissimo", 2),
        ];
        (0..5)
            .flat_map(|_| texts)
            .map(|(t, y)| (s.features_of(t, Lang::It, bits), y))
            .collect()
    }

    #[test]
    fn training_is_deterministic_and_learns_its_examples() {
        let opts = TrainOptions {
            bits: 12,
            ..TrainOptions::default()
        };
        let ex = examples(12);
        let a = train(&ex, Lang::It, &opts);
        let b = train(&ex, Lang::It, &opts);
        assert_eq!(a.to_bytes(), b.to_bytes());
        for (f, y) in &ex {
            assert_eq!(argmax(&a.probabilities(f)), usize::from(*y));
        }
        // Another seed, another order: a different model.
        let c = train(&ex, Lang::It, &TrainOptions { seed: 3, ..opts });
        assert_ne!(a.to_bytes(), c.to_bytes());
    }

    #[test]
    fn a_model_file_round_trips_and_a_damaged_one_says_why() {
        let opts = TrainOptions {
            bits: 12,
            ..TrainOptions::default()
        };
        let ex = examples(12);
        let m = train(&ex, Lang::It, &opts);
        let bytes = m.to_bytes();
        let back = SentimentModel::from_bytes(&bytes, "m").unwrap();
        assert_eq!(back.lang, Lang::It);
        for (f, _) in &ex {
            let (p, q) = (m.probabilities(f), back.probabilities(f));
            assert!(
                (0..CLASSES).all(|c| (p[c] - q[c]).abs() < 1e-3),
                "{p:?} {q:?}"
            );
        }
        let err = |b: &[u8]| SentimentModel::from_bytes(b, "m").unwrap_err().to_string();
        assert!(err(&bytes[..bytes.len() - 2]).contains("truncated"));
        assert!(err(b"hello\n{}\n").contains("does not start with"));
        let header_end = bytes.iter().skip(MAGIC.len() + 1).position(|b| *b == b'\n');
        let mut other = bytes.clone();
        let at = MAGIC.len() + 1;
        let header = String::from_utf8(other[at..at + header_end.unwrap()].to_vec()).unwrap();
        let changed = header.replace("\"lang\":\"it\"", "\"lang\":\"fr\"");
        other.splice(at..at + header.len(), changed.bytes());
        assert!(err(&other).contains("language `fr`"));
    }

    #[test]
    fn the_shipped_models_load_and_say_what_they_are() {
        let m = Models::bundled();
        let (it, en) = (m.it.expect("Italian"), m.en.expect("English"));
        assert_eq!((it.lang, en.lang), (Lang::It, Lang::En));
        assert!(it.meta.trained_on.contains("italian_train"));
        assert!(it.meta.cv_macro_f1 > 0.6 && en.meta.cv_macro_f1 > 0.6);
    }
}
