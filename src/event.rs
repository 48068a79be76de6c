//! A comment event (`docs/events-and-alerts.md`): parsing, validation and rejection reasons.
//!
//! Parsing borrows from the input line wherever the JSON has no escapes, so the common case
//! allocates nothing. Anything wrong with a line becomes a [`Rejection`] with a stable
//! `reason` (used as a metric label and in the dead letter) and a human `detail`.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SecondsFormat};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::config::InputConfig;

/// Event times outside [2000-01-01, 2100-01-01) are rejected: they are almost always epoch
/// seconds sent as milliseconds, or a broken clock.
const MIN_TS_MS: i64 = 946_684_800_000;
const MAX_TS_MS: i64 = 4_102_444_800_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<'a> {
    /// Event time, epoch milliseconds UTC.
    pub ts_ms: i64,
    pub text: Cow<'a, str>,
    pub author: Cow<'a, str>,
    pub topic: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub channel: Option<Cow<'a, str>>,
    pub lang: Option<Cow<'a, str>>,
    /// An upstream classifier's score in [-1, 1]; overrides the lexicon.
    pub sentiment: Option<f64>,
}

impl Event<'_> {
    pub fn into_owned(self) -> Event<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        Event {
            ts_ms: self.ts_ms,
            text: own(self.text),
            author: own(self.author),
            topic: self.topic.map(own),
            id: self.id.map(own),
            channel: self.channel.map(own),
            lang: self.lang.map(own),
            sentiment: self.sentiment,
        }
    }

    /// The event as one JSON line in the input format (for a dead letter of an event that
    /// was parsed but not taken).
    pub fn to_json_line(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("ts".into(), self.ts_ms.into());
        m.insert("text".into(), self.text.as_ref().into());
        m.insert("author".into(), self.author.as_ref().into());
        for (k, v) in [
            ("topic", &self.topic),
            ("id", &self.id),
            ("channel", &self.channel),
            ("lang", &self.lang),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.as_ref().into());
            }
        }
        if let Some(s) = self.sentiment {
            m.insert("sentiment".into(), s.into());
        }
        serde_json::Value::Object(m).to_string()
    }

    /// Copies this event into `slot`, reusing the strings `slot` already owns: filling the
    /// same slots event after event allocates only while they grow.
    pub fn copy_into(&self, slot: &mut Event<'static>) {
        fn set(dst: &mut Cow<'static, str>, src: &str) {
            match dst {
                Cow::Owned(s) => {
                    s.clear();
                    s.push_str(src);
                }
                Cow::Borrowed(_) => *dst = Cow::Owned(src.to_owned()),
            }
        }
        fn set_opt(dst: &mut Option<Cow<'static, str>>, src: &Option<Cow<'_, str>>) {
            match (dst.as_mut(), src) {
                (Some(d), Some(s)) => set(d, s),
                (None, Some(s)) => *dst = Some(Cow::Owned(s.to_string())),
                (_, None) => *dst = None,
            }
        }
        slot.ts_ms = self.ts_ms;
        set(&mut slot.text, &self.text);
        set(&mut slot.author, &self.author);
        set_opt(&mut slot.topic, &self.topic);
        set_opt(&mut slot.id, &self.id);
        set_opt(&mut slot.channel, &self.channel);
        set_opt(&mut slot.lang, &self.lang);
        slot.sentiment = self.sentiment;
    }
}

/// Why an input line was not accepted. The string forms are metric label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    NotUtf8,
    NotJson,
    MissingField,
    BadField,
    BadTs,
    TextTooLong,
    LineTooLong,
    FieldTooLong,
    /// Stamped further ahead of the stream (or the wall clock, live) than
    /// `input.max_ahead_secs`.
    TsAhead,
    /// An id already seen on the same channel (and input file, in a replay).
    Duplicate,
    /// Older than the watermark when it came: its minute had closed.
    Late,
}

