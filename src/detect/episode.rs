//! The life of one alert episode, shared by every detector: it opens at an event time (which,
//! with the kind and topic, gives the alert its stable id), tracks its peak, counts quiet buckets, and closes after enough of them; while it is open (for up
//! to [`RELEARN_AFTER_MINS`]) the detector must not learn from what it sees.

use super::RELEARN_AFTER_MINS;
use crate::alert::Severity;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub started_ms: i64,
    /// Highest value measured during the episode (ratio, share, …).
    pub peak: f64,
    quiet_buckets: u32,
    /// The highest severity a firing record has announced so far.
    announced: Option<Severity>,
}

/// At most one open episode per detector and topic.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EpisodeState {
    open: Option<Episode>,
}

impl Episode {
    /// An episode tracked outside [`EpisodeState`] (one per troll cluster).
    pub fn new(started_ms: i64, peak: f64) -> Self {
        Self {
            started_ms,
            peak,
            quiet_buckets: 0,
            announced: None,
        }
    }

    /// Records that a firing record says `severity`; true if that is more than any before
    /// (the first record, or an escalation), which is when a firing record must go out.
    pub fn announce(&mut self, severity: Severity) -> bool {
        if self.announced.is_some_and(|a| a >= severity) {
            return false;
        }
        self.announced = Some(severity);
        true
    }
}

impl EpisodeState {
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The open episode, if any.
    pub fn current(&self) -> Option<&Episode> {
        self.open.as_ref()
    }

    /// See [`Episode::announce`]: the open episode if `severity` is news for it (its first
    /// firing record, or an escalation), else `None`.
    pub fn announce(&mut self, severity: Severity) -> Option<&Episode> {
        let ep = self.open.as_mut()?;
        ep.announce(severity).then_some(&*ep)
    }

    /// Opens an episode and returns it (for the firing alert).
    pub fn open(&mut self, started_ms: i64, value: f64) -> &Episode {
        self.open.insert(Episode::new(started_ms, value))
    }

    /// One more bucket of an open episode: `elevated` says whether the condition still
    /// half-holds, `value` is the bucket's measurement if any. Returns the episode once it has
    /// been quiet for `quiet_needed` buckets, closing it.
    pub fn observe(
        &mut self,
        elevated: bool,
        value: Option<f64>,
        quiet_needed: u32,
    ) -> Option<Episode> {
        let ep = self.open.as_mut()?;
        if let Some(v) = value {
            ep.peak = ep.peak.max(v);
        }
        ep.quiet_buckets = if elevated { 0 } else { ep.quiet_buckets + 1 };
        if ep.quiet_buckets >= quiet_needed.max(1) {
            self.open.take()
        } else {
            None
        }
    }

    /// True while the detector must not learn: an episode is open and younger than
    /// [`RELEARN_AFTER_MINS`] at `now_ms`.
    pub fn freezes_learning(&self, now_ms: i64) -> bool {
        self.open
            .as_ref()
            .is_some_and(|ep| now_ms - ep.started_ms < RELEARN_AFTER_MINS * 60_000)
    }
}

/// Buckets of `minutes`, at least one.
pub fn buckets_for(minutes: u32, bucket_ms: i64) -> u32 {
    ((f64::from(minutes) * 60_000.0 / bucket_ms as f64).ceil() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_after_enough_quiet_buckets_and_keeps_the_peak() {
        let mut s = EpisodeState::default();
        s.open(7, 3.0);
        assert!(s.observe(true, Some(5.0), 2).is_none());
        assert!(s.observe(false, Some(1.0), 2).is_none());
        assert!(
            s.observe(true, None, 2).is_none(),
            "elevated again: the quiet count restarts"
        );
        assert!(s.observe(false, None, 2).is_none());
        let closed = s.observe(false, None, 2).expect("closed");
        assert_eq!((closed.started_ms, closed.peak), (7, 5.0));
        assert!(!s.is_open());
    }

    #[test]
    fn learning_is_frozen_only_for_a_while() {
        let mut s = EpisodeState::default();
        assert!(!s.freezes_learning(0));
        s.open(0, 0.5);
        assert!(s.freezes_learning(60_000));
        assert!(!s.freezes_learning(RELEARN_AFTER_MINS * 60_000));
    }
}
