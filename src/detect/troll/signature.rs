//! Near-duplicate signatures: normalised shingles → one-permutation MinHash → LSH band keys.
//!
//! Normalisation reuses the tokeniser (lower case, accents folded, repeated letters and
//! punctuation collapsed). Words are the text; numbers and URLs count as one class token
//! each ("ho chiamato 13 volte" ≈ "ho chiamato 16 volte"); mentions, hashtags and emoji are
//! left out of the shingles, because adding them is exactly how copy-paste accounts vary a
//! template, and are kept as evidence instead. Shingles are word bigrams.
//!
//! The MinHash is one-permutation hashing (Li, Owen, Zhang 2012): each shingle hash falls in
//! one of 128 bins by its top bits and each bin keeps its minimum, one hash per shingle instead
//! of 128. Bins left empty by short texts are filled by optimal densification (Shrivastava
//! 2017), so two signatures agree in a bin with probability equal to the Jaccard similarity
//! of the shingle sets. Nothing here allocates per comment: the caller owns the buffers.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::text::tokenize::{TokenKind, Tokens};

/// MinHash values per signature: 128, so the similarity estimate that decides a match has a
/// standard error of 0.04 at J = 0.7.
pub const BINS: usize = 128;
/// LSH bands × rows over the first 64 values. A pair becomes a candidate when all rows of
/// any band agree: probability 1 - (1 - J^4)^16, about 0.99 at J = 0.7 and 0.12 at J = 0.3.
/// Candidates are then verified against the similarity threshold on all 128 values.
pub const BANDS: usize = 16;
pub const ROWS: usize = 4;

/// Stored signature values: the top 8 bits of each 32-bit minimum (b-bit MinHash, Li and
/// König 2010). Two different minima collide with probability 1/256, which raises a
/// similarity estimate by (1 - J)/256, far below the estimator's own noise, at a quarter of
/// the memory. A band's four bytes are its LSH key as they are.
pub type Signature = [u8; BINS];

const EMPTY: u32 = u32::MAX;

#[inline]
fn mix(mut x: u64) -> u64 {
    // SplitMix64 finaliser: spreads FxHash output over all 64 bits.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    mix(h.finish())
}

/// Class tokens for numbers and URLs.
const NUMBER: u64 = 0x4e55_4d42_4552_0001;
const URL: u64 = 0x5552_4c00_0000_0002;

/// What normalisation found in one comment besides its signature.
#[derive(Debug, Default)]
pub struct Shingled {
    /// Normalised tokens that form the text (words, numbers, URLs).
    pub tokens: usize,
    /// Distinct shingles hashed.
    pub shingles: usize,
}

/// Probes precomputed per bin for densification; a longer search falls back to hashing.
const PROBES: usize = 24;

/// How many of a comment's tokens go into its shingles (words, numbers, URLs): the length
/// `min_tokens` is compared with.
pub fn text_tokens(tokens: &Tokens) -> usize {
    tokens
        .as_slice()
        .iter()
        .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::Number | TokenKind::Url))
        .count()
}

/// Reusable buffers for turning comments into signatures.
pub struct Signer {
    elements: Vec<u64>,
    bins: Vec<u32>,
    /// The first probes of each bin's densification sequence: data-independent, so they are
    /// computed once instead of hashed for every empty bin of every comment.
    probes: Vec<[u8; PROBES]>,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    pub fn new() -> Self {
        let probes = (0..BINS)
            .map(|i| {
                let mut p = [0u8; PROBES];
                for (k, v) in p.iter_mut().enumerate() {
                    *v = probe(i, k as u64 + 1) as u8;
                }
                p
            })
            .collect();
        Self {
            elements: Vec::with_capacity(64),
            bins: vec![EMPTY; BINS],
            probes,
        }
    }

    /// Computes the signature of an already tokenised comment into `out`.
    pub fn sign(&mut self, tokens: &Tokens, out: &mut Signature) -> Shingled {
        self.elements.clear();
        for t in tokens.as_slice() {
            let h = match t.kind {
                TokenKind::Word => hash_str(tokens.text(t)),
                TokenKind::Number => NUMBER,
                TokenKind::Url => URL,
                TokenKind::Mention | TokenKind::Hashtag | TokenKind::Emoji => continue,
            };
            self.elements.push(h);
        }
        self.bins.iter_mut().for_each(|b| *b = EMPTY);
        let mut shingles = 0;
        let mut add = |h: u64, bins: &mut Vec<u32>| {
            let bin = (h >> 57) as usize;
            let value = h as u32;
            if value < bins[bin] {
                bins[bin] = value;
            }
            shingles += 1;
        };
        match self.elements.len() {
            0 => {}
            1 => add(mix(self.elements[0] ^ 0x9e37_79b9), &mut self.bins),
            _ => {
                for pair in self.elements.windows(2) {
                    add(mix(pair[0].rotate_left(17) ^ pair[1]), &mut self.bins);
                }
            }
        }
        densify(&mut self.bins, &self.probes);
        for (o, b) in out.iter_mut().zip(&self.bins) {
            *o = (b >> 24) as u8;
        }
        Shingled {
            tokens: self.elements.len(),
            shingles,
        }
    }
}

