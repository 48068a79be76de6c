//! What people would have been sent: the alert records of a replay played through the same
//! noise control a notifying sink applies live (repeat interval, rate limit with overflow
//! summaries, grouping delay, reminders), on a clock that follows event time.
//!
//! The channel is one notifying sink on the default route: its rate limit is the first
//! webhook/alertmanager sink's (or the default), its grouping delay the default route's.

use std::collections::HashMap;
use std::time::Duration;

use crate::alert::{Alert, AlertStatus};
use crate::config::{Config, DEFAULT_RATE_LIMIT_PER_MIN};
use crate::deliver::clock::Clock;
use crate::deliver::notify::{Gate, Group, Item, Notice, Out, Policy, Reason};

/// What a notifying sink would have sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notifications {
    /// Messages sent: alerts, groups, reminders and overflow summaries.
    pub sent: u64,
    /// Alert records not sent on their own (repeats inside the repeat interval, records of an
    /// incident already told that change nothing).
    pub suppressed: u64,
    /// Firing records held back by the rate limit and listed in a summary instead.
    pub summarised: u64,
    /// Episode id → event time of the first message that carried or listed it firing, or
    /// that told of the incident it joined.
    pub first_ms: HashMap<String, i64>,
    /// Incident id → event time of its first message.
    incident_ms: HashMap<String, i64>,
}

/// A notifying sink's gate on a clock that follows event time.
struct Player {
    gate: Gate,
    clock: Clock,
    out: Notifications,
}

impl Player {
    fn take(&mut self, outs: Vec<Out>) {
        let now = self.clock.now_ms();
        for o in outs {
            match o {
                Out::Deliver { notice, .. } => {
                    self.out.sent += 1;
                    if let Notice::Overflow { alerts, .. } = notice.as_ref() {
                        self.out.summarised += alerts.len() as u64;
                    }
                    for a in notice.alerts() {
                        if a.status == AlertStatus::Firing {
                            self.out.first_ms.entry(a.id.clone()).or_insert(now);
                            self.out
                                .incident_ms
                                .entry(a.incident_id().to_string())
                                .or_insert(now);
                        }
                    }
                    self.gate.delivered(&notice);
                }
                Out::Suppressed { alert, reason, .. } => {
                    self.out.suppressed += 1;
                    // Folded into an incident people were already told of.
                    if reason == Reason::Incident && alert.status == AlertStatus::Firing {
                        if let Some(&at) = self.out.incident_ms.get(alert.incident_id()) {
                            self.out.first_ms.entry(alert.id.clone()).or_insert(at);
                        }
                    }
                }
                Out::Limited => {}
            }
        }
    }

    /// Moves the clock to `to`, ticking wherever something may come due on the way.
    fn advance(&mut self, to: i64) {
        loop {
            let now = self.clock.now_ms();
            if now >= to {
                return;
            }
            let step = if self.gate.is_idle() {
                to - now
            } else {
                self.gate.next_due_ms().max(1).min(to - now)
            };
            self.clock.advance(Duration::from_millis(step as u64));
            let outs = self.gate.tick();
            self.take(outs);
        }
    }
}

/// Plays `alerts` (in the order raised) through a notifying sink's noise control.
pub fn simulate(config: &Config, alerts: &[Alert]) -> Notifications {
    let Some(first) = alerts.first() else {
        return Notifications::default();
    };
    let limit = config
        .alerts
        .sinks
        .iter()
        .find(|s| s.kind.notifies())
        .and_then(|s| s.rate_limit_per_min)
        .unwrap_or(DEFAULT_RATE_LIMIT_PER_MIN);
    let clock = Clock::manual(first.at_ms);
    let mut player = Player {
        gate: Gate::new(
            Policy::from_config(&config.alerts, limit),
            clock.clone(),
            None,
        ),
        clock,
        out: Notifications::default(),
    };
    let group = Group {
        route: "default".into(),
        wait_secs: config.alerts.default_route.group_wait_secs,
    };
    for a in alerts {
        player.advance(a.at_ms);
        let item = Item {
            seq: None,
            alert: a.clone(),
        };
        let outs = player.gate.offer(item, Some(&group));
        player.take(outs);
    }
    // Whatever is held comes due within the grouping delay and the summary interval.
    let settle = player.clock.now_ms()
        + i64::from(config.alerts.default_route.group_wait_secs) * 1000
        + i64::from(config.alerts.summary_interval_mins) * 60_000;
    player.advance(settle);
    let outs = player.gate.flush();
    player.take(outs);
    player.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertStatus, Severity};

    #[test]
    fn repeats_are_held_back_and_a_storm_is_summarised() {
        let t0 = 1_700_000_000_000;
        let mut alerts = Vec::new();
        // One episode firing every minute for 10 minutes, then resolved.
        for m in 0..10 {
            alerts.push(Alert::example(
                "e1",
                "tasse",
                AlertStatus::Firing,
                Severity::Warning,
                t0 + m * 60_000,
            ));
        }
        alerts.push(Alert::example(
            "e1",
            "tasse",
            AlertStatus::Resolved,
            Severity::Warning,
            t0 + 10 * 60_000,
        ));
        let config = Config::default();
        let n = simulate(&config, &alerts);
        // First firing and the resolved record are sent; nine repeats are not.
        assert_eq!((n.sent, n.suppressed, n.summarised), (2, 9, 0));
        assert_eq!(n.first_ms.get("e1"), Some(&t0));

        // 60 episodes within a minute against the default 20/min: 10 at once, the rest
        // spaced or summarised, and every one of them reaches someone.
        let storm: Vec<Alert> = (0..60)
            .map(|i| {
                Alert::example(
                    &format!("s{i}"),
                    "t",
                    AlertStatus::Firing,
                    Severity::Warning,
                    t0 + i * 1000,
                )
            })
            .collect();
        let n = simulate(&config, &storm);
        assert!(n.summarised > 0, "{n:?}");
        assert_eq!(n.first_ms.len(), 60, "{n:?}");
        assert!(n.sent < 60, "{n:?}");
    }
}
