//! Incidents: on one topic, alert episodes that overlap in time are one incident, named by
//! the id of its first alert. A troll campaign raises a troll burst, and its messages a surge
//! and a negativity shift on the same topic within minutes: three episodes, one cause, one
//! incident. The incident ends when its last open episode resolves; the next episode on the
//! topic starts a new one.

use crate::alert::{Alert, AlertStatus};
use serde::{Deserialize, Serialize};

/// The open incident of one topic, if any.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TopicIncident {
    id: Option<String>,
    /// Ids of its episodes still firing.
    open: Vec<String>,
}

impl TopicIncident {
    /// Sets `alert.incident`, and follows the episodes it opens and closes.
    pub fn assign(&mut self, alert: &mut Alert) {
        match alert.status {
            AlertStatus::Firing => {
                let id = self.id.get_or_insert_with(|| alert.id.clone());
                alert.incident.clone_from(id);
                if !self.open.contains(&alert.id) {
                    self.open.push(alert.id.clone());
                }
            }
            AlertStatus::Resolved => {
                let Some(at) = self.open.iter().position(|o| *o == alert.id) else {
                    return; // an episode from before a reset: its own incident
                };
                self.open.swap_remove(at);
                if let Some(id) = &self.id {
                    alert.incident.clone_from(id);
                }
                if self.open.is_empty() {
                    self.id = None;
                }
            }
        }
    }

    /// Forgets the open incident (the detectors were reset after a gap in the data).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertKind, Severity};

    fn alert(id: &str, kind: AlertKind, status: AlertStatus) -> Alert {
        let mut a = Alert::example(id, "t", status, Severity::Warning, 0);
        a.kind = kind;
        a
    }

    #[test]
    fn overlapping_episodes_share_the_first_ones_incident_until_the_last_resolves() {
        let mut t = TopicIncident::default();
        let mut seen = Vec::new();
        for (id, kind, status) in [
            ("troll", AlertKind::TrollBurst, AlertStatus::Firing),
            ("surge", AlertKind::Surge, AlertStatus::Firing),
            ("troll", AlertKind::TrollBurst, AlertStatus::Resolved),
            ("neg", AlertKind::Negativity, AlertStatus::Firing),
            ("surge", AlertKind::Surge, AlertStatus::Firing), // an escalation
            ("surge", AlertKind::Surge, AlertStatus::Resolved),
            ("neg", AlertKind::Negativity, AlertStatus::Resolved),
            // Later, alone: a new incident.
            ("later", AlertKind::Surge, AlertStatus::Firing),
            ("later", AlertKind::Surge, AlertStatus::Resolved),
        ] {
            let mut a = alert(id, kind, status);
            t.assign(&mut a);
            seen.push(a.incident);
        }
        assert_eq!(
            seen,
            ["troll", "troll", "troll", "troll", "troll", "troll", "troll", "later", "later"]
        );
    }

    #[test]
    fn a_resolution_without_its_firing_record_keeps_its_own_id() {
        let mut t = TopicIncident::default();
        let mut a = alert("x", AlertKind::Surge, AlertStatus::Resolved);
        t.assign(&mut a);
        assert_eq!(a.incident, "x");
    }
}
