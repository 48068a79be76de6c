//! The stream's time, guarded against wrong clocks: an event stamped far ahead of the stream
//! does not move it.
//!
//! The stream's time is the newest event time applied. An event more than the ahead limit
//! beyond it (`input.max_ahead_secs`, or thirty of the stream's usual gaps between events
//! when the stream is sparser than that) is held back, not applied:
//! - when the stream reaches it, it is applied in its turn (a clock two hours fast costs
//!   nothing but the wait);
//! - when most recent arrivals are ahead too, the stream itself has moved on (a recording
//!   that resumes after a gap) and the held events up to the newest arrival are applied;
//! - at the end of input, or beyond [`MAX_HELD`], it is dropped as `ts_ahead`, to the dead
//!   letter.
//!
//! The first event of a stream waits for the second: if the second is far older, the first
//! is the one ahead (a stream cannot start a week early on one event's word).

use crate::event::{Event, RejectReason};
use serde::{Deserialize, Serialize};

/// Events held at most; beyond, a new event ahead is dropped as `ts_ahead`.
pub const MAX_HELD: usize = 1024;
/// The stream has moved on when this share of recent arrivals (weighted, newest most) came
/// ahead of it.
const MOVED_ON: f64 = 0.5;
/// Weight of the newest arrival in that share.
const ARRIVAL_WEIGHT: f64 = 0.1;
/// Weight of the newest gap in the usual gap between events.
const GAP_WEIGHT: f64 = 1.0 / 32.0;
/// How many usual gaps ahead an event may be before it is held.
const GAPS_AHEAD: f64 = 30.0;

/// Where an event came from, for its dead letter: the input's index and the line (replay),
/// or nothing (live).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub input: u32,
    pub line: u64,
}

/// An event the engine did not apply, for the dead letter.
#[derive(Debug, Clone)]
pub struct Dropped {
    pub event: Event<'static>,
    pub origin: Origin,
    pub reason: RejectReason,
    pub detail: String,
}

/// What to do with an arriving event.
pub(super) enum Step {
    /// Apply it now.
    Apply,
    /// Kept (held ahead, or the first event waiting for a second).
    Held,
    /// Dropped as `ts_ahead` (the held events are at their limit).
    Dropped,
    /// Apply the held first event, then this one.
    ApplyFirstThen,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Clock {
    ahead_ms: i64,
    /// Usual gap between consecutive event times applied, ms.
    gap_ms: f64,
    /// Weighted share of recent arrivals that came ahead.
    ahead_share: f64,
    /// Event time of the newest arrival that came ahead.
    newest_ahead: i64,
    /// Held events up to this time are released: the stream moved on to them.
    moved_to: i64,
    /// The stream's first event, until a second arrives.
    pub first: Option<(Event<'static>, Origin)>,
    /// Held events, oldest event time first.
    held: Vec<(Event<'static>, Origin)>,
    /// Taken by the caller after each step: never part of a snapshot.
    #[serde(skip)]
    pub dropped: Vec<Dropped>,
}

impl Clock {
    pub fn new(ahead_secs: u32) -> Self {
        Self {
            ahead_ms: i64::from(ahead_secs) * 1000,
            gap_ms: 0.0,
            ahead_share: 0.0,
            newest_ahead: i64::MIN,
            moved_to: i64::MIN,
            first: None,
            held: Vec::new(),
            dropped: Vec::new(),
        }
    }

    /// How far ahead of `max` an event may be applied.
    pub fn limit(&self) -> i64 {
        self.ahead_ms.max((GAPS_AHEAD * self.gap_ms) as i64)
    }

    /// Learns the gap between the stream's time and an event applied at `ts`.
    pub fn applied(&mut self, max: Option<i64>, ts: i64) {
        if let Some(m) = max {
            let gap = (ts - m).max(0) as f64;
            self.gap_ms += GAP_WEIGHT * (gap - self.gap_ms);
        }
    }

    /// Decides for an event at `ts` given the stream's time `max` (none before the first
    /// event was applied).
    pub fn step(&mut self, max: Option<i64>, event: &Event<'_>, origin: Origin) -> Step {
        let ts = event.ts_ms;
        let Some(max) = max else {
            return match &self.first {
                None => {
                    self.first = Some((event.clone().into_owned(), origin));
                    Step::Held
                }
                Some((f, _)) if ts >= f.ts_ms - self.ahead_ms => Step::ApplyFirstThen,
                Some(_) => {
                    // The first event was the one ahead: it waits with the held, and this one
                    // waits for a second opinion in its place.
                    let f = self.first.take().expect("checked");
                    self.hold(f.0, f.1);
                    self.first = Some((event.clone().into_owned(), origin));
                    Step::Held
                }
            };
        };
        let ahead = ts > max + self.limit();
        self.ahead_share += ARRIVAL_WEIGHT * (f64::from(u8::from(ahead)) - self.ahead_share);
        if !ahead {
            return Step::Apply;
        }
        self.newest_ahead = ts;
        if self.hold(event.clone().into_owned(), origin) {
            Step::Held
        } else {
            Step::Dropped
        }
    }

    fn hold(&mut self, event: Event<'static>, origin: Origin) -> bool {
        if self.held.len() >= MAX_HELD {
            self.drop_ahead(event, origin, "held ahead of the stream at the limit");
            return false;
        }
        let at = self.held.partition_point(|(e, _)| e.ts_ms <= event.ts_ms);
        self.held.insert(at, (event, origin));
        true
    }

    fn drop_ahead(&mut self, event: Event<'static>, origin: Origin, why: &str) {
        let detail = format!(
            "ts {} is more than input.max_ahead_secs = {} ahead of the stream ({why})",
            crate::event::format_ts(event.ts_ms),
            self.ahead_ms / 1000
        );
        self.dropped.push(Dropped {
            event,
            origin,
            reason: RejectReason::TsAhead,
            detail,
        });
    }

    /// The next held event to apply before the stream's time passes `upto`: one stamped up to
    /// it, or, when most recent arrivals came ahead (the stream moved on), the oldest.
    pub fn due(&mut self, upto: i64) -> Option<(Event<'static>, Origin)> {
        let (e, _) = self.held.first()?;
        if self.ahead_share > MOVED_ON {
            // Moved on: as far as the arrivals went (an outlier further ahead stays held); from
            // here such arrivals are the usual.
            self.moved_to = self
                .moved_to
                .max(self.newest_ahead.saturating_add(self.limit()));
            self.ahead_share = 0.0;
        }
        if e.ts_ms > upto && e.ts_ms > self.moved_to {
            return None;
        }
        Some(self.held.remove(0))
    }

    /// End of input: what is still held never came within reach of the stream.
    pub fn finish(&mut self) {
        for (e, o) in std::mem::take(&mut self.held) {
            self.drop_ahead(e, o, "the stream ended before reaching it");
        }
    }
}
