//! Notification frames: what each remote sink receives for one alert record or notice: the generic record, a Slack
//! message, a Microsoft Teams Adaptive Card, an Alertmanager API v2 alert. Pure functions
//! of the alert (and, for Alertmanager, the wall clock passed in), so tests can read them.

use serde_json::{json, Value};

use super::Locale;
use crate::alert::{Alert, AlertKind, AlertStatus, Severity};
use crate::config::Language;
use crate::event::format_ts;

/// What a notifying sink sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Alert(Alert),
    /// An episode still firing a repeat interval after it was last notified.
    Reminder(Alert),
    /// Alerts of one route that arrived within its grouping delay.
    Group {
        route: String,
        alerts: Vec<Alert>,
    },
    /// Alerts the rate limit held back, listed instead of sent.
    Overflow {
        alerts: Vec<Alert>,
        since_ms: i64,
        until_ms: i64,
        limit_per_min: u32,
    },
}

impl Notice {
    /// The alerts a notice carries (or lists).
    pub fn alerts(&self) -> &[Alert] {
        match self {
            Notice::Alert(a) | Notice::Reminder(a) => std::slice::from_ref(a),
            Notice::Group { alerts, .. } | Notice::Overflow { alerts, .. } => alerts,
        }
    }
}

/// The first line a person reads: "CRITICAL surge on bonus-600", "RESOLVED …"; in Italian
/// "CRITICO: picco di commenti su bonus-600", "RIENTRATO: …". An alert that joins an incident
/// opened by another says so.
pub fn headline(a: &Alert, lang: Language) -> String {
    let line = headline_of(a, lang);
    match (a.joins_incident(), lang) {
        (false, _) => line,
        (true, Language::En) => format!("{line} (same incident)"),
        (true, Language::It) => format!("{line} (stesso incidente)"),
    }
}

fn headline_of(a: &Alert, lang: Language) -> String {
    match lang {
        Language::En => {
            let what = match a.kind {
                AlertKind::Surge => "surge",
                AlertKind::Negativity => "negativity shift",
                AlertKind::TrollBurst => "troll burst",
                AlertKind::Theme => "theme spreading",
                AlertKind::Coordination => "coordinated flooding",
            };
            match a.status {
                AlertStatus::Firing => format!(
                    "{} {what} on {}",
                    a.severity.as_str().to_uppercase(),
                    a.topic
                ),
                AlertStatus::Resolved => format!("RESOLVED {what} on {}", a.topic),
            }
        }
        Language::It => {
            let what = match a.kind {
                AlertKind::Surge => "picco di commenti",
                AlertKind::Negativity => "commenti negativi in aumento",
                AlertKind::TrollBurst => "campagna coordinata",
                AlertKind::Theme => "tema in diffusione",
                AlertKind::Coordination => "azione coordinata",
            };
            let level = match (a.status, a.severity) {
                (AlertStatus::Resolved, _) => "RIENTRATO",
                (_, Severity::Critical) => "CRITICO",
                (_, Severity::Warning) => "ATTENZIONE",
            };
            format!("{level}: {what} su {}", a.topic)
        }
    }
}

fn when(a: &Alert, loc: Locale) -> String {
    let lang = loc.language;
    let (since, at) = match lang {
        Language::En => ("since", "at"),
        Language::It => ("dal", "alle"),
    };
    let incident = if !a.joins_incident() {
        String::new()
    } else {
        let word = match lang {
            Language::En => "incident",
            Language::It => "incidente",
        };
        format!(" · {word} {}", a.incident_id())
    };
    format!(
        "{since} {} · {at} {} · id {}{incident}",
        loc.zone.show(&a.started_at),
        loc.zone.show_clock(&a.at),
        a.id
    )
}

/// The alert record itself.
pub fn generic(a: &Alert) -> Value {
    serde_json::to_value(a).unwrap_or(Value::Null)
}

/// A Slack incoming-webhook message: `text` for notifications, blocks for the channel.
pub fn slack(a: &Alert, loc: impl Into<Locale>) -> Value {
    let loc = loc.into();
    let lang = loc.language;
    let icon = match (a.status, a.severity) {
        (AlertStatus::Resolved, _) => ":large_green_circle:",
        (_, Severity::Critical) => ":red_circle:",
        (_, Severity::Warning) => ":large_orange_circle:",
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("{} {}", icon_text(a), headline(a, lang))}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": a.summary}}),
    ];
    if !a.samples.is_empty() && a.status == AlertStatus::Firing {
        let quotes: Vec<String> = a
            .samples
            .iter()
            .take(3)
            .map(|s| format!("> {} — _{}_", s.text.replace('\n', " "), s.author))
            .collect();
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": quotes.join("\n")}}),
        );
    }
    let mut context = when(a, loc);
    if let Some(url) = &a.url {
        context += &format!(" · <{url}|{}>", status_page(lang));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({
        "text": format!("{icon} {}: {}", headline(a, lang), a.summary),
        "blocks": blocks,
    })
}

