//! What the engine learns from a comment on its own, before it touches any state: tokens,
//! sentiment, the topic rules it matches and its near-duplicate signature.
//!
//! This is most of the work per comment and depends on nothing but the comment and the
//! configuration, so a replay computes it on another core ([`crate::replay`]) while the
//! engine applies the previous batch. [`Engine::ingest`](super::Engine::ingest) runs the
//! same [`Analyzer`] inline; either way the engine sees the same [`Analysis`], so the
//! alerts are the same byte for byte whatever the number of threads.

use std::sync::Arc;

use crate::config::Config;
use crate::detect::troll::signature::{text_tokens, Signature, Signer, BINS};
use crate::event::Event;
use crate::text::lexicon::Lexicon;
use crate::text::model::Models;
use crate::text::sentiment::{Label, SentimentScorer};
use crate::text::terms::Terms;
use crate::text::tokenize::Tokens;
use crate::text::topics::TopicMatcher;

/// One comment's analysis. Reused from comment to comment: nothing is allocated once its
/// buffers have grown to the longest comment.
pub struct Analysis {
    /// Sentiment compound score in [-1, 1] (the event's own `sentiment` when it has one).
    pub score: f64,
    pub negative: bool,
    /// Indexes of the topic rules the text matches, in rule order.
    pub rules: Vec<usize>,
    pub tokens: Tokens,
    /// Tokens that shingles are made of (words, numbers, URLs).
    pub token_count: usize,
    /// Whether `signature` holds this comment's signature: only comments long enough for
    /// some topic's troll index are signed.
    pub signed: bool,
    pub signature: Signature,
    /// The comment's terms, for emerging themes (empty when themes are off).
    pub terms: Terms,
    /// The key its id is remembered by for input `.0` ([`event_id_key`]), when the reading
    /// side worked it out: the engine looks it up without hashing the id again.
    pub id_key: Option<(u32, u64)>,
}

impl Default for Analysis {
    fn default() -> Self {
        Self {
            score: 0.0,
            negative: false,
            rules: Vec::new(),
            tokens: Tokens::new(),
            token_count: 0,
            signed: false,
            signature: [0; BINS],
            terms: Terms::new(),
            id_key: None,
        }
    }
}

/// The key an event's id is remembered by on input `scope` ([`crate::dedup::id_key`]): ids
/// are unique per channel, and, `routed`, per topic too (a routed comment comes once per
/// topic it counts for). `None` for an event without an id.
pub fn event_id_key(scope: u32, routed: bool, event: &Event<'_>) -> Option<u64> {
    let id = event.id.as_deref()?;
    let channel = event.channel.as_deref().unwrap_or("");
    Some(if routed {
        let topic = event.topic.as_deref().unwrap_or("");
        crate::dedup::id_key(scope, &format!("{channel}\u{0}{topic}"), id)
    } else {
        crate::dedup::id_key(scope, channel, id)
    })
}

/// Computes [`Analysis`]es; one per thread (it owns scratch buffers: clone it for another).
#[derive(Clone)]
pub struct Analyzer {
    scorer: SentimentScorer,
    matcher: TopicMatcher,
    signer: Signer,
    /// The shortest `min_tokens` of any topic: shorter comments are never indexed.
    sign_from_tokens: usize,
    themes: bool,
    /// `engine.routed`: ids are unique per topic too.
    routed: bool,
}

impl Analyzer {
    pub fn new(config: &Config, lexicon: Arc<Lexicon>, models: Models) -> Self {
        let detect = &config.detect;
        let sign_from_tokens = std::iter::once(detect.troll_params(""))
            .chain(detect.troll.topics.keys().map(|t| detect.troll_params(t)))
            .map(|p| p.min_tokens as usize)
            .min()
            .unwrap_or(0);
        Self {
            scorer: SentimentScorer::with_models(lexicon, models, &config.sentiment),
            matcher: TopicMatcher::new(&config.topics.rules),
            signer: Signer::new(),
            sign_from_tokens,
            themes: detect.theme.enabled,
            routed: config.engine.routed,
        }
    }

    /// Names of the topic rules, in rule order (the indexes of [`Analysis::rules`]).
    pub fn rule_names(&self) -> &[String] {
        self.matcher.rule_names()
    }

    pub fn analyze(&mut self, event: &Event<'_>, out: &mut Analysis) {
        out.id_key = None;
        out.tokens.tokenize(&event.text);
        let (score, label) = match event.sentiment {
            Some(s) => (s, self.scorer.label(s)),
            None => {
                let scored = self
                    .scorer
                    .score_tokenized(&out.tokens, event.lang.as_deref());
                (scored.score, scored.label)
            }
        };
        out.score = score;
        out.negative = label == Label::Negative;
        out.rules.clear();
        let rules = &mut out.rules;
        self.matcher.for_each_match(&event.text, |rule| {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        });
        out.token_count = text_tokens(&out.tokens);
        out.signed = out.token_count >= self.sign_from_tokens;
        if out.signed {
            self.signer.sign(&out.tokens, &mut out.signature);
        }
        if self.themes {
            out.terms.extract(&out.tokens);
        }
    }

    /// Like [`Analyzer::analyze`], also working out the key the event's id is remembered by
    /// when it comes from input `scope`.
    pub fn analyze_from(&mut self, scope: u32, event: &Event<'_>, out: &mut Analysis) {
        self.analyze(event, out);
        out.id_key = event_id_key(scope, self.routed, event).map(|key| (scope, key));
    }
}
