//! Emerging themes on streams where many people say one thing in their own words.
//!
//! The background is the project's simulator (it shares the event format and the topic names
//! with ondata, nothing of the theme detection). The planted comments are written here, by
//! hand, in varied wordings, and put in place of a share of the simulator's comments: they
//! share some words (as real people's do), never a template.

mod common;

use ondata::alert::{Alert, AlertKind, AlertStatus, Details};
use ondata::config::Config;
use ondata::event::parse_event;
use ondata::simulate::Scenario;

/// Seeing another user's data, as people would write it.
const DATA: &[&str] = &[
    "vedo i dati di un altro utente",
    "mi escono i dati di uno sconosciuto",
    "ho fatto l'accesso e vedo i dati personali di un signore che non conosco",
    "nella mia area riservata ci sono i dati di un'altra persona",
    "privacy zero: compaiono i dati di altri utenti",
    "entro con lo spid e trovo nome e codice fiscale di un altro utente",
    "ATTENZIONE il sito mostra i dati di altre persone",
    "ma è normale che vedo la domanda e i dati di un altro?",
    "sto vedendo i dati di un altro utente, chi risponde della privacy?",
    "al posto dei miei dati ci sono quelli di una signora di Bari",
];

/// An April fool's joke, as people would write it.
const JOKE: &[&str] = &[
    "sicuramente è un pesce d'aprile",
    "ditemi che è un pesce d'aprile",
    "il pesce d'aprile più riuscito dell'anno",
    "oggi è primo aprile, pesce d'aprile!",
    "pesce d'aprile istituzionale? 😂",
    "aspetto che dicano che era un pesce d'aprile",
    "questo non può che essere un pesce d'aprile",
    "pesce d'aprile o realtà? non si capisce più",
];

const OPENERS: &[&str] = &[
    "",
    "ragazzi ",
    "ma scusate, ",
    "assurdo, ",
    "@INPS_it ",
    "buongiorno, ",
];
const CLOSERS: &[&str] = &[
    "",
    "!!!",
    " 😡",
    " ...",
    " vergogna",
    " qualcuno mi spiega?",
    " #inps",
];

/// The `i`-th planted comment from `texts`, varied by its opener and closer.
fn planted(texts: &[&str], i: usize) -> String {
    format!(
        "{}{}{}",
        OPENERS[(i / texts.len()) % OPENERS.len()],
        texts[i % texts.len()],
        CLOSERS[(i * 7 / 3) % CLOSERS.len()]
    )
}

/// The simulator's lines, the start of its first planted incident (if any) and the start of
/// the day after its `days` ordinary days.
fn stream(scenario: Scenario, days: u32, seed: u64) -> (Vec<serde_json::Value>, i64, i64) {
    let (lines, summary) = common::simulated(scenario, days, seed);
    let day = summary
        .incidents
        .iter()
        .map(|i| i.start_ms)
        .min()
        .unwrap_or(0);
    let first = ts_ms(&lines[0]);
    let after = (first.div_euclid(86_400_000) + i64::from(days)) * 86_400_000;
    (lines, day, after)
}

fn ts_ms(v: &serde_json::Value) -> i64 {
    let s = v["ts"].as_str().unwrap();
    chrono_free_parse(s)
}

