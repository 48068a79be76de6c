//! Silences: "don't notify us about this kind / topic until then". A silenced alert is still
//! recorded (file, kafka and stdout sinks, metrics, the status page); webhook and
//! Alertmanager sinks skip it. Silences are kept in `silences.json` in the outbox directory,
//! so they outlive a restart, and each one needs an expiry.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::clock::Clock;
use crate::alert::Alert;
use crate::event::{format_ts, parse_time_arg};

/// Longest a silence may last.
pub const MAX_SILENCE_MINS: i64 = 30 * 24 * 60;
/// Expired silences stay listed this long, then go.
const KEEP_EXPIRED_MS: i64 = 24 * 3_600_000;
const KINDS: [&str; 5] = crate::alert::AlertKind::NAMES;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    /// Alert kind it matches; absent: any kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Topic it matches; absent: any topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub author: String,
    pub comment: String,
    pub created_at: String,
    pub expires_at: String,
    #[serde(skip)]
    expires_ms: i64,
}

impl Silence {
    pub fn matches(&self, alert: &Alert) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| k == alert.kind.as_str())
            && self.topic.as_deref().is_none_or(|t| t == alert.topic)
    }

    pub fn active_at(&self, now_ms: i64) -> bool {
        now_ms < self.expires_ms
    }
}

/// The body of `POST /api/silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub kind: Option<String>,
    pub topic: Option<String>,
    pub author: Option<String>,
    pub comment: Option<String>,
    /// RFC 3339 time it ends, or ...
    pub expires_at: Option<String>,
    /// ... minutes from now.
    pub duration_mins: Option<i64>,
}

pub struct Silences {
    clock: Clock,
    path: Option<PathBuf>,
    list: Mutex<Vec<Silence>>,
}

fn text(field: &str, value: Option<String>, max: usize) -> Result<String, String> {
    let value = value.unwrap_or_default();
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("`{field}` is required"));
    }
    if value.chars().count() > max {
        return Err(format!("`{field}` is longer than {max} characters"));
    }
    Ok(value.to_string())
}

impl Silences {
    /// Silences kept in memory only (tests, replay).
    pub fn in_memory(clock: Clock) -> Self {
        Self {
            clock,
            path: None,
            list: Mutex::new(Vec::new()),
        }
    }

