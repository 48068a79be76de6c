//! Noise control for sinks that notify people (webhook, Alertmanager): silences, a repeat
//! interval per episode, one message per incident (webhooks: the incident's first alert,
//! then only what changes it: another kind joining, an escalation, the last episode
//! resolving), grouping per route, a rate limit with overflow summaries, and reminders for
//! episodes still firing. A pure state machine on a [`Clock`]: the sink's
//! worker feeds it alerts and ticks, and delivers what it says to.
//!
//! Nothing is dropped without a trace: every alert ends up notified on its own, in a group,
//! listed in an overflow summary, or counted as suppressed with its reason.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::silence::Silences;
use crate::alert::{Alert, AlertKind, AlertStatus, Severity};
use crate::config::Language;

pub use crate::render::Notice;

/// Which route sent an alert, and how long that route holds alerts to group them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub route: String,
    pub wait_secs: u32,
}

/// The sink's settings for noise control.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Notifications a minute; 0 = unlimited.
    pub rate_limit_per_min: u32,
    pub repeat_interval_ms: i64,
    pub summary_interval_ms: i64,
    pub language: Language,
    /// One message per incident rather than per alert (webhooks; Alertmanager groups by
    /// its `incident` label itself).
    pub per_incident: bool,
}

impl Policy {
    pub fn from_config(alerts: &crate::config::AlertsConfig, rate_limit_per_min: u32) -> Self {
        Self {
            rate_limit_per_min,
            repeat_interval_ms: i64::from(alerts.repeat_interval_mins) * 60_000,
            summary_interval_ms: i64::from(alerts.summary_interval_mins) * 60_000,
            language: alerts.language,
            per_incident: true,
        }
    }

    /// The same, one message per alert record.
    pub fn per_alert(mut self) -> Self {
        self.per_incident = false;
        self
    }
}

/// Why an alert was not notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Silenced,
    Repeat,
    /// Part of an incident already notified, and changes nothing people were told.
    Incident,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Silenced => "silenced",
            Reason::Repeat => "repeat",
            Reason::Incident => "incident",
        }
    }
}

/// What people were told of one open incident.
#[derive(Debug, Default)]
struct IncidentState {
    kinds: Vec<AlertKind>,
    severity: Option<Severity>,
    /// Its episodes still firing, with the severity each last said.
    open: Vec<(String, Severity)>,
    /// When one of its records last came (an incident whose resolutions were lost is
    /// forgotten after `FORGET_MS`).
    last_ms: i64,
}

/// An alert handed to the gate, with its outbox sequence number (if it has one).
#[derive(Debug, Clone)]
pub struct Item {
    pub seq: Option<u64>,
    pub alert: Alert,
}

/// What the gate decided.
#[derive(Debug)]
pub enum Out {
    /// Send this; once delivered, the outbox entries `seqs` are done.
    Deliver { notice: Box<Notice>, seqs: Vec<u64> },
    /// Not notified, for this reason; the outbox entry is done.
    Suppressed {
        alert: Box<Alert>,
        seq: Option<u64>,
        reason: Reason,
    },
    /// Held back by the rate limit; it will be listed in the next overflow summary.
    Limited,
}

struct Held {
    route: String,
    due_ms: i64,
    items: Vec<Item>,
}

struct Notified {
    alert: Alert,
    last_ms: i64,
}

type Limiter = RateLimiter<
    NotKeyed,
    InMemoryState,
    Clock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

pub struct Gate {
    policy: Policy,
    clock: Clock,
    silences: Option<Arc<Silences>>,
    limiter: Option<Limiter>,
    /// Firing episodes notified, by id.
    notified: HashMap<String, Notified>,
    /// Open incidents, by id (when the policy is per incident).
    incidents: HashMap<String, IncidentState>,
    held: Vec<Held>,
    overflow: Vec<Item>,
    overflow_since: Option<i64>,
}

/// At most `n` notifications in any minute: half of them at once, then one every 120/n s
/// (a plain `per_minute(n)` would let a full burst of n follow n spaced ones: 2n a minute).
fn quota(n: NonZeroU32) -> Quota {
    let burst = NonZeroU32::new(n.get().div_ceil(2)).unwrap_or(NonZeroU32::MIN);
    let period = std::time::Duration::from_secs(120) / n.get();
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_minute(n))
        .allow_burst(burst)
}

/// Firing episodes not heard of for this long are forgotten (their resolved record was lost).
const FORGET_MS: i64 = 7 * 24 * 3_600_000;

impl Gate {
    pub fn new(policy: Policy, clock: Clock, silences: Option<Arc<Silences>>) -> Self {
        let limiter = NonZeroU32::new(policy.rate_limit_per_min)
            .map(|n| RateLimiter::direct_with_clock(quota(n), clock.clone()));
        Self {
            policy,
            clock,
            silences,
            limiter,
            notified: HashMap::new(),
            incidents: HashMap::new(),
            held: Vec::new(),
            overflow: Vec::new(),
            overflow_since: None,
        }
    }

