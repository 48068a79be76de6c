//! Unit tests of the troll-burst detector.

use super::signature::{text_tokens, Signer, BINS};
use super::*;
use crate::config::Config;
use crate::detect::testing::{Feed, T0};
use crate::text::tokenize::Tokens;

fn detector() -> TrollDetector {
    TrollDetector::new(TrollSettings::new(
        Config::default().detect.troll_params("t"),
    ))
}

/// Posts `texts` (text, author) spread over the next minute, then closes it.
fn minute(d: &mut TrollDetector, feed: &mut Feed, texts: &[(String, String)]) -> Vec<Transition> {
    post(d, feed, texts, 0);
    feed.minute(d, 0, 0)
}

/// Posts `texts` stamped `ahead_ms` after the next minute, into the open bucket: copies
/// that arrive before the allowed lateness has closed the minutes before them.
fn post(d: &mut TrollDetector, feed: &mut Feed, texts: &[(String, String)], ahead_ms: i64) {
    let mut signer = Signer::new();
    let mut tokens = Tokens::new();
    for (i, (text, author)) in texts.iter().enumerate() {
        let ts = feed.next_ms + ahead_ms + i as i64 * 60_000 / texts.len().max(1) as i64;
        tokens.tokenize(text);
        let mut signature = [0u8; BINS];
        signer.sign(&tokens, &mut signature);
        let comment = Comment {
            ts_ms: ts,
            text,
            author,
            tokens: &tokens,
            token_count: text_tokens(&tokens),
            negative: true,
            score: -0.6,
            signature: Some(&signature),
        };
        let bucket = feed.window.bucket_mut(feed.next_ms);
        bucket.add(text, author, ts, -0.6, true);
        d.on_comment(&comment, bucket);
    }
}

/// A copy-paste campaign: one template with small edits (case, mentions, emoji).
fn campaign(minute: u32, per_minute: u32) -> Vec<(String, String)> {
    (0..per_minute)
        .map(|i| {
            let n = minute * per_minute + i;
            let text = format!(
                "Vergogna! Il sito dell'istituto è crollato di nuovo e nessuno risponde ai cittadini {}",
                ["@ministro", "#vergogna", "!!!", "@presidente 😡"][n as usize % 4]
            );
            (
                if n % 3 == 0 { text.to_uppercase() } else { text },
                format!("acct{n}"),
            )
        })
        .collect()
}

#[test]
fn a_copy_paste_campaign_fires_names_its_evidence_and_resolves() {
    let (mut d, mut feed) = (detector(), Feed::new(30));
    let mut got = Vec::new();
    for m in 0..6 {
        got.extend(minute(&mut d, &mut feed, &campaign(m, 8)));
    }
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].status, AlertStatus::Firing);
    let Evidence::TrollBurst(e) = &got[0].evidence else {
        panic!("troll evidence expected")
    };
    assert!(e.details.messages >= 20, "{e:?}");
    assert!(e.details.distinct_authors >= 10, "{e:?}");
    assert!(e.details.representative.to_lowercase().contains("vergogna"));
    assert!(d.is_firing());
    let mut campaigns = Campaigns::default();
    d.share(&mut campaigns);
    assert_eq!(campaigns.len(), 1, "the cluster is shared as a campaign");
    // No copy for a whole window: resolved, and no longer a campaign.
    let mut after = Vec::new();
    for _ in 0..20 {
        after.extend(minute(&mut d, &mut feed, &[]));
    }
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].status, AlertStatus::Resolved);
    assert_eq!(after[0].started_ms, got[0].started_ms);
    d.share(&mut campaigns);
    assert!(campaigns.is_empty());
}

#[test]
fn copies_stamped_after_the_closing_bucket_are_judged_with_their_own_minutes() {
    // With a large allowed lateness, minute 0 closes while the index already holds a
    // campaign stamped minutes 10 to 15. It is not minute 0's burst: the alert comes when
    // minute 15 closes and says it started at minute 10.
    let (mut d, mut feed) = (detector(), Feed::new(30));
    for m in 0..6 {
        post(
            &mut d,
            &mut feed,
            &campaign(m, 8),
            (10 + i64::from(m)) * 60_000,
        );
    }
    let mut got = Vec::new();
    for m in 0..20 {
        got.extend(minute(&mut d, &mut feed, &[]).into_iter().map(|t| (m, t)));
    }
    assert_eq!(got.len(), 1, "{got:?}");
    let (closed, alert) = &got[0];
    assert_eq!(alert.status, AlertStatus::Firing);
    assert!(
        (10..=15).contains(closed),
        "fired when minute {closed} closed"
    );
    assert_eq!(alert.started_ms, T0 + 10 * 60_000);
    assert!(alert.at_ms > alert.started_ms, "{alert:?}");
}

