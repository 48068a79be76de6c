//! Tokenisation of social-media comments into words, numbers, hashtags, mentions, URLs and
//! emoji, folded (lower case, no accents) into one reusable buffer.
//!
//! Apostrophes split Italian elisions ("l'INPS" → `l`, `inps`; "dell'istituto" → `dell`,
//! `istituto`); an English "n't" is kept as a negation mark. Runs of three or more equal
//! letters collapse ("nooooo" → `no`), because emphasis is not a different word. Nothing is
//! allocated per token: tokens are ranges into [`Tokens::folded`].

use std::hash::Hasher;

use rustc_hash::FxHasher;

use super::normalize::fold_char;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Word,
    Number,
    Hashtag,
    Mention,
    Url,
    Emoji,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    start: u32,
    end: u32,
    /// Written in capitals in the original (at least two letters, none lower case).
    pub caps: bool,
    /// An English negated contraction ("don't", "isn't", "can't").
    pub negated_contraction: bool,
    /// Punctuation that ends a clause (`, . ; : ! ?`) stands between this token and the
    /// previous one: negation and intensifiers do not reach across it.
    pub after_break: bool,
    /// [`word_hash`] of the folded text, computed once for the signature, the terms and
    /// whoever else looks the token up.
    pub hash: u64,
}

/// The hash of a token's folded text (FxHash over its bytes).
#[inline]
pub fn word_hash(text: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(text.as_bytes());
    h.finish()
}

/// Reusable tokeniser output. Call [`Tokens::tokenize`] for each text.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    folded: String,
    tokens: Vec<Token>,
    /// `!` in the text (emphasis).
    pub exclamations: u32,
    /// `?` in the text.
    pub questions: u32,
    /// Letters in the text, and how many of them were upper case.
    pub letters: u32,
    pub upper_letters: u32,
    pending_break: bool,
}

impl Tokens {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn as_slice(&self) -> &[Token] {
        &self.tokens
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The folded text of a token (hashtags without `#`, mentions without `@`).
    #[inline]
    pub fn text(&self, t: &Token) -> &str {
        &self.folded[t.start as usize..t.end as usize]
    }

    /// True when the whole comment is shouted, in which case capitals emphasise nothing.
    pub fn all_caps(&self) -> bool {
        self.letters >= 4 && self.upper_letters == self.letters
    }

    pub fn tokenize(&mut self, text: &str) {
        self.folded.clear();
        self.tokens.clear();
        self.exclamations = 0;
        self.questions = 0;
        self.letters = 0;
        self.upper_letters = 0;
        self.pending_break = false;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < text.len() {
            let c = next_char(text, i);
            let len = c.len_utf8();
            if c.is_alphabetic() {
                if is_url_start(&bytes[i..]) {
                    i = self.push_url(text, i);
                } else {
                    i = self.push_word(text, i);
                }
            } else if c.is_ascii_digit() {
                i = self.push_number_or_word(text, i);
            } else if (c == '#' || c == '@')
                && i + 1 < text.len()
                && is_word_char(next_char(text, i + 1))
            {
                let kind = if c == '#' {
                    TokenKind::Hashtag
                } else {
                    TokenKind::Mention
                };
                i = self.push_tag(text, i + 1, kind);
            } else if is_emoji(c) {
                let start = self.folded.len();
                self.folded.push(c);
                self.push(TokenKind::Emoji, start, false, false);
                i += len;
            } else {
                if c == '!' {
                    self.exclamations += 1;
                } else if c == '?' {
                    self.questions += 1;
                }
                if matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | '\n') {
                    self.pending_break = true;
                }
                i += len;
            }
        }
    }

    fn push(&mut self, kind: TokenKind, start: usize, caps: bool, negated_contraction: bool) {
        let end = self.folded.len();
        if end > start {
            self.tokens.push(Token {
                kind,
                start: start as u32,
                end: end as u32,
                caps,
                negated_contraction,
                after_break: std::mem::take(&mut self.pending_break),
                hash: word_hash(&self.folded[start..end]),
            });
        }
    }

    /// A run of letters (digits allowed after the first), with repeated letters collapsed.
    fn push_word(&mut self, text: &str, mut i: usize) -> usize {
        let start = self.folded.len();
        let (mut upper, mut letters) = (0u32, 0u32);
        let mut run_char = '\0';
        let mut run_len = 0;
        let bytes = text.as_bytes();
        while i < text.len() {
            let b = bytes[i];
            let (f, len) = if b.is_ascii() {
                // Most comment text: no decoding, no Unicode tables.
                if !(b.is_ascii_alphanumeric() || b == b'_') {
                    break;
                }
                if b.is_ascii_alphabetic() {
                    letters += 1;
                    upper += u32::from(b.is_ascii_uppercase());
                }
                (b.to_ascii_lowercase() as char, 1)
            } else {
                let c = next_char(text, i);
                if !(c.is_alphanumeric() || c == '_') {
                    break;
                }
                if c.is_alphabetic() {
                    letters += 1;
                    if c.is_uppercase() {
                        upper += 1;
                    }
                }
                (fold_char(c), c.len_utf8())
            };
            if f == run_char {
                run_len += 1;
                // Keep at most two of a run ("mamma" stays; "nooooo" becomes "noo" → "no" below).
                if run_len <= 2 {
                    self.folded.push(f);
                }
            } else {
                if run_len >= 3 {
                    // A long run was emphasis: keep a single letter.
                    self.folded.pop();
                }
                run_char = f;
                run_len = 1;
                self.folded.push(f);
            }
            i += len;
        }
        if run_len >= 3 {
            self.folded.pop();
        }
        self.letters += letters;
        self.upper_letters += upper;
        let caps = letters >= 2 && upper == letters;
        // English negated contraction: the word before the apostrophe ends in "n", after it "t".
        if i < text.len() && is_apostrophe(next_char(text, i)) {
            let after = i + next_char(text, i).len_utf8();
            let word_so_far = &self.folded[start..];
            if word_so_far.ends_with('n') && after < text.len() {
                let rest = &text[after..];
                let t_end = rest
                    .find(|c: char| !c.is_alphanumeric())
                    .unwrap_or(rest.len());
                if rest[..t_end].eq_ignore_ascii_case("t") {
                    self.push(TokenKind::Word, start, caps, true);
                    return after + t_end;
                }
            }
        }
        self.push(TokenKind::Word, start, caps, false);
        i
    }

