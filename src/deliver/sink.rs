//! Where alerts go. Replay writes NDJSON; the live path adds more sinks behind this trait.

use std::io::{self, Write};

use crate::alert::Alert;

/// Receives every alert transition, in order.
pub trait AlertSink {
    fn send(&mut self, alert: &Alert) -> io::Result<()>;
    /// The same, sent by a route that may hold alerts to group them (notifying sinks).
    fn send_routed(
        &mut self,
        alert: &Alert,
        _group: Option<&super::notify::Group>,
    ) -> io::Result<()> {
        self.send(alert)
    }
    fn flush(&mut self) -> io::Result<()>;
    /// The `sink` label of `ondata_alert_deliveries_total`.
    fn name(&self) -> &str {
        "custom"
    }
    /// True for sinks that deliver later (on a worker) and count their own outcomes.
    fn reports_outcomes(&self) -> bool {
        false
    }
    /// Where such a sink counts its outcomes.
    fn attach_metrics(&mut self, _metrics: std::sync::Arc<crate::metrics::Metrics>) {}
    /// (id, status, at) of alerts an earlier process already delivered here (a file keeps
    /// them), handed over once so they are not delivered again.
    /// Everything firing that this process owns now (after a start or a rebalance): a sink
    /// that keeps alerts alive or reminds of them keeps these, and only these.
    fn firing_set(&mut self, _firing: &[Alert]) {}

    /// Alerts this sink could not make durable (its outbox write failed): while any are,
    /// the live path commits no offset.
    fn unwritten(&self) -> usize {
        0
    }

    fn take_delivered(&mut self) -> Vec<(String, String, String)> {
        Vec::new()
    }
}

/// Alerts kept in memory, in the order sent (backtests, tests).
#[derive(Debug, Default)]
pub struct CollectSink {
    pub alerts: Vec<Alert>,
}

impl AlertSink for CollectSink {
    fn send(&mut self, alert: &Alert) -> io::Result<()> {
        self.alerts.push(alert.clone());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn name(&self) -> &str {
        "memory"
    }
}

/// One JSON object per line, flushed per alert so a reader tailing the output sees each
/// alert as soon as it is decided.
pub struct NdjsonSink<W: Write> {
    out: W,
    pub(crate) name: String,
    delivered: Vec<(String, String, String)>,
}

impl<W: Write> NdjsonSink<W> {
    pub fn new(out: W) -> Self {
        Self::named(out, "stdout")
    }

