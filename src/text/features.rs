//! What the sentiment model sees in a comment: its words, word pairs and letter n-grams,
//! hashed into a fixed number of slots, and a few dense signals from the lexicon and the
//! rules (the lexicon's score, negation, contrast, emoji, shouting, questions, praise next
//! to a failure).
//!
//! Hashing keeps the model a fixed size whatever the vocabulary, and lets it read words it
//! never saw through their letter n-grams ("vergognatevi" shares `ver`, `ergo`, `ogn` with
//! "vergogna"). The hash is written out here (FNV-1a with a final mix), so a model file
//! means the same on every platform and release.

use super::sentiment::{is_contrast, is_negator, Lang};
use super::tokenize::{TokenKind, Tokens};

/// Dense signals, in the order of the model's dense slots.
pub const DENSE: usize = 20;
pub const DENSE_NAMES: [&str; DENSE] = [
    "lexicon score",
    "lexicon: strongly negative",
    "lexicon: negative",
    "lexicon: positive",
    "lexicon: strongly positive",
    "negative words",
    "positive words",
    "negation",
    "contrast",
    "exclamation",
    "question",
    "shouting",
    "negative emoji",
    "positive emoji",
    "praise next to a failure",
    "praise",
    "failure",
    "short",
    "link",
    "mention",
];

/// A negator reaches this many words ahead (as in the lexicon's rules).
const NEGATION_SCOPE: u32 = 3;
/// Letter n-grams of each word, with `<` and `>` marking its ends.
const NGRAMS: [usize; 2] = [3, 4];

/// What the lexicon and its rules found in a comment, for the model.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Signals {
    /// The lexicon-only score, -1..1.
    pub score: f32,
    /// Sums of the negative and positive valences found (VADER's -4..4 scale).
    pub negative: f32,
    pub positive: f32,
    pub negative_emoji: bool,
    pub positive_emoji: bool,
}

/// One comment's features: hashed slots (repeats allowed) and the dense signals.
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub hashed: Vec<u32>,
    pub dense: [f32; DENSE],
    /// Each hashed slot's feature, when an explanation was asked for.
    pub names: Option<Vec<String>>,
    scratch: Vec<u8>,
}

impl Features {
    pub fn new() -> Self {
        Self::default()
    }

    /// Extracts `tokens`' features for a model of `2^bits` hashed slots.
    pub fn extract(&mut self, tokens: &Tokens, lang: Lang, signals: &Signals, bits: u32) {
        self.hashed.clear();
        if let Some(n) = self.names.as_mut() {
            n.clear();
        }
        let mut prev: Option<u64> = None;
        let mut negated_left = 0u32;
        let (mut negation, mut contrast, mut praise, mut failure) = (false, false, false, false);
        let (mut words, mut url, mut mention) = (0u32, false, false);
        for t in tokens.as_slice() {
            let text = tokens.text(t);
            if t.after_break {
                negated_left = 0;
                prev = None;
            }
            let unit = match t.kind {
                TokenKind::Word | TokenKind::Hashtag => text,
                TokenKind::Emoji => text,
                TokenKind::Number => "0",
                TokenKind::Mention => {
                    mention = true;
                    "@"
                }
                TokenKind::Url => {
                    url = true;
                    "http"
                }
            };
            let word = matches!(t.kind, TokenKind::Word | TokenKind::Hashtag);
            let h = hash(b'w', unit.as_bytes());
            self.push(h, bits, || format!("word `{unit}`"));
            if let Some(p) = prev {
                self.push(mix(p.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ h), bits, || {
                    format!("pair ending `{unit}`")
                });
            }
            prev = Some(h);
            if word {
                words += 1;
                if negated_left > 0 {
                    negated_left -= 1;
                    self.push(hash(b'n', unit.as_bytes()), bits, || {
                        format!("negated `{unit}`")
                    });
                }
                if t.negated_contraction || is_negator(lang, text) {
                    negation = true;
                    negated_left = NEGATION_SCOPE;
                }
                contrast |= is_contrast(lang, text);
                praise |= is_praise(text);
                failure |= is_failure(text);
                self.ngrams(text, bits);
            }
        }
        let s = signals.score;
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        self.dense = [
            s,
            flag(s <= -0.5),
            flag(s <= -0.05),
            flag(s >= 0.05),
            flag(s >= 0.5),
            (-signals.negative / 4.0).min(3.0),
            (signals.positive / 4.0).min(3.0),
            flag(negation),
            flag(contrast),
            flag(tokens.exclamations > 0),
            flag(tokens.questions > 0),
            flag(tokens.all_caps()),
            flag(signals.negative_emoji),
            flag(signals.positive_emoji),
            flag(praise && failure),
            flag(praise),
            flag(failure),
            flag(words <= 3),
            flag(url),
            flag(mention),
        ];
    }

