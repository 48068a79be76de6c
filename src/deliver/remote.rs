//! The remote sinks' transports, run by [`super::worker`]: an HTTP webhook (generic, Slack,
//! Teams bodies), Alertmanager's API v2, and a Kafka topic (key = alert id).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::Value;

use super::notify::Notice;
use super::worker::{Failure, Transport};
use crate::alert::{Alert, AlertStatus};
use crate::config::{KafkaConfig, WebhookFormat};
use crate::render::frames as format;
use crate::render::Locale;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);
/// Alertmanager: firing alerts are sent again this often, and each send keeps them active
/// for `AM_KEEP`: a receiver that restarted, or lost them, has them back within a minute.
const AM_RESEND: Duration = Duration::from_secs(60);
const AM_KEEP: Duration = Duration::from_secs(5 * 60);

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .build(),
        )
        .user_agent(concat!("ondata/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// POSTs JSON; 2xx is delivered, 408/429/5xx and network errors are retried, other 4xx are
/// the receiver refusing this body for good.
/// Messages name the receiver by `shown` (scheme, host and port), never by the URL, which
/// may carry a key.
fn post(agent: &ureq::Agent, url: &str, shown: &str, body: &Value) -> Result<(), Failure> {
    let text = body.to_string();
    match agent
        .post(url)
        .header("content-type", "application/json")
        .send(text.as_bytes())
    {
        Ok(mut r) => {
            let status = r.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(());
            }
            let detail: String = r
                .body_mut()
                .read_to_string()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            let detail = crate::secret::scrub(detail.trim(), url, shown);
            let reason = format!("{shown} answered {status}: {detail}");
            if status == 408 || status == 429 || status >= 500 {
                Err(Failure::retry(reason))
            } else {
                Err(Failure::permanent(reason))
            }
        }
        Err(e) => Err(Failure::retry(format!(
            "{shown}: {}",
            crate::secret::scrub(&e.to_string(), url, shown)
        ))),
    }
}

pub struct Webhook {
    agent: ureq::Agent,
    url: String,
    shown: String,
    format: WebhookFormat,
    locale: Locale,
}

impl Webhook {
    pub fn new(url: &str, format: WebhookFormat, timeout: Duration) -> Self {
        Self {
            agent: agent(timeout),
            url: url.to_string(),
            shown: crate::secret::shown_url(url),
            format,
            locale: Locale::default(),
        }
    }

    /// Writes headlines and frames in the locale's language, times in its zone.
    pub fn locale(mut self, locale: impl Into<Locale>) -> Self {
        self.locale = locale.into();
        self
    }

    pub fn body(format: WebhookFormat, locale: impl Into<Locale>, notice: &Notice) -> Value {
        let locale = locale.into();
        match format {
            WebhookFormat::Generic => format::notice_generic(notice, locale),
            WebhookFormat::Slack => format::notice_slack(notice, locale),
            WebhookFormat::Teams => format::notice_teams(notice, locale),
        }
    }
}

impl Transport for Webhook {
    fn deliver(&mut self, notice: &Notice) -> Result<(), Failure> {
        post(
            &self.agent,
            &self.url,
            &self.shown,
            &Self::body(self.format, self.locale, notice),
        )
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Alertmanager API v2. Firing alerts are remembered and re-sent every `AM_RESEND`, so
/// Alertmanager keeps them active however long the episode lasts; a resolved record ends
/// them.
pub struct Alertmanager {
    agent: ureq::Agent,
    locale: Locale,
    endpoint: String,
    shown: String,
    firing: BTreeMap<String, Alert>,
    last_resend: Instant,
    /// Post the firing set at the next tick.
    resend_now: bool,
}

impl Alertmanager {
    pub fn new(url: &str, timeout: Duration) -> Self {
        Self {
            agent: agent(timeout),
            locale: Locale::default(),
            endpoint: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
            shown: crate::secret::shown_url(url),
            firing: BTreeMap::new(),
            last_resend: Instant::now(),
            resend_now: false,
        }
    }
}

impl Alertmanager {
    /// Writes overflow summaries in the locale's language, times in its zone.
    pub fn locale(mut self, locale: impl Into<Locale>) -> Self {
        self.locale = locale.into();
        self
    }
}

impl Transport for Alertmanager {
    fn deliver(&mut self, notice: &Notice) -> Result<(), Failure> {
        let (now, keep) = (wall_ms(), AM_KEEP.as_millis() as i64);
        if let Notice::Overflow { .. } = notice {
            let body = format::alertmanager_overflow(notice, self.locale, now, keep);
            return post(
                &self.agent,
                &self.endpoint,
                &self.shown,
                &Value::Array(vec![body]),
            );
        }
        // Alertmanager groups by itself: a group's alerts go in one request.
        let mut batch = Vec::new();
        for alert in notice.alerts() {
            // Severity is a label (for routing), so an escalated episode is another alert
            // in Alertmanager: the one under the earlier severity ends with it.
            if let Some(previous) = self.firing.get(&alert.id) {
                if previous.severity != alert.severity {
                    let mut ended = previous.clone();
                    ended.status = AlertStatus::Resolved;
                    batch.push(format::alertmanager(&ended, now, keep));
                }
            }
            batch.push(format::alertmanager(alert, now, keep));
        }
        post(
            &self.agent,
            &self.endpoint,
            &self.shown,
            &Value::Array(batch),
        )?;
        for alert in notice.alerts() {
            match alert.status {
                AlertStatus::Firing => self.firing.insert(alert.id.clone(), alert.clone()),
                AlertStatus::Resolved => self.firing.remove(&alert.id),
            };
        }
        Ok(())
    }

    /// Takes the firing set as its own: posted at the next tick (within a second), so a
    /// restarted ondata keeps Alertmanager's alerts active, and episodes this process no
    /// longer owns are no longer re-posted (their new owner posts them).
    fn firing_set(&mut self, firing: &[Alert]) {
        self.firing = firing.iter().map(|a| (a.id.clone(), a.clone())).collect();
        self.resend_now = true;
    }

    fn tick(&mut self) -> Result<(), Failure> {
        let due = std::mem::take(&mut self.resend_now) || self.last_resend.elapsed() >= AM_RESEND;
        if self.firing.is_empty() || !due {
            return Ok(());
        }
        self.last_resend = Instant::now();
        let now = wall_ms();
        let body: Vec<Value> = self
            .firing
            .values()
            .map(|a| format::alertmanager(a, now, AM_KEEP.as_millis() as i64))
            .collect();
        post(
            &self.agent,
            &self.endpoint,
            &self.shown,
            &Value::Array(body),
        )
    }
}

/// A Kafka topic: one message per alert record, key = alert id (so an episode's records stay
/// in order on one partition), value = the alert record.
pub struct KafkaAlerts {
    producer: ThreadedProducer<DefaultProducerContext>,
    topic: String,
    timeout: Duration,
}

impl KafkaAlerts {
    pub fn new(kafka: &KafkaConfig, topic: &str) -> crate::error::Result<Self> {
        let mut cfg = crate::source::kafka::producer_config(kafka)?;
        cfg.set("enable.idempotence", "true");
        Ok(Self {
            producer: cfg.create()?,
            topic: topic.to_string(),
            timeout: Duration::from_secs(10),
        })
    }
}

impl Transport for KafkaAlerts {
    /// Kafka sinks record every alert: they get plain alerts only (no noise control).
    fn deliver(&mut self, notice: &Notice) -> Result<(), Failure> {
        for alert in notice.alerts() {
            self.send(alert)?;
        }
        Ok(())
    }
}

impl KafkaAlerts {
    fn send(&mut self, alert: &Alert) -> Result<(), Failure> {
        let value = alert.to_json_line();
        let record = BaseRecord::to(&self.topic)
            .key(alert.id.as_bytes())
            .payload(value.as_bytes());
        self.producer
            .send(record)
            .map_err(|(e, _)| Failure::retry(format!("kafka topic {}: {e}", self.topic)))?;
        // Alerts are few: wait for the broker's acknowledgement, so "delivered" means it.
        // A message already queued is never sent again (that would duplicate it): if the
        // broker stays silent, librdkafka keeps retrying it up to `message.timeout.ms`.
        let mut last = None;
        for _ in 0..3 {
            match self.producer.flush(self.timeout) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(Failure::permanent(format!(
            "kafka topic {}: not acknowledged yet ({}); librdkafka keeps retrying it",
            self.topic,
            last.map_or_else(String::new, |e| e.to_string())
        )))
    }
}
