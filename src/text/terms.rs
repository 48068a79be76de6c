//! The terms a comment mentions, for emerging themes: its content words (stop words and
//! words under three letters out) and the pairs and triples of consecutive content words
//! within a clause, each hashed once per comment.
//!
//! "Vedo i dati di un altro utente" mentions `vedo`, `dati`, `altro`, `utente`,
//! `vedo dati`, `dati altro`, `altro utente`, `vedo dati altro`, `dati altro utente`, … A
//! theme written by many people in their own words shares some of them ("mi escono i dati
//! di uno sconosciuto" shares `dati`), which is what the theme tables count.

use std::sync::OnceLock;

use super::tokenize::{word_hash, TokenKind, Tokens};

/// Longest phrase counted, in content words: pairs carry most of what triples would, at two
/// thirds of the cost per comment.
pub const MAX_WORDS: usize = 2;

/// Italian and English function words: articles, prepositions and their contractions,
/// pronouns, conjunctions, auxiliaries and the commonest verbs and adverbs. Only words of
/// three letters or more are listed; shorter ones are never terms.
const STOP_WORDS: &[&str] = &[
    // Italian
    "agli", "alla", "alle", "allo", "anche", "ancora", "che", "chi", "con", "cosa", "come", "coi",
    "col", "cui", "dagli", "dai", "dal", "dall", "dalla", "dalle", "dallo", "degli", "dei", "del",
    "dell", "della", "delle", "dello", "dopo", "dove", "essere", "era", "erano", "gli", "hai",
    "hanno", "il", "loro", "lui", "lei", "mai", "mia", "mie", "miei", "mio", "molto", "negli",
    "nei", "nel", "nell", "nella", "nelle", "nello", "noi", "non", "nostro", "nostra", "oggi",
    "ogni", "per", "perche", "piu", "poi", "proprio", "qua", "quando", "quanto", "quella",
    "quelle", "quelli", "quello", "questa", "queste", "questi", "questo", "qui", "sei", "sempre",
    "senza", "siamo", "sia", "sono", "sta", "stato", "stata", "stati", "sto", "sua", "sue",
    "sugli", "sui", "sul", "sull", "sulla", "sulle", "suo", "suoi", "tra", "tutta", "tutte",
    "tutti", "tutto", "una", "uno", "vostro", "voi", "abbiamo", "avete", "fare", "fatto", "solo",
    "gia", "cosi", "ecco", "fra", "nessuno", "niente", "altri", "altre", "tuo", "tua", "ancora",
    "allora", "pero", "quindi", // English
    "about", "after", "again", "all", "also", "and", "any", "are", "because", "been", "before",
    "being", "but", "can", "could", "did", "does", "doing", "for", "from", "had", "has", "have",
    "her", "here", "him", "his", "how", "into", "its", "just", "more", "most", "not", "now", "off",
    "once", "only", "other", "our", "out", "over", "she", "should", "some", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "through", "too", "under",
    "until", "very", "was", "were", "what", "when", "where", "which", "while", "who", "why",
    "will", "with", "would", "you", "your",
];

/// The stop words' hashes, sorted, and a 4,096-bit filter of them: most words are not
/// stop words, and one bit says so without a search.
struct Stops {
    sorted: Vec<u64>,
    filter: [u64; 64],
}

impl Stops {
    fn contains(&self, h: u64) -> bool {
        let bit = (h >> 52) as usize;
        self.filter[bit / 64] & (1 << (bit % 64)) != 0 && self.sorted.binary_search(&h).is_ok()
    }
}

fn stop_hashes() -> &'static Stops {
    static HASHES: OnceLock<Stops> = OnceLock::new();
    HASHES.get_or_init(|| {
        let mut sorted: Vec<u64> = STOP_WORDS.iter().map(|w| word_hash(w)).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut filter = [0u64; 64];
        for h in &sorted {
            let bit = (h >> 52) as usize;
            filter[bit / 64] |= 1 << (bit % 64);
        }
        Stops { sorted, filter }
    })
}

