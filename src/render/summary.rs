//! The one human sentence of every alert, in English or Italian, from the detector's typed
//! evidence: what, where, how much, compared with what.

use super::words::{article_it, decimal_it, human_duration, human_duration_it};
use super::Locale;
use crate::alert::model::{CoordinationDetails, EarlierCampaign, ThemeDetails, ThemeShare};
use crate::alert::AlertStatus;
use crate::config::{Language, Zone};
use crate::detect::{Evidence, NegativityEvidence, SurgeEvidence, TrollEvidence};

/// The summary of a transition on `topic`.
pub fn summary(topic: &str, status: AlertStatus, evidence: &Evidence, loc: Locale) -> String {
    let lang = loc.language;
    match evidence {
        Evidence::Surge(e) => surge(topic, status, e, lang),
        Evidence::Negativity(e) => negativity(topic, status, e, lang),
        Evidence::TrollBurst(e) => troll(topic, status, e, loc),
        Evidence::Theme(e) => theme(status, &e.details, lang),
        Evidence::Coordination(e) => coordination(topic, status, &e.details, lang),
    }
}

/// The sentence naming what drives a surge or a negativity shift, empty without themes.
pub fn drivers(themes: &[ThemeShare], lang: Language) -> String {
    let Some(first) = themes.first() else {
        return String::new();
    };
    let quoted = |t: &ThemeShare| format!("\u{ab}{}\u{bb}", t.phrase);
    let others: Vec<String> = themes[1..].iter().map(quoted).collect();
    match lang {
        Language::En => format!(
            " {}% of recent comments mention {} ({:.0}\u{d7} usual){}.",
            percent(first.share),
            quoted(first),
            first.lift,
            if others.is_empty() {
                String::new()
            } else {
                format!("; also {}", others.join(", "))
            }
        ),
        Language::It => format!(
            " Il {}% dei commenti recenti parla di {} ({} volte il solito){}.",
            percent(first.share),
            quoted(first),
            decimal_it(first.lift.round()),
            if others.is_empty() {
                String::new()
            } else {
                format!("; anche di {}", others.join(", "))
            }
        ),
    }
}

fn coordination(
    topic: &str,
    status: AlertStatus,
    d: &CoordinationDetails,
    lang: Language,
) -> String {
    let (tag, accounts, minutes) = (&d.tag, d.accounts, d.window_minutes);
    match (status, lang) {
        (AlertStatus::Firing, Language::En) => format!(
            "Coordinated flooding on \u{ab}{topic}\u{bb}: {accounts} accounts wrote {tag} in {minutes} minutes, each in their own words: {} of the topic's comments, {:.0}\u{d7} its usual share.",
            pct(d.share),
            d.lift
        ),
        (AlertStatus::Firing, Language::It) => format!(
            "Possibile azione coordinata su \u{ab}{topic}\u{bb}: {accounts} account hanno scritto {tag} in {minutes} minuti, ognuno con parole proprie: il {} dei commenti, {} volte il solito.",
            pct(d.share),
            decimal_it(d.lift.round())
        ),
        (AlertStatus::Resolved, Language::En) => format!(
            "The flooding of {tag} on \u{ab}{topic}\u{bb} has stopped after {}, with at most {} accounts in {minutes} minutes.",
            human_duration(d.duration_minutes),
            d.peak_accounts
        ),
        (AlertStatus::Resolved, Language::It) => format!(
            "Finita l'azione coordinata su {tag} in \u{ab}{topic}\u{bb}, dopo {}: al massimo {} account in {minutes} minuti.",
            human_duration_it(d.duration_minutes),
            d.peak_accounts
        ),
    }
}

fn theme(status: AlertStatus, d: &ThemeDetails, lang: Language) -> String {
    let topics: Vec<String> = d
        .topics
        .iter()
        .map(|t| format!("\u{ab}{}\u{bb} {}%", t.topic, percent(t.share)))
        .collect();
    let n = d.topics.len();
    match (status, lang) {
        (AlertStatus::Firing, Language::En) => format!(
            "\u{ab}{}\u{bb} is spreading over {n} topics: {} of recent comments ({}).",
            d.phrase,
            pct(d.share),
            topics.join(", ")
        ),
        (AlertStatus::Firing, Language::It) => format!(
            "\u{ab}{}\u{bb} si sta diffondendo su {n} argomenti: il {} dei commenti recenti ({}).",
            d.phrase,
            pct(d.share),
            topics.join(", ")
        ),
        (AlertStatus::Resolved, Language::En) => format!(
            "\u{ab}{}\u{bb} is no longer spreading: on fewer topics for {} minutes, after {}.",
            d.phrase,
            d.recent_minutes.max(1),
            human_duration(d.duration_minutes)
        ),
        (AlertStatus::Resolved, Language::It) => format!(
            "\u{ab}{}\u{bb} non si sta pi\u{f9} diffondendo, dopo {}.",
            d.phrase,
            human_duration_it(d.duration_minutes)
        ),
    }
}

