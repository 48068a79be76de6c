//! Property tests (proptest) of the code that meets untrusted input: event parsing, text
//! normalisation, sentiment and configuration loading. Each property runs on a few hundred
//! generated inputs per `cargo test`; a failure prints the smallest input that breaks it.
//! The same entry points are fuzzed without bounds by `fuzz/` (see the README).

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;

use ondata::config::{Config, InputConfig, SentimentConfig};
use ondata::event::{format_ts, parse_event, RejectReason};
use ondata::text::lexicon::Lexicon;
use ondata::text::normalize::{fold, fold_char};
use ondata::text::sentiment::{Label, SentimentScorer};

fn limits() -> InputConfig {
    InputConfig {
        max_text_bytes: 2_000,
        max_line_bytes: 8_000,
        ..InputConfig::default()
    }
}

fn lexicon() -> Arc<Lexicon> {
    static LEX: OnceLock<Arc<Lexicon>> = OnceLock::new();
    LEX.get_or_init(|| Arc::new(Lexicon::bundled())).clone()
}

/// Text as comments have it: Latin letters with accents, emoji, punctuation, white space of
/// every kind, and now and then any character at all.
fn comment_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(vec![
                "il", "sito", "non", "funziona", "VERGOGNA", "perché", "PERCHE'", "bonus",
                "600", "€", "grazie", "mai", "not", "good", "very", "bad", "!!!", "😡", "👍",
                "#bonus600", "@inps", "città", "è", "ñandú", "ß", "İstanbul", "Σίσυφος",
            ])
            .prop_map(str::to_string),
            2 => prop::sample::select(vec![" ", "  ", "\t", "\n", "\r\n", "\u{a0}", "\u{2003}", "\u{b}"])
                .prop_map(str::to_string),
            1 => any::<char>().prop_map(|c| c.to_string()),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// A valid event time: 2000-01-01 .. 2100-01-01 in milliseconds.