/// One term of a comment: its hash, and where its words are in [`Terms::words`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub hash: u64,
    first: u16,
    len: u8,
}

/// A comment's terms, in text order; a term the comment repeats is listed again (the theme
/// table counts it once). Reused from comment to comment.
#[derive(Debug, Default, Clone)]
pub struct Terms {
    /// Token indexes of the content words, in order.
    words: Vec<u16>,
    /// Word hashes, beside `words`.
    word_hashes: Vec<u64>,
    terms: Vec<Term>,
}

impl Terms {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn as_slice(&self) -> &[Term] {
        &self.terms
    }

    /// The phrase a term stands for: its words separated by spaces.
    pub fn phrase(&self, tokens: &Tokens, term: &Term) -> String {
        let slice = tokens.as_slice();
        let mut out = String::new();
        for &w in &self.words[term.first as usize..][..term.len as usize] {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(tokens.text(&slice[w as usize]));
        }
        out
    }

    /// Finds the terms of `tokens`.
    pub fn extract(&mut self, tokens: &Tokens) {
        self.words.clear();
        self.word_hashes.clear();
        self.terms.clear();
        // A clause break between content words ends a run: phrases stay within a clause.
        let mut run_start = 0;
        let mut pending_break = false;
        let stop = stop_hashes();
        for (i, t) in tokens.as_slice().iter().enumerate().take(u16::MAX as usize) {
            pending_break |= t.after_break;
            let text = tokens.text(t);
            if t.kind != TokenKind::Word || text.len() < 3 {
                continue;
            }
            let word = t.hash;
            if stop.contains(word) {
                continue;
            }
            if std::mem::take(&mut pending_break) {
                run_start = self.words.len();
            }
            let at = self.words.len();
            self.words.push(i as u16);
            self.word_hashes.push(word);
            // The phrases ending at this word: itself, and one or two words before it.
            let mut hash = 0u64;
            for len in 1..=MAX_WORDS.min(at - run_start + 1) {
                let first = at + 1 - len;
                hash = mix(self.word_hashes[first], hash, len);
                self.terms.push(Term {
                    hash,
                    first: first as u16,
                    len: len as u8,
                });
            }
        }
    }
}

/// The hash of a phrase from its first word's hash and the hash of the rest.
fn mix(first: u64, rest: u64, len: usize) -> u64 {
    let h = first.rotate_left(17) ^ rest.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ len as u64;
    h.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrases(text: &str) -> Vec<String> {
        let mut tokens = Tokens::new();
        tokens.tokenize(text);
        let mut terms = Terms::new();
        terms.extract(&tokens);
        let mut v: Vec<String> = terms
            .as_slice()
            .iter()
            .map(|t| terms.phrase(&tokens, t))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn content_words_and_pairs_within_a_clause() {
        assert_eq!(
            phrases("Vedo i dati di un altro utente! Assurdo"),
            [
                "altro",
                "altro utente",
                "assurdo",
                "dati",
                "dati altro",
                "utente",
                "vedo",
                "vedo dati",
            ]
        );
    }

    #[test]
    fn stop_words_are_never_terms() {
        assert!(phrases("questo non è per noi, anche perché sono sempre loro").is_empty());
        assert!(phrases("they would have been there with them").is_empty());
        assert_eq!(phrases("questo sito"), ["sito"]);
    }

    #[test]
    fn the_same_phrase_hashes_the_same() {
        assert_eq!(
            phrases("dati dati DATI"),
            ["dati", "dati", "dati", "dati dati", "dati dati"]
        );
        let hash = |text: &str| {
            let mut tokens = Tokens::new();
            tokens.tokenize(text);
            let mut terms = Terms::new();
            terms.extract(&tokens);
            let t = terms.as_slice().iter().find(|t| t.len == 2).copied();
            t.map(|t| t.hash)
        };
        assert_eq!(hash("l'altro utente"), hash("Altro UTENTE!!"));
        assert_ne!(hash("altro utente"), hash("utente altro"));
    }
}