fn surge(topic: &str, status: AlertStatus, e: &SurgeEvidence, lang: Language) -> String {
    let minutes = e.minutes;
    let usual = if e.seasonal {
        "the usual"
    } else {
        "the recent level of"
    };
    let when = if e.seasonal {
        " for this time of day"
    } else {
        ""
    };
    let expected_it = |recent: &str| {
        if e.seasonal {
            article_it(e.expected.round() as u64, "i", "gli ")
        } else {
            format!("{recent} {:.0}", e.expected)
        }
    };
    let at_this_hour_it = if e.seasonal {
        " abituali a quest'ora"
    } else {
        ""
    };
    let campaign = (e.campaign_comments > 0 && e.observed > 0)
        .then(|| percent(f64::from(e.campaign_comments) / f64::from(e.observed)));
    match (status, lang) {
        (AlertStatus::Firing, Language::En) => format!(
            "Surge on \u{ab}{topic}\u{bb}: {} comments in the last {} minutes, {:.1}\u{d7} {usual} {:.0}{when} (alert at {:.1}\u{d7}).{}",
            e.observed,
            minutes,
            e.ratio,
            e.expected,
            e.min_ratio,
            campaign.map_or(String::new(), |p| format!(
                " {p}% of them come from a coordinated campaign."
            ))
        ),
        (AlertStatus::Firing, Language::It) => format!(
            "Picco di commenti su \u{ab}{topic}\u{bb}: {} negli ultimi {} minuti, {} volte {}{} (soglia di allerta: {} volte).{}",
            e.observed,
            minutes,
            decimal_it(e.ratio),
            expected_it("il livello recente di"),
            at_this_hour_it,
            decimal_it(e.min_ratio),
            campaign.map_or(String::new(), |p| format!(
                " Il {p}% viene da una campagna coordinata."
            ))
        ),
        (AlertStatus::Resolved, Language::It) => format!(
            "Rientrato il picco di commenti su \u{ab}{topic}\u{bb}: {} negli ultimi {} minuti contro {}{}; \u{e8} durato {}, con un massimo di {} volte il normale.",
            e.observed,
            minutes,
            expected_it("un livello recente di"),
            at_this_hour_it,
            human_duration_it(e.duration_minutes),
            decimal_it(e.peak_ratio)
        ),
        (AlertStatus::Resolved, Language::En) => format!(
            "Surge on \u{ab}{topic}\u{bb} is over: {} comments in the last {} minutes against {usual} {:.0}; it lasted {} and peaked at {:.1}\u{d7} normal.",
            e.observed,
            minutes,
            e.expected,
            human_duration(e.duration_minutes),
            e.peak_ratio
        ),
    }
}

