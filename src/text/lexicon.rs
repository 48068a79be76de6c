//! Sentiment lexicons: ELIta for Italian, VADER for English, emoji for both.
//!
//! The lexicon files ship in `lexicons/` with their licences and are compiled into the
//! binary, so `ondata` needs no data files at run time. ELIta holds Italian lemmas; comments
//! hold inflected forms ("funziona", "vergognosi", "ladri"), so at load time every lemma is
//! expanded into its regular forms and each lookup is a single hash probe (none for a token
//! the filter of lexicon words turns away).

use rustc_hash::FxHashMap;

use crate::text::tokenize::word_hash;

const ELITA: &str = include_str!("../../lexicons/elita/ELIta_INTENSITY.txt");
const VADER: &str = include_str!("../../lexicons/vader/vader_lexicon.txt");
const ONDATA_IT: &str = include_str!("../../lexicons/ondata-it.tsv");

/// ELIta valence is 1..9 with 5 neutral, and rates concepts rather than opinions ("aprile"
/// 6.83); words within this distance of 5 carry no polarity here and are ignored, so neutral
/// questions stay neutral. Strongly loaded words ("vergogna" 1.5, "grazie" 7.17) remain.
const ELITA_NEUTRAL_BAND: f32 = 1.5;

/// Emoji that carry a clear polarity in comments. VADER's emoji file maps emoji to English
/// descriptions ("pouting face") whose words are mostly not in its lexicon, so the common
/// ones are scored here on VADER's -4..4 scale.
const EMOJI: &[(char, f32)] = &[
    ('😡', -2.5),
    ('🤬', -3.0),
    ('😠', -2.2),
    ('👎', -2.0),
    ('💩', -2.2),
    ('🤮', -2.5),
    ('🤢', -2.0),
    ('😤', -1.8),
    ('😢', -1.8),
    ('😭', -2.0),
    ('😞', -1.8),
    ('😔', -1.5),
    ('😩', -1.8),
    ('😫', -1.8),
    ('😒', -1.5),
    ('🙄', -1.3),
    ('🤡', -1.8),
    ('🖕', -3.0),
    ('💔', -2.0),
    ('😱', -1.5),
    ('🤦', -1.5),
    ('😑', -0.8),
    ('😐', -0.5),
    ('👍', 1.8),
    ('👏', 1.8),
    ('🙏', 1.5),
    ('❤', 2.5),
    ('💙', 2.0),
    ('💚', 2.0),
    ('😍', 2.8),
    ('😊', 2.2),
    ('🙂', 1.2),
    ('😀', 2.0),
    ('😃', 2.0),
    ('😄', 2.2),
    ('🥰', 2.8),
    ('👌', 1.5),
    ('💪', 1.5),
    ('🎉', 2.2),
    ('✅', 1.0),
    ('⭐', 1.2),
    ('😂', 0.8),
    ('🤣', 0.8),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Elita,
    Vader,
    Ondata,
    Emoji,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Elita => "elita",
            Source::Vader => "vader",
            Source::Ondata => "ondata",
            Source::Emoji => "emoji",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// Valence on VADER's scale, -4 (most negative) to 4.
    pub valence: f32,
    pub source: Source,
}

/// All lexicons, loaded once and shared read-only.
#[derive(Debug)]
pub struct Lexicon {
    italian: FxHashMap<Box<str>, Entry>,
    english: FxHashMap<Box<str>, Entry>,
    emoji: FxHashMap<char, Entry>,
    /// Every Italian and English word, by hash: most tokens are in neither lexicon, and this
    /// says so from a table that stays in cache instead of a probe of the large maps.
    known: WordFilter,
}

/// Bits of [`WordFilter`]: 128 KiB; fewer than one word in ten that no lexicon holds gets
/// through (a test).
const FILTER_BITS: u32 = 1 << 20;

/// A one-hash Bloom filter over [`word_hash`]es: a clear bit means the word is not there.
#[derive(Debug)]
struct WordFilter(Box<[u64]>);

impl WordFilter {
    fn new<'a>(words: impl Iterator<Item = &'a str>) -> Self {
        let mut f = Self(vec![0u64; FILTER_BITS as usize / 64].into_boxed_slice());
        words.for_each(|w| f.add(word_hash(w)));
        f
    }

    fn bit(hash: u64) -> (usize, u64) {
        // The top bits: FxHash mixes them best.
        let bit = (hash >> (64 - FILTER_BITS.trailing_zeros())) as usize;
        (bit / 64, 1 << (bit % 64))
    }

    fn add(&mut self, hash: u64) {
        let (word, mask) = Self::bit(hash);
        self.0[word] |= mask;
    }

    fn may_hold(&self, hash: u64) -> bool {
        let (word, mask) = Self::bit(hash);
        self.0[word] & mask != 0
    }
}

