//! Coordination without copied text: many accounts flooding one hashtag within minutes, each
//! in their own words.
//!
//! The background is the project's simulator (it shares the event format and the topic names
//! with ondata, nothing of the detection). The flood is written here, by hand: different
//! sentences from different accounts that share one hashtag, as a group told "everyone
//! write to INPS with #ridatecilepensioni" would post.

mod common;

use ondata::alert::{Alert, AlertKind, AlertStatus, Details};
use ondata::config::Config;
use ondata::event::parse_event;
use ondata::simulate::Scenario;

const SAID: &[&str] = &[
    "dopo quarant'anni di lavoro mi trattate così",
    "la pensione di aprile non è ancora arrivata",
    "mia madre aspetta da tre mesi, vergognatevi",
    "chi ha versato i contributi merita rispetto",
    "basta scuse, pagate quello che ci spetta",
    "ho chiamato il call center dieci volte e nessuno risponde",
    "siamo stanchi di essere presi in giro",
    "i pensionati non sono bancomat",
    "il mio assegno è stato tagliato senza spiegazioni",
    "vi ricorderete di noi alle prossime elezioni",
    "una vita di sacrifici per questo?",
    "ridateci quello che abbiamo versato",
];

const TAG: &str = "#RidateciLePensioni";

/// The `i`-th comment of the flood: its own sentence, the tag somewhere in it.
fn flood_text(i: usize) -> String {
    let said = SAID[i % SAID.len()];
    match i % 3 {
        0 => format!("{TAG} {said}"),
        1 => format!("{said} {TAG}"),
        _ => format!("{said}!! {TAG} @INPS_it"),
    }
}

fn lines_of(scenario: Scenario, days: u32, seed: u64) -> (Vec<serde_json::Value>, i64) {
    let (lines, _) = common::simulated(scenario, days, seed);
    let first = ts_ms(&lines[0]);
    (lines, first.div_euclid(86_400_000) * 86_400_000)
}

fn ts_ms(v: &serde_json::Value) -> i64 {
    let bytes = serde_json::to_vec(v).unwrap();
    parse_event(&bytes, &Config::default().input).unwrap().ts_ms
}

fn replay(lines: &[serde_json::Value]) -> Vec<Alert> {
    common::replay_values(lines, &Config::default())
}

fn coordination(alerts: &[Alert]) -> Vec<&Alert> {
    alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Coordination)
        .collect()
}

#[test]
fn many_accounts_flooding_one_hashtag_in_their_own_words_is_coordination() {
    for seed in [1, 2, 3] {
        let (mut lines, day0) = lines_of(Scenario::Quiet, 5, seed);
        // Day four, 15:00: 36 accounts never seen before post on pensioni within 6 minutes.
        let start = day0 + 3 * 86_400_000 + 15 * 3_600_000;
        for i in 0..36 {
            let t = start + i as i64 * 10_000 + (i as i64 * 7919 % 3_000);
            let ts = chrono::DateTime::from_timestamp_millis(t)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            lines.push(serde_json::json!({
                "ts": ts,
                "text": flood_text(i),
                "author": format!("pensionato_{seed}_{i}"),
                "topic": "pensioni",
                "id": format!("flood-{i}"),
            }));
        }
        lines.sort_by_key(ts_ms);
        let alerts = replay(&lines);
        let found = coordination(&alerts);
        let first = found
            .iter()
            .find(|a| a.status == AlertStatus::Firing)
            .unwrap_or_else(|| panic!("seed {seed}: no coordination alert"));
        let Details::Coordination(d) = &first.details else {
            panic!("coordination details expected: {first:?}");
        };
        assert_eq!(first.topic, "pensioni");
        assert_eq!(d.tag, "#ridateciLepensioni".to_lowercase());
        assert!(d.accounts >= 15, "{d:?}");
        let delay = (first.at_ms - start) / 60_000;
        assert!(delay <= 6, "seed {seed}: found {delay} min after the start");
        assert!(
            first.summary.contains("#ridatecilepensioni"),
            "{}",
            first.summary
        );
        assert!(!first.samples.is_empty());
        // Nothing else is called coordination, and the flood ends.
        assert!(
            found
                .iter()
                .all(|a| a.id == first.id || a.topic == "pensioni"),
            "seed {seed}: {:#?}",
            found.iter().map(|a| &a.summary).collect::<Vec<_>>()
        );
        assert!(
            found
                .iter()
                .any(|a| a.id == first.id && a.status == AlertStatus::Resolved),
            "seed {seed}: the flood never resolved"
        );
        eprintln!("seed {seed}: {delay} min: {}", first.summary);
    }
}

#[test]
fn ordinary_days_and_a_click_day_surge_are_not_coordination() {
    for seed in [1, 2, 3] {
        for (scenario, days) in [(Scenario::Quiet, 7), (Scenario::ClickDay, 3)] {
            let (lines, _) = lines_of(scenario, days, seed);
            let alerts = replay(&lines);
            let found: Vec<String> = coordination(&alerts)
                .iter()
                .map(|a| format!("{} {}", a.at, a.summary))
                .collect();
            assert!(found.is_empty(), "seed {seed} {scenario:?}: {found:#?}");
        }
    }
}
