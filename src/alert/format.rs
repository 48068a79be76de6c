//! What each remote sink receives for one alert record: the generic record, a Slack
//! message, a Microsoft Teams Adaptive Card, an Alertmanager API v2 alert. Pure functions
//! of the alert (and, for Alertmanager, the wall clock passed in), so tests can read them.

use serde_json::{json, Value};

use super::{Alert, AlertKind, AlertStatus, Severity};
use crate::event::format_ts;

/// The first line a person reads: "CRITICAL surge on bonus-600" or "RESOLVED …".
pub fn headline(a: &Alert) -> String {
    let what = match a.kind {
        AlertKind::Surge => "surge",
        AlertKind::Negativity => "negativity shift",
        AlertKind::TrollBurst => "troll burst",
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

fn when(a: &Alert) -> String {
    let short = |t: &str| t.get(..16).unwrap_or(t).replace('T', " ");
    format!(
        "since {} · at {} UTC · id {}",
        short(&a.started_at),
        short(&a.at),
        a.id
    )
}

/// The alert record itself (DESIGN §3).
pub fn generic(a: &Alert) -> Value {
    serde_json::to_value(a).unwrap_or(Value::Null)
}

/// A Slack incoming-webhook message: `text` for notifications, blocks for the channel.
pub fn slack(a: &Alert) -> Value {
    let icon = match (a.status, a.severity) {
        (AlertStatus::Resolved, _) => ":large_green_circle:",
        (_, Severity::Critical) => ":red_circle:",
        (_, Severity::Warning) => ":large_orange_circle:",
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("{} {}", icon_text(a), headline(a))}}),
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
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": when(a)}]}));
    json!({
        "text": format!("{icon} {}: {}", headline(a), a.summary),
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
pub fn teams(a: &Alert) -> Value {
    let colour = match (a.status, a.severity) {
        (AlertStatus::Resolved, _) => "Good",
        (_, Severity::Critical) => "Attention",
        (_, Severity::Warning) => "Warning",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": headline(a), "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true}),
        json!({"type": "TextBlock", "text": a.summary, "wrap": true}),
        json!({"type": "FactSet", "facts": [
            {"title": "Topic", "value": a.topic},
            {"title": "Kind", "value": a.kind.as_str()},
            {"title": "Severity", "value": a.severity.as_str()},
            {"title": "Since", "value": a.started_at},
            {"title": "At", "value": a.at},
            {"title": "Id", "value": a.id},
        ]}),
    ];
    if a.status == AlertStatus::Firing {
        for s in a.samples.iter().take(3) {
            body.push(json!({"type": "TextBlock", "text": format!("“{}” ({})", s.text, s.author), "wrap": true, "isSubtle": true}));
        }
    }
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
    })
}