impl Lexicon {
    /// Loads the bundled lexicons (a few milliseconds).
    pub fn bundled() -> Self {
        let mut italian = FxHashMap::default();
        let mut emoji: FxHashMap<char, Entry> = EMOJI
            .iter()
            .map(|&(c, v)| {
                (
                    c,
                    Entry {
                        valence: v,
                        source: Source::Emoji,
                    },
                )
            })
            .collect();
        // Our supplement first: it deliberately overrides ELIta for a few complaint words.
        let ondata: Vec<(String, f32)> = ONDATA_IT
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (w, v) = l.split_once('\t')?;
                Some((crate::text::normalize::fold(w), v.trim().parse().ok()?))
            })
            .collect();
        let elita: Vec<(String, f32)> = ELITA
            .lines()
            .filter_map(|l| {
                let mut parts = l.rsplitn(3, ',');
                let value: f32 = parts.next()?.parse().ok()?;
                (parts.next()? == "valenza").then_some(())?;
                Some((parts.next()?.to_string(), value - 5.0))
            })
            .collect();
        for (word, v) in &elita {
            let mut chars = word.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                if crate::text::tokenize::is_emoji(c) && v.abs() >= ELITA_NEUTRAL_BAND {
                    emoji.entry(c).or_insert(Entry {
                        valence: *v,
                        source: Source::Elita,
                    });
                }
            }
        }
        let blocked: rustc_hash::FxHashSet<&str> = ondata
            .iter()
            .filter(|(_, v)| *v == 0.0)
            .map(|(w, _)| w.as_str())
            .collect();
        let lemmas = ondata
            .iter()
            .map(|(w, v)| (w.clone(), *v, Source::Ondata))
            .chain(
                elita
                    .into_iter()
                    .filter(|(w, v)| {
                        v.abs() >= ELITA_NEUTRAL_BAND
                            && !w.contains(' ')
                            && !blocked.contains(w.as_str())
                    })
                    .map(|(w, v)| (crate::text::normalize::fold(&w), v, Source::Elita)),
            )
            .collect::<Vec<_>>();
        // Exact lemmas win over forms derived from other lemmas: insert them first. A 0 in our
        // supplement blocks a word; blocked entries are removed once every form is placed.
        for (w, v, source) in &lemmas {
            italian.entry(w.clone().into_boxed_str()).or_insert(Entry {
                valence: *v,
                source: *source,
            });
        }
        for (w, v, source) in lemmas.iter().filter(|(_, v, _)| *v != 0.0) {
            for form in italian_forms(w) {
                italian.entry(form.into_boxed_str()).or_insert(Entry {
                    valence: *v,
                    source: *source,
                });
            }
        }
        italian.retain(|_, e| e.valence != 0.0);
        let english: FxHashMap<Box<str>, Entry> = VADER
            .lines()
            .filter_map(|l| {
                let mut parts = l.split('\t');
                let w = parts.next()?;
                let v: f32 = parts.next()?.parse().ok()?;
                Some((
                    w.to_string().into_boxed_str(),
                    Entry {
                        valence: v,
                        source: Source::Vader,
                    },
                ))
            })
            .collect();
        let known = WordFilter::new(italian.keys().chain(english.keys()).map(|w| &**w));
        Self {
            italian,
            english,
            emoji,
            known,
        }
    }

    /// The bundled lexicons with an institution's own words on top: a file of lines
    /// `word<TAB>valence` (Italian) or `word<TAB>valence<TAB>en`, valence on VADER's -4..4
    /// scale, `#` comments and blank lines ignored. A 0 removes a word.
    pub fn with_extra(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut lex = Self::bundled();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{} line {}", path.display(), n + 1);
            let mut parts = line.split('\t');
            let (Some(word), Some(value)) = (parts.next(), parts.next()) else {
                return Err(format!("{}: expected `word<TAB>valence[<TAB>it|en]`", at()));
            };
            let valence: f32 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f32| (-4.0..=4.0).contains(v))
                .ok_or_else(|| format!("{}: valence `{value}` is not a number in -4..4", at()))?;
            let map = match parts.next().map(str::trim) {
                None | Some("it") => &mut lex.italian,
                Some("en") => &mut lex.english,
                Some(other) => {
                    return Err(format!("{}: language `{other}` (it or en)", at()));
                }
            };
            let word = crate::text::normalize::fold(word.trim());
            if word.is_empty() || word.contains(' ') {
                return Err(format!("{}: one word per line", at()));
            }
            if valence == 0.0 {
                map.remove(word.as_str());
            } else {
                lex.known.add(word_hash(&word));
                map.insert(
                    word.into_boxed_str(),
                    Entry {
                        valence,
                        source: Source::Ondata,
                    },
                );
            }
        }
        Ok(lex)
    }

    #[inline]
    pub fn italian(&self, word: &str) -> Option<Entry> {
        self.italian.get(word).copied()
    }

    #[inline]
    pub fn english(&self, word: &str) -> Option<Entry> {
        self.english.get(word).copied()
    }

    /// [`Lexicon::italian`] of a token whose [`word_hash`] is `hash`.
    #[inline]
    pub fn italian_hashed(&self, word: &str, hash: u64) -> Option<Entry> {
        self.known.may_hold(hash).then(|| self.italian(word))?
    }

    /// [`Lexicon::english`] of a token whose [`word_hash`] is `hash`.
    #[inline]
    pub fn english_hashed(&self, word: &str, hash: u64) -> Option<Entry> {
        self.known.may_hold(hash).then(|| self.english(word))?
    }

    #[inline]
    pub fn emoji(&self, c: char) -> Option<Entry> {
        self.emoji.get(&c).copied()
    }

    pub fn len(&self) -> usize {
        self.italian.len() + self.english.len() + self.emoji.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Regular inflected forms of an Italian lemma: gender and number of nouns and adjectives,
/// superlatives and -mente adverbs, the common tenses of regular verbs (reflexive included).
fn italian_forms(lemma: &str) -> Vec<String> {
    let mut out = Vec::new();
    let with = |stem: &str, ends: &[&str], out: &mut Vec<String>| {
        out.extend(ends.iter().map(|e| format!("{stem}{e}")));
    };
    for (inf, reflexive) in [("are", "arsi"), ("ere", "ersi"), ("ire", "irsi")] {
        let stem = lemma
            .strip_suffix(inf)
            .or_else(|| lemma.strip_suffix(reflexive));
        if let Some(stem) = stem.filter(|s| s.len() >= 2) {
            let ends: &[&str] = match inf {
                "are" => &[
                    "o", "i", "a", "iamo", "ate", "ano", "ato", "ata", "ati", "ando", "ava",
                    "avano", "ero", "era", "eranno", "erebbe", "ando", "atevi", "arti", "are",
                ],
                "ere" => &[
                    "o", "i", "e", "iamo", "ete", "ono", "uto", "uta", "uti", "ute", "endo", "eva",
                    "evano", "era", "eranno", "erebbe", "ere",
                ],
                _ => &[
                    "o", "i", "e", "iamo", "ite", "ono", "ito", "ita", "iti", "endo", "iva",
                    "ivano", "isce", "iscono", "isco", "ira", "ire",
                ],
            };
            with(stem, ends, &mut out);
            return out;
        }
    }
    if let Some(stem) = lemma.strip_suffix('o') {
        with(
            stem,
            &[
                "a", "i", "e", "issimo", "issima", "issimi", "issime", "amente",
            ],
            &mut out,
        );
    } else if let Some(stem) = lemma.strip_suffix('a') {
        with(stem, &["e", "i"], &mut out);
    } else if let Some(stem) = lemma.strip_suffix('e') {
        with(
            stem,
            &["i", "issimo", "issima", "issimi", "issime", "emente"],
            &mut out,
        );
        if stem.ends_with('l') || stem.ends_with('r') {
            with(stem, &["mente"], &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_all_three_sources() {
        let lex = Lexicon::bundled();
        assert!(lex.italian("vergogna").unwrap().valence < -3.0);
        assert!(lex.italian("grazie").unwrap().valence > 1.5);
        assert!(lex.english("horrible").unwrap().valence < -2.0);
        assert!(lex.emoji('😡').unwrap().valence < 0.0);
        // Neutral band: "sito" (4.5) carries no polarity.
        assert!(lex.italian("sito").is_none());
    }

    #[test]
    fn inflected_forms_reach_their_lemma() {
        let lex = Lexicon::bundled();
        assert!(
            lex.italian("funziona").unwrap().valence > 0.0,
            "from funzionare"
        );
        assert!(lex.italian("ladri").unwrap().valence < 0.0, "from ladro");
        assert!(
            lex.italian("vergognatevi").unwrap().valence < 0.0,
            "from vergognarsi"
        );
        assert!(lex.italian("vergognosi").unwrap().valence < 0.0);
        assert!(lex.italian("bellissimo").unwrap().valence > 0.0);
        // The supplement overrides ELIta where ELIta misses the complaint sense.
        assert!(lex.italian("assurdo").unwrap().valence < 0.0);
    }

    #[test]
    fn the_filter_lets_every_word_through_and_stops_most_others() {
        let lex = Lexicon::bundled();
        for (w, e) in &lex.italian {
            let found = lex.italian_hashed(w, word_hash(w)).map(|e| e.valence);
            assert_eq!(found, Some(e.valence), "{w}");
        }
        for w in lex.english.keys() {
            assert!(lex.english_hashed(w, word_hash(w)).is_some(), "{w}");
        }
        let others = (0..10_000)
            .map(|i| format!("parolanonvera{i}"))
            .filter(|w| lex.known.may_hold(word_hash(w)))
            .count();
        assert!(
            others < 1_000,
            "{others} of 10,000 unknown words pass the filter"
        );
        // A word an institution adds passes too.
        let path = std::env::temp_dir().join(format!("ondata-lex-{}.tsv", std::process::id()));
        std::fs::write(&path, "zzcatastrofico\t-3\nzzsplendid\t2\ten\n").unwrap();
        let extra = Lexicon::with_extra(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert!(extra
            .italian_hashed("zzcatastrofico", word_hash("zzcatastrofico"))
            .is_some());
        assert!(extra
            .english_hashed("zzsplendid", word_hash("zzsplendid"))
            .is_some());
    }
}
