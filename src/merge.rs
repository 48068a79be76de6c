//! The event-time merge of Kafka partitions in front of the engine.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::event::{parse_event, Event, RejectReason};
use crate::source::kafka::{OwnedMessage, Partition};

/// A partition confirmed at its end is trusted idle for this long before asking again.
pub const IDLE_RECHECK: Duration = Duration::from_secs(1);
/// Events held for the merge at most; beyond, the oldest go through regardless.
const MAX_BUFFERED: usize = 200_000;

/// One message waiting in the event-time merge, read as `I`: an [`Item`] for the engine, or
/// a [`Recorded`] line for a recording.
pub struct Pending<I = Item> {
    pub offset: i64,
    pub kafka_ts_ms: Option<i64>,
    pub item: I,
}

/// What the merge orders messages by: their event time, when they have one.
pub trait Timed {
    fn ts(&self) -> Option<i64>;
}

/// A message read for the engine: a parsed event, or one that is not an event.
pub enum Item {
    Event(Event<'static>),
    Poison {
        payload: Vec<u8>,
        reason: RejectReason,
        detail: String,
    },
}

impl Timed for Item {
    fn ts(&self) -> Option<i64> {
        match self {
            Item::Event(e) => Some(e.ts_ms),
            Item::Poison { .. } => None,
        }
    }
}

/// A message read for a recording: its bytes as they came, with the event time when they
/// are a valid event.
pub struct Recorded {
    pub payload: Vec<u8>,
    pub ts_ms: Option<i64>,
}

impl Timed for Recorded {
    fn ts(&self) -> Option<i64> {
        self.ts_ms
    }
}

impl<I: Timed> Pending<I> {
    pub fn ts(&self) -> Option<i64> {
        self.item.ts()
    }
}

pub struct Queue<I = Item> {
    pub items: VecDeque<Pending<I>>,
    pub last_arrival: Instant,
    /// No more messages will come (history read to its end).
    pub done: bool,
    /// When the broker last confirmed that nothing more is waiting in the partition.
    pub at_end: Option<Instant>,
}

/// Merges partitions by event time: the next event released is the oldest at the head of any
/// queue, once every partition that may still send something older has a message waiting,
/// or has been silent for `idle`. Within a partition, Kafka's order is kept, so offsets are
/// released in order; an unparseable message is released as soon as it reaches the head.
pub struct Aligner<I = Item> {
    pub queues: BTreeMap<Partition, Queue<I>>,
    pub len: usize,
    idle: Duration,
    stalled: Duration,
}

impl<I: Timed> Aligner<I> {
    pub fn new(idle: Duration, stalled: Duration) -> Self {
        Self {
            queues: BTreeMap::new(),
            len: 0,
            idle,
            stalled,
        }
    }

    /// Partitions whose silence may mean they are idle, to be confirmed with the broker.
    pub fn to_confirm(&self, now: Instant) -> Vec<Partition> {
        self.queues
            .iter()
            .filter(|(_, q)| {
                q.items.is_empty()
                    && !q.done
                    && now.duration_since(q.last_arrival) >= self.idle
                    && q.at_end
                        .is_none_or(|t| now.duration_since(t) >= IDLE_RECHECK)
            })
            .map(|(p, _)| p.clone())
            .collect()
    }

    pub fn confirm_end(&mut self, p: &Partition, at_end: bool, now: Instant) {
        if let Some(q) = self.queues.get_mut(p) {
            q.at_end = at_end.then_some(now);
        }
    }

    pub fn ensure(&mut self, p: &Partition, now: Instant) {
        self.queues.entry(p.clone()).or_insert_with(|| Queue {
            items: VecDeque::new(),
            last_arrival: now,
            done: false,
            at_end: None,
        });
    }

    pub fn push(&mut self, p: &Partition, pending: Pending<I>, now: Instant) {
        self.ensure(p, now);
        if let Some(q) = self.queues.get_mut(p) {
            q.items.push_back(pending);
            q.last_arrival = now;
            q.at_end = None;
            self.len += 1;
        }
    }

    pub fn retain(&mut self, keep: &BTreeSet<Partition>) {
        self.queues.retain(|p, _| keep.contains(p));
        self.len = self.queues.values().map(|q| q.items.len()).sum();
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next message to release, if any may go now; `force` releases regardless of
    /// silent partitions (shutdown, end of history).
    pub fn pop(&mut self, now: Instant, force: bool) -> Option<(Partition, Pending<I>)> {
        if self.len == 0 {
            return None;
        }
        let mut best: Option<(&Partition, i64)> = None;
        let mut poison: Option<&Partition> = None;
        let mut blocked = false;
        for (p, q) in &self.queues {
            match q.items.front() {
                Some(head) => match head.ts() {
                    None => {
                        poison = Some(p);
                        break;
                    }
                    Some(ts) => {
                        if best.is_none_or(|(_, b)| ts < b) {
                            best = Some((p, ts));
                        }
                    }
                },
                None => {
                    let silent = now.duration_since(q.last_arrival);
                    let idle = silent >= self.idle
                        && q.at_end
                            .is_some_and(|t| now.duration_since(t) < IDLE_RECHECK * 2);
                    if !q.done && !idle && silent < self.stalled {
                        blocked = true;
                    }
                }
            }
        }
        let chosen = match (poison, best) {
            (Some(p), _) => p.clone(),
            (None, Some((p, _))) if !blocked || force || self.len > MAX_BUFFERED => p.clone(),
            _ => return None,
        };
        let q = self.queues.get_mut(&chosen)?;
        let item = q.items.pop_front()?;
        self.len -= 1;
        Some((chosen, item))
    }
}

/// Parses a message into what the merge holds for the engine.
pub fn pending_of(m: OwnedMessage, config: &Config) -> (Partition, Pending) {
    let item = match parse_event(&m.payload, &config.input) {
        Ok(e) => Item::Event(e.into_owned()),
        Err(rejection) => Item::Poison {
            payload: m.payload,
            reason: rejection.reason,
            detail: rejection.detail,
        },
    };
    let pending = Pending {
        offset: m.offset,
        kafka_ts_ms: m.kafka_ts_ms,
        item,
    };
    (m.at, pending)
}

/// Keeps a message's bytes for a recording, with its event time when it is a valid event.
pub fn recorded_of(m: OwnedMessage, config: &Config) -> (Partition, Pending<Recorded>) {
    let ts_ms = parse_event(&m.payload, &config.input).ok().map(|e| e.ts_ms);
    let pending = Pending {
        offset: m.offset,
        kafka_ts_ms: m.kafka_ts_ms,
        item: Recorded {
            payload: m.payload,
            ts_ms,
        },
    };
    (m.at, pending)
}
