//! Alert delivery for the live path: each alert transition sent once to every sink.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use super::notify::Group;
use super::AlertSink;
use crate::alert::Alert;
use crate::config::{AlertsConfig, RouteConfig};
use crate::metrics::Metrics;
use crate::status::Board;

/// Alert keys remembered against duplicates.
const REMEMBERED_ALERTS: usize = 100_000;

/// Where an alert goes: the routes of `[alerts]`, checked in order, then the default route.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<(RouteConfig, Group)>,
    default: (Vec<String>, Group),
}

impl Router {
    /// Every alert to every sink, at once.
    pub fn everything() -> Self {
        Self::from_config(&AlertsConfig {
            routes: Vec::new(),
            default_route: Default::default(),
            ..AlertsConfig::default()
        })
    }

    pub fn from_config(alerts: &AlertsConfig) -> Self {
        let routes = alerts
            .routes
            .iter()
            .enumerate()
            .map(|(n, r)| {
                let group = Group {
                    route: r.name.clone().unwrap_or_else(|| format!("route-{}", n + 1)),
                    wait_secs: r.group_wait_secs,
                };
                (r.clone(), group)
            })
            .collect();
        let default = Group {
            route: "default".into(),
            wait_secs: alerts.default_route.group_wait_secs,
        };
        Self {
            routes,
            default: (alerts.default_route.sinks.clone(), default),
        }
    }

    /// For each sink name, the route that sends the alert there (first match wins); a `None`
    /// name list means every sink.
    fn targets(&self, alert: &Alert) -> Vec<(Option<&[String]>, &Group)> {
        let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        let mut out = Vec::new();
        for (r, group) in &self.routes {
            if any(&r.kinds, alert.kind.as_str())
                && any(&r.severities, alert.severity.as_str())
                && any(&r.topics, &alert.topic)
            {
                out.push((Some(r.sinks.as_slice()), group));
                if !r.continue_matching {
                    return out;
                }
            }
        }
        if out.is_empty() {
            let (sinks, group) = &self.default;
            out.push(((!sinks.is_empty()).then_some(sinks.as_slice()), group));
        }
        out
    }
}

/// Sends each alert transition once to each sink its route names: keyed by (id, status, at),
/// remembered in a bounded set; a sink that already holds an alert (an earlier process wrote
/// it, or it waits in the sink's outbox) does not get it again.
pub struct Delivery {
    sinks: Vec<Box<dyn AlertSink + Send>>,
    /// Per sink, what it held when it was handed over.
    held: Vec<HashSet<String>>,
    router: Router,
    seen: HashSet<String>,
    order: VecDeque<String>,
    metrics: Option<Arc<Metrics>>,
    board: Option<Arc<Board>>,
}

fn key(id: &str, status: &str, at: &str) -> String {
    format!("{id}|{status}|{at}")
}

impl Delivery {
    pub fn new(sinks: Vec<Box<dyn AlertSink + Send>>) -> Self {
        let mut d = Self {
            sinks: Vec::new(),
            held: Vec::new(),
            router: Router::everything(),
            seen: HashSet::new(),
            order: VecDeque::new(),
            metrics: None,
            board: None,
        };
        d.set_sinks(sinks);
        d
    }

    /// Routes alerts by `router` instead of sending each to every sink.
    pub fn routed(mut self, router: Router) -> Self {
        self.router = router;
        self
    }

    /// Counts what is sent and delivered in `metrics`, and shows it on `board`.
    pub fn observed(mut self, metrics: Option<Arc<Metrics>>, board: Option<Arc<Board>>) -> Self {
        self.metrics = metrics;
        self.board = board;
        self.announce_sinks();
        self
    }

    fn announce_sinks(&mut self) {
        if let Some(m) = &self.metrics {
            for sink in &mut self.sinks {
                m.sink(sink.name());
                sink.attach_metrics(m.clone());
            }
        }
    }

