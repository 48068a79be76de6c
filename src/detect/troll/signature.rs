//! Near-duplicate signatures: normalised shingles → MinHash → LSH band keys.
//!
//! Normalisation reuses the tokeniser (lower case, accents folded, repeated letters and
//! punctuation collapsed). Words are the text; numbers and URLs count as one class token
//! each ("ho chiamato 13 volte" ≈ "ho chiamato 16 volte"); mentions, hashtags and emoji are
//! left out of the shingles, because adding them is exactly how copy-paste accounts vary a
//! template, and are kept as evidence instead. Shingles are word bigrams.
//!
//! The MinHash is the classic one (Broder 1997), as datasketch computes it: 128 independent
//! hash functions, each value the minimum of one function over the shingles, so two
//! signatures agree in a value with probability equal to the Jaccard similarity of the
//! shingle sets and the estimate has the spread of 128 independent samples whatever the
//! length of the text. The functions are affine maps over 32-bit words, and the loop runs
//! sixteen of them side by side, which the compiler turns into vector instructions: for
//! comments of a few dozen words this is faster than one-permutation hashing, whose
//! densification of the many empty bins of a short text cost more than the hashing it saved
//! (and whose copied bins made short texts' estimates noisier). Nothing here allocates per
//! comment: the caller owns the buffers.

use crate::text::tokenize::{TokenKind, Tokens};

/// MinHash values per signature: 128, so the similarity estimate that decides a match has a
/// standard error of 0.04 at J = 0.7.
pub const BINS: usize = 128;
/// LSH bands × rows over the first 64 values. A pair becomes a candidate when all rows of
/// any band agree: probability 1 - (1 - J^4)^16, about 0.99 at J = 0.7 and 0.12 at J = 0.3.
/// Candidates are then verified against the similarity threshold on all 128 values.
pub const BANDS: usize = 16;
pub const ROWS: usize = 4;

/// Stored signature values: the low 8 bits of each 32-bit minimum (b-bit MinHash, Li and
/// König 2010), a quarter of the memory. Two different minima share their low byte with
/// probability 1/256, which [`similarity`] takes out of its estimate. (Not the top byte:
/// minima are small numbers, whose top bytes collide far more often.) A band's four bytes are
/// its LSH key as they are.
pub type Signature = [u8; BINS];

#[inline]
fn mix(mut x: u64) -> u64 {
    // SplitMix64 finaliser: spreads FxHash output over all 64 bits.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
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

/// How many of a comment's tokens go into its shingles (words, numbers, URLs): the length
/// `min_tokens` is compared with.
pub fn text_tokens(tokens: &Tokens) -> usize {
    tokens
        .as_slice()
        .iter()
        .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::Number | TokenKind::Url))
        .count()
}

/// Lanes the MinHash inner loop works on at once: two AVX2 registers, one AVX-512 register.
const LANES: usize = 16;

/// The MinHash family: `BINS` affine maps `x -> a*x + b` over 32-bit words (odd `a`), applied
/// to a shingle's 32-bit hash. Fixed, so signatures from any run or machine compare.
#[derive(Clone)]
struct Family {
    a: [u32; BINS],
    b: [u32; BINS],
}

impl Family {
    fn new() -> Self {
        let mut a = [0u32; BINS];
        let mut b = [0u32; BINS];
        for i in 0..BINS {
            let r = mix(0x6f6e_6461_7461_0000 | i as u64);
            a[i] = (r as u32) | 1;
            b[i] = (r >> 32) as u32;
        }
        Self { a, b }
    }
}

/// Reusable buffers for turning comments into signatures.
#[derive(Clone)]
pub struct Signer {
    elements: Vec<u64>,
    shingles: Vec<u32>,
    family: Family,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    pub fn new() -> Self {
        Self {
            elements: Vec::with_capacity(64),
            shingles: Vec::with_capacity(64),
            family: Family::new(),
        }
    }