    fn push_number_or_word(&mut self, text: &str, mut i: usize) -> usize {
        let start = self.folded.len();
        let mut has_letter = false;
        let bytes = text.as_bytes();
        while i < text.len() {
            let c = next_char(text, i);
            if c.is_alphanumeric() {
                has_letter |= c.is_alphabetic();
                self.folded.push(fold_char(c));
                i += c.len_utf8();
            } else if matches!(c, '.' | ',' | ':')
                && i + 1 < text.len()
                && bytes[i + 1].is_ascii_digit()
                && !has_letter
            {
                self.folded.push(c);
                i += 1;
            } else {
                break;
            }
        }
        let kind = if has_letter {
            TokenKind::Word
        } else {
            TokenKind::Number
        };
        self.push(kind, start, false, false);
        i
    }

    fn push_tag(&mut self, text: &str, mut i: usize, kind: TokenKind) -> usize {
        let start = self.folded.len();
        while i < text.len() {
            let c = next_char(text, i);
            if !(is_word_char(c)
                || (kind == TokenKind::Mention && c == '.' && next_is_word(text, i + 1)))
            {
                break;
            }
            self.folded.push(fold_char(c));
            i += c.len_utf8();
        }
        self.push(kind, start, false, false);
        i
    }

    fn push_url(&mut self, text: &str, mut i: usize) -> usize {
        let start = self.folded.len();
        while i < text.len() {
            let c = next_char(text, i);
            if c.is_whitespace() {
                break;
            }
            self.folded.push(c.to_ascii_lowercase());
            i += c.len_utf8();
        }
        self.push(TokenKind::Url, start, false, false);
        i
    }
}

/// The character starting at byte `i` (`'\0'` past the end). Most comment text is ASCII,
/// which is read straight from the byte without slicing and decoding.
#[inline]
fn next_char(text: &str, i: usize) -> char {
    match text.as_bytes().get(i) {
        Some(&b) if b < 0x80 => b as char,
        Some(_) => text[i..].chars().next().unwrap_or('\0'),
        None => '\0',
    }
}

#[inline]
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn next_is_word(text: &str, i: usize) -> bool {
    i < text.len() && is_word_char(next_char(text, i))
}

#[inline]
pub fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | 'ʼ' | '`' | '´')
}

fn is_url_start(b: &[u8]) -> bool {
    if !matches!(b.first(), Some(b'h' | b'H' | b'w' | b'W')) {
        return false;
    }
    let starts = |p: &[u8]| b.len() > p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    starts(b"https://") || starts(b"http://") || starts(b"www.")
}

/// Pictographic emoji and symbols; modifiers (skin tones, variation selectors, joiners) are
/// not tokens of their own.
pub fn is_emoji(c: char) -> bool {
    let u = c as u32;
    matches!(u,
        0x1F300..=0x1F3FA | 0x1F400..=0x1F6FF | 0x1F700..=0x1FAFF |
        0x1F000..=0x1F2FF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x3030 | 0x303D)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<(TokenKind, String)> {
        let mut t = Tokens::new();
        t.tokenize(text);
        t.as_slice()
            .iter()
            .map(|k| (k.kind, t.text(k).to_string()))
            .collect()
    }

    fn words(text: &str) -> Vec<String> {
        toks(text).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn splits_elisions_and_folds_accents() {
        assert_eq!(
            words("Dell'istituto, l'INPS è giù!"),
            ["dell", "istituto", "l", "inps", "e", "giu"]
        );
        assert_eq!(
            words("Perche’ nessuno risponde"),
            ["perche", "nessuno", "risponde"]
        );
    }

    #[test]
    fn kinds_of_tokens() {
        let t =
            toks("@mario_rossi guarda #Bonus600 su https://www.inps.it/x?a=1 😡 600 euro 1.000,50");
        let kinds: Vec<TokenKind> = t.iter().map(|(k, _)| *k).collect();
        use TokenKind::*;
        assert_eq!(
            kinds,
            [Mention, Word, Hashtag, Word, Url, Emoji, Number, Word, Number]
        );
        assert_eq!(t[0].1, "mario_rossi");
        assert_eq!(t[2].1, "bonus600");
        assert_eq!(t[8].1, "1.000,50");
    }

    #[test]
    fn collapses_emphasis_but_keeps_double_letters() {
        assert_eq!(words("Nooooo mamma, BASTAAAA"), ["no", "mamma", "basta"]);
    }

    #[test]
    fn marks_english_negated_contractions_and_caps() {
        let mut t = Tokens::new();
        t.tokenize("It DOESN'T work and I can't log in");
        let s = t.as_slice();
        assert_eq!(t.text(&s[1]), "doesn");
        assert!(s[1].negated_contraction && s[1].caps);
        assert!(s
            .iter()
            .any(|k| t.text(k) == "can" && k.negated_contraction));
        assert!(!t.all_caps());
    }

    #[test]
    fn skin_tone_modifiers_are_not_tokens() {
        assert_eq!(words("👍🏽 ok"), ["👍", "ok"]);
    }
}
