//! `ondata sentiment`: scores texts (arguments, or one per line on stdin) and shows why.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::{Context, Result};

use ondata::text::lexicon::Lexicon;
use ondata::text::sentiment::SentimentScorer;

use super::load_config;

#[derive(clap::Args)]
pub struct SentimentArgs {
    pub texts: Vec<String>,
    /// One JSON object per text.
    #[arg(long)]
    pub json: bool,
    /// Language of the texts (it, en); guessed when absent.
    #[arg(long)]
    pub lang: Option<String>,
}

pub fn run(args: SentimentArgs) -> Result<()> {
    let SentimentArgs { texts, json, lang } = args;
    let config = load_config(None)?;
    let mut scorer =
        SentimentScorer::new(std::sync::Arc::new(Lexicon::bundled()), &config.sentiment);
    let mut out = io::stdout().lock();
    let mut one = |text: &str| -> Result<()> {
        let e = scorer.explain(text, lang.as_deref(), None);
        if json {
            let mut v = serde_json::to_value(&e)?;
            v["text"] = serde_json::Value::String(text.to_string());
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{:+.3}  {:<8} {}  {text}",
                e.score,
                format!("{:?}", e.label).to_lowercase(),
                e.lang.as_str()
            )?;
            for w in &e.words {
                let rules = if w.rules.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", w.rules.join(", "))
                };
                writeln!(
                    out,
                    "        {:<16} {} {:+.2} -> {:+.2}{rules}",
                    w.word, w.lexicon, w.base, w.value
                )?;
            }
            for r in &e.rules {
                writeln!(out, "        rule: {r}")?;
            }
        }
        Ok(())
    };
    if texts.is_empty() {
        if io::stdin().is_terminal() {
            eprintln!("ondata sentiment: reading one text per line from stdin (Ctrl-D to end)");
        }
        for line in io::stdin().lock().lines() {
            let line = line.context("cannot read stdin")?;
            if !line.trim().is_empty() {
                one(&line)?;
            }
        }
    } else {
        for t in &texts {
            one(t)?;
        }
    }
    Ok(())
}