    /// Computes the signature of an already tokenised comment into `out`.
    pub fn sign(&mut self, tokens: &Tokens, out: &mut Signature) -> Shingled {
        self.elements.clear();
        for t in tokens.as_slice() {
            let h = match t.kind {
                TokenKind::Word => mix(t.hash),
                TokenKind::Number => NUMBER,
                TokenKind::Url => URL,
                TokenKind::Mention | TokenKind::Hashtag | TokenKind::Emoji => continue,
            };
            self.elements.push(h);
        }
        self.shingles.clear();
        match self.elements.len() {
            0 => {}
            1 => self
                .shingles
                .push(mix(self.elements[0] ^ 0x9e37_79b9) as u32),
            _ => self.shingles.extend(
                self.elements
                    .windows(2)
                    .map(|pair| mix(pair[0].rotate_left(17) ^ pair[1]) as u32),
            ),
        }
        minhash(&self.family, &self.shingles, out);
        Shingled {
            tokens: self.elements.len(),
            shingles: self.shingles.len(),
        }
    }
}

/// Each value of the signature: the top 8 bits of the minimum of one map of the family over
/// the shingles (all `u32::MAX` for a comment without shingles). Written lane-block by
/// lane-block so the compiler keeps a block of minima in registers across the shingles.
/// Compiled for AVX-512 and AVX2 beside the baseline, the best chosen once at run time; the
/// same arithmetic in each, so signatures do not depend on the machine.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl", "x86_64+avx2"))]
fn minhash(family: &Family, shingles: &[u32], out: &mut Signature) {
    for ((a, b), o) in family
        .a
        .chunks_exact(LANES)
        .zip(family.b.chunks_exact(LANES))
        .zip(out.chunks_exact_mut(LANES))
    {
        let mut min = [u32::MAX; LANES];
        for &x in shingles {
            for l in 0..LANES {
                min[l] = min[l].min(a[l].wrapping_mul(x).wrapping_add(b[l]));
            }
        }
        for l in 0..LANES {
            o[l] = min[l] as u8;
        }
    }
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

/// Bins that differ between `a` and `b` in `bins`, eight at a time: XOR the words, then
/// count the non-zero bytes (a byte is non-zero when its high bit, or the carry of its low
/// seven bits plus 0x7f, is set). About one instruction a bin, whatever the compiler decides
/// about vectorising a byte loop.
#[inline]
fn differing(a: &Signature, b: &Signature, bins: std::ops::Range<usize>) -> u32 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word =
        |s: &Signature, i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default());
    let mut differ = 0;
    for i in bins.step_by(8) {
        let d = word(a, i) ^ word(b, i);
        differ += ((d | ((d & LOW7) + LOW7)) & HIGH).count_ones();
    }
    differ
}

/// The similarity estimate from the number of agreeing bins: two different minima share
/// their low byte with probability 1/256, a share taken out.
#[inline]
fn estimate(equal: u32) -> f64 {
    const CHANCE: f64 = 1.0 / 256.0;
    ((f64::from(equal) / BINS as f64 - CHANCE) / (1.0 - CHANCE)).max(0.0)
}

/// Estimated Jaccard similarity: the share of agreeing bins.
#[inline]
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    estimate(BINS as u32 - differing(a, b, 0..BINS))
}

/// The fewest agreeing bins whose [`similarity`] estimate reaches `threshold` (`BINS + 1`
/// when none does): comparing counts of bins decides as comparing estimates would, without
/// a division per candidate.
pub fn min_equal_bins(threshold: f64) -> u32 {
    let bins = BINS as u32;
    (0..=bins)
        .find(|&k| estimate(k) >= threshold)
        .unwrap_or(bins + 1)
}