#[test]
fn a_campaign_that_keeps_growing_escalates_while_firing() {
    // 8 copies a minute: fires as a warning at 20 or so; within the window it passes
    // three times `min_messages` (60) and says critical, the same episode.
    let (mut d, mut feed) = (detector(), Feed::new(30));
    let mut got = Vec::new();
    for m in 0..10 {
        got.extend(minute(&mut d, &mut feed, &campaign(m, 8)));
    }
    let seen: Vec<_> = got.iter().map(|t| (t.status, t.severity)).collect();
    assert_eq!(
        seen,
        [
            (AlertStatus::Firing, Severity::Warning),
            (AlertStatus::Firing, Severity::Critical)
        ],
        "{got:?}"
    );
    assert_eq!(got[0].started_ms, got[1].started_ms);
    let Evidence::TrollBurst(e) = &got[1].evidence else {
        panic!("troll evidence expected")
    };
    assert!(e.details.messages >= 60, "{e:?}");
}

#[test]
fn genuine_varied_complaints_are_not_a_campaign() {
    let openings = [
        "il sito non funziona",
        "sito down",
        "non riesco ad accedere",
        "ancora errore",
    ];
    let (mut d, mut feed) = (detector(), Feed::new(30));
    let mut got = Vec::new();
    for m in 0..10u32 {
        let texts: Vec<(String, String)> = (0..30u32)
            .map(|i| {
                let n = (m * 30 + i) as usize;
                let text = if n % 2 == 0 {
                    // Short: never a template, however alike.
                    openings[n % 4].to_string()
                } else {
                    // Long, and written by each person in their own words: three of
                    // twelve phrases, in an order of their own.
                    let phrases = [
                        "da stamattina provo a entrare",
                        "la pagina resta bianca",
                        "ho già chiamato il numero verde",
                        "mi chiede di nuovo lo spid",
                        "sul telefono va anche peggio",
                        "nessuno risponde alle email",
                        "mia madre aspetta quei soldi",
                        "il codice di conferma non arriva",
                        "avevo preparato tutti i documenti",
                        "dice errore generico senza spiegare",
                        "ci riprovo stasera dopo cena",
                        "è la terza volta questa settimana",
                    ];
                    let k = n * 7 + 3;
                    format!(
                        "{}, {} e {}",
                        phrases[k % 12],
                        phrases[(k / 12 + 5) % 12],
                        phrases[(k / 144 + 9) % 12]
                    )
                };
                (text, format!("user{n}"))
            })
            .collect();
        got.extend(minute(&mut d, &mut feed, &texts));
    }
    assert!(got.is_empty(), "{got:?}");
    assert!(!d.is_firing());
}

#[test]
fn a_stock_phrase_repeated_all_day_is_not_a_new_burst() {
    // The same question, 3 times a minute for four hours from different people: it was
    // never new within a window, so it never fires.
    let (mut d, mut feed) = (detector(), Feed::new(30));
    let mut got = Vec::new();
    for m in 0..240u32 {
        let texts: Vec<(String, String)> = (0..3u32)
            .map(|i| {
                (
                    "quando arriva la pensione di aprile, qualcuno sa dirmi la data esatta?"
                        .to_string(),
                    format!("person{}", m * 3 + i),
                )
            })
            .collect();
        got.extend(minute(&mut d, &mut feed, &texts));
    }
    // Within the first window it is new and many people post it; what matters is that
    // it does not keep firing afterwards.
    assert!(got.len() <= 1, "{got:?}");
    assert!(
        got.iter()
            .all(|t| t.at_ms <= crate::detect::testing::T0 + 16 * 60_000),
        "{got:?}"
    );
}
