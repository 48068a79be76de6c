//! What a replay did, printed at its end.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::sort;
use crate::alert::AlertKind;
use crate::engine::EngineStats;
use crate::event::RejectReason;
use crate::incident::Timeline;

/// What a replay did, printed at the end.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    pub lines: u64,
    pub engine: EngineStats,
    pub rejected: BTreeMap<RejectReason, u64>,
    pub alerts_written: u64,
    pub still_firing: u64,
    pub elapsed: Duration,
    /// What the replay saw, when [`ReplayOptions::timeline`] asked for it.
    pub timeline: Option<Timeline>,
    /// An input that broke before its end (a truncated archive, a read error): the summary
    /// and the outputs cover what was read before it.
    pub input_error: Option<String>,
    /// Inputs that were out of event-time order and were sorted.
    pub sorted: Vec<sort::Sorted>,
}

impl ReplaySummary {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub fn events_per_sec(&self) -> f64 {
        self.lines as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.engine;
        writeln!(
            f,
            "ondata replay: {} lines in {:.2} s ({:.0} events/s)",
            self.lines,
            self.elapsed.as_secs_f64(),
            self.events_per_sec()
        )?;
        writeln!(
            f,
            "  events    {} accepted, {} negative, {} late, {} duplicate ids dropped, {} stamped too far ahead",
            e.accepted, e.negative, e.late, e.duplicates, e.ahead
        )?;
        for s in &self.sorted {
            writeln!(
                f,
                "  sorted    {}: its {} lines sorted by event time before the replay ({})",
                s.input,
                s.lines,
                if s.runs == 0 {
                    "in memory".to_string()
                } else {
                    format!("{} runs on disk, merged", s.runs)
                }
            )?;
        }
        if e.late > 0 {
            writeln!(
                f,
                "  late      {} events came after their minute had closed: the input is not in event-time order (in the dead letter; replay with --sort to sort it whole)",
                e.late
            )?;
        }
        let rejected: Vec<String> = self
            .rejected
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let detail = if rejected.is_empty() {
            String::new()
        } else {
            format!(" ({})", rejected.join(", "))
        };
        writeln!(f, "  rejected  {}{detail}", self.rejected_total())?;
        let mut kinds: BTreeMap<AlertKind, (u64, u64)> = BTreeMap::new();
        for ((kind, status), n) in &e.alerts {
            let entry = kinds.entry(*kind).or_default();
            if *status == "firing" {
                entry.0 += n;
            } else {
                entry.1 += n;
            }
        }
        let alerts: Vec<String> = kinds
            .iter()
            .map(|(k, (fired, resolved))| format!("{k} {fired} fired/{resolved} resolved"))
            .collect();
        write!(
            f,
            "  alerts    {} written{}",
            self.alerts_written,
            if alerts.is_empty() {
                String::new()
            } else {
                format!(": {}", alerts.join(", "))
            }
        )?;
        if self.still_firing > 0 {
            write!(f, "; {} still firing at end of input", self.still_firing)?;
        }
        if e.topics_folded > 0 {
            write!(f, "\n  topics    {} events named a topic beyond topics.max_dynamic (counted in `other`)", e.topics_folded)?;
        }
        Ok(())
    }
}