/// RFC 3339 UTC with milliseconds, as the simulator writes it, to epoch milliseconds.
fn chrono_free_parse(s: &str) -> i64 {
    let line = format!(r#"{{"ts":"{s}","text":"x","author":"a"}}"#);
    parse_event(line.as_bytes(), &Config::default().input)
        .unwrap()
        .ts_ms
}

fn replay(lines: &[serde_json::Value], config: &Config) -> Vec<Alert> {
    common::replay_values(lines, config)
}

fn names(themes: &[ondata::alert::model::ThemeShare], word: &str) -> bool {
    themes
        .iter()
        .any(|t| t.phrase.split(' ').any(|w| w == word))
}

#[test]
fn a_surge_names_what_half_its_new_comments_say_in_their_own_words() {
    for seed in [1, 2, 3] {
        let (mut lines, day, _) = stream(Scenario::ClickDay, 3, seed);
        // The click day's surge on bonus-600 starts at 06:00: from then, every other comment
        // on the topic says it shows another user's data.
        let start = day;
        let mut n = 0;
        for v in lines.iter_mut() {
            let t = ts_ms(v);
            if v["topic"] == "bonus-600" && t >= start && t < start + 3_600_000 {
                n += 1;
                if n % 2 == 0 {
                    v["text"] = planted(DATA, n / 2).into();
                }
            }
        }
        let alerts = replay(&lines, &Config::default());
        let named = alerts.iter().find(|a| {
            a.topic == "bonus-600"
                && a.status == AlertStatus::Firing
                && a.at_ms <= start + 15 * 60_000
                && match &a.details {
                    Details::Surge(d) => names(&d.themes, "dati"),
                    Details::Negativity(d) => names(&d.themes, "dati"),
                    _ => false,
                }
        });
        let Some(a) = named else {
            let seen: Vec<String> = alerts
                .iter()
                .filter(|a| a.topic == "bonus-600" && a.at_ms < start + 3_600_000)
                .map(|a| format!("{} {} {}", a.at, a.kind, a.summary))
                .collect();
            panic!(
                "seed {seed}: no alert on bonus-600 names the data within 15 minutes: {seen:#?}"
            );
        };
        assert!(a.summary.contains("\u{ab}dati"), "{}", a.summary);
        eprintln!(
            "seed {seed}: named {} min after the start: {}",
            (a.at_ms - start) / 60_000,
            a.summary
        );
    }
}

#[test]
fn a_joke_spreading_over_three_quiet_topics_is_a_theme() {
    for seed in [1, 2, 3] {
        let (mut lines, _, day) = stream(Scenario::Quiet, 3, seed);
        // Day four, 10:00 to 11:30: four comments in ten on three quiet topics are the joke.
        let start = day + 10 * 3_600_000;
        let topics = ["naspi", "assistenza", "reddito-di-cittadinanza"];
        let mut n = 0;
        for v in lines.iter_mut() {
            let t = ts_ms(v);
            let on = topics.iter().any(|x| v["topic"] == *x);
            if on && t >= start && t < start + 90 * 60_000 {
                n += 1;
                if n % 5 < 2 {
                    v["text"] = planted(JOKE, n).into();
                }
            }
        }
        let alerts = replay(&lines, &Config::default());
        let themes: Vec<&Alert> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::Theme && a.status == AlertStatus::Firing)
            .collect();
        let first = themes
            .first()
            .unwrap_or_else(|| panic!("seed {seed}: no theme alert; {} alerts", alerts.len()));
        let Details::Theme(d) = &first.details else {
            panic!("theme details expected: {first:?}")
        };
        assert!(
            first.at_ms >= start && first.at_ms <= start + 20 * 60_000,
            "seed {seed}: theme at {} for a joke from {start}",
            first.at
        );
        assert!(
            d.phrase.contains("pesce") || d.phrase.contains("aprile"),
            "seed {seed}: {d:?}"
        );
        assert!(d.topics.len() >= 2, "{d:?}");
        eprintln!(
            "seed {seed}: theme {} min after the start: {}",
            (first.at_ms - start) / 60_000,
            first.summary
        );
        for t in &d.topics {
            assert!(topics.contains(&t.topic.as_str()), "{d:?}");
        }
        assert!(first.summary.contains(&d.phrase), "{}", first.summary);
        // One theme, not one alert per word of it.
        let distinct: std::collections::BTreeSet<&str> =
            themes.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            distinct.len(),
            1,
            "{:#?}",
            themes.iter().map(|a| &a.summary).collect::<Vec<_>>()
        );
        // It resolves once the joke is over.
        assert!(alerts.iter().any(|a| a.kind == AlertKind::Theme
            && a.status == AlertStatus::Resolved
            && a.at_ms > start + 90 * 60_000));
    }
}

#[test]
fn ordinary_weeks_raise_no_theme() {
    // The click day's incidents may well have themes: only its seven days before count.
    for (scenario, seed) in [
        (Scenario::Quiet, 11),
        (Scenario::Quiet, 12),
        (Scenario::ClickDay, 13),
    ] {
        let (lines, _, incident_day) = stream(scenario, 7, seed);
        let alerts = replay(&lines, &Config::default());
        let themes: Vec<&str> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::Theme && a.at_ms < incident_day)
            .map(|a| a.summary.as_str())
            .collect();
        assert!(themes.is_empty(), "{scenario:?} seed {seed}: {themes:#?}");
    }
}
