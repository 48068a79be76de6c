//! Unit tests of the notification gate on a manual clock.

use super::*;
use crate::alert::Severity;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

fn policy(limit: u32) -> Policy {
    Policy {
        rate_limit_per_min: limit,
        repeat_interval_ms: 60 * 60_000,
        summary_interval_ms: 5 * 60_000,
        language: Language::En,
        per_incident: true,
    }
}

fn item(id: &str, status: AlertStatus, severity: Severity) -> Item {
    Item {
        seq: None,
        alert: Alert::example(id, "bonus-600", status, severity, T0),
    }
}

fn delivered(gate: &mut Gate, outs: Vec<Out>) -> Vec<Notice> {
    let mut sent = Vec::new();
    for o in outs {
        if let Out::Deliver { notice, .. } = o {
            gate.delivered(&notice);
            sent.push(*notice);
        }
    }
    sent
}

fn ticked(gate: &mut Gate) -> Vec<Notice> {
    let outs = gate.tick();
    delivered(gate, outs)
}

#[test]
fn one_message_per_incident_then_only_what_changes_it() {
    let clock = Clock::manual(T0);
    let mut gate = Gate::new(policy(0), clock.clone(), None);
    let in_incident = |id: &str, kind: AlertKind, status: AlertStatus, severity: Severity| {
        let mut i = item(id, status, severity);
        i.alert.kind = kind;
        i.alert.incident = "troll".into();
        i
    };
    let mut told = Vec::new();
    for (id, kind, status, severity) in [
        (
            "troll",
            AlertKind::TrollBurst,
            AlertStatus::Firing,
            Severity::Warning,
        ),
        (
            "surge",
            AlertKind::Surge,
            AlertStatus::Firing,
            Severity::Warning,
        ),
        (
            "neg",
            AlertKind::Negativity,
            AlertStatus::Firing,
            Severity::Warning,
        ),
        (
            "neg2",
            AlertKind::Negativity,
            AlertStatus::Firing,
            Severity::Warning,
        ),
        (
            "surge",
            AlertKind::Surge,
            AlertStatus::Firing,
            Severity::Critical,
        ),
        (
            "troll",
            AlertKind::TrollBurst,
            AlertStatus::Resolved,
            Severity::Warning,
        ),
        (
            "neg",
            AlertKind::Negativity,
            AlertStatus::Resolved,
            Severity::Warning,
        ),
        (
            "neg2",
            AlertKind::Negativity,
            AlertStatus::Resolved,
            Severity::Warning,
        ),
        (
            "surge",
            AlertKind::Surge,
            AlertStatus::Resolved,
            Severity::Critical,
        ),
    ] {
        let outs = gate.offer(in_incident(id, kind, status, severity), None);
        for n in delivered(&mut gate, outs) {
            let a = &n.alerts()[0];
            told.push(format!("{} {}", a.id, a.status.as_str()));
        }
    }
    // The campaign; the surge and the negativity joining it; the escalation; the end.
    assert_eq!(
        told,
        [
            "troll firing",
            "surge firing",
            "neg firing",
            "surge firing",
            "surge resolved"
        ]
    );
    // A later incident on the topic is news again.
    let outs = gate.offer(item("later", AlertStatus::Firing, Severity::Warning), None);
    assert_eq!(delivered(&mut gate, outs).len(), 1);
}

#[test]
fn the_same_episode_is_not_notified_twice_inside_the_repeat_interval() {
    let clock = Clock::manual(T0);
    let mut gate = Gate::new(policy(0).per_alert(), clock.clone(), None);
    let first = gate.offer(item("e1", AlertStatus::Firing, Severity::Warning), None);
    assert_eq!(delivered(&mut gate, first).len(), 1);
    let again = gate.offer(item("e1", AlertStatus::Firing, Severity::Warning), None);
    assert!(matches!(
        again[..],
        [Out::Suppressed {
            reason: Reason::Repeat,
            ..
        }]
    ));
    let worse = gate.offer(item("e1", AlertStatus::Firing, Severity::Critical), None);
    assert_eq!(
        delivered(&mut gate, worse).len(),
        1,
        "an escalation notifies"
    );
    assert!(gate.tick().is_empty());
    clock.advance(Duration::from_secs(3600));
    let reminders = ticked(&mut gate);
    assert!(matches!(&reminders[..], [Notice::Reminder(a)] if a.severity == Severity::Critical));
    assert!(gate.tick().is_empty(), "one reminder per interval");
    let over = gate.offer(item("e1", AlertStatus::Resolved, Severity::Critical), None);
    assert_eq!(delivered(&mut gate, over).len(), 1, "resolved is notified");
    clock.advance(Duration::from_secs(3600));
    assert!(gate.tick().is_empty(), "no reminder after it resolved");
}