    /// The same, reported under another sink name (`file`).
    pub fn named(out: W, name: &str) -> Self {
        Self {
            out,
            name: name.to_string(),
            delivered: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> AlertSink for NdjsonSink<W> {
    fn send(&mut self, alert: &Alert) -> io::Result<()> {
        self.out.write_all(alert.to_json_line().as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn take_delivered(&mut self) -> Vec<(String, String, String)> {
        std::mem::take(&mut self.delivered)
    }
}

/// Appends NDJSON alerts to a file, creating it if needed; each alert is flushed as written.
/// The alerts the file already holds are remembered against writing them again.
pub fn file_sink(path: &str) -> io::Result<NdjsonSink<std::fs::File>> {
    let delivered = file_sink_history(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut sink = NdjsonSink::named(file, "file");
    sink.delivered = delivered;
    Ok(sink)
}

/// (id, status, at) of the alerts an alerts file already holds (its last 8 MB), so a
/// restarted process does not write them again. A missing or unreadable file holds none.
pub fn file_sink_history(path: &str) -> Vec<(String, String, String)> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 8 << 20;
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > TAIL && f.seek(SeekFrom::Start(len - TAIL)).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    buf.split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter_map(|v| {
            Some((
                v.get("id")?.as_str()?.to_string(),
                v.get("status")?.as_str()?.to_string(),
                v.get("at")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Alerts for a person at a terminal: one readable line each, with samples, coloured when
/// the output is a terminal and `NO_COLOR` is not set.
pub struct TerminalSink<W: Write> {
    out: W,
    colour: bool,
}

impl<W: Write> TerminalSink<W> {
    pub fn new(out: W, colour: bool) -> Self {
        Self { out, colour }
    }
}

/// Whether stdout should get colours: a terminal, and `NO_COLOR` unset or empty.
pub fn stdout_wants_colour() -> bool {
    use std::io::IsTerminal;
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl<W: Write> AlertSink for TerminalSink<W> {
    fn send(&mut self, a: &Alert) -> io::Result<()> {
        use crate::alert::{AlertStatus, Severity};
        let (status, colour) = match (a.status, a.severity) {
            (AlertStatus::Resolved, _) => ("resolved", "\x1b[32m"),
            (AlertStatus::Firing, Severity::Critical) => ("FIRING  ", "\x1b[1;31m"),
            (AlertStatus::Firing, _) => ("FIRING  ", "\x1b[33m"),
        };
        let (on, off, dim) = if self.colour {
            (colour, "\x1b[0m", "\x1b[2m")
        } else {
            ("", "", "")
        };
        let at = a.at.get(..16).unwrap_or(&a.at);
        writeln!(
            self.out,
            "{at}  {on}{status} {:?} {}{off}: {}",
            a.severity, a.kind, a.summary
        )?;
        for s in &a.samples {
            writeln!(
                self.out,
                "        {dim}\u{201c}{}\u{201d} ({}){off}",
                s.text, s.author
            )?;
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn name(&self) -> &str {
        "stdout"
    }
}

/// The sinks `[[alerts.sinks]]` asks for, each under its name. Remote sinks get their
/// outbox in `alerts.outbox_dir`; webhook and alertmanager sinks get noise control, with
/// `silences`. `terminal` prints stdout alerts for a person (the demo) instead of as NDJSON.
pub fn sinks_from_config(
    config: &crate::config::Config,
    terminal: bool,
    silences: Option<std::sync::Arc<super::silence::Silences>>,
) -> crate::error::Result<Vec<Box<dyn AlertSink + Send>>> {
    use super::notify::{Gate, Policy};
    use super::outbox::Outbox;
    use super::remote::{Alertmanager, KafkaAlerts, Webhook, DEFAULT_TIMEOUT};
    use super::worker::WorkerSink;
    use crate::config::{SinkKind, DEFAULT_RATE_LIMIT_PER_MIN};
    use crate::error::Context as _;
    let alerts = &config.alerts;
    let locale = crate::render::Renderer::from_config(config).locale();
    let clock = silences
        .as_ref()
        .map_or_else(super::clock::Clock::system, |s| s.clock().clone());
    let dir = std::path::Path::new(&alerts.outbox_dir);
    let mut sinks: Vec<Box<dyn AlertSink + Send>> = Vec::new();
    for (i, (sink, name)) in alerts.sinks.iter().zip(alerts.sink_names()).enumerate() {
        let timeout = sink
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, std::time::Duration::from_millis);
        let outbox = || {
            Outbox::open_with(dir, &name, alerts.outbox_fsync).with_context(|| {
                format!(
                    "alerts.sinks[{i}] ({name}): cannot open its outbox in alerts.outbox_dir = \"{}\"",
                    alerts.outbox_dir
                )
            })
        };
        let gate = |per_incident: bool| {
            let limit = sink
                .rate_limit_per_min
                .unwrap_or(DEFAULT_RATE_LIMIT_PER_MIN);
            let policy = Policy::from_config(alerts, limit);
            Gate::new(
                if per_incident {
                    policy
                } else {
                    policy.per_alert()
                },
                clock.clone(),
                silences.clone(),
            )
        };
        match (sink.kind, &sink.path) {
            (SinkKind::Stdout, _) if terminal => sinks.push(Box::new(TerminalSink::new(
                std::io::stdout(),
                stdout_wants_colour(),
            ))),
            (SinkKind::Stdout, _) => sinks.push(Box::new(NdjsonSink::new(std::io::stdout()))),
            (SinkKind::File, Some(path)) => {
                let mut file = file_sink(path)
                    .with_context(|| format!("alerts.sinks[{i}].path = \"{path}\": cannot open"))?;
                file.name = name;
                sinks.push(Box::new(file));
            }
            (SinkKind::Webhook, _) => {
                let url = crate::secret::resolve(
                    sink.url.as_deref().unwrap_or_default(),
                    &format!("alerts.sinks[{i}].url"),
                )?;
                let url = url.as_str();
                let transport =
                    Webhook::new(url, sink.format.unwrap_or_default(), timeout).locale(locale);
                sinks.push(Box::new(WorkerSink::start_with(
                    &name,
                    transport,
                    Some(outbox()?),
                    Some(gate(true)),
                )));
            }
            (SinkKind::Alertmanager, _) => {
                let url = crate::secret::resolve(
                    sink.url.as_deref().unwrap_or_default(),
                    &format!("alerts.sinks[{i}].url"),
                )?;
                let url = url.as_str();
                // Alertmanager groups alerts itself (by their `incident` label): every record.
                let transport = Alertmanager::new(url, timeout).locale(locale);
                sinks.push(Box::new(WorkerSink::start_with(
                    &name,
                    transport,
                    Some(outbox()?),
                    Some(gate(false)),
                )));
            }
            (SinkKind::Kafka, _) => {
                let topic = sink.topic.as_deref().unwrap_or_default();
                let transport = KafkaAlerts::new(&config.kafka, topic).with_context(|| {
                    format!("alerts.sinks[{i}]: cannot create the Kafka producer")
                })?;
                sinks.push(Box::new(WorkerSink::start_with(
                    &name,
                    transport,
                    Some(outbox()?),
                    None,
                )));
            }
            (SinkKind::File, None) => {
                return Err(crate::error::Error::setting(format!(
                    "alerts.sinks[{i}]: a file sink needs `path`"
                )))
            }
        }
    }
    Ok(sinks)
}