fn icon_text(a: &Alert) -> &'static str {
    match (a.status, a.severity) {
        (AlertStatus::Resolved, _) => "✅",
        (_, Severity::Critical) => "🔴",
        (_, Severity::Warning) => "🟠",
    }
}

/// A Microsoft Teams message with an Adaptive Card, as Teams workflows' webhooks take it.
pub fn teams(a: &Alert, loc: impl Into<Locale>) -> Value {
    let loc = loc.into();
    let lang = loc.language;
    let colour = match (a.status, a.severity) {
        (AlertStatus::Resolved, _) => "Good",
        (_, Severity::Critical) => "Attention",
        (_, Severity::Warning) => "Warning",
    };
    let titles = match lang {
        Language::En => ["Topic", "Kind", "Severity", "Since", "At"],
        Language::It => ["Argomento", "Tipo", "Gravità", "Dal", "Alle"],
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": headline(a, lang), "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true}),
        json!({"type": "TextBlock", "text": a.summary, "wrap": true}),
        json!({"type": "FactSet", "facts": [
            {"title": titles[0], "value": a.topic},
            {"title": titles[1], "value": a.kind.as_str()},
            {"title": titles[2], "value": a.severity.as_str()},
            {"title": titles[3], "value": loc.zone.show(&a.started_at)},
            {"title": titles[4], "value": loc.zone.show(&a.at)},
            {"title": "Id", "value": a.id},
        ]}),
    ];
    if a.status == AlertStatus::Firing {
        for s in a.samples.iter().take(3) {
            body.push(json!({"type": "TextBlock", "text": format!("“{}” ({})", s.text, s.author), "wrap": true, "isSubtle": true}));
        }
    }
    let mut message = teams_message(body);
    if let Some(url) = &a.url {
        message["attachments"][0]["content"]["actions"] =
            json!([{"type": "Action.OpenUrl", "title": status_page(lang), "url": url}]);
    }
    message
}

/// The words of a link to the status page.
fn status_page(lang: Language) -> &'static str {
    match lang {
        Language::En => "status page",
        Language::It => "pagina di stato",
    }
}

/// One alert for Alertmanager's `POST /api/v2/alerts`. A firing alert ends `keep_ms` after
/// `now_ms` unless sent again (ondata re-sends firing alerts well before that); a resolved
/// one ends now. Times are wall-clock for `endsAt` (Alertmanager compares it with its own
/// clock), event time for `startsAt`, clamped so the start never follows the end.
pub fn alertmanager(a: &Alert, now_ms: i64, keep_ms: i64) -> Value {
    let start_ms = chrono::DateTime::parse_from_rfc3339(&a.started_at)
        .map(|t| t.timestamp_millis())
        .unwrap_or(now_ms);
    let end_ms = match a.status {
        AlertStatus::Firing => now_ms + keep_ms,
        AlertStatus::Resolved => now_ms,
    }
    .max(start_ms + 1000);
    let samples: Vec<String> = a
        .samples
        .iter()
        .take(3)
        .map(|s| format!("“{}” ({})", s.text, s.author))
        .collect();
    json!({
        "labels": {
            "alertname": format!("ondata_{}", a.kind.as_str()),
            "kind": a.kind.as_str(),
            "topic": a.topic,
            "severity": a.severity.as_str(),
            "ondata_id": a.id,
            "incident": a.incident_id(),
        },
        "annotations": {
            "summary": a.summary,
            "description": samples.join("\n"),
            "value": a.value.to_string(),
            "baseline": a.baseline.to_string(),
            "event_time": a.at,
        },
        "startsAt": format_ts(start_ms),
        "endsAt": format_ts(end_ms),
        "generatorURL": a.url.as_deref().unwrap_or_default(),
    })
}

