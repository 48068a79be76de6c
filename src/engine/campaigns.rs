//! Campaign memory: the accounts of every troll burst, kept for [`MEMORY_DAYS`] (at most
//! [`KEPT`] bursts, each a sketch of at most [`ACCOUNTS_KEPT`] account hashes: 2 KB), so a
//! burst whose accounts took part in an earlier campaign, on any topic, says which.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::alert::model::{fingerprint, EarlierCampaign};
use crate::alert::{AlertKind, AlertStatus};
use crate::detect::{Evidence, Transition};
use crate::event::format_ts;

/// How long a campaign's accounts are remembered.
pub const MEMORY_DAYS: i64 = 30;
/// Campaigns remembered at most (the oldest go first).
pub const KEPT: usize = 2_000;
/// A link needs this many shared accounts ...
const MIN_SHARED: usize = 5;
/// ... and this share of the smaller of the two sets of accounts.
const MIN_SHARE: f64 = 0.3;

#[derive(Debug, Serialize, Deserialize)]
struct Remembered {
    id: String,
    topic: String,
    started_ms: i64,
    representative: String,
    accounts: Vec<u32>,
    /// What its own first record said, for its escalation.
    linked: Option<Box<EarlierCampaign>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct CampaignMemory {
    kept: VecDeque<Remembered>,
}

impl CampaignMemory {
    /// Links the troll bursts firing on `topic` to earlier campaigns, and remembers them.
    pub(super) fn link(&mut self, topic: &str, transitions: &mut [Transition]) {
        for tr in transitions.iter_mut() {
            if tr.kind != AlertKind::TrollBurst || tr.status != AlertStatus::Firing {
                continue;
            }
            let Evidence::TrollBurst(e) = &mut tr.evidence else {
                continue;
            };
            let id = fingerprint(tr.kind, topic, tr.started_ms);
            if let Some(known) = self.kept.iter().find(|r| r.id == id) {
                e.details.earlier_campaign = known.linked.clone();
                continue;
            }
            let forget_before = tr.at_ms - MEMORY_DAYS * 86_400_000;
            while self
                .kept
                .front()
                .is_some_and(|r| r.started_ms < forget_before)
                || self.kept.len() >= KEPT
            {
                self.kept.pop_front();
            }
            let best = self
                .kept
                .iter()
                .map(|r| (shared(&r.accounts, &e.accounts), r))
                .filter(|(n, r)| {
                    let smaller = r.accounts.len().min(e.accounts.len()).max(1);
                    *n >= MIN_SHARED && *n as f64 >= MIN_SHARE * smaller as f64
                })
                .max_by_key(|(n, r)| (*n, r.started_ms));
            let linked = best.map(|(n, r)| {
                Box::new(EarlierCampaign {
                    id: r.id.clone(),
                    topic: r.topic.clone(),
                    started_at: format_ts(r.started_ms),
                    shared_accounts: n as u32,
                    accounts: e.details.distinct_authors,
                    representative: r.representative.clone(),
                })
            });
            e.details.earlier_campaign = linked.clone();
            self.kept.push_back(Remembered {
                id,
                topic: topic.to_string(),
                started_ms: tr.started_ms,
                representative: e.details.representative.chars().take(120).collect(),
                accounts: std::mem::take(&mut e.accounts),
                linked,
            });
        }
    }
}

/// Accounts in both sorted sketches.
fn shared(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::shared;

    #[test]
    fn shared_counts_the_accounts_in_both() {
        assert_eq!(shared(&[1, 3, 5, 7], &[2, 3, 4, 7, 9]), 2);
        assert_eq!(shared(&[], &[1]), 0);
        assert_eq!(shared(&[4, 5], &[4, 5]), 2);
    }
}
