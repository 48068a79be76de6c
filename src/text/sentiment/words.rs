//! The words the lexicon's rules turn on: negators, contrasts, intensifiers, and the
//! function words that tell Italian from English.

use super::{Lang, BOOSTER_INCREMENT};
use crate::text::tokenize::{TokenKind, Tokens};

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

/// Guesses Italian or English from function words; a tie gives `default`.
pub fn guess_lang(tokens: &Tokens, default: Lang) -> Lang {
    let (mut it, mut en) = (0u32, 0u32);
    for t in tokens
        .as_slice()
        .iter()
        .filter(|t| t.kind == TokenKind::Word)
    {
        match tokens.text(t) {
            "il" | "lo" | "la" | "gli" | "le" | "di" | "che" | "non" | "e" | "per" | "un"
            | "una" | "sono" | "ho" | "del" | "della" | "mi" | "ma" | "come" | "si" | "questo"
            | "da" | "al" | "con" | "ancora" | "sito" | "perche" | "anche" | "nel" | "alla"
            | "ci" | "piu" | "gia" | "dell" | "l" | "c" => it += 1,
            "the" | "and" | "is" | "to" | "of" | "it" | "not" | "this" | "you" | "for" | "my"
            | "i" | "are" | "was" | "have" | "with" | "but" | "on" | "what" | "why" | "can"
            | "doesn" | "still" | "website" | "be" | "your" | "we" | "guys" | "job" | "great"
            | "again" | "down" | "thanks" | "please" | "just" | "does" | "don" | "how" | "when"
            | "there" | "they" | "our" | "me" | "at" | "an" | "by" | "from" | "has" | "will"
            | "would" | "should" | "could" | "all" | "who" | "were" | "been" | "its" => en += 1,
            _ => {}
        }
    }
    match it.cmp(&en) {
        std::cmp::Ordering::Greater => Lang::It,
        std::cmp::Ordering::Less => Lang::En,
        std::cmp::Ordering::Equal => default,
    }
}
