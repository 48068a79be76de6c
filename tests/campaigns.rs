//! Campaign memory: a troll campaign run again days later by the same accounts, with
//! another text on another topic, is linked to the first; one by other accounts is not.
//!
//! The background is the project's simulator (event format and topic names shared with
//! ondata, nothing of the detection); the campaigns are written here.

use ondata::alert::{Alert, AlertKind, AlertStatus, Details};
use ondata::config::{Config, Language};
use ondata::engine::Engine;
use ondata::event::parse_event;
use ondata::simulate::{simulate, Scenario, SimOptions};

const DAY: i64 = 86_400_000;

/// `posts` copies of `template` (with small edits) from `accounts`, from `start` over six
/// minutes, on `topic`.
fn campaign(
    tag: &str,
    template: &str,
    topic: &str,
    accounts: &[String],
    start: i64,
) -> Vec<String> {
    let edits = ["", " @INPS_it", " !!!", " #vergogna", " 😡", " @ministro"];
    (0..45)
        .map(|i| {
            let text = format!("{template}{}", edits[i % edits.len()]);
            let text = if i % 4 == 0 {
                text.to_uppercase()
            } else {
                text
            };
            serde_json::json!({
                "ts": start + i as i64 * 8_000,
                "id": format!("{tag}-{i}"),
                "author": accounts[(i * 7) % accounts.len()],
                "topic": topic,
                "text": text,
            })
            .to_string()
        })
        .collect()
}

fn accounts(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

fn replay(mut lines: Vec<String>, config: &Config) -> Vec<Alert> {
    let limits = Config::default().input;
    lines.sort_by_key(|l| parse_event(l.as_bytes(), &limits).unwrap().ts_ms);
    let mut engine = Engine::new(config);
    let mut alerts = Vec::new();
    for l in &lines {
        engine.ingest_into(
            &parse_event(l.as_bytes(), &config.input).unwrap(),
            &mut alerts,
        );
    }
    alerts.extend(engine.finish());
    alerts
}

#[test]
fn a_campaign_run_again_by_the_same_accounts_is_linked_to_the_first() {
    let mut out = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::Quiet,
        seed: 7,
        days: 5,
        ..SimOptions::default()
    };
    simulate(&opts, &mut out).unwrap();
    let mut lines: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let limits = Config::default().input;
    let first = parse_event(lines[0].as_bytes(), &limits).unwrap().ts_ms;
    let day0 = first.div_euclid(DAY) * DAY;
    let trolls = accounts("patriota_", 30);
    // Day two: the first campaign, on pensioni.
    lines.extend(campaign(
        "a",
        "Vergogna! L'istituto ha lasciato i pensionati senza assegno e nessuno si dimette",
        "pensioni",
        &trolls,
        day0 + DAY + 10 * 3_600_000,
    ));
    // Day five: 25 of the same accounts and 5 new ones, another text, on naspi.
    let mut again = trolls[..25].to_vec();
    again.extend(accounts("nuovo_", 5));
    lines.extend(campaign(
        "b",
        "Basta con questa gestione vergognosa della naspi, milioni di disoccupati presi in giro",
        "naspi",
        &again,
        day0 + 4 * DAY + 15 * 3_600_000,
    ));
    // The same day: a campaign by other accounts, on assistenza.
    lines.extend(campaign(
        "c",
        "Il numero verde non risponde mai, siete una vergogna nazionale e dovreste chiudere",
        "assistenza",
        &accounts("altro_", 30),
        day0 + 4 * DAY + 18 * 3_600_000,
    ));
    for language in [Language::En, Language::It] {
        let mut config = Config::default();
        config.alerts.language = language;
        let alerts = replay(lines.clone(), &config);
        let burst = |topic: &str| -> &Alert {
            alerts
                .iter()
                .find(|a| {
                    a.kind == AlertKind::TrollBurst
                        && a.status == AlertStatus::Firing
                        && a.topic == topic
                })
                .unwrap_or_else(|| panic!("no troll burst on {topic}"))
        };
        let earlier = |a: &Alert| match &a.details {
            Details::TrollBurst(d) => d.earlier_campaign.clone(),
            _ => None,
        };
        let (a, b, c) = (burst("pensioni"), burst("naspi"), burst("assistenza"));
        assert_eq!(earlier(a), None, "the first has nothing before it");
        let link = *earlier(b).unwrap_or_else(|| panic!("not linked: {}", b.summary));
        assert_eq!(link.id, a.id);
        assert_eq!(link.topic, "pensioni");
        assert!(
            (20..=25).contains(&link.shared_accounts),
            "{link:?}: 25 accounts are shared"
        );
        assert_eq!(earlier(c), None, "other accounts: {}", c.summary);
        let sentence = match language {
            Language::En => format!(
                "{} of its {} accounts took part in the campaign of",
                link.shared_accounts, link.accounts
            ),
            Language::It => format!(
                "{} dei suoi {} account hanno partecipato alla campagna del",
                link.shared_accounts, link.accounts
            ),
        };
        assert!(b.summary.contains(&sentence), "{}", b.summary);
        assert!(b.summary.contains("\u{ab}pensioni\u{bb}"), "{}", b.summary);
    }
}
