//! `ondata sentiment train` and `ondata sentiment eval`: a model from labelled texts, and
//! how well a model (or the lexicon alone) reads them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use ondata::text::model::{self, Confusion, Models, SentimentModel, TrainOptions, LABELS};
use ondata::text::sentiment::{resources, Label, Lang, SentimentScorer};

use super::check_lang;
use crate::cli::{load_config, UsageError};

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Texts, one per line.
    #[arg(long, value_name = "FILE")]
    pub texts: PathBuf,
    /// Labels, one per line beside the texts: 0/1/2 or negative/neutral/positive.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Language of the texts.
    #[arg(long, default_value = "it")]
    pub lang: String,
    /// Where to write the model.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Cross-validation folds for the printed scores (0: none).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Passes over the texts.
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    pub epochs: u32,
    /// Hashed feature slots: 2^bits (the file is 6 × 2^bits bytes).
    #[arg(long, default_value_t = TrainOptions::default().bits, value_parser = clap::value_parser!(u32).range(10..=24))]
    pub bits: u32,
    /// AdaGrad's learning rate.
    #[arg(long, default_value_t = TrainOptions::default().rate)]
    pub rate: f32,
    /// L2 penalty on the weights.
    #[arg(long, default_value_t = TrainOptions::default().l2)]
    pub l2: f32,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Texts, one per line.
    #[arg(long, value_name = "FILE")]
    pub texts: PathBuf,
    /// Labels, one per line beside the texts: 0/1/2 or negative/neutral/positive.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Language of the texts (guessed per text when absent).
    #[arg(long)]
    pub lang: Option<String>,
    /// A model file, `shipped`, or `none` for the lexicon alone (default: as configured,
    /// `[sentiment] model`).
    #[arg(long, value_name = "FILE")]
    pub model: Option<String>,
}

/// Texts and their classes (0 negative, 1 neutral, 2 positive), checked line by line.
fn read_labelled(texts: &Path, labels: &Path) -> Result<(Vec<String>, Vec<u8>)> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let texts: Vec<String> = read(texts)?.lines().map(String::from).collect();
    let mut classes = Vec::new();
    for (n, line) in read(labels)?.lines().enumerate() {
        let class = match line.trim().to_ascii_lowercase().as_str() {
            "0" | "negative" => 0,
            "1" | "neutral" => 1,
            "2" | "positive" => 2,
            "" => continue,
            other => {
                return Err(UsageError(format!(
                    "{} line {}: label `{other}` (expected 0/1/2 or negative/neutral/positive)",
                    labels.display(),
                    n + 1
                ))
                .into())
            }
        };
        classes.push(class);
    }
    if texts.len() != classes.len() {
        return Err(UsageError(format!(
            "--texts has {} texts but --labels has {} labels: one label per text",
            texts.len(),
            classes.len()
        ))
        .into());
    }
    if texts.is_empty() {
        return Err(UsageError("no labelled texts".into()).into());
    }
    Ok((texts, classes))
}

fn scores(what: &str, c: &Confusion) -> String {
    format!(
        "{what}: macro-F1 {:.3}; F1 negative {:.3}, neutral {:.3}, positive {:.3} ({} texts)\n",
        c.macro_f1(),
        c.f1(0),
        c.f1(1),
        c.f1(2),
        c.total()
    )
}

/// Writes to stdout without panicking when the reader has gone (`| head`).
fn out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

pub fn train(args: TrainArgs) -> Result<()> {
    check_lang(Some(&args.lang))?;
    let config = load_config(None)?;
    let (texts, classes) = read_labelled(&args.texts, &args.labels)?;
    let lang = Lang::from_tag(&args.lang);
    let (lexicon, _) = resources(&config.sentiment)?;
    // The model learns beside the lexicon: its signals, never another model's output.
    let mut scorer = SentimentScorer::with_models(lexicon, Models::default(), &config.sentiment);
    let opts = TrainOptions {
        bits: args.bits,
        epochs: args.epochs,
        rate: args.rate,
        l2: args.l2,
        ..TrainOptions::default()
    };
    let examples: Vec<_> = texts
        .iter()
        .zip(&classes)
        .map(|(t, &y)| (scorer.features_of(t, lang, opts.bits), y))
        .collect();
    let per_class = [0, 1, 2].map(|c| classes.iter().filter(|y| **y == c).count());
    eprintln!(
        "ondata sentiment train: {} texts ({} negative, {} neutral, {} positive)",
        texts.len(),
        per_class[0],
        per_class[1],
        per_class[2]
    );
    let cv = if args.folds >= 2 {
        eprintln!("cross-validating ({} folds)…", args.folds);
        let cv = model::cross_validate(&examples, lang, &opts, args.folds);
        out(&scores(
            &format!("cross-validated ({} folds)", args.folds),
            &cv,
        ))?;
        cv
    } else {
        Confusion::default()
    };
    let mut m = model::train(&examples, lang, &opts);
    // File names only: where they lay on the trainer's machine is nobody's business.
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let source = format!("{} + {}", name(&args.texts), name(&args.labels));
    model::describe(&mut m, &source, &cv);
    let bytes = m.to_bytes();
    // Beside the target, then renamed: a failed run never leaves half a model in its place.
    let tmp = args.out.with_extension("model.partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({:.1} MB); use it with [sentiment] model = \"{}\"",
        args.out.display(),
        bytes.len() as f64 / 1e6,
        args.out.display()
    );
    Ok(())
}

pub fn eval(args: EvalArgs) -> Result<()> {
    check_lang(args.lang.as_deref())?;
    let mut config = load_config(None)?;
    if let Some(m) = &args.model {
        if m != "none" && m != "shipped" {
            // A clear error for a bad file before anything is scored.
            SentimentModel::load(Path::new(m))?;
        }
        config.sentiment.model = Some(m.clone());
    }
    let (texts, classes) = read_labelled(&args.texts, &args.labels)?;
    let (lexicon, models) = resources(&config.sentiment)?;
    let mut scorer = SentimentScorer::with_models(lexicon, models, &config.sentiment);
    let mut confusion = Confusion::default();
    for (t, &y) in texts.iter().zip(&classes) {
        let scored = scorer.score(t, args.lang.as_deref());
        let predicted = LABELS.iter().position(|l| *l == scored.label).unwrap_or(1);
        confusion.add(usize::from(y), predicted);
    }
    let what = match config.sentiment.model.as_deref() {
        None | Some("none") => "lexicon alone".to_string(),
        Some("shipped") => "shipped model".to_string(),
        Some(m) => format!("model {m}"),
    };
    let mut report = scores(&what, &confusion);
    report.push_str("confusion (rows: labelled, columns: predicted)\n");
    report.push_str(&format!(
        "{:>10} {:>9} {:>9} {:>9}\n",
        "", "negative", "neutral", "positive"
    ));
    for (g, row) in confusion.counts.iter().enumerate() {
        let name = match LABELS[g] {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        };
        report.push_str(&format!(
            "{name:>10} {:>9} {:>9} {:>9}\n",
            row[0], row[1], row[2]
        ));
    }
    out(&report)?;
    Ok(())
}
