//! Case and accent folding, so "Perché", "PERCHE'" and "perche" compare equal.

/// Lower-cases and strips the accent of one character. Covers the Latin letters that occur in
/// Italian, English, French, Spanish, German and Portuguese comments; anything else is only
/// lower-cased.
#[inline]
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ç' | 'Ç' => 'c',
        'ñ' | 'Ñ' => 'n',
        'ý' | 'ÿ' | 'Ý' => 'y',
        _ => {
            // An upper-case letter whose lower case is in the table above ('Ÿ' → 'ÿ' → 'y'):
            // fold that, so folding twice changes nothing (found by fuzzing).
            let lower = c.to_lowercase().next().unwrap_or(c);
            if lower != c {
                fold_char(lower)
            } else {
                lower
            }
        }
    }
}

/// Appends the folded form of `text` to `out`, with runs of white space folded to one space.
pub fn fold_into(text: &str, out: &mut String) {
    let start = out.len();
    // Most comment text is ASCII: whole words copied and lower-cased in place, no decoding,
    // no Unicode tables. (A vertical tab is white space to Unicode but not to ASCII: such
    // text takes the general path.)
    if text.is_ascii() && memchr::memchr(0x0b, text.as_bytes()).is_none() {
        // Text already in its folded spacing (single spaces between words, none at the ends)
        // is copied whole; other text word by word.
        let b = text.as_bytes();
        let spaced = !b.first().is_some_and(u8::is_ascii_whitespace)
            && !b.last().is_some_and(u8::is_ascii_whitespace)
            && !b.iter().any(|&c| c.is_ascii_whitespace() && c != b' ')
            && memchr::memmem::find(b, b"  ").is_none();
        if spaced {
            out.push_str(text);
        } else {
            for word in text.split_ascii_whitespace() {
                if out.len() > start {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
        out[start..].make_ascii_lowercase();
        return;
    }
    for word in text.split_whitespace() {
        if out.len() > start {
            out.push(' ');
        }
        if word.is_ascii() {
            let at = out.len();
            out.push_str(word);
            out[at..].make_ascii_lowercase();
        } else {
            out.extend(word.chars().map(fold_char));
        }
    }
}

/// The folded form of `text` as a new string.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_path_folds_as_the_general_one() {
        let ascii: String = (0u8..128).map(char::from).collect();
        let text = format!("A{ascii} \t\x0b\x0c\r\n x{ascii}Z");
        // A leading non-ASCII letter sends the same text down the general path.
        assert_eq!(fold(&format!("é{text}")), format!("e{}", fold(&text)));
    }

    #[test]
    fn text_already_spaced_folds_as_the_general_path_does() {
        for text in [
            "Bonus 600 SUBITO",
            "A",
            "x  y",
            "x y ",
            "x\ty",
            "x\ny z",
            "Ab_9 #X @y!",
        ] {
            // A leading non-ASCII letter sends the same text down the general path.
            assert_eq!(
                fold(&format!("é{text}")),
                format!("e{}", fold(text)),
                "{text:?}"
            );
        }
        assert_eq!(fold("Bonus 600 SUBITO"), "bonus 600 subito");
        assert_eq!(fold(" Bonus 600"), "bonus 600", "a leading space goes");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn folds_case_accents_and_spaces() {
        assert_eq!(fold("  Perché   l'INPS è  GIÙ "), "perche l'inps e giu");
        assert_eq!(fold("Ça NIÑO Über"), "ca nino uber");
    }

    #[test]
    fn upper_case_letters_outside_the_table_fold_like_their_lower_case() {
        // 'Ÿ' lower-cases to 'ÿ', which the table folds to 'y'.
        assert_eq!(fold("Ÿ"), "y");
        assert_eq!(fold(&fold("#ŸMMA")), fold("#ŸMMA"));
    }
}