#[test]
fn the_rate_limit_summarises_what_it_holds_back() {
    let clock = Clock::manual(T0);
    let mut gate = Gate::new(policy(5), clock.clone(), None);
    let mut sent = 0;
    for i in 0..40 {
        let outs = gate.offer(
            item(&format!("s{i}"), AlertStatus::Firing, Severity::Warning),
            None,
        );
        sent += delivered(&mut gate, outs).len();
    }
    assert_eq!(sent, 3, "half the minute's quota at once");
    clock.advance(Duration::from_secs(4 * 60));
    assert!(ticked(&mut gate)
        .iter()
        .all(|n| !matches!(n, Notice::Overflow { .. })));
    clock.advance(Duration::from_secs(60));
    let summary = ticked(&mut gate);
    match &summary[..] {
        [Notice::Overflow {
            alerts,
            since_ms,
            until_ms,
            ..
        }] => {
            assert_eq!(alerts.len(), 37);
            assert_eq!(until_ms - since_ms, 5 * 60_000);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_route_with_a_delay_sends_one_group() {
    let clock = Clock::manual(T0);
    let mut gate = Gate::new(policy(0), clock.clone(), None);
    let g = Group {
        route: "press".into(),
        wait_secs: 30,
    };
    for id in ["g1", "g2", "g3"] {
        assert!(gate
            .offer(item(id, AlertStatus::Firing, Severity::Warning), Some(&g))
            .is_empty());
    }
    assert!(gate.tick().is_empty());
    clock.advance(Duration::from_secs(30));
    match &ticked(&mut gate)[..] {
        [Notice::Group { route, alerts }] => {
            assert_eq!(route, "press");
            assert_eq!(alerts.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    // A lone alert after the delay goes out as itself.
    gate.offer(item("g4", AlertStatus::Firing, Severity::Warning), Some(&g));
    clock.advance(Duration::from_secs(30));
    assert!(matches!(&ticked(&mut gate)[..], [Notice::Alert(_)]));
}

#[test]
fn silenced_alerts_are_suppressed_until_the_silence_expires() {
    let clock = Clock::manual(T0);
    let silences = Arc::new(Silences::in_memory(clock.clone()));
    silences
        .add(crate::deliver::silence::NewSilence {
            kind: None,
            topic: Some("bonus-600".into()),
            author: Some("ops".into()),
            comment: Some("known".into()),
            expires_at: None,
            duration_mins: Some(10),
        })
        .unwrap();
    let mut gate = Gate::new(policy(0), clock.clone(), Some(silences));
    let outs = gate.offer(item("x", AlertStatus::Firing, Severity::Critical), None);
    assert!(matches!(
        outs[..],
        [Out::Suppressed {
            reason: Reason::Silenced,
            ..
        }]
    ));
    clock.advance(Duration::from_secs(600));
    let outs = gate.offer(item("y", AlertStatus::Firing, Severity::Critical), None);
    assert_eq!(delivered(&mut gate, outs).len(), 1);
}

#[test]
fn an_incident_whose_end_was_lost_is_forgotten_after_a_week() {
    let clock = Clock::manual(T0);
    let mut gate = Gate::new(policy(0), clock.clone(), None);
    let joining = |id: &str| {
        let mut i = item(id, AlertStatus::Firing, Severity::Warning);
        i.alert.incident = "a".into();
        i
    };
    let outs = gate.offer(joining("a"), None);
    assert_eq!(delivered(&mut gate, outs).len(), 1);
    let outs = gate.offer(joining("b"), None);
    assert!(
        matches!(
            outs[..],
            [Out::Suppressed {
                reason: Reason::Incident,
                ..
            }]
        ),
        "same kind, same incident: no news"
    );
    // Its resolutions never come; a week on, the incident is forgotten, not kept forever.
    clock.advance(Duration::from_secs(8 * 24 * 3600));
    let _ = gate.tick();
    let outs = gate.offer(joining("c"), None);
    assert_eq!(delivered(&mut gate, outs).len(), 1, "told again, as new");
}

/// After a rebalance the firing set is what this process owns: an episode it no longer owns
/// gets no reminder from it, and one an earlier process notified is reminded of a repeat
/// interval after it was handed over.
#[test]
fn reminders_follow_the_firing_set_this_process_owns() {
    let clock = Clock::manual(T0);
    let mut gate = Gate::new(policy(0).per_alert(), clock.clone(), None);
    for id in ["kept", "moved"] {
        let outs = gate.offer(item(id, AlertStatus::Firing, Severity::Warning), None);
        assert_eq!(delivered(&mut gate, outs).len(), 1);
    }
    let inherited = item("inherited", AlertStatus::Firing, Severity::Warning).alert;
    let kept = item("kept", AlertStatus::Firing, Severity::Warning).alert;
    clock.advance(Duration::from_secs(1800));
    gate.firing_set(&[kept, inherited]);
    clock.advance(Duration::from_secs(1800));
    let ids = |notices: Vec<Notice>| -> Vec<String> {
        let mut v: Vec<String> = notices
            .iter()
            .flat_map(|n| n.alerts().iter().map(|a| a.id.clone()).collect::<Vec<_>>())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(ticked(&mut gate)), ["kept"], "an hour after its notice");
    clock.advance(Duration::from_secs(1800));
    assert_eq!(
        ids(ticked(&mut gate)),
        ["inherited"],
        "an hour after it was handed over"
    );
}
