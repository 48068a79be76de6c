//! An institution retrains sentiment on its own labelled comments and loads the model
//! through its configuration: `sentiment train`, then `[sentiment] model = "…"` read by
//! `sentiment` and by `replay`, whose negativity detector then sees what the model sees.
//!
//! The labelled comments use the institution's own jargon, two words no lexicon has:
//! a file is "zorbata" (turned down) or "quokkata" (granted). Only a model trained on the
//! institution's file can know that a wave of "zorbata" is a turn to negativity.

use std::path::Path;
use std::process::{Command, Output};

fn ondata(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ondata"))
        .current_dir(dir)
        .args(args)
        .env_remove("ONDATA_LOG")
        .output()
        .unwrap()
}

const NEGATIVE: [&str; 6] = [
    "la mia pratica è stata zorbata",
    "zorbata di nuovo la domanda",
    "pratica zorbata senza motivo",
    "ancora zorbata, terza volta",
    "mi hanno zorbata la richiesta",
    "zorbata anche questa volta",
];
const POSITIVE: [&str; 6] = [
    "pratica quokkata in una settimana",
    "finalmente quokkata la domanda",
    "la richiesta è stata quokkata",
    "quokkata al primo colpo",
    "mi hanno quokkata la pratica",
    "quokkata anche la seconda",
];
const NEUTRAL: [&str; 6] = [
    "dove trovo il modulo per la pratica",
    "a che ora apre lo sportello",
    "serve la marca da bollo per la domanda",
    "quale ufficio segue le richieste",
    "come si allega il documento",
    "il numero di protocollo dove si legge",
];

/// The institution's labelled file: each phrase with a few prefixes, so the model sees
/// the jargon in different company.
fn labelled(dir: &Path) -> (String, String) {
    let prefixes = ["", "buongiorno, ", "salve ", "ciao, ", "scusate ", "oggi "];
    let (mut texts, mut labels) = (String::new(), String::new());
    for (class, phrases) in [(0, NEGATIVE), (1, NEUTRAL), (2, POSITIVE)] {
        for p in prefixes {
            for t in phrases {
                texts.push_str(&format!("{p}{t}\n"));
                labels.push_str(&format!("{class}\n"));
            }
        }
    }
    let (t, l) = (dir.join("texts.txt"), dir.join("labels.txt"));
    std::fs::write(&t, texts).unwrap();
    std::fs::write(&l, labels).unwrap();
    (t.display().to_string(), l.display().to_string())
}

/// Three days on one topic at 3 comments a minute from 8:00 to 20:00: questions and a few
/// granted files; on the third day from 10:00 for two hours, seven comments in ten say
/// their file was turned down (phrased unlike the training file).
fn stream(dir: &Path) -> String {
    let t0: i64 = 1_646_611_200_000; // 2022-03-07T00:00:00Z
    let mut lines = String::new();
    let mut n = 0u64;
    for day in 0..3i64 {
        for minute in 8 * 60..20 * 60i64 {
            let wave = day == 2 && (10 * 60..12 * 60).contains(&minute);
            for k in 0..3i64 {
                n += 1;
                let text = match (wave, n % 10) {
                    (true, 0..=6) => format!("pratica numero {n} zorbata stamattina"),
                    (_, 7) => format!("pratica {n} quokkata"),
                    _ => format!("domanda {n}: dove si consegna il modulo"),
                };
                let ts = t0 + day * 86_400_000 + minute * 60_000 + k * 20_000;
                lines.push_str(&format!(
                    r#"{{"ts":{ts},"id":"s{n}","author":"u{n}","topic":"pratiche","text":"{text}"}}"#
                ));
                lines.push('\n');
            }
        }
    }
    let path = dir.join("stream.ndjson");
    std::fs::write(&path, lines).unwrap();
    path.display().to_string()
}