    fn ngrams(&mut self, word: &str, bits: u32) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.push(b'<');
        buf.extend_from_slice(word.as_bytes());
        buf.push(b'>');
        for n in NGRAMS {
            for g in buf.windows(n) {
                self.push(hash(b'g', g), bits, || {
                    format!("letters `{}`", String::from_utf8_lossy(g))
                });
            }
        }
        self.scratch = buf;
    }

    #[inline]
    fn push(&mut self, h: u64, bits: u32, name: impl FnOnce() -> String) {
        self.hashed.push((h >> (64 - bits)) as u32);
        if let Some(n) = self.names.as_mut() {
            n.push(name());
        }
    }
}

/// FNV-1a over `bytes` in namespace `ns`, then mixed so the top bits are as good as the low.
#[inline]
fn hash(ns: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&ns).chain(bytes) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Praise that, next to a failure, is usually sarcasm ("Bravi, il sito è di nuovo giù").
pub(crate) fn is_praise(w: &str) -> bool {
    matches!(
        w,
        "bravi"
            | "bravo"
            | "brava"
            | "brave"
            | "complimenti"
            | "ottimo"
            | "ottima"
            | "ottimi"
            | "perfetto"
            | "geniale"
            | "geniali"
            | "fantastico"
            | "fantastici"
            | "bellissimo"
            | "grandi"
            | "evviva"
            | "great"
            | "brilliant"
            | "genius"
            | "wonderful"
            | "congrats"
            | "congratulations"
            | "perfect"
            | "amazing"
    )
}

/// Words of a service failing or of being fooled.
pub(crate) fn is_failure(w: &str) -> bool {
    matches!(
        w,
        "giu"
            | "bloccato"
            | "bloccata"
            | "crash"
            | "crashato"
            | "errore"
            | "errori"
            | "down"
            | "pesce"
            | "scherzando"
            | "scherzo"
            | "disastro"
            | "hacker"
            | "caduto"
            | "crollato"
            | "rotto"
            | "broken"
            | "hacked"
            | "failed"
            | "fail"
            | "outage"
            | "joke"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(text: &str) -> Features {
        let mut t = Tokens::new();
        t.tokenize(text);
        let mut f = Features::new();
        f.names = Some(Vec::new());
        f.extract(&t, Lang::It, &Signals::default(), 18);
        f
    }

    #[test]
    fn words_pairs_negations_and_letters_are_named_and_stable() {
        let f = features("Il sito non funziona");
        let names = f.names.as_ref().unwrap();
        for want in [
            "word `sito`",
            "pair ending `funziona`",
            "negated `funziona`",
        ] {
            assert!(names.iter().any(|n| n == want), "{want}: {names:?}");
        }
        assert!(names.iter().any(|n| n == "letters `<fun`"), "{names:?}");
        assert_eq!(names.len(), f.hashed.len());
        // The same text, the same slots: the hash is the project's own, not the platform's.
        assert_eq!(f.hashed, features("Il sito non funziona").hashed);
        // Shipped models depend on these exact values: a change to the hash must fail here.
        assert_eq!(hash(b'w', b"sito"), 0xb18c_e103_3e80_1ffe);
    }

    #[test]
    fn sarcasm_question_and_negation_signals() {
        let f = features("Bravi, il sito è di nuovo giù?");
        let at = |name: &str| f.dense[DENSE_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at("praise next to a failure"), 1.0);
        assert_eq!(at("question"), 1.0);
        assert_eq!(at("negation"), 0.0);
        // A break ends the negation's reach.
        let f = features("non so, funziona");
        let names = f.names.unwrap();
        assert!(
            !names.iter().any(|n| n == "negated `funziona`"),
            "{names:?}"
        );
    }
}
