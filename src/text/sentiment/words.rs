//! The words the lexicon's rules turn on: negators, contrasts, intensifiers, and the
//! function words that tell Italian from English.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use super::{Lang, BOOSTER_INCREMENT};
use crate::text::tokenize::{word_hash, TokenKind, Tokens};

pub(crate) fn is_negator(lang: Lang, w: &str) -> bool {
    match lang {
        Lang::It => matches!(
            w,
            "non"
                | "nun"
                | "mai"
                | "nessuno"
                | "nessuna"
                | "nessun"
                | "niente"
                | "nulla"
                | "ne"
                | "senza"
                | "neanche"
                | "nemmeno"
                | "neppure"
                | "affatto"
                | "no"
        ),
        Lang::En => matches!(
            w,
            "not"
                | "no"
                | "never"
                | "nobody"
                | "nothing"
                | "none"
                | "neither"
                | "nor"
                | "without"
                | "cannot"
                | "nowhere"
        ),
        Lang::Other => false,
    }
}

pub(crate) fn is_contrast(lang: Lang, w: &str) -> bool {
    match lang {
        Lang::It => matches!(w, "ma" | "pero" | "tuttavia" | "eppure"),
        Lang::En => matches!(w, "but" | "however" | "yet"),
        Lang::Other => false,
    }
}

pub(super) fn booster_value(lang: Lang, w: &str) -> Option<f32> {
    let up = Some(BOOSTER_INCREMENT);
    let down = Some(-BOOSTER_INCREMENT);
    match lang {
        Lang::It => match w {
            "molto" | "troppo" | "tanto" | "tanta" | "tanti" | "tante" | "davvero"
            | "veramente" | "proprio" | "super" | "assolutamente" | "estremamente"
            | "completamente" | "totalmente" | "incredibilmente" | "particolarmente" | "cosi"
            | "sempre" | "piu" => up,
            "poco" | "poca" | "abbastanza" | "quasi" | "leggermente" | "piuttosto" | "po" => down,
            _ => None,
        },
        Lang::En => match w {
            "very" | "really" | "so" | "extremely" | "absolutely" | "totally" | "completely"
            | "incredibly" | "too" | "super" | "highly" | "utterly" | "truly" => up,
            "slightly" | "somewhat" | "barely" | "hardly" | "kinda" | "marginally" | "little" => {
                down
            }
            _ => None,
        },
        Lang::Other => None,
    }
}

/// Function words that tell Italian from English.
const ITALIAN_FUNCTION_WORDS: [&str; 36] = [
    "il", "lo", "la", "gli", "le", "di", "che", "non", "e", "per", "un", "una", "sono", "ho",
    "del", "della", "mi", "ma", "come", "si", "questo", "da", "al", "con", "ancora", "sito",
    "perche", "anche", "nel", "alla", "ci", "piu", "gia", "dell", "l", "c",
];
const ENGLISH_FUNCTION_WORDS: [&str; 57] = [
    "the", "and", "is", "to", "of", "it", "not", "this", "you", "for", "my", "i", "are", "was",
    "have", "with", "but", "on", "what", "why", "can", "doesn", "still", "website", "be", "your",
    "we", "guys", "job", "great", "again", "down", "thanks", "please", "just", "does", "don",
    "how", "when", "there", "they", "our", "me", "at", "an", "by", "from", "has", "will", "would",
    "should", "could", "all", "who", "were", "been", "its",
];

/// The function words by [`word_hash`]: a token is looked up by the hash the tokeniser
/// already computed, one probe of a table that stays in cache, instead of comparing it
/// with each word of its length.
static FUNCTION_WORDS: LazyLock<FxHashMap<u64, (&'static str, Lang)>> = LazyLock::new(|| {
    let words = |list: &'static [&'static str], lang| list.iter().map(move |&w| (w, lang));
    words(&ITALIAN_FUNCTION_WORDS, Lang::It)
        .chain(words(&ENGLISH_FUNCTION_WORDS, Lang::En))
        .map(|(w, lang)| (word_hash(w), (w, lang)))
        .collect()
});

/// Guesses Italian or English from function words; a tie gives `default`.
pub fn guess_lang(tokens: &Tokens, default: Lang) -> Lang {
    let function_words = &*FUNCTION_WORDS;
    let (mut it, mut en) = (0u32, 0u32);
    for t in tokens
        .as_slice()
        .iter()
        .filter(|t| t.kind == TokenKind::Word)
    {
        match function_words.get(&t.hash) {
            Some(&(w, Lang::It)) if w == tokens.text(t) => it += 1,
            Some(&(w, Lang::En)) if w == tokens.text(t) => en += 1,
            _ => {}
        }
    }
    match it.cmp(&en) {
        std::cmp::Ordering::Greater => Lang::It,
        std::cmp::Ordering::Less => Lang::En,
        std::cmp::Ordering::Equal => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_word_counts_for_its_language_alone() {
        let lang = |text: &str| {
            let mut tokens = Tokens::new();
            tokens.tokenize(text);
            guess_lang(&tokens, Lang::Other)
        };
        for w in ITALIAN_FUNCTION_WORDS {
            assert_eq!(lang(w), Lang::It, "{w}");
            assert_eq!(
                lang(&format!("{w}x")),
                Lang::Other,
                "{w}x is no function word"
            );
        }
        for w in ENGLISH_FUNCTION_WORDS {
            assert_eq!(lang(w), Lang::En, "{w}");
        }
        assert_eq!(lang("the il and"), Lang::En);
        assert_eq!(lang("perche the il"), Lang::It);
        assert_eq!(lang("nothing here counts"), Lang::Other);
    }
}