/// [`similarity`] when at least `min_equal` bins agree ([`min_equal_bins`] of the
/// threshold). The first half of the bins decides most candidates: when even a second half
/// in full agreement could not reach the threshold, the second half (the signature's
/// second cache line) is not read.
#[inline]
pub fn similarity_at_least(a: &Signature, b: &Signature, min_equal: u32) -> Option<f64> {
    let half = BINS / 2;
    let at_most = BINS as u32 - differing(a, b, 0..half);
    if at_most < min_equal {
        return None;
    }
    let equal = at_most - differing(a, b, half..BINS);
    (equal >= min_equal).then(|| estimate(equal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thresholded_similarity_agrees_with_the_full_one() {
        let mut a = [0u8; BINS];
        for (i, v) in a.iter_mut().enumerate() {
            *v = i as u8;
        }
        for differ_first in 0..=64 {
            for differ_second in (0..=64).step_by(3) {
                let mut b = a;
                for v in b.iter_mut().take(differ_first) {
                    *v ^= 0xff;
                }
                for v in b.iter_mut().skip(64).take(differ_second) {
                    *v ^= 0xff;
                }
                let full = similarity(&a, &b);
                for threshold in [0.0, 0.3, 0.5, 0.69, 0.7, 0.71, 0.75, 0.9, 0.99, 1.0, 1.5] {
                    let got = similarity_at_least(&a, &b, min_equal_bins(threshold));
                    assert_eq!(
                        got,
                        (full >= threshold).then_some(full),
                        "{differ_first} {differ_second} {threshold}"
                    );
                }
            }
        }
    }

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
        let chance = 1.0 / 256.0;
        assert_eq!(similarity(&a, &b), (naive - chance) / (1.0 - chance));
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

    /// Over many random pairs the estimate averages to the exact Jaccard similarity, with the
    /// spread of 128 independent values. (Keeping the top byte of each minimum instead of the
    /// low one failed this: minima are small numbers, so their top bytes collide often.)
    #[test]
    fn estimate_is_unbiased_with_the_expected_spread() {
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix(state)
        };
        let (mut t, mut signer) = (Tokens::new(), Signer::new());
        let (mut sa, mut sb) = ([0u8; BINS], [0u8; BINS]);
        for (n, shared) in [(20usize, 17usize), (40, 33)] {
            // `shared` words in common at the start: shared - 1 common bigrams of n - 1 each.
            let common = (shared - 1) as f64;
            let exact = common / (2.0 * (n - 1) as f64 - common);
            let trials = 600;
            let (mut sum, mut squares) = (0.0, 0.0);
            for _ in 0..trials {
                let words: Vec<String> = (0..2 * n).map(|_| format!("w{}", next() >> 20)).collect();
                let a = words[..n].join(" ");
                let b = [&words[..shared], &words[n..2 * n - shared]]
                    .concat()
                    .join(" ");
                t.tokenize(&a);
                signer.sign(&t, &mut sa);
                t.tokenize(&b);
                signer.sign(&t, &mut sb);
                let e = similarity(&sa, &sb);
                sum += e;
                squares += e * e;
            }
            let mean = sum / trials as f64;
            let sd = (squares / trials as f64 - mean * mean).sqrt();
            let expected_sd = (exact * (1.0 - exact) / BINS as f64).sqrt();
            assert!(
                (mean - exact).abs() < 0.008,
                "n {n}: mean {mean} vs {exact}"
            );
            assert!(
                (sd / expected_sd - 1.0).abs() < 0.2,
                "n {n}: sd {sd} vs {expected_sd}"
            );
        }
    }
}

/// Serde for a list of signatures as one run of bytes (serde has no arrays of `BINS`).
pub(super) mod packed {
    use super::{Signature, BINS};
    use serde::de::Error as _;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sigs: &[Signature], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(sigs.as_flattened())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Signature>, D::Error> {
        let bytes: Vec<u8> = serde_bytes_vec(d)?;
        if bytes.len() % BINS != 0 {
            return Err(D::Error::custom(format!(
                "{} signature bytes are not a whole number of {BINS}-byte signatures",
                bytes.len()
            )));
        }
        Ok(bytes
            .chunks_exact(BINS)
            .map(|c| c.try_into().expect("a chunk of BINS bytes"))
            .collect())
    }

    fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("signature bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element()? {
                    v.push(b);
                }
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Bytes)
    }
}
