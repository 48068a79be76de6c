//! Lexicon-based sentiment for Italian and English comments, after VADER's rules.
//!
//! Each word found in the lexicon of the comment's language (emoji in either) contributes its
//! valence, modified by the rules VADER validated: a negator among the three words before it
//! flips and dampens it ("non funziona"), intensifiers and diminishers scale it ("molto
//! lento", "un po' lento"), a word in capitals inside a normal sentence is emphasised, a
//! contrast ("ma", "però", "but") weights the clause after it more than the one before, and
//! exclamation marks amplify the total. The sum is squashed into [-1, 1] with VADER's
//! normalisation `s / √(s² + 15)`.
//!
//! The scorer can also record why it scored a comment (`ondata sentiment` prints that), at no
//! cost when nobody asks.

use std::sync::Arc;

use serde::Serialize;

use super::features::{is_failure, is_praise, Features, Signals};
use super::lexicon::{Entry, Lexicon, Source};
use super::model::{argmax, Models, CLASSES, LABELS};
use super::tokenize::{Token, TokenKind, Tokens};
use crate::config::SentimentConfig;

/// VADER's empirically derived constants.
const NEGATION_SCALAR: f32 = -0.74;
const BOOSTER_INCREMENT: f32 = 0.293;
const CAPS_INCREMENT: f32 = 0.733;
const EXCLAMATION_INCREMENT: f32 = 0.292;
const MAX_EXCLAMATIONS: u32 = 4;
const NORMALIZATION_ALPHA: f32 = 15.0;
const CONTRAST_BEFORE: f32 = 0.5;
const CONTRAST_AFTER: f32 = 1.5;
/// A negator reaches this many words ahead.
const NEGATION_SCOPE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    It,
    En,
    /// Neither Italian nor English was given: only emoji are scored.
    Other,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
            Lang::Other => "other",
        }
    }

    /// Maps an event's `lang` field ("it", "it-IT", "EN", …).
    pub fn from_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("it") {
            Lang::It
        } else if primary.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Other
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

/// One word's part in a score, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub word: String,
    pub lexicon: &'static str,
    /// Valence in the lexicon (-4..4).
    pub base: f32,
    /// After the rules below.
    pub value: f32,
    pub rules: Vec<&'static str>,
}

/// What the learned model made of a comment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelView {
    /// Negative, neutral, positive.
    pub probabilities: [f32; CLASSES],
    /// The features that pushed hardest, towards positive (+) or negative (−).
    pub strongest: Vec<(String, f32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub score: f64,
    pub label: Label,
    /// The lexicon and its rules alone.
    pub lexicon_score: f64,
    /// The model's reading, when one is loaded for the comment's language.
    pub model: Option<ModelView>,
    pub lang: Lang,
    /// `guessed`, `given` (from the event's `lang`) or `upstream` (score came with the event).
    pub lang_source: &'static str,
    pub words: Vec<Contribution>,
    pub rules: Vec<String>,
}

/// A scorer with its own scratch buffers; one per thread.
#[derive(Clone)]
pub struct SentimentScorer {
    lexicon: Arc<Lexicon>,
    models: Models,
    features: Features,
    signals: Signals,
    tokens: Tokens,
    config: SentimentConfig,
    default_lang: Lang,
    /// Per-token valences, reused between calls.
    values: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// -1..1: the model's P(positive) − P(negative), else the lexicon's score.
    pub score: f64,
    pub label: Label,
    pub lang: Lang,
}

impl SentimentScorer {
    /// A scorer with the lexicon alone, or the shipped models if `config.model` says
    /// `shipped` (a model file is loaded through [`resources`] instead).
    pub fn new(lexicon: Arc<Lexicon>, config: &SentimentConfig) -> Self {
        Self::with_models(lexicon, Models::built_in(config.model.as_deref()), config)
    }

