//! Rendering: every sentence a person reads about an alert, in one place. A detector's typed
//! [`Transition`] becomes an alert record here (id, times, rounded numbers, details and the
//! summary in the reader's language), and notifications get their frames (Slack, Teams,
//! Alertmanager, plain webhook) from [`frames`]. The language is a display setting
//! (`alerts.language`); no detector knows it.

pub mod frames;
pub mod summary;
pub mod words;

use crate::alert::model::fingerprint;
use crate::alert::{Alert, Details};
use crate::config::Language;
use crate::detect::Transition;
use crate::event::format_ts;

pub use frames::Notice;

/// Turns transitions into alert records in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Renderer {
    pub language: Language,
}

impl Renderer {
    pub fn new(language: Language) -> Self {
        Self { language }
    }

    /// The alert record of a transition on `topic`.
    pub fn alert(&self, topic: &str, t: Transition) -> Alert {
        let mut measured = t.evidence.measured();
        let drivers = summary::drivers(&t.themes, self.language);
        match &mut measured.details {
            Details::Surge(d) => d.themes = t.themes,
            Details::Negativity(d) => d.themes = t.themes,
            Details::TrollBurst(_) | Details::Theme(_) => {}
        }
        // Themes are filed under their leading topic; the phrase tells two of them apart.
        let id = match &t.evidence {
            crate::detect::Evidence::Theme(e) => fingerprint(
                t.kind,
                &format!("{topic}\u{0}{}", e.details.phrase),
                t.started_ms,
            ),
            _ => fingerprint(t.kind, topic, t.started_ms),
        };
        Alert {
            incident: id.clone(),
            id,
            kind: t.kind,
            status: t.status,
            severity: t.severity,
            topic: topic.to_string(),
            at: format_ts(t.at_ms),
            started_at: format_ts(t.started_ms),
            value: measured.value,
            baseline: measured.baseline,
            threshold: measured.threshold,
            summary: summary::summary(topic, t.status, &t.evidence, self.language) + &drivers,
            details: measured.details,
            samples: t.samples,
            at_ms: t.at_ms,
        }
    }
}
