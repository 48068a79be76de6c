//! Topic assignment: the event's own `topic`, plus every configured keyword/hashtag rule that
//! matches its text, case- and accent-insensitively and on whole words.
//!
//! All keywords of all rules go into one Aho-Corasick automaton, so the cost per comment is
//! one pass over its text, whatever the number of rules.

use aho_corasick::{AhoCorasick, MatchKind};

use super::normalize::{fold, fold_into};
use crate::config::TopicRule;

/// Matches comment text against the configured topic rules.
#[derive(Clone)]
pub struct TopicMatcher {
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern, the index of its rule.
    pattern_rule: Vec<usize>,
    rule_names: Vec<String>,
    folded: String,
    hits: Vec<bool>,
}

impl TopicMatcher {
    pub fn new(rules: &[TopicRule]) -> Self {
        let mut patterns = Vec::new();
        let mut pattern_rule = Vec::new();
        for (r, rule) in rules.iter().enumerate() {
            for k in &rule.keywords {
                let k = fold(k.trim());
                if !k.is_empty() {
                    patterns.push(k);
                    pattern_rule.push(r);
                }
            }
        }
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .expect("folded keywords always build an automaton")
        });
        Self {
            automaton,
            pattern_rule,
            rule_names: rules.iter().map(|r| r.name.clone()).collect(),
            folded: String::new(),
            hits: vec![false; rules.len()],
        }
    }

    pub fn rule_names(&self) -> &[String] {
        &self.rule_names
    }

    /// Calls `found` with the index of every rule matching `text`, once each, in rule order.
    pub fn for_each_match(&mut self, text: &str, mut found: impl FnMut(usize)) {
        let Some(ac) = &self.automaton else { return };
        self.folded.clear();
        fold_into(text, &mut self.folded);
        self.hits.iter_mut().for_each(|h| *h = false);
        let mut any = false;
        for m in ac.find_overlapping_iter(self.folded.as_str()) {
            if is_whole_word(&self.folded, m.start(), m.end()) {
                self.hits[self.pattern_rule[m.pattern().as_usize()]] = true;
                any = true;
            }
        }
        if any {
            for (r, hit) in self.hits.iter().enumerate() {
                if *hit {
                    found(r);
                }
            }
        }
    }
}

/// A keyword matches only as a whole word: a word character at its edge must not touch
/// another word character outside it (a keyword starting with `#` is its own edge).
fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let first = text[start..].chars().next();
    let last = text[..end].chars().next_back();
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let joins_before = word(first) && word(before);
    let joins_after = word(last) && word(after);
    !(joins_before || joins_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> TopicMatcher {
        TopicMatcher::new(&[
            TopicRule {
                name: "bonus-600".into(),
                keywords: vec!["bonus 600".into(), "600 euro".into(), "#bonus600".into()],
            },
            TopicRule {
                name: "pensioni".into(),
                keywords: vec!["pensione".into(), "pensioni".into(), "Perequazione".into()],
            },
            TopicRule {
                name: "cig".into(),
                keywords: vec!["cassa integrazione".into(), "CIG".into()],
            },
        ])
    }

    fn topics(text: &str) -> Vec<String> {
        let mut m = matcher();
        let mut out = vec![];
        let names = m.rule_names().to_vec();
        m.for_each_match(text, |r| out.push(names[r].clone()));
        out
    }

    #[test]
    fn matches_case_and_accent_insensitively_on_whole_words() {
        assert_eq!(topics("Quando arriva il BONUS   600?"), ["bonus-600"]);
        assert_eq!(topics("#Bonus600 ancora niente"), ["bonus-600"]);
        assert_eq!(topics("la perequazióne delle PENSIONI"), ["pensioni"]);
        assert!(
            topics("bonus 6000 euro").is_empty(),
            "600 inside 6000 is not a match"
        );
        assert!(
            topics("la cigarette").is_empty(),
            "cig inside a word is not a match"
        );
    }

    #[test]
    fn one_comment_can_belong_to_several_topics() {
        assert_eq!(
            topics("600 euro e cassa integrazione: nulla!"),
            ["bonus-600", "cig"]
        );
    }
}