    pub fn with_models(lexicon: Arc<Lexicon>, models: Models, config: &SentimentConfig) -> Self {
        Self {
            lexicon,
            models,
            features: Features::new(),
            signals: Signals::default(),
            tokens: Tokens::new(),
            default_lang: Lang::from_tag(&config.default_lang),
            config: config.clone(),
            values: Vec::new(),
        }
    }

    pub fn label(&self, score: f64) -> Label {
        if score <= self.config.negative_at_or_below {
            Label::Negative
        } else if score >= self.config.positive_at_or_above {
            Label::Positive
        } else {
            Label::Neutral
        }
    }

    /// Scores a comment. `lang` is the event's own language tag, if any.
    pub fn score(&mut self, text: &str, lang: Option<&str>) -> Scored {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokens.tokenize(text);
        let scored = self.score_tokenized(&tokens, lang);
        self.tokens = tokens;
        scored
    }

    /// Scores a comment the caller has already tokenised (the engine tokenises once for
    /// sentiment and near-duplicate signatures).
    pub fn score_tokenized(&mut self, tokens: &Tokens, lang: Option<&str>) -> Scored {
        let lang = lang
            .map(Lang::from_tag)
            .unwrap_or_else(|| guess_lang(tokens, self.default_lang));
        let lexicon_score = self.score_tokens(tokens, lang, None);
        match self.models.get(lang) {
            Some(model) => {
                self.features
                    .extract(tokens, lang, &self.signals, model.bits());
                let p = model.probabilities(&self.features);
                Scored {
                    score: round4(f64::from(p[2] - p[0])),
                    label: model_label(&p),
                    lang,
                }
            }
            None => Scored {
                score: lexicon_score,
                label: self.label(lexicon_score),
                lang,
            },
        }
    }

    /// What a model sees in `text`: the lexicon's signals and the hashed features, for a
    /// model of `2^bits` slots (training and evaluation use this).
    pub fn features_of(&mut self, text: &str, lang: Lang, bits: u32) -> Features {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokens.tokenize(text);
        self.score_tokens(&tokens, lang, None);
        let mut f = Features::new();
        f.extract(&tokens, lang, &self.signals, bits);
        self.tokens = tokens;
        f
    }

    /// Scores a comment and says why. `upstream` is the event's own `sentiment`, which wins.
    pub fn explain(
        &mut self,
        text: &str,
        lang: Option<&str>,
        upstream: Option<f64>,
    ) -> Explanation {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokens.tokenize(text);
        let (lang, lang_source) = match lang {
            Some(tag) => (Lang::from_tag(tag), "given"),
            None => (guess_lang(&tokens, self.default_lang), "guessed"),
        };
        let mut words = Vec::new();
        let mut rules = Vec::new();
        let lexicon_score = self.score_tokens(&tokens, lang, Some((&mut words, &mut rules)));
        let model = self.models.get(lang).map(|m| {
            let mut f = Features::new();
            f.names = Some(Vec::new());
            f.extract(&tokens, lang, &self.signals, m.bits());
            let mut strongest = m.contributions(&f);
            strongest.truncate(8);
            ModelView {
                probabilities: m.probabilities(&f),
                strongest,
            }
        });
        self.tokens = tokens;
        let (model_score, model_label) = match &model {
            Some(m) => (
                round4(f64::from(m.probabilities[2] - m.probabilities[0])),
                model_label(&m.probabilities),
            ),
            None => (lexicon_score, self.label(lexicon_score)),
        };
        let score = match upstream {
            Some(s) => {
                rules.push(format!(
                    "upstream score {s} overrides the lexicon score {lexicon_score:.3}"
                ));
                s
            }
            None => model_score,
        };
        Explanation {
            score,
            label: if upstream.is_some() {
                self.label(score)
            } else {
                model_label
            },
            lexicon_score,
            model,
            lang,
            lang_source: if upstream.is_some() {
                "upstream"
            } else {
                lang_source
            },
            words,
            rules,
        }
    }

