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
use crate::config::{Config, Language, Zone};
use crate::detect::Transition;
use crate::event::format_ts;

pub use frames::Notice;

/// How a person reads: the language and the time zone of every sentence and time shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Locale {
    pub language: Language,
    pub zone: Zone,
}

impl From<Language> for Locale {
    /// That language, times in UTC.
    fn from(language: Language) -> Self {
        Locale {
            language,
            zone: Zone::default(),
        }
    }
}

/// Turns transitions into alert records in one language and time zone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Renderer {
    pub language: Language,
    pub zone: Zone,
    /// `http.public_url`, without its trailing slash; empty for no links.
    public_url: String,
}

impl Renderer {
    pub fn new(language: Language) -> Self {
        Self {
            language,
            ..Self::default()
        }
    }

    /// The renderer the configuration asks for: its language, zone and public address.
    pub fn from_config(config: &Config) -> Self {
        Self {
            language: config.alerts.language,
            zone: config.display.zone(),
            public_url: config.http.public_url.trim().to_string(),
        }
    }

    /// Where to read summaries and notifications: language and zone.
    pub fn locale(&self) -> Locale {
        Locale {
            language: self.language,
            zone: self.zone,
        }
    }

    /// The alert record of a transition on `topic`.
    pub fn alert(&self, topic: &str, t: Transition) -> Alert {
        let mut measured = t.evidence.measured();
        let drivers = summary::drivers(&t.themes, self.language);
        match &mut measured.details {
            Details::Surge(d) => d.themes = t.themes,
            Details::Negativity(d) => d.themes = t.themes,
            Details::TrollBurst(_) | Details::Theme(_) | Details::Coordination(_) => {}
        }
        // Themes are filed under their leading topic; the phrase tells two of them apart.
        let id = match &t.evidence {
            crate::detect::Evidence::Theme(e) => fingerprint(
                t.kind,
                &format!("{topic}\u{0}{}", e.details.phrase),
                t.started_ms,
            ),
            // One episode per flooded tag.
            crate::detect::Evidence::Coordination(e) => fingerprint(
                t.kind,
                &format!("{topic}\u{0}{}", e.details.tag),
                t.started_ms,
            ),
            _ => fingerprint(t.kind, topic, t.started_ms),
        };
        let url = crate::config::HttpConfig::link(&self.public_url, &id);
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
            summary: summary::summary(topic, t.status, &t.evidence, self.locale()) + &drivers,
            details: measured.details,
            samples: t.samples,
            url,
            at_ms: t.at_ms,
        }
    }
}