fn negativity_alerts(dir: &Path, config: &str, stream: &str) -> Vec<serde_json::Value> {
    let out = dir.join("alerts.ndjson");
    let o = ondata(
        dir,
        &[
            "replay",
            "--config",
            config,
            stream,
            "--alerts-out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["kind"] == "negativity" && a["status"] == "firing")
        .collect()
}

#[test]
fn a_model_trained_on_the_institution_s_comments_is_loaded_through_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (texts, labels) = labelled(d);

    // Train: cross-validated scores printed, the same model twice.
    let train = |out: &str| {
        ondata(
            d,
            &[
                "sentiment",
                "train",
                "--texts",
                &texts,
                "--labels",
                &labels,
                "--lang",
                "it",
                "--out",
                out,
            ],
        )
    };
    let o = train("own.model");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        printed.contains("cross-validated (5 folds): macro-F1"),
        "{printed}"
    );
    assert!(train("again.model").status.success());
    assert_eq!(
        std::fs::read(d.join("own.model")).unwrap(),
        std::fs::read(d.join("again.model")).unwrap(),
        "training is deterministic"
    );

    // `eval` on the same file: the jargon learned.
    let o = ondata(
        d,
        &[
            "sentiment",
            "eval",
            "--texts",
            &texts,
            "--labels",
            &labels,
            "--model",
            "own.model",
        ],
    );
    let report = String::from_utf8_lossy(&o.stdout);
    let macro_f1: f64 = report
        .split("macro-F1 ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(macro_f1 > 0.9, "{report}");
    assert!(report.contains("confusion"), "{report}");

    // Through config: `sentiment` in a folder whose config names the model.
    std::fs::create_dir(d.join("config")).unwrap();
    let config = d.join("config/ondata.toml");
    std::fs::write(&config, "[sentiment]\nmodel = \"own.model\"\n").unwrap();
    let label = |dir: &Path| {
        let o = ondata(
            dir,
            &["sentiment", "--json", "pratica zorbata per la quarta volta"],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["label"].as_str().unwrap().to_string()
    };
    let elsewhere = tempfile::tempdir().unwrap();
    assert_eq!(label(d), "negative");
    assert_eq!(
        label(elsewhere.path()),
        "neutral",
        "the lexicon alone cannot know"
    );

    // Replay with and without the model: only the model sees the wave.
    let stream = stream(d);
    std::fs::write(d.join("lexicon.toml"), "").unwrap();
    let with_model = negativity_alerts(d, config.to_str().unwrap(), &stream);
    let without = negativity_alerts(d, "lexicon.toml", &stream);
    assert!(without.is_empty(), "{without:#?}");
    let first = with_model.first().expect("the wave is reported");
    let at = first["at"].as_str().unwrap();
    assert!(
        ("2022-03-09T10:00:00Z".."2022-03-09T10:30:00Z").contains(&at),
        "{with_model:#?}"
    );
    assert!(
        with_model
            .iter()
            .all(|a| a["at"].as_str().unwrap() >= "2022-03-09T10:00:00Z"),
        "nothing before the wave: {with_model:#?}"
    );
}

#[test]
fn bad_sentiment_files_and_languages_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (texts, _) = labelled(d);
    let refused = |args: &[&str], want: &str| {
        let o = ondata(d, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    };
    refused(&["sentiment", "--lang", "fr", "ciao"], "--lang fr");
    refused(
        &[
            "sentiment",
            "train",
            "--texts",
            &texts,
            "--labels",
            &texts,
            "--out",
            "m",
        ],
        "line 1: label",
    );
    std::fs::write(d.join("short.txt"), "0\n1\n").unwrap();
    refused(
        &[
            "sentiment",
            "train",
            "--texts",
            &texts,
            "--labels",
            "short.txt",
            "--out",
            "m",
        ],
        "one label per text",
    );
    // A model file cut short, or not a model at all, named in a config.
    std::fs::write(
        d.join("cut.model"),
        b"ondata-sentiment-model\n{\"format\":1",
    )
    .unwrap();
    std::fs::write(d.join("cut.toml"), "[sentiment]\nmodel = \"cut.model\"\n").unwrap();
    refused(
        &["replay", "--config", "cut.toml", "missing.ndjson"],
        "sentiment.model",
    );
    std::fs::write(d.join("words.tsv"), "bellissimo\tmolto\n").unwrap();
    std::fs::write(
        d.join("words.toml"),
        "[sentiment]\nlexicon = \"words.tsv\"\n",
    )
    .unwrap();
    refused(
        &["replay", "--config", "words.toml", "missing.ndjson"],
        "words.tsv line 1: valence `molto`",
    );
}

/// `ondata sentiment … | head`: when the reader goes, ondata stops quietly.
#[test]
fn a_reader_that_leaves_early_is_not_an_error() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["sentiment"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // Far more output than a pipe holds, so ondata is still writing when we go.
        for i in 0..20_000 {
            if writeln!(stdin, "il sito non funziona, vergogna {i}").is_err() {
                break;
            }
        }
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("negative"), "{first}");
    // The reader is dropped here: the pipe closes.
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