/// A share as a whole percentage.
fn percent(x: f64) -> u64 {
    (x * 100.0).round().max(0.0) as u64
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// What a coordinated campaign contributes, when it contributes anything.
fn troll_note(e: &NegativityEvidence, lang: Language) -> String {
    if e.troll_negative == 0 {
        return String::new();
    }
    let from = e.negative_from_trolls();
    match (e.share_without_trolls(), lang) {
        (Some(without), Language::En) => format!(
            " {} of the negative comments come from a coordinated campaign; without it the negative share is {}.",
            pct(from),
            pct(without)
        ),
        (None, Language::En) => " All of them come from a coordinated campaign.".to_string(),
        (Some(without), Language::It) => format!(
            " {}% dei commenti negativi viene da una campagna coordinata; senza, la quota negativa \u{e8} {}%.",
            article_it(percent(from), "Il", "L'"),
            article_it(percent(without), "del", "dell'")
        ),
        (None, Language::It) => " Vengono tutti da una campagna coordinata.".to_string(),
    }
}

fn negativity(topic: &str, status: AlertStatus, e: &NegativityEvidence, lang: Language) -> String {
    let minutes = e.minutes;
    match (status, lang) {
        (AlertStatus::Firing, Language::It) => format!(
            "Clima negativo su \u{ab}{topic}\u{bb}: negativo {}% {} commenti degli ultimi {minutes} minuti (almeno {}% con buona certezza), contro {}% abituale (soglia di allerta: {}%).",
            article_it(percent(e.share), "il", "l'"),
            article_it(u64::from(e.comments), "dei", "degli "),
            article_it(percent(e.low), "il", "l'"),
            article_it(percent(e.baseline), "il", "l'"),
            percent(e.threshold)
        ) + &troll_note(e, lang),
        (AlertStatus::Resolved, Language::It) => format!(
            "Clima tornato nella norma su \u{ab}{topic}\u{bb}: negativo {}% {} commenti degli ultimi {minutes} minuti (abituale {}); \u{e8} durato {}, con un massimo {}%.",
            article_it(percent(e.share), "il", "l'"),
            article_it(u64::from(e.comments), "dei", "degli "),
            pct(e.baseline),
            human_duration_it(e.duration_minutes),
            article_it(percent(e.peak), "del", "dell'")
        ),
        (AlertStatus::Firing, Language::En) => format!(
            "Negativity on \u{ab}{topic}\u{bb}: {} of the {} comments in the last {minutes} minutes are negative (at least {} with high confidence), against its usual {} (alert at {}).",
            pct(e.share),
            e.comments,
            pct(e.low),
            pct(e.baseline),
            pct(e.threshold)
        ) + &troll_note(e, lang),
        (AlertStatus::Resolved, Language::En) => format!(
            "Negativity on \u{ab}{topic}\u{bb} is back to {} of {} comments in the last {minutes} minutes (usual {}); it lasted {} and peaked at {}.",
            pct(e.share),
            e.comments,
            pct(e.baseline),
            human_duration(e.duration_minutes),
            pct(e.peak)
        ),
    }
}

fn troll(topic: &str, status: AlertStatus, e: &TrollEvidence, loc: Locale) -> String {
    let lang = loc.language;
    let d = &e.details;
    let (messages, authors, repeaters, span) =
        (d.messages, d.distinct_authors, e.repeaters, e.span_minutes);
    let quote: String = d.representative.chars().take(90).collect();
    let ellipsis = if d.representative.chars().count() > 90 {
        "…"
    } else {
        ""
    };
    let earlier = d
        .earlier_campaign
        .as_ref()
        .filter(|_| status == AlertStatus::Firing)
        .map_or(String::new(), |c| earlier_campaign(c, lang, loc.zone));
    match (status, lang) {
        (AlertStatus::Firing, Language::It) => format!(
            "Possibile campagna coordinata su \u{ab}{topic}\u{bb}: {messages} messaggi quasi identici da {authors} account in {} ({repeaters} account hanno scritto pi\u{f9} volte): \u{201c}{quote}{ellipsis}\u{201d}{earlier}",
            human_duration_it(span)
        ),
        (AlertStatus::Resolved, Language::It) => format!(
            "Terminata la campagna coordinata su \u{ab}{topic}\u{bb}: {messages} messaggi da {authors} account in {}, nessuna nuova copia da {}.",
            human_duration_it(span),
            human_duration_it(e.window_mins)
        ),
        (AlertStatus::Firing, Language::En) => format!(
            "Coordinated burst on \u{ab}{topic}\u{bb}: {messages} near-identical messages from {authors} accounts in {span} min ({repeaters} accounts posted more than once): \u{201c}{quote}{ellipsis}\u{201d}{earlier}"
        ),
        (AlertStatus::Resolved, Language::En) => format!(
            "The coordinated burst on \u{ab}{topic}\u{bb} has stopped: {messages} messages from {authors} accounts over {}, no new copy for {} min.",
            human_duration(span),
            e.window_mins
        ),
    }
}

/// The sentence linking a burst to an earlier campaign of the same accounts, its start
/// written in the reader's zone ("the campaign of 30 March at 09:14 CEST").
fn earlier_campaign(c: &EarlierCampaign, lang: Language, zone: Zone) -> String {
    let started = crate::event::parse_time_arg(&c.started_at).ok();
    let (day, month) = started.map_or((0, 1), |ms| zone.day_month(ms));
    let clock = started.map_or(String::new(), |ms| zone.clock(ms));
    let (at_en, at_it) = if clock.is_empty() {
        (String::new(), String::new())
    } else {
        (format!(" at {clock}"), format!(" alle {clock}"))
    };
    let month = month.clamp(1, 12) as usize - 1;
    let (shared, of, topic) = (c.shared_accounts, c.accounts, &c.topic);
    match lang {
        Language::En => format!(
            " {shared} of its {of} accounts took part in the campaign of {day} {}{at_en} on \u{ab}{topic}\u{bb}.",
            MONTHS_EN[month]
        ),
        Language::It => format!(
            " {shared} dei suoi {of} account hanno partecipato alla campagna del {day} {}{at_it} su \u{ab}{topic}\u{bb}.",
            MONTHS_IT[month]
        ),
    }
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_IT: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];
