//! Counts per 15-minute slot of each recent day: what the same time on earlier days looked
//! like, for the surge detector's expectation.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use super::{DAY_MS, SLOT_MS};
use crate::detect::stats::lower_median;

/// Counts per 15-minute slot of each recent day.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct DailyProfile {
    days: VecDeque<Day>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Day {
    day: i64,
    counts: Vec<u32>,
    /// Slots before this one were not (fully) observed.
    first_slot: usize,
}

impl DailyProfile {
    pub(super) fn add(
        &mut self,
        bucket_start_ms: i64,
        count: u32,
        first_seen_ms: i64,
        keep_days: usize,
    ) {
        let day = bucket_start_ms.div_euclid(DAY_MS);
        if self.days.back().is_none_or(|d| d.day != day) {
            let day_start = day * DAY_MS;
            let first_slot = if first_seen_ms <= day_start {
                0
            } else {
                ((first_seen_ms - day_start + SLOT_MS - 1) / SLOT_MS) as usize
            };
            self.days.push_back(Day {
                day,
                counts: vec![0; (DAY_MS / SLOT_MS) as usize],
                first_slot,
            });
            while self.days.len() > keep_days + 1 {
                self.days.pop_front();
            }
        }
        if let Some(d) = self.days.back_mut() {
            let slot = (bucket_start_ms.rem_euclid(DAY_MS) / SLOT_MS) as usize;
            d.counts[slot] = d.counts[slot].saturating_add(count);
        }
    }

    /// Expected count per bucket at `at_ms` from earlier days: for each earlier day the larger
    /// of this slot and the next (conservative on a rising or falling edge), then the lower
    /// median across the last `daily_days` days; and, once the same weekday is known from
    /// at least two earlier weeks, the lower median of those too if higher (a weekly rhythm:
    /// Monday mornings, a weekly programme).
    pub(super) fn expected_per_bucket(
        &self,
        at_ms: i64,
        bucket_ms: i64,
        daily_days: i64,
        weekly: bool,
    ) -> Option<f64> {
        let today = at_ms.div_euclid(DAY_MS);
        let slot = (at_ms.rem_euclid(DAY_MS) / SLOT_MS) as usize;
        let per_slot = (SLOT_MS / bucket_ms) as f64;
        let earlier = || {
            self.days
                .iter()
                .filter(move |d| d.day < today && slot >= d.first_slot)
        };
        let value = |d: &Day| {
            let next = d.counts.get(slot + 1).copied().unwrap_or(d.counts[slot]);
            f64::from(d.counts[slot].max(next)) / per_slot
        };
        let mut daily: Vec<f64> = earlier()
            .filter(|d| today - d.day <= daily_days)
            .map(value)
            .collect();
        let mut weekly: Vec<f64> = earlier()
            .filter(|d| weekly && (today - d.day) % 7 == 0)
            .map(value)
            .collect();
        let weekly = if weekly.len() >= 2 {
            lower_median(&mut weekly)
        } else {
            None
        };
        match (lower_median(&mut daily), weekly) {
            (Some(d), Some(w)) => Some(d.max(w)),
            (d, w) => d.or(w),
        }
    }
}