    /// Silences kept in `dir/silences.json`, loading what an earlier process left there. A file
    /// that cannot be read is reported and set aside, never fatal.
    pub fn open(dir: &std::path::Path, clock: Clock) -> Self {
        let path = dir.join("silences.json");
        let mut list: Vec<Silence> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::error!(
                    "{}: cannot read silences ({e}); starting with none",
                    path.display()
                );
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        list.retain_mut(|s| match parse_time_arg(&s.expires_at) {
            Ok(ms) => {
                s.expires_ms = ms;
                true
            }
            Err(_) => false,
        });
        Self {
            clock,
            path: Some(path),
            list: Mutex::new(list),
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Silence>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the list (temporary file, then rename: a crash leaves the old or the new one).
    fn save(&self, list: &[Silence]) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(list)?)?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| format!("cannot save silences to {}: {e}", path.display()))
    }

    /// Checks and adds a silence; the error is a one-line reason for the requester.
    pub fn add(&self, req: NewSilence) -> Result<Silence, String> {
        let now = self.clock.now_ms();
        let kind = req
            .kind
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        if let Some(k) = &kind {
            if !KINDS.contains(&k.as_str()) {
                return Err(format!("unknown kind `{k}` (one of {})", KINDS.join(", ")));
            }
        }
        let topic = req
            .topic
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        if topic.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err("`topic` is longer than 200 characters".into());
        }
        if kind.is_none() && topic.is_none() {
            return Err("give `kind`, `topic` or both: a silence must say what it matches".into());
        }
        let author = text("author", req.author, 200)?;
        let comment = text("comment", req.comment, 1000)?;
        let expires_ms = match (req.expires_at, req.duration_mins) {
            (Some(_), Some(_)) => {
                return Err("give `expires_at` or `duration_mins`, not both".into())
            }
            (None, None) => {
                return Err(
                    "an expiry is required: `expires_at` (RFC 3339) or `duration_mins`".into(),
                )
            }
            (Some(at), None) => {
                parse_time_arg(&at).map_err(|e| format!("`expires_at` = \"{at}\": {e}"))?
            }
            (None, Some(mins)) if (1..=MAX_SILENCE_MINS).contains(&mins) => now + mins * 60_000,
            (None, Some(mins)) => {
                return Err(format!(
                    "`duration_mins` must be from 1 to {MAX_SILENCE_MINS}, not {mins}"
                ))
            }
        };
        if expires_ms <= now {
            return Err(format!(
                "`expires_at` {} is not in the future (now {})",
                format_ts(expires_ms),
                format_ts(now)
            ));
        }
        if expires_ms - now > MAX_SILENCE_MINS * 60_000 {
            return Err("a silence lasts at most 30 days".into());
        }
        let mut list = self.lock();
        let id = {
            let seed = format!("{now}\0{author}\0{comment}\0{}", list.len());
            crate::alert::model::fingerprint(crate::alert::AlertKind::Surge, &seed, now)
        };
        let silence = Silence {
            id,
            kind,
            topic,
            author,
            comment,
            created_at: format_ts(now),
            expires_at: format_ts(expires_ms),
            expires_ms,
        };
        list.retain(|s| now - s.expires_ms < KEEP_EXPIRED_MS);
        list.push(silence.clone());
        self.save(&list)?;
        Ok(silence)
    }

    /// Every silence, active ones first, each with its state (`active` or `expired`).
    pub fn list(&self) -> Vec<(Silence, bool)> {
        let now = self.clock.now_ms();
        let mut out: Vec<(Silence, bool)> = self
            .lock()
            .iter()
            .filter(|s| now - s.expires_ms < KEEP_EXPIRED_MS)
            .map(|s| (s.clone(), s.active_at(now)))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.expires_ms.cmp(&b.0.expires_ms)));
        out
    }

    /// Removes a silence; false if there is none with that id.
    pub fn remove(&self, id: &str) -> Result<bool, String> {
        let mut list = self.lock();
        let before = list.len();
        list.retain(|s| s.id != id);
        if list.len() == before {
            return Ok(false);
        }
        self.save(&list)?;
        Ok(true)
    }

    /// The id of an active silence that matches the alert.
    pub fn silencing(&self, alert: &Alert) -> Option<String> {
        let now = self.clock.now_ms();
        self.lock()
            .iter()
            .find(|s| s.active_at(now) && s.matches(alert))
            .map(|s| s.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req(kind: Option<&str>, topic: Option<&str>, mins: Option<i64>) -> NewSilence {
        NewSilence {
            kind: kind.map(String::from),
            topic: topic.map(String::from),
            author: Some("Giulia".into()),
            comment: Some("known issue, statement out".into()),
            expires_at: None,
            duration_mins: mins,
        }
    }

    #[test]
    fn requests_are_checked_with_reasons() {
        let s = Silences::in_memory(Clock::manual(1_700_000_000_000));
        let e = s.add(req(Some("surge"), None, None)).unwrap_err();
        assert!(e.contains("expiry is required"), "{e}");
        let e = s.add(req(None, None, Some(10))).unwrap_err();
        assert!(e.contains("kind"), "{e}");
        let e = s.add(req(Some("flood"), None, Some(10))).unwrap_err();
        assert!(e.contains("unknown kind"), "{e}");
        let e = s.add(req(Some("surge"), None, Some(0))).unwrap_err();
        assert!(e.contains("duration_mins"), "{e}");
        let mut past = req(Some("surge"), None, None);
        past.expires_at = Some("2020-01-01T00:00:00Z".into());
        assert!(s.add(past).unwrap_err().contains("not in the future"));
        let mut anon = req(Some("surge"), None, Some(5));
        anon.author = Some("  ".into());
        assert!(s.add(anon).unwrap_err().contains("`author` is required"));
        assert!(s.list().is_empty(), "nothing added by a refused request");
    }

    #[test]
    fn a_silence_matches_until_it_expires_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(1_700_000_000_000);
        let silences = Silences::open(dir.path(), clock.clone());
        let made = silences
            .add(req(Some("negativity"), Some("bonus-600"), Some(30)))
            .unwrap();
        let mut alert = Alert::example(
            "a1",
            "x",
            crate::alert::AlertStatus::Firing,
            crate::alert::Severity::Warning,
            0,
        );
        alert.kind = crate::alert::AlertKind::Negativity;
        alert.topic = "bonus-600".into();
        assert_eq!(silences.silencing(&alert), Some(made.id.clone()));
        alert.topic = "pensioni".into();
        assert_eq!(silences.silencing(&alert), None, "another topic");
        alert.topic = "bonus-600".into();
        let reopened = Silences::open(dir.path(), clock.clone());
        assert_eq!(reopened.list().len(), 1, "kept across a restart");
        clock.advance(Duration::from_secs(29 * 60));
        assert!(reopened.silencing(&alert).is_some());
        clock.advance(Duration::from_secs(60));
        assert_eq!(reopened.silencing(&alert), None, "expired at 30 min");
        assert_eq!(reopened.list(), vec![(made.clone(), false)]);
        assert!(reopened.remove(&made.id).unwrap());
        assert!(!reopened.remove(&made.id).unwrap());
        assert!(Silences::open(dir.path(), clock).list().is_empty());
    }
}