/// Counts by kind, as a person writes them: "5 surge, 3 troll burst".
fn by_kind(alerts: &[Alert], lang: Language) -> String {
    let mut counts = std::collections::BTreeMap::<AlertKind, usize>::new();
    for a in alerts {
        *counts.entry(a.kind).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, n)| {
            let name = match (lang, k) {
                (Language::En, AlertKind::Surge) => "surge",
                (Language::En, AlertKind::Negativity) => "negativity",
                (Language::En, AlertKind::TrollBurst) => "troll burst",
                (Language::It, AlertKind::Surge) => "picchi di commenti",
                (Language::It, AlertKind::Negativity) => "negatività",
                (Language::It, AlertKind::TrollBurst) => "campagne coordinate",
                (Language::En, AlertKind::Theme) => "theme",
                (Language::It, AlertKind::Theme) => "temi in diffusione",
                (Language::En, AlertKind::Coordination) => "coordination",
                (Language::It, AlertKind::Coordination) => "azioni coordinate",
            };
            format!("{n} {name}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Topics named, at most 8, the rest counted.
fn topics(alerts: &[Alert], lang: Language) -> String {
    let mut names: Vec<&str> = Vec::new();
    for a in alerts {
        if !names.contains(&a.topic.as_str()) {
            names.push(&a.topic);
        }
    }
    let more = names.len().saturating_sub(8);
    names.truncate(8);
    let mut text = names.join(", ");
    if more > 0 {
        text += &match lang {
            Language::En => format!(" and {more} more"),
            Language::It => format!(" e altri {more}"),
        };
    }
    text
}

/// Headline and lines of a notice that is not one plain alert.
pub fn notice_text(n: &Notice, loc: impl Into<Locale>) -> (String, Vec<String>) {
    let loc = loc.into();
    let lang = loc.language;
    match (n, lang) {
        (Notice::Alert(a), _) => (headline(a, lang), vec![a.summary.clone()]),
        (Notice::Reminder(a), Language::En) => (
            format!("Still firing: {}", headline(a, lang)),
            vec![format!(
                "Since {}. {}",
                loc.zone.show(&a.started_at),
                a.summary
            )],
        ),
        (Notice::Reminder(a), Language::It) => (
            format!("Ancora in corso: {}", headline(a, lang)),
            vec![format!(
                "Dalle {}. {}",
                loc.zone.show(&a.started_at),
                a.summary
            )],
        ),
        (Notice::Group { alerts, .. }, _) => {
            let head = match lang {
                Language::En => format!("{} alerts: {}", alerts.len(), by_kind(alerts, lang)),
                Language::It => format!("{} avvisi: {}", alerts.len(), by_kind(alerts, lang)),
            };
            let lines = alerts
                .iter()
                .map(|a| format!("{} — {}", headline(a, lang), a.summary))
                .collect();
            (head, lines)
        }
        (
            Notice::Overflow {
                alerts,
                since_ms,
                until_ms,
                limit_per_min,
            },
            _,
        ) => {
            let n = alerts.len();
            let mins = ((until_ms - since_ms) as f64 / 60_000.0).round().max(1.0) as i64;
            let head = match (lang, n) {
                (Language::En, 1) => format!("1 more alert suppressed in the last {mins} minutes"),
                (Language::En, _) => {
                    format!("{n} more alerts suppressed in the last {mins} minutes")
                }
                (Language::It, 1) => {
                    format!("Un altro avviso non inviato negli ultimi {mins} minuti")
                }
                (Language::It, _) => {
                    format!("Altri {n} avvisi non inviati negli ultimi {mins} minuti")
                }
            };
            let lines = match lang {
                Language::En => vec![
                    format!("This channel gets at most {limit_per_min} notifications a minute. Held back: {}.", by_kind(alerts, lang)),
                    format!("Topics: {}.", topics(alerts, lang)),
                    "Every alert is on ondata's status page and in its alert log.".to_string(),
                ],
                Language::It => vec![
                    format!("Questo canale riceve al massimo {limit_per_min} notifiche al minuto. Non inviati: {}.", by_kind(alerts, lang)),
                    format!("Argomenti: {}.", topics(alerts, lang)),
                    "Tutti gli avvisi sono sulla pagina di stato di ondata e nel registro degli avvisi.".to_string(),
                ],
            };
            (head, lines)
        }
    }
}

/// A brief of an alert, as listed in summaries.
fn brief(a: &Alert) -> Value {
    json!({
        "id": a.id, "kind": a.kind, "status": a.status, "severity": a.severity,
        "topic": a.topic, "at": a.at, "summary": a.summary,
    })
}

/// The generic webhook body of a notice: the alert record for an alert (a reminder too);
/// for a group, the records under `alerts`; for an overflow summary, briefs of the alerts
/// held back. `type` tells groups and summaries apart from records.
pub fn notice_generic(n: &Notice, loc: impl Into<Locale>) -> Value {
    let loc = loc.into();
    let (head, lines) = notice_text(n, loc);
    match n {
        Notice::Alert(a) | Notice::Reminder(a) => generic(a),
        Notice::Group { route, alerts } => json!({
            "type": "group",
            "route": route,
            "summary": head,
            "alerts": alerts.iter().map(generic).collect::<Vec<_>>(),
        }),
        Notice::Overflow {
            alerts,
            since_ms,
            until_ms,
            limit_per_min,
        } => json!({
            "type": "suppressed",
            "summary": format!("{head}. {}", lines.join(" ")),
            "count": alerts.len(),
            "since": format_ts(*since_ms),
            "until": format_ts(*until_ms),
            "rate_limit_per_min": limit_per_min,
            "alerts": alerts.iter().map(brief).collect::<Vec<_>>(),
        }),
    }
}

/// A Slack message for any notice.
pub fn notice_slack(n: &Notice, loc: impl Into<Locale>) -> Value {
    let loc = loc.into();
    if let Notice::Alert(a) = n {
        return slack(a, loc);
    }
    let (head, lines) = notice_text(n, loc);
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": head}})];
    for chunk in lines.chunks(10) {
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk.join("\n")}}));
    }
    json!({ "text": format!("{head}: {}", lines.first().cloned().unwrap_or_default()), "blocks": blocks })
}