fn event_ms() -> impl Strategy<Value = i64> {
    946_684_800_000i64..4_102_444_800_000
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any bytes at all: an event that satisfies every rule, or a rejection with a reason and
    /// a message; never a panic.
    #[test]
    fn any_bytes_parse_or_are_rejected_with_a_reason(line in prop::collection::vec(any::<u8>(), 0..600)) {
        match parse_event(&line, &limits()) {
            Ok(e) => {
                prop_assert!((946_684_800_000..4_102_444_800_000).contains(&e.ts_ms));
                prop_assert!(!e.author.trim().is_empty());
                prop_assert!(e.text.len() <= limits().max_text_bytes);
            }
            Err(r) => {
                // The reason names what is wrong with the line: bytes that are not UTF-8,
                // text that is not a JSON object, or (only then) one of its fields.
                let object = std::str::from_utf8(&line)
                    .map(|s| serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| v.is_object()));
                match object {
                    Err(_) => prop_assert_eq!(r.reason, RejectReason::NotUtf8),
                    Ok(false) => prop_assert_eq!(r.reason, RejectReason::NotJson),
                    Ok(true) => prop_assert!(
                        !matches!(r.reason, RejectReason::NotUtf8 | RejectReason::NotJson),
                        "a JSON object is judged by its fields: {:?}", r
                    ),
                }
                prop_assert!(!r.detail.trim().is_empty(), "a rejection says why");
                prop_assert!(r.detail.len() < 1_000, "the reason is short: {}", r.detail);
            }
        }
    }

    /// JSON-shaped noise: objects whose fields have the right names and any JSON values.
    #[test]
    fn event_shaped_json_parses_or_names_the_field(
        ts in prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            ".{0,30}".prop_map(serde_json::Value::from),
            event_ms().prop_map(|ms| serde_json::Value::from(format_ts(ms))),
        ],
        text in prop_oneof![comment_text().prop_map(serde_json::Value::from), any::<bool>().prop_map(serde_json::Value::from)],
        author in prop_oneof![".{0,10}".prop_map(serde_json::Value::from), Just(serde_json::Value::Null), any::<u32>().prop_map(serde_json::Value::from)],
        sentiment in prop::option::of(-3.0f64..3.0),
        drop_field in 0usize..4,
    ) {
        let mut obj = serde_json::Map::new();
        for (i, (k, v)) in [("ts", ts), ("text", text), ("author", author)].into_iter().enumerate() {
            if i != drop_field {
                obj.insert(k.to_string(), v);
            }
        }
        if let Some(s) = sentiment {
            obj.insert("sentiment".into(), serde_json::json!(s));
        }
        let line = serde_json::Value::Object(obj).to_string();
        match parse_event(line.as_bytes(), &limits()) {
            Ok(e) => {
                prop_assert!(drop_field == 3, "a missing required field was accepted: {line}");
                prop_assert!(e.sentiment.is_none_or(|s| (-1.0..=1.0).contains(&s)));
            }
            Err(r) => {
                prop_assert!(!r.detail.is_empty());
                if drop_field < 3 {
                    prop_assert!(
                        matches!(r.reason, RejectReason::MissingField | RejectReason::BadTs | RejectReason::BadField),
                        "{line}: {r:?}"
                    );
                }
            }
        }
    }

    /// A well-formed event written by any JSON writer reads back as itself, escapes and all.
    #[test]
    fn valid_events_round_trip(
        ms in event_ms(),
        text in comment_text(),
        author in "[a-zA-Z0-9_\u{e0}-\u{ff}]{1,12}",
        topic in prop::option::of("[a-z0-9-]{1,12}"),
        as_string in any::<bool>(),
    ) {
        let ts = if as_string { serde_json::Value::from(format_ts(ms)) } else { serde_json::Value::from(ms) };
        let line = serde_json::json!({"ts": ts, "text": text, "author": author, "topic": topic}).to_string();
        let e = parse_event(line.as_bytes(), &limits()).map_err(|r| TestCaseError::fail(format!("{line}: {r:?}")))?;
        prop_assert_eq!(e.ts_ms, ms);
        prop_assert_eq!(e.text.as_ref(), text.as_str());
        prop_assert_eq!(e.author.as_ref(), author.as_str());
        prop_assert_eq!(e.topic.as_deref(), topic.as_deref());
    }

    /// The limits hold whatever the line: too long is refused before it is parsed.
    #[test]
    fn limits_hold(extra in 1usize..3_000, text_len in 0usize..4_000) {
        let limits = limits();
        let long = vec![b'x'; limits.max_line_bytes + extra];
        prop_assert_eq!(parse_event(&long, &limits).unwrap_err().reason, RejectReason::LineTooLong);
        let line = serde_json::json!({"ts": 1_585_728_000_000i64, "text": "a".repeat(text_len), "author": "u"}).to_string();
        match parse_event(line.as_bytes(), &limits) {
            Ok(e) => prop_assert!(e.text.len() <= limits.max_text_bytes),
            Err(r) => prop_assert_eq!(r.reason, RejectReason::TextTooLong),
        }
    }

    /// Folding is idempotent, never grows text by more than its own size, leaves no
    /// upper-case ASCII, no doubled or edge white space, and the ASCII fast path agrees with
    /// the per-character one.
    #[test]
    fn folding_is_idempotent_and_bounded(text in comment_text()) {
        let once = fold(&text);
        prop_assert_eq!(fold(&once), once.clone(), "fold(fold(x)) == fold(x) for {:?}", text);
        prop_assert!(once.len() <= 2 * text.len() + 4, "{} bytes from {}", once.len(), text.len());
        prop_assert!(!once.bytes().any(|b| b.is_ascii_uppercase()));
        prop_assert!(!once.contains("  ") && !once.starts_with(' ') && !once.ends_with(' '));
        let by_char: String = text.split_whitespace().map(|w| w.chars().map(fold_char).collect::<String>()).collect::<Vec<_>>().join(" ");
        prop_assert_eq!(once, by_char);
    }

    /// Sentiment of any text: a finite score in [-1, 1], its label from the thresholds, the
    /// same on a second call, and an explanation that gives the same score.
    #[test]
    fn sentiment_is_bounded_and_deterministic(text in comment_text(), lang in prop::option::of(prop::sample::select(vec!["it", "en", "fr", "", "xx-YY"]))) {
        let config = SentimentConfig::default();
        let mut scorer = SentimentScorer::new(lexicon(), &config);
        let a = scorer.score(&text, lang);
        let b = scorer.score(&text, lang);
        prop_assert!(a.score.is_finite() && (-1.0..=1.0).contains(&a.score), "{}", a.score);
        prop_assert_eq!(a, b);
        let why = scorer.explain(&text, lang, None);
        prop_assert!((why.score - a.score).abs() < 1e-9);
        let expected = if a.score <= config.negative_at_or_below {
            Label::Negative
        } else if a.score >= config.positive_at_or_above {
            Label::Positive
        } else {
            Label::Neutral
        };
        prop_assert_eq!(why.label, expected);
    }

    /// Negation never makes a clearly positive or negative Italian word more so.
    #[test]
    fn negation_does_not_strengthen(word in prop::sample::select(vec!["bello", "ottimo", "grazie", "vergogna", "schifo", "pessimo", "buono", "brutto"]), tail in prop::sample::select(vec!["", " il servizio", " davvero"])) {
        let mut scorer = SentimentScorer::new(lexicon(), &SentimentConfig::default());
        let plain = scorer.score(&format!("{word}{tail}"), Some("it")).score;
        let negated = scorer.score(&format!("non {word}{tail}"), Some("it")).score;
        prop_assert!(negated.abs() <= plain.abs() + 1e-9 || negated.signum() != plain.signum(),
            "`non {word}{tail}` {negated} vs `{word}{tail}` {plain}");
    }

    /// Any TOML text: a configuration, or an error that says where; never a panic.
    #[test]
    fn any_config_text_loads_or_names_the_problem(text in prop_oneof![
        ".{0,200}",
        config_like(),
    ]) {
        match Config::from_toml_with_env(&text, "fuzz.toml", []) {
            Ok(c) => prop_assert!(c.validate().is_ok()),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.len() > 10 && !msg.contains("panicked"), "{msg}");
            }
        }
    }

    /// Any environment override: applied, or refused naming the variable.
    #[test]
    fn env_overrides_apply_or_name_the_variable(
        path in prop::collection::vec(prop_oneof![
            prop::sample::select(vec!["KAFKA", "BROKERS", "HTTP", "LISTEN", "DETECT", "SURGE", "SENSITIVITY", "INPUT", "MAX_TEXT_BYTES", "CLIENT", "ALERTS", "SINKS"]).prop_map(str::to_string),
            "[A-Z_]{0,6}",
        ], 0..4),
        value in prop_oneof![".{0,20}", Just("[1, 2".to_string()), Just("{a = 1}".to_string()), any::<i64>().prop_map(|n| n.to_string())],
    ) {
        let var = format!("ONDATA__{}", path.join("__"));
        match Config::from_toml_with_env("", "defaults", [(var.clone(), value)]) {
            Ok(c) => prop_assert!(c.validate().is_ok()),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.is_empty());
            }
        }
    }

    /// What `check-config` prints loads back as the same configuration.
    #[test]
    fn effective_config_round_trips(
        sens in prop::sample::select(vec!["low", "medium", "high"]),
        max_text in 1usize..100_000,
        rules in prop::collection::vec(("[a-z]{1,8}", prop::collection::vec("[a-z #0-9]{1,12}", 1..3)), 0..3),
    ) {
        let mut text = format!("[input]\nmax_text_bytes = {max_text}\n[detect]\nsensitivity = \"{sens}\"\n");
        let mut seen = std::collections::BTreeSet::new();
        for (name, kws) in rules {
            if seen.insert(name.clone()) {
                text.push_str(&format!("[[topics.rules]]\nname = {name:?}\nkeywords = {kws:?}\n"));
            }
        }
        let config = match Config::from_toml_with_env(&text, "t.toml", []) {
            Ok(c) => c,
            // A rule whose keywords fold to nothing is refused with a reason; that is fine.
            Err(e) => { prop_assert!(e.to_string().contains("topics")); return Ok(()); }
        };
        let printed = config.effective_toml();
        let again = Config::from_toml_with_env(&printed, "printed", [])
            .map_err(|e| TestCaseError::fail(format!("{e}\n{printed}")))?;
        prop_assert_eq!(again.effective_toml(), printed);
    }
}

/// TOML that looks like ondata's: known sections and keys with values of any type.
fn config_like() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "[input]\nmax_text_bytes",
        "[input]\nmax_line_bytes",
        "[input]\ndedup_ids",
        "[kafka]\nbrokers",
        "[kafka]\ntopics",
        "[kafka]\nrebuild_hours",
        "[http]\nlisten",
        "[detect]\nsensitivity",
        "[detect.surge]\nmin_ratio",
        "[detect.troll]\nmin_authors",
        "[engine]\nwindow_secs",
        "[sentiment]\ndefault_lang",
        "[[alerts.sinks]]\ntype",
        "[[topics.rules]]\nname",
        "[nonsense]\nkey",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "[a-z]{0,8}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_string()),
        Just("[\"a\", 1]".to_string()),
        Just("true".to_string()),
        Just("{ x = 1 }".to_string()),
    ];
    prop::collection::vec((key, value), 0..5).prop_map(|kv| {
        kv.into_iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect()
    })
}