    /// Remembers an alert as already delivered (by an earlier process).
    pub fn remember(&mut self, id: &str, status: &str, at: &str) {
        let key = key(id, status, at);
        if self.seen.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > REMEMBERED_ALERTS {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    /// Sends to the sinks its route names, unless already sent; true if sent anywhere.
    pub fn send(&mut self, alert: &Alert) -> bool {
        let status = alert.status.as_str();
        let key = key(&alert.id, status, &alert.at);
        if self.seen.contains(&key) {
            return false;
        }
        let targets = self.router.targets(alert);
        let mut sent_any = false;
        let mut done = vec![false; self.sinks.len()];
        for (names, group) in targets {
            for (i, sink) in self.sinks.iter_mut().enumerate() {
                if done[i] || names.is_some_and(|n| !n.iter().any(|n| n == sink.name())) {
                    continue;
                }
                done[i] = true;
                if self.held[i].contains(&key) {
                    continue;
                }
                sent_any = true;
                let sent = sink.send_routed(alert, Some(group));
                if let Err(e) = &sent {
                    tracing::error!("alert sink {} failed: {e}", sink.name());
                }
                if let Some(m) = &self.metrics {
                    if !sink.reports_outcomes() || sent.is_err() {
                        m.delivery(sink.name(), sent.is_ok());
                    }
                }
            }
        }
        self.remember(&alert.id, status, &alert.at);
        if !sent_any && done.iter().any(|d| *d) {
            return false; // every sink it goes to already held it
        }
        if let Some(m) = &self.metrics {
            m.alert(alert);
        }
        if let Some(b) = &self.board {
            b.alert(alert);
        }
        true
    }

    /// Replaces the sinks (keeping what was remembered).
    pub fn set_sinks(&mut self, mut sinks: Vec<Box<dyn AlertSink + Send>>) {
        self.held = sinks
            .iter_mut()
            .map(|sink| {
                sink.take_delivered()
                    .into_iter()
                    .map(|(id, status, at)| key(&id, &status, &at))
                    .collect()
            })
            .collect();
        self.sinks = sinks;
        self.announce_sinks();
    }

    /// Hands each sink what is firing now among the alerts routed to it (after a start or a
    /// rebalance): Alertmanager posts them again at once, even those an earlier process
    /// delivered, and stops re-posting any other; reminders follow only these.
    pub fn firing_set(&mut self, firing: &[Alert]) {
        for sink in &mut self.sinks {
            let name = sink.name().to_string();
            let routed: Vec<Alert> = firing
                .iter()
                .filter(|a| {
                    self.router
                        .targets(a)
                        .iter()
                        .any(|(names, _)| names.is_none_or(|n| n.contains(&name)))
                })
                .cloned()
                .collect();
            sink.firing_set(&routed);
        }
    }

    /// Whether every alert sent so far is delivered or in its sink's outbox (a flush first
    /// retries the outbox writes that failed).
    pub fn durable(&self) -> bool {
        self.sinks.iter().all(|s| s.unwritten() == 0)
    }

    pub fn flush(&mut self) {
        for sink in &mut self.sinks {
            if let Err(e) = sink.flush() {
                tracing::error!("alert sink flush failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{simulate, Scenario, SimOptions};
    use crate::{parse_event, Config, Engine};

    fn some_alerts() -> Vec<Alert> {
        let mut stream = Vec::new();
        let opts = SimOptions {
            scenario: Scenario::TrollWave,
            seed: 2,
            days: 1,
            ..SimOptions::default()
        };
        simulate(&opts, &mut stream).unwrap();
        let config = Config::default();
        let mut engine = Engine::new(&config);
        let mut out = Vec::new();
        for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            engine.ingest_into(&parse_event(line, &config.input).unwrap(), &mut out);
        }
        out
    }

    /// Regression: a file sink handed to the live path directly (not named in the config)
    /// was not consulted, so a restarted process wrote again what the file held.
    #[test]
    fn a_file_sink_remembers_what_an_earlier_process_wrote() {
        let alerts = some_alerts();
        assert!(alerts.len() >= 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.ndjson").display().to_string();
        let mut first = Delivery::new(vec![Box::new(crate::deliver::file_sink(&path).unwrap())]);
        assert!(first.send(&alerts[0]));
        assert!(!first.send(&alerts[0]), "not twice in one process");
        drop(first);
        let mut second = Delivery::new(vec![Box::new(crate::deliver::file_sink(&path).unwrap())]);
        assert!(!second.send(&alerts[0]), "not again after a restart");
        assert!(second.send(&alerts[1]));
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.lines().count(), 2);
    }

    /// Routes send each alert to the sinks they name: the first match decides unless it
    /// continues; what no route takes follows the default route.
    #[test]
    fn routes_send_alerts_to_the_sinks_they_name() {
        use crate::alert::{AlertKind, Severity};
        let alerts = some_alerts();
        let dir = tempfile::tempdir().unwrap();
        let path = |n: &str| dir.path().join(n).display().to_string();
        let named = |n: &str| -> Box<dyn AlertSink + Send> {
            let mut sink = crate::deliver::file_sink(&path(n)).unwrap();
            sink.name = n.to_string();
            Box::new(sink)
        };
        let toml = r#"
            [[alerts.sinks]]
            type = "file"
            name = "trolls"
            path = "unused"
            [[alerts.sinks]]
            type = "file"
            name = "critical"
            path = "unused"
            [[alerts.sinks]]
            type = "file"
            name = "rest"
            path = "unused"
            [[alerts.routes]]
            kinds = ["troll_burst"]
            sinks = ["trolls"]
            continue = true
            [[alerts.routes]]
            severities = ["critical"]
            sinks = ["critical"]
            [alerts.default_route]
            sinks = ["rest"]
        "#;
        let config = Config::from_toml_with_env(toml, "t", []).unwrap();
        let mut d = Delivery::new(vec![named("trolls"), named("critical"), named("rest")])
            .routed(Router::from_config(&config.alerts));
        for a in &alerts {
            d.send(a);
        }
        drop(d);
        let got = |n: &str| -> Vec<String> {
            std::fs::read_to_string(path(n))
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect()
        };
        let want = |pred: &dyn Fn(&Alert) -> bool| -> Vec<String> {
            alerts
                .iter()
                .filter(|a| pred(a))
                .map(Alert::to_json_line)
                .collect()
        };
        let troll = |a: &Alert| a.kind == AlertKind::TrollBurst;
        let critical = |a: &Alert| a.severity == Severity::Critical;
        assert!(alerts.iter().any(troll) && alerts.iter().any(critical));
        assert!(alerts.iter().any(|a| !troll(a) && !critical(a)));
        assert_eq!(got("trolls"), want(&troll));
        assert_eq!(
            got("critical"),
            want(&critical),
            "troll route continues to it"
        );
        assert_eq!(got("rest"), want(&|a| !troll(a) && !critical(a)));
    }
}