/// A Teams Adaptive Card for any notice.
pub fn notice_teams(n: &Notice, loc: impl Into<Locale>) -> Value {
    let loc = loc.into();
    if let Notice::Alert(a) = n {
        return teams(a, loc);
    }
    let (head, lines) = notice_text(n, loc);
    let mut body = vec![
        json!({"type": "TextBlock", "text": head, "weight": "Bolder", "size": "Medium", "wrap": true}),
    ];
    body.extend(
        lines
            .iter()
            .map(|l| json!({"type": "TextBlock", "text": l, "wrap": true})),
    );
    teams_message(body)
}

/// A Teams message carrying one Adaptive Card with `body`, as Teams workflows' webhooks take it.
fn teams_message(body: Vec<Value>) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            }
        }]
    })
}

/// Alertmanager gets an overflow summary as an alert of its own, `ondata_notifications_suppressed`.
pub fn alertmanager_overflow(
    n: &Notice,
    loc: impl Into<Locale>,
    now_ms: i64,
    keep_ms: i64,
) -> Value {
    let (head, lines) = notice_text(n, loc);
    json!({
        "labels": {"alertname": "ondata_notifications_suppressed", "severity": "warning"},
        "annotations": {"summary": head, "description": lines.join("\n")},
        "startsAt": format_ts(now_ms),
        "endsAt": format_ts(now_ms + keep_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Zone;

    fn rome_it() -> Locale {
        Locale {
            language: Language::It,
            zone: Zone::parse("Europe/Rome").unwrap(),
        }
    }

    #[test]
    fn notifications_write_times_in_the_reader_s_zone_and_link_the_status_page() {
        // 2020-04-01T07:14:00Z: 09:14 in Rome (summer time).
        let mut a = Alert::example(
            "abc",
            "bonus-600",
            AlertStatus::Firing,
            Severity::Warning,
            1_585_725_240_000,
        );
        a.url = Some("https://ondata.example.org/#alert-abc".into());
        let message = slack(&a, rome_it()).to_string();
        assert!(message.contains("alle 09:14 CEST"), "{message}");
        assert!(message.contains("dal 2020-04-01 09:09 CEST"), "{message}");
        assert!(message.contains("<https://ondata.example.org/#alert-abc|pagina di stato>"));
        let teams = teams(&a, rome_it());
        assert_eq!(
            teams["attachments"][0]["content"]["actions"][0]["url"],
            "https://ondata.example.org/#alert-abc"
        );
        assert!(teams.to_string().contains("2020-04-01 09:14 CEST"));
        let am = alertmanager(&a, 1_585_725_300_000, 300_000);
        assert_eq!(am["generatorURL"], "https://ondata.example.org/#alert-abc");
        // In UTC by default, and no link without a public address.
        a.url = None;
        let plain = slack(&a, Language::En).to_string();
        assert!(
            plain.contains("at 07:14 UTC") && !plain.contains("status page"),
            "{plain}"
        );
        let (_, lines) = notice_text(&Notice::Reminder(a), rome_it());
        assert!(
            lines[0].starts_with("Dalle 2020-04-01 09:09 CEST."),
            "{lines:?}"
        );
    }
}