/// Optimal densification: an empty bin copies the value of the first non-empty bin met by
/// its own fixed sequence of probes, so equal shingle sets densify identically and the
/// agreement probability per bin stays the Jaccard similarity.
fn densify(bins: &mut [u32], probes: &[[u8; PROBES]]) {
    if bins.iter().all(|b| *b == EMPTY) || bins.iter().all(|b| *b != EMPTY) {
        return;
    }
    let original: [u32; BINS] = {
        let mut a = [EMPTY; BINS];
        a.copy_from_slice(bins);
        a
    };
    for (i, b) in bins.iter_mut().enumerate() {
        if *b != EMPTY {
            continue;
        }
        let known = probes[i]
            .iter()
            .map(|p| original[*p as usize])
            .find(|v| *v != EMPTY);
        *b = known.unwrap_or_else(|| {
            (PROBES as u64 + 1..)
                .map(|attempt| original[probe(i, attempt)])
                .find(|v| *v != EMPTY)
                .unwrap_or(EMPTY)
        });
    }
}

/// Bin probed by empty bin `i` at its `attempt`-th try (from 1).
fn probe(i: usize, attempt: u64) -> usize {
    (mix((i as u64) << 32 | attempt) >> 57) as usize
}

/// The LSH key of each band of a signature: its four values, as one 32-bit word. Each band
/// has its own table, so the band number need not be part of the key.
pub fn band_keys(sig: &Signature) -> [u32; BANDS] {
    let mut keys = [0u32; BANDS];
    for (band, key) in keys.iter_mut().enumerate() {
        let b = &sig[band * ROWS..(band + 1) * ROWS];
        *key = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    keys
}

/// Estimated Jaccard similarity: the share of agreeing bins. Compares eight bins at a time:
/// XOR the words, then count the zero bytes (a byte is non-zero when its high bit, or the
/// carry of its low seven bits plus 0x7f, is set).
#[inline]
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut equal = 0u32;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        let d = x ^ y;
        let nonzero = (d | ((d & LOW7) + LOW7)) & HIGH;
        equal += 8 - nonzero.count_ones();
    }
    f64::from(equal) / BINS as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(text: &str) -> (Signature, Shingled) {
        let mut t = Tokens::new();
        t.tokenize(text);
        let mut s = [0u8; BINS];
        let info = Signer::new().sign(&t, &mut s);
        (s, info)
    }

    const TEMPLATE: &str = "l'INPS ha messo in piazza i dati di milioni di italiani e nessuno paga per questo. Dimissioni subito!";

    #[test]
    fn campaign_edits_stay_similar() {
        let (a, info) = sig(TEMPLATE);
        assert!(info.tokens >= 15);
        for edited in [
            "@presidenza_inps L'INPS HA MESSO in piazza i dati di milioni di italiani e nessuno paga per questo. Dimissioni subito! #INPSvergogna 😡",
            "l'INPS ha messo in piazza i dati di milioni di italiani e nessuno paga. Dimissioni subito!! @min_lavoro #dimissioni",
            "l'inps ha messo in piazza i dati di milioni di italiani e nessuno paga per questo dimissioni subitoooo",
        ] {
            let (b, _) = sig(edited);
            assert!(similarity(&a, &b) >= 0.7, "{} for {edited}", similarity(&a, &b));
        }
    }

    #[test]
    fn different_complaints_are_not_similar() {
        let (a, _) = sig(TEMPLATE);
        for other in [
            "il sito non funziona da stamattina e nessuno risponde al numero verde",
            "ho fatto la domanda per il bonus il primo aprile e non ho ancora ricevuto niente",
        ] {
            let (b, _) = sig(other);
            assert!(similarity(&a, &b) < 0.3, "{}", similarity(&a, &b));
        }
    }

    #[test]
    fn identical_texts_have_identical_signatures_and_keys() {
        let (a, _) = sig("il sito non va");
        let (b, _) = sig("Il SITO non va!!!");
        assert_eq!(a, b);
        assert_eq!(band_keys(&a), band_keys(&b));
    }

    #[test]
    fn word_wise_similarity_counts_equal_bins() {
        let mut a = [0u8; BINS];
        let mut b = [0u8; BINS];
        for i in 0..BINS {
            a[i] = i as u8;
            b[i] = if i % 3 == 0 {
                i as u8
            } else {
                (i as u8).wrapping_add(128)
            };
        }
        let naive = a.iter().zip(&b).filter(|(x, y)| x == y).count() as f64 / BINS as f64;
        assert_eq!(similarity(&a, &b), naive);
        assert_eq!(similarity(&a, &a), 1.0);
    }

    #[test]
    fn estimate_tracks_true_jaccard() {
        // Two 40-word texts sharing 30 words in a row: bigram Jaccard = 29 / 49 ≈ 0.59.
        let words: Vec<String> = (0..50).map(|i| format!("parola{i}")).collect();
        let a = words[0..40].join(" ");
        let b = words[10..50].join(" ");
        let (sa, _) = sig(&a);
        let (sb, _) = sig(&b);
        let est = similarity(&sa, &sb);
        assert!((est - 29.0 / 49.0).abs() < 0.2, "{est}");
    }
}
