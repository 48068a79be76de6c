//! The engine's side of emerging themes: each topic's table is closed with its buckets, a
//! surge or negativity record names the themes of its topic, and phrases emerging on several
//! topics become `theme` alerts ([`crate::detect::theme`]).

use super::{Engine, Topic};
use crate::alert::model::ThemeShare;
use crate::alert::{Alert, AlertKind, AlertStatus};
use crate::config::ThemeConfig;
use crate::detect::stats::round_to;
use crate::detect::theme::cross::{CrossThemes, TopicTransition};
use crate::detect::theme::ThemeSettings;
use crate::detect::Transition;

/// Settings and the cross-topic episodes.
pub(super) struct Themes {
    pub(super) settings: ThemeSettings,
    config: ThemeConfig,
    pub(super) cross: CrossThemes,
    scratch: Vec<TopicTransition>,
}

impl Themes {
    pub(super) fn new(config: &ThemeConfig, bucket_ms: i64) -> Self {
        Self {
            settings: ThemeSettings::new(config, bucket_ms),
            config: config.clone(),
            cross: CrossThemes::default(),
            scratch: Vec::new(),
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.settings.enabled
    }
}

/// Closes a topic's theme table with its bucket, before its detectors judge it.
pub(super) fn close_topic(themes: &Themes, t: &mut Topic) {
    if themes.enabled() {
        t.themes.on_close(&themes.settings);
    }
}

/// Names the topic's themes in its surge and negativity firing records.
pub(super) fn name_drivers(themes: &Themes, t: &Topic, transitions: &mut [Transition]) {
    if !themes.enabled() {
        return;
    }
    let mut named: Option<Vec<ThemeShare>> = None;
    for tr in transitions.iter_mut().filter(|tr| {
        tr.status == AlertStatus::Firing
            && matches!(tr.kind, AlertKind::Surge | AlertKind::Negativity)
    }) {
        tr.themes = named
            .get_or_insert_with(|| {
                t.themes
                    .named()
                    .into_iter()
                    .map(|e| ThemeShare {
                        phrase: e.phrase,
                        share: round_to(e.share, 3),
                        lift: round_to(e.lift, 1),
                    })
                    .collect()
            })
            .clone();
    }
}

impl Engine {
    /// After every topic closed the bucket ending at `end_ms`: the phrases spreading over
    /// several of the events' own topics.
    pub(super) fn judge_themes(&mut self, end_ms: i64, alerts: &mut Vec<Alert>) {
        let th = &mut self.themes;
        if !th.enabled() {
            return;
        }
        // Over the events' own topics: a keyword rule's topic holds comments of the others,
        // and one question asked on one topic would otherwise be on two.
        let (first_dynamic, other) = (self.first_dynamic, self.other);
        let topics = self
            .topics
            .iter()
            .enumerate()
            .filter(|(i, _)| *i >= first_dynamic || *i == other)
            .map(|(_, t)| (t.name.as_str(), t.themes.emerging()));
        let mut out = std::mem::take(&mut th.scratch);
        th.cross.judge(&th.config, end_ms, topics, &mut out);
        for TopicTransition { topic, transition } in out.drain(..) {
            let alert = self.renderer.alert(&topic, transition);
            let status = alert.status.as_str();
            *self.stats.alerts.entry((alert.kind, status)).or_default() += 1;
            alerts.push(alert);
        }
        self.themes.scratch = out;
    }
}
