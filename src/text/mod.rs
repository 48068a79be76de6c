//! Text processing: folding, tokenisation, topic rules and sentiment.
//!
//! Everything here works on borrowed text with reusable buffers, because it runs once per
//! comment on the hot path.

pub mod features;
pub mod lexicon;
pub mod model;
pub mod normalize;
pub mod sentiment;
pub mod terms;
pub mod tokenize;
pub mod topics;