    pub fn language(&self) -> Language {
        self.policy.language
    }

    fn silenced(&self, alert: &Alert) -> bool {
        self.silences
            .as_ref()
            .is_some_and(|s| s.silencing(alert).is_some())
    }

    /// An alert routed to this sink.
    pub fn offer(&mut self, item: Item, group: Option<&Group>) -> Vec<Out> {
        let now = self.clock.now_ms();
        let a = &item.alert;
        if self.silenced(a) {
            if a.status == AlertStatus::Resolved {
                self.notified.remove(&a.id);
                // Its incident still learns the episode is over (else it never closes).
                if self.policy.per_incident {
                    self.incident_news(a, now);
                }
            }
            return vec![Out::Suppressed {
                alert: Box::new(item.alert),
                seq: item.seq,
                reason: Reason::Silenced,
            }];
        }
        if self.policy.per_incident && !self.incident_news(a, now) {
            return vec![Out::Suppressed {
                alert: Box::new(item.alert),
                seq: item.seq,
                reason: Reason::Incident,
            }];
        }
        if a.status == AlertStatus::Firing {
            if let Some(n) = self.notified.get(&a.id) {
                if a.severity <= n.alert.severity
                    && now - n.last_ms < self.policy.repeat_interval_ms
                {
                    return vec![Out::Suppressed {
                        alert: Box::new(item.alert),
                        seq: item.seq,
                        reason: Reason::Repeat,
                    }];
                }
            }
        }
        match group.filter(|g| g.wait_secs > 0) {
            Some(g) => {
                match self.held.iter_mut().find(|h| h.route == g.route) {
                    Some(h) => h.items.push(item),
                    None => self.held.push(Held {
                        route: g.route.clone(),
                        due_ms: now + i64::from(g.wait_secs) * 1000,
                        items: vec![item],
                    }),
                }
                Vec::new()
            }
            None => vec![self.limit(vec![item], None)],
        }
    }

    /// Follows `a`'s incident; true if `a` is news to the people told of it: the incident's
    /// first alert, another kind joining, an escalation, or its last episode resolving.
    fn incident_news(&mut self, a: &Alert, now: i64) -> bool {
        let key = a.incident_id().to_string();
        match a.status {
            AlertStatus::Firing => {
                let st = self.incidents.entry(key.clone()).or_default();
                st.last_ms = now;
                let own = st.open.iter_mut().find(|(id, _)| *id == a.id);
                // The same record of an episode already followed again is the repeat
                // interval's business; an episode rising to a severity its incident already
                // had is no news.
                let repeat = own.as_ref().is_some_and(|(_, s)| *s == a.severity);
                let news = repeat || !st.kinds.contains(&a.kind) || st.severity < Some(a.severity);
                match own {
                    Some((_, s)) => *s = (*s).max(a.severity),
                    None => st.open.push((a.id.clone(), a.severity)),
                }
                if !st.kinds.contains(&a.kind) {
                    st.kinds.push(a.kind);
                }
                st.severity = st.severity.max(Some(a.severity));
                news
            }
            AlertStatus::Resolved => {
                let Some(st) = self.incidents.get_mut(key.as_str()) else {
                    return true; // not followed (e.g. fired before a restart): say it
                };
                st.open.retain(|(id, _)| *id != a.id);
                if st.open.is_empty() {
                    self.incidents.remove(key.as_str());
                    true
                } else {
                    false
                }
            }
        }
    }

    /// One notice for these items, if the rate limit lets it through; else they overflow.
    fn limit(&mut self, mut items: Vec<Item>, route: Option<String>) -> Out {
        if self.limiter.as_ref().is_some_and(|l| l.check().is_err()) {
            self.overflow_since.get_or_insert(self.clock.now_ms());
            self.overflow.append(&mut items);
            return Out::Limited;
        }
        let seqs = items.iter().filter_map(|i| i.seq).collect();
        let notice = if items.len() == 1 {
            Notice::Alert(items.remove(0).alert)
        } else {
            Notice::Group {
                route: route.unwrap_or_default(),
                alerts: items.into_iter().map(|i| i.alert).collect(),
            }
        };
        Out::Deliver {
            notice: Box::new(notice),
            seqs,
        }
    }

    fn overflow_summary(&mut self) -> Option<Out> {
        let since_ms = self.overflow_since.take()?;
        let items = std::mem::take(&mut self.overflow);
        Some(Out::Deliver {
            seqs: items.iter().filter_map(|i| i.seq).collect(),
            notice: Box::new(Notice::Overflow {
                alerts: items.into_iter().map(|i| i.alert).collect(),
                since_ms,
                until_ms: self.clock.now_ms(),
                limit_per_min: self.policy.rate_limit_per_min,
            }),
        })
    }

