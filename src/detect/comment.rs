//! One comment as the detectors see it, and as the near-duplicate index stores it.

use super::troll::signature::Signature;
use crate::text::tokenize::Tokens;

/// One comment as the detectors see it: the event's fields and the text analysis made once
/// for every topic the comment belongs to.
pub struct Comment<'a> {
    pub ts_ms: i64,
    pub text: &'a str,
    pub author: &'a str,
    pub tokens: &'a Tokens,
    pub token_count: usize,
    pub negative: bool,
    pub score: f64,
    /// Near-duplicate signature, when the comment was long enough for some topic's index.
    pub signature: Option<&'a Signature>,
}