impl RejectReason {
    pub const ALL: [RejectReason; 11] = [
        RejectReason::NotUtf8,
        RejectReason::NotJson,
        RejectReason::MissingField,
        RejectReason::BadField,
        RejectReason::BadTs,
        RejectReason::TextTooLong,
        RejectReason::LineTooLong,
        RejectReason::FieldTooLong,
        RejectReason::TsAhead,
        RejectReason::Duplicate,
        RejectReason::Late,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotUtf8 => "not_utf8",
            RejectReason::NotJson => "not_json",
            RejectReason::MissingField => "missing_field",
            RejectReason::BadField => "bad_field",
            RejectReason::BadTs => "bad_ts",
            RejectReason::TextTooLong => "text_too_long",
            RejectReason::LineTooLong => "line_too_long",
            RejectReason::FieldTooLong => "field_too_long",
            RejectReason::TsAhead => "ts_ahead",
            RejectReason::Duplicate => "duplicate",
            RejectReason::Late => "late",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: RejectReason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// `ts` as it arrives: either form is accepted, and a bad value is kept as a message rather
/// than failing the whole parse, so it is reported as `bad_ts` and not as a generic error.
struct TsField(Result<i64, String>);

impl<'de> Deserialize<'de> for TsField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TsVisitor;
        impl Visitor<'_> for TsVisitor {
            type Value = TsField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 string or integer epoch milliseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TsField, E> {
                Ok(TsField(parse_rfc3339_ms(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TsField, E> {
                Ok(TsField(Ok(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TsField, E> {
                Ok(TsField(
                    i64::try_from(v).map_err(|_| format!("{v} is out of range")),
                ))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TsField, E> {
                Ok(TsField(Err(format!(
                    "{v} is not an integer number of milliseconds"
                ))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<TsField, E> {
                Ok(TsField(Err(format!("{v} is not a time"))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<TsField, E> {
                Ok(TsField(Err("null is not a time".into())))
            }
        }
        d.deserialize_any(TsVisitor)
    }
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    ts: TsField,
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow)]
    author: Cow<'a, str>,
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    lang: Option<Cow<'a, str>>,
    #[serde(default)]
    sentiment: Option<f64>,
}

fn parse_rfc3339_ms(s: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("`{}` is not RFC 3339 ({e})", truncate_for_message(s)))
}

fn truncate_for_message(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Parses one input line (without its newline) into an event, or says why not.
pub fn parse_event<'a>(line: &'a [u8], limits: &InputConfig) -> Result<Event<'a>, Rejection> {
    if line.len() > limits.max_line_bytes {
        return Err(Rejection::new(
            RejectReason::LineTooLong,
            format!(
                "line of {} bytes exceeds input.max_line_bytes = {}",
                line.len(),
                limits.max_line_bytes
            ),
        ));
    }
    // A byte-order mark (an export from a spreadsheet or Windows tool) is not part of the data.
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|e| {
        Rejection::new(
            RejectReason::NotUtf8,
            format!(
                "invalid UTF-8 at byte {} (a Windows-1252 or Latin-1 export? replay it with \
                 --encoding latin1; the line's bytes are kept in line_base64)",
                e.valid_up_to()
            ),
        )
    })?;
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return Err(Rejection::new(
            RejectReason::NotJson,
            "expected a JSON object",
        ));
    }
    let raw: RawEvent<'a> = serde_json::from_str(text).map_err(|e| classify_json_error(text, e))?;
    let ts_ms = raw
        .ts
        .0
        .map_err(|m| Rejection::new(RejectReason::BadTs, format!("ts: {m}")))?;
    if !(MIN_TS_MS..MAX_TS_MS).contains(&ts_ms) {
        let hint = if (MIN_TS_MS / 1000..MAX_TS_MS / 1000).contains(&ts_ms) {
            " (looks like epoch seconds; ts must be milliseconds)"
        } else {
            ""
        };
        return Err(Rejection::new(
            RejectReason::BadTs,
            format!("ts {ts_ms} is outside 2000-01-01..2100-01-01{hint}"),
        ));
    }
    if raw.text.len() > limits.max_text_bytes {
        return Err(Rejection::new(
            RejectReason::TextTooLong,
            format!(
                "text of {} bytes exceeds input.max_text_bytes = {}",
                raw.text.len(),
                limits.max_text_bytes
            ),
        ));
    }
    for (name, value) in [
        ("author", Some(&raw.author)),
        ("topic", raw.topic.as_ref()),
        ("id", raw.id.as_ref()),
        ("channel", raw.channel.as_ref()),
        ("lang", raw.lang.as_ref()),
    ] {
        if let Some(v) = value.filter(|v| v.len() > limits.max_field_bytes) {
            return Err(Rejection::new(
                RejectReason::FieldTooLong,
                format!(
                    "{name} of {} bytes exceeds input.max_field_bytes = {}",
                    v.len(),
                    limits.max_field_bytes
                ),
            ));
        }
    }
    if raw.author.trim().is_empty() {
        return Err(Rejection::new(
            RejectReason::BadField,
            "author: must not be empty",
        ));
    }
    if let Some(s) = raw.sentiment {
        if !(-1.0..=1.0).contains(&s) {
            return Err(Rejection::new(
                RejectReason::BadField,
                format!("sentiment: {s} is outside [-1, 1]"),
            ));
        }
    }
    let non_empty = |v: Option<Cow<'a, str>>| v.filter(|s| !s.trim().is_empty());
    Ok(Event {
        ts_ms,
        text: raw.text,
        author: raw.author,
        topic: non_empty(raw.topic),
        id: non_empty(raw.id),
        channel: non_empty(raw.channel),
        lang: non_empty(raw.lang),
        sentiment: raw.sentiment,
    })
}

/// Turns a serde error into a reason. On the rare data-error path the line is parsed again
/// loosely so the message can name the offending field, which serde_json does not.
fn classify_json_error(text: &str, e: serde_json::Error) -> Rejection {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            Rejection::new(RejectReason::NotJson, format!("not valid JSON: {e}"))
        }
        Category::Data => {
            let msg = e.to_string();
            if msg.starts_with("missing field") {
                return Rejection::new(RejectReason::MissingField, msg);
            }
            let field = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
                .ok()
                .and_then(|m| {
                    let expect_str = ["text", "author", "topic", "id", "channel", "lang"];
                    expect_str
                        .iter()
                        .find(|k| m.get(**k).is_some_and(|v| !v.is_string() && !v.is_null()))
                        .map(|k| format!("{k}: must be a string"))
                        .or_else(|| {
                            m.get("sentiment")
                                .filter(|v| !v.is_number() && !v.is_null())
                                .map(|_| "sentiment: must be a number in [-1, 1]".to_string())
                        })
                        .or_else(|| {
                            m.get("ts")
                                .map(|_| "ts: must be a string or an integer".to_string())
                        })
                });
            let reason = if field.as_deref().is_some_and(|f| f.starts_with("ts")) {
                RejectReason::BadTs
            } else {
                RejectReason::BadField
            };
            Rejection::new(reason, field.unwrap_or(msg))
        }
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC (`2020-04-01T08:00:00Z`, with milliseconds
/// only when they are not zero).
pub fn format_ts(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// Parses a user-given time (RFC 3339 or epoch milliseconds), e.g. from the command line.
pub fn parse_time_arg(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(ms) => Ok(ms),
        Err(_) => parse_rfc3339_ms(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> InputConfig {
        InputConfig::default()
    }

    fn reason(line: &[u8]) -> RejectReason {
        parse_event(line, &limits()).unwrap_err().reason
    }

    #[test]
    fn accepts_rfc3339_and_epoch_millis() {
        let a = parse_event(
            br#"{"ts":"2020-04-01T08:00:00+02:00","text":"ciao","author":"a"}"#,
            &limits(),
        )
        .unwrap();
        let b = parse_event(
            br#"{"ts":1585720800000,"text":"ciao","author":"a"}"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(a.ts_ms, 1_585_720_800_000);
        assert_eq!(a.ts_ms, b.ts_ms);
    }

    #[test]
    fn borrows_unescaped_strings() {
        let line = br#"{"ts":1585720800000,"text":"il sito non funziona","author":"mario","topic":"sito"}"#;
        let e = parse_event(line, &limits()).unwrap();
        assert!(matches!(e.text, Cow::Borrowed(_)));
        assert_eq!(e.topic.as_deref(), Some("sito"));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let line = br#"{"ts":1585720800000,"text":"x","author":"a","likes":3,"extra":{"a":[1]}}"#;
        assert!(parse_event(line, &limits()).is_ok());
    }

    #[test]
    fn every_kind_of_bad_line_has_its_reason() {
        assert_eq!(reason(b"\xff\xfe{}"), RejectReason::NotUtf8);
        assert_eq!(reason(b"hello"), RejectReason::NotJson);
        assert_eq!(reason(b"{\"ts\":"), RejectReason::NotJson);
        assert_eq!(reason(b"[1,2]"), RejectReason::NotJson);
        assert_eq!(
            reason(br#"{"ts":1585720800000,"author":"a"}"#),
            RejectReason::MissingField
        );
        assert_eq!(
            reason(br#"{"ts":1585720800000,"text":5,"author":"a"}"#),
            RejectReason::BadField
        );
        assert_eq!(
            reason(br#"{"ts":1585720800000,"text":"x","author":""}"#),
            RejectReason::BadField
        );
        assert_eq!(
            reason(br#"{"ts":1585720800000,"text":"x","author":"a","sentiment":3}"#),
            RejectReason::BadField
        );
        assert_eq!(
            reason(br#"{"ts":"yesterday","text":"x","author":"a"}"#),
            RejectReason::BadTs
        );
        assert_eq!(
            reason(br#"{"ts":1585720800,"text":"x","author":"a"}"#),
            RejectReason::BadTs
        );
        assert_eq!(
            reason(br#"{"ts":{"a":1},"text":"x","author":"a"}"#),
            RejectReason::BadTs
        );
        assert_eq!(
            reason(br#"{"ts":null,"text":"x","author":"a"}"#),
            RejectReason::BadTs
        );
        let long = format!(
            r#"{{"ts":1585720800000,"text":"{}","author":"a"}}"#,
            "a".repeat(70_000)
        );
        assert_eq!(reason(long.as_bytes()), RejectReason::TextTooLong);
        let small = InputConfig {
            max_line_bytes: 100,
            max_text_bytes: 50,
            ..limits()
        };
        assert_eq!(
            parse_event(long.as_bytes(), &small).unwrap_err().reason,
            RejectReason::LineTooLong
        );
    }

    #[test]
    fn details_name_the_field() {
        let r =
            parse_event(br#"{"ts":1585720800000,"text":"x","author":7}"#, &limits()).unwrap_err();
        assert!(r.detail.contains("author"), "{}", r.detail);
        let r =
            parse_event(br#"{"ts":1585720800,"text":"x","author":"a"}"#, &limits()).unwrap_err();
        assert!(r.detail.contains("epoch seconds"), "{}", r.detail);
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_ts(1_585_720_800_000), "2020-04-01T06:00:00Z");
        assert_eq!(format_ts(1_585_720_800_123), "2020-04-01T06:00:00.123Z");
    }
}
