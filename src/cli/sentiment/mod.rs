//! `ondata sentiment`: scores texts (arguments, or one per line on stdin) and shows why;
//! `sentiment train` and `sentiment eval` make and judge a model on labelled texts.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::{Context, Result};

use ondata::text::sentiment::{resources, SentimentScorer};

use super::load_config;
use super::UsageError;

mod learn;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SentimentArgs {
    #[command(subcommand)]
    pub action: Option<Action>,
    pub texts: Vec<String>,
    /// One JSON object per text.
    #[arg(long)]
    pub json: bool,
    /// Language of the texts (it, en); guessed when absent.
    #[arg(long)]
    pub lang: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Train a model on labelled texts (deterministic; prints cross-validated scores).
    Train(learn::TrainArgs),
    /// Score labelled texts: macro-F1, F1 per class, confusion matrix.
    Eval(learn::EvalArgs),
}

/// `--lang` must name a language ondata reads.
pub(crate) fn check_lang(lang: Option<&str>) -> Result<()> {
    match lang {
        None | Some("it" | "en") => Ok(()),
        Some(other) => Err(UsageError(format!(
            "--lang {other}: ondata reads Italian (it) and English (en); leave it out to guess"
        ))
        .into()),
    }
}

pub fn run(args: SentimentArgs) -> Result<()> {
    let SentimentArgs {
        action,
        texts,
        json,
        lang,
    } = args;
    match action {
        Some(Action::Train(a)) => return learn::train(a),
        Some(Action::Eval(a)) => return learn::eval(a),
        None => {}
    }
    check_lang(lang.as_deref())?;
    let config = load_config(None)?;
    let (lexicon, models) = resources(&config.sentiment)?;
    let mut scorer = SentimentScorer::with_models(lexicon, models, &config.sentiment);
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
            if let Some(m) = &e.model {
                let [n, u, p] = m.probabilities;
                writeln!(
                    out,
                    "        model: negative {n:.2}, neutral {u:.2}, positive {p:.2}; lexicon alone {:+.3}",
                    e.lexicon_score
                )?;
                for (name, push) in &m.strongest {
                    writeln!(out, "          {push:+.2}  {name}")?;
                }
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