    /// What has come due: groups whose delay passed, the overflow summary, reminders.
    pub fn tick(&mut self) -> Vec<Out> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        let (due, waiting): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.due_ms <= now);
        self.held = waiting;
        for h in due {
            out.push(self.limit(h.items, Some(h.route)));
        }
        if self
            .overflow_since
            .is_some_and(|since| now - since >= self.policy.summary_interval_ms)
        {
            out.extend(self.overflow_summary());
        }
        self.notified.retain(|_, n| now - n.last_ms < FORGET_MS);
        self.incidents.retain(|_, i| now - i.last_ms < FORGET_MS);
        let mut due: Vec<String> = self
            .notified
            .iter()
            .filter(|(_, n)| now - n.last_ms >= self.policy.repeat_interval_ms)
            .map(|(id, _)| id.clone())
            .collect();
        due.sort();
        for id in due {
            let Some(alert) = self.notified.get(&id).map(|n| n.alert.clone()) else {
                continue;
            };
            if self.silenced(&alert) {
                continue;
            }
            if self.limiter.as_ref().is_some_and(|l| l.check().is_err()) {
                break; // reminders wait for room; they are never summarised
            }
            if let Some(n) = self.notified.get_mut(&id) {
                n.last_ms = now;
            }
            out.push(Out::Deliver {
                notice: Box::new(Notice::Reminder(alert)),
                seqs: Vec::new(),
            });
        }
        out
    }

    /// At shutdown: everything held goes out now (groups, then the overflow summary).
    pub fn flush(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        for h in std::mem::take(&mut self.held) {
            out.push(self.limit(h.items, Some(h.route)));
        }
        out.extend(self.overflow_summary());
        out
    }

    /// What is firing now on everything this process owns: reminders follow these episodes
    /// and no others. One not yet known here (notified by an earlier process) counts as
    /// notified now, so its reminder comes a repeat interval on.
    pub fn firing_set(&mut self, firing: &[Alert]) {
        let now = self.clock.now_ms();
        let ids: std::collections::HashSet<&str> = firing.iter().map(|a| a.id.as_str()).collect();
        self.notified.retain(|id, _| ids.contains(id.as_str()));
        for a in firing {
            self.notified
                .entry(a.id.clone())
                .or_insert_with(|| Notified {
                    alert: a.clone(),
                    last_ms: now,
                });
        }
    }

    /// A notice was delivered: remember firing episodes for the repeat interval.
    pub fn delivered(&mut self, notice: &Notice) {
        let now = self.clock.now_ms();
        if matches!(notice, Notice::Overflow { .. }) {
            return;
        }
        for a in notice.alerts() {
            match a.status {
                AlertStatus::Firing => {
                    self.notified.insert(
                        a.id.clone(),
                        Notified {
                            alert: a.clone(),
                            last_ms: now,
                        },
                    );
                }
                AlertStatus::Resolved => {
                    self.notified.remove(&a.id);
                }
            }
        }
    }

    /// Nothing held, overflowing or waiting for a reminder: ticks would do nothing.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.overflow.is_empty() && self.notified.is_empty()
    }

    /// Milliseconds until the next thing comes due (bounded by a second).
    pub fn next_due_ms(&self) -> i64 {
        let now = self.clock.now_ms();
        self.held
            .iter()
            .map(|h| h.due_ms - now)
            .min()
            .unwrap_or(1000)
            .clamp(0, 1000)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod quota_tests {
    use super::*;

    /// However the alerts arrive, no minute holds more than the limit.
    #[test]
    fn no_minute_holds_more_than_the_limit() {
        for n in [1u32, 2, 5, 10, 20, 60] {
            let clock = Clock::manual(0);
            let limiter =
                RateLimiter::direct_with_clock(quota(NonZeroU32::new(n).unwrap()), clock.clone());
            let mut passed = Vec::new();
            for step in 0..6_000 {
                if limiter.check().is_ok() {
                    passed.push(step * 100);
                }
                clock.advance(std::time::Duration::from_millis(100));
            }
            let worst = passed
                .iter()
                .map(|t| {
                    passed
                        .iter()
                        .filter(|u| **u >= *t && **u < t + 60_000)
                        .count()
                })
                .max()
                .unwrap();
            assert!(worst <= n as usize, "limit {n}: {worst} in one minute");
            // Sustained: half the limit a minute (the other half is the burst's room).
            assert!(
                passed.len() as u32 * 2 >= n * 9,
                "limit {n}: only {} in 10 minutes",
                passed.len()
            );
        }
    }
}