    fn lookup(&self, lang: Lang, t: &Token, word: &str) -> Option<Entry> {
        match t.kind {
            TokenKind::Emoji => word.chars().next().and_then(|c| self.lexicon.emoji(c)),
            TokenKind::Word | TokenKind::Hashtag => match lang {
                Lang::It => self.lexicon.italian_hashed(word, t.hash),
                Lang::En => self.lexicon.english_hashed(word, t.hash),
                Lang::Other => None,
            },
            _ => None,
        }
    }

    fn score_tokens(
        &mut self,
        tokens: &Tokens,
        lang: Lang,
        mut explain: Option<(&mut Vec<Contribution>, &mut Vec<String>)>,
    ) -> f64 {
        // Praise beside a failure is sarcasm ("Bravi, il sito è di nuovo giù"): the praise
        // counts against. Rare, so a comment is read again only when the first reading saw
        // both.
        let (score, sarcastic) = self.read_tokens(
            tokens,
            lang,
            explain.as_mut().map(|(w, r)| (&mut **w, &mut **r)),
            false,
        );
        if !sarcastic {
            return score;
        }
        if let Some((words, rules)) = explain.as_mut() {
            words.clear();
            rules.clear();
        }
        self.read_tokens(tokens, lang, explain, true).0
    }

    /// One reading of the tokens; also says whether praise and a failure both occur.
    fn read_tokens(
        &mut self,
        tokens: &Tokens,
        lang: Lang,
        mut explain: Option<(&mut Vec<Contribution>, &mut Vec<String>)>,
        sarcastic: bool,
    ) -> (f64, bool) {
        let shouting = tokens.all_caps();
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        let mut signals = Signals::default();
        // In a question without an exclamation, positive words ask rather than praise
        // ("funziona?"): they count nothing.
        let (mut praise, mut failure) = (false, false);
        let asking = tokens.questions > 0 && tokens.exclamations == 0;
        // Index (into `words_seen`) of the last negator, and position of the last contrast.
        let mut last_negator: Option<usize> = None;
        let mut contrast_at: Option<usize> = None;
        let mut words_seen = 0usize;
        let mut booster = 0.0f32;
        let mut booster_age = 0usize;
        for (i, t) in tokens.as_slice().iter().enumerate() {
            let word = tokens.text(t);
            let is_word = matches!(t.kind, TokenKind::Word | TokenKind::Hashtag);
            if t.after_break {
                last_negator = None;
                booster = 0.0;
            }
            if is_word {
                words_seen += 1;
                booster_age += 1;
                failure = failure || is_failure(word);
                if t.negated_contraction || is_negator(lang, word) {
                    last_negator = Some(words_seen);
                }
                if is_contrast(lang, word) {
                    contrast_at = Some(i);
                }
                if let Some(b) = booster_value(lang, word) {
                    booster = b;
                    booster_age = 0;
                    values.push(0.0);
                    continue;
                }
            }
            let Some(entry) = self.lookup(lang, t, word) else {
                values.push(0.0);
                continue;
            };
            let mut v = entry.valence;
            let mut applied: Vec<&'static str> = Vec::new();
            let record = explain.is_some();
            // A booster reaches the next three words, fading as VADER's does.
            if booster != 0.0 && booster_age <= 3 && is_word {
                let fade = [1.0, 1.0, 0.95, 0.9][booster_age.min(3)];
                v += booster * fade * v.signum();
                if record {
                    applied.push(if booster > 0.0 {
                        "intensified"
                    } else {
                        "diminished"
                    });
                }
            }
            if t.caps && !shouting && is_word {
                v += CAPS_INCREMENT * v.signum();
                if record {
                    applied.push("capitals");
                }
            }
            // An emoji says how the writer feels whatever the words before it deny: "non è
            // sicuro 🤮" is not praise.
            let negated = is_word
                && (last_negator
                    .is_some_and(|n| n < words_seen && words_seen - n <= NEGATION_SCOPE)
                    || t.negated_contraction);
            if negated {
                v *= NEGATION_SCALAR;
                if record {
                    applied.push("negated");
                }
            }
            let praised = v > 0.0 && is_word && is_praise(word);
            praise |= praised;
            if sarcastic && praised {
                v = -v;
                if record {
                    applied.push("sarcasm: praise beside a failure");
                }
            }
            if asking && v > 0.0 {
                v = 0.0;
                if record {
                    applied.push("asked, not said");
                }
            }
            values.push(v);
            if entry.source == Source::Emoji || t.kind == TokenKind::Emoji {
                signals.negative_emoji |= entry.valence < 0.0;
                signals.positive_emoji |= entry.valence > 0.0;
            }
            if v < 0.0 {
                signals.negative += v;
            } else {
                signals.positive += v;
            }
            if let Some((words, _)) = explain.as_mut() {
                words.push(Contribution {
                    word: word.to_string(),
                    lexicon: entry.source.as_str(),
                    base: entry.valence,
                    value: v,
                    rules: applied,
                });
            }
        }
        if let Some(c) = contrast_at {
            for (i, v) in values.iter_mut().enumerate() {
                *v *= if i < c {
                    CONTRAST_BEFORE
                } else {
                    CONTRAST_AFTER
                };
            }
            if let Some((words, rules)) = explain.as_mut() {
                rules.push(format!(
                    "contrast: words before `{}` count x{CONTRAST_BEFORE}, after it x{CONTRAST_AFTER}",
                    tokens.text(&tokens.as_slice()[c])
                ));
                let mut k = 0;
                for (i, v) in values.iter().enumerate() {
                    if *v != 0.0 && k < words.len() {
                        words[k].value = *v;
                        words[k].rules.push(if i < c {
                            "before contrast"
                        } else {
                            "after contrast"
                        });
                        k += 1;
                    }
                }
            }
        }
        let mut sum: f32 = values.iter().sum();
        if sum != 0.0 && tokens.exclamations > 0 {
            let boost = tokens.exclamations.min(MAX_EXCLAMATIONS) as f32 * EXCLAMATION_INCREMENT;
            sum += boost * sum.signum();
            if let Some((_, rules)) = explain.as_mut() {
                rules.push(format!(
                    "{} exclamation mark(s) amplify by {boost:.3}",
                    tokens.exclamations
                ));
            }
        }
        if shouting {
            if let Some((_, rules)) = explain.as_mut() {
                rules.push("whole comment in capitals: no per-word capitals emphasis".into());
            }
        }
        self.values = values;
        let score = sum / (sum * sum + NORMALIZATION_ALPHA).sqrt();
        signals.score = score;
        self.signals = signals;
        (round4(f64::from(score)), praise && failure)
    }
}

/// The model's most likely class.
fn model_label(p: &[f32; CLASSES]) -> Label {
    LABELS[argmax(p)]
}

/// Rounded so scores are stable across platforms and readable in output.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

mod words;

use self::words::booster_value;
pub use self::words::guess_lang;
pub(crate) use self::words::{is_contrast, is_negator};

#[cfg(test)]
mod tests;

/// A sentiment file the configuration names that cannot be used: which key, and why.
#[derive(Debug, thiserror::Error)]
#[error("config key `{key}`: {message}")]
pub struct ResourceError {
    pub key: &'static str,
    pub message: String,
}

/// The lexicon and models `config` asks for, or which file cannot be loaded and why.
pub fn resources(config: &SentimentConfig) -> Result<(Arc<Lexicon>, Models), ResourceError> {
    let lexicon = match &config.lexicon {
        Some(path) => {
            Lexicon::with_extra(std::path::Path::new(path)).map_err(|message| ResourceError {
                key: "sentiment.lexicon",
                message,
            })?
        }
        None => Lexicon::bundled(),
    };
    let models = Models::for_config(config.model.as_deref()).map_err(|e| ResourceError {
        key: "sentiment.model",
        message: e.to_string(),
    })?;
    Ok((Arc::new(lexicon), models))
}
