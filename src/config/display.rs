//! What people see: where the HTTP server listens and the address they reach it at, and the
//! time zone every time shown to a person is written in (status page, report, notifications,
//! summaries). Alert records keep their times in UTC (RFC 3339): the zone is a display
//! setting, like the language.

use chrono::{DateTime, Datelike, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: String,
    /// The address people open the status page at (e.g. `"https://ondata.example.org"`), as
    /// seen from where they read notifications. When set, every alert record carries `url`,
    /// a link to its card on the status page. Empty: no links.
    pub public_url: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9898".into(),
            public_url: String::new(),
        }
    }
}

impl HttpConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_listen(&self.listen)?;
        let url = self.public_url.trim();
        let web = url.starts_with("http://") || url.starts_with("https://");
        if !url.is_empty() && (!web || url.contains(char::is_whitespace)) {
            return Err(invalid(
                "http.public_url",
                format!(
                    "`{url}` is not an http:// or https:// address; give the status page's address as people reach it, e.g. \"https://ondata.example.org\", or leave it empty for no links"
                ),
            ));
        }
        Ok(())
    }

    /// The link to an alert's card on the status page, if a public address is set.
    pub fn alert_url(&self, id: &str) -> Option<String> {
        Self::link(&self.public_url, id)
    }

    /// The link to alert `id`'s card on the status page at `public_url` (none if empty).
    pub fn link(public_url: &str, id: &str) -> Option<String> {
        let base = public_url.trim().trim_end_matches('/');
        (!base.is_empty()).then(|| format!("{base}/#alert-{id}"))
    }
}

/// `http.listen` as `run` will bind it: an address and a port, or a host name and a port.
fn check_listen(listen: &str) -> Result<(), ConfigError> {
    if listen.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let fix = "give an address and a port, e.g. \"127.0.0.1:9898\" or \"localhost:9898\"";
    match listen.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => match port.parse::<u16>() {
            Ok(_) => Ok(()),
            Err(_) => Err(invalid(
                "http.listen",
                format!("port `{port}` is not a port number (1-65535); {fix}"),
            )),
        },
        _ => Err(invalid(
            "http.listen",
            format!("`{listen}` has no port; {fix}"),
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// IANA time-zone name (e.g. `"Europe/Rome"`) for every time shown to a person; the
    /// zone's abbreviation is written beside each (`09:14 CEST`).
    pub timezone: String,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        Self {
            timezone: "UTC".into(),
        }
    }
}

impl DisplayConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        Zone::parse(&self.timezone).map(|_| ())
    }

    /// The configured zone (UTC if the name is unknown; [`validate`](Self::validate) refuses
    /// such a configuration first).
    pub fn zone(&self) -> Zone {
        Zone::parse(&self.timezone).unwrap_or_default()
    }
}

/// A time zone to show times in, with the IANA database built in (`chrono-tz`), so a
/// machine without `tzdata` shows the same times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Zone(Tz);

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, ConfigError> {
        name.trim().parse::<Tz>().map(Zone).map_err(|_| {
            invalid(
                "display.timezone",
                format!("`{name}` is not an IANA time-zone name; e.g. \"Europe/Rome\" or \"UTC\" (the default)"),
            )
        })
    }

    /// The IANA name, e.g. `Europe/Rome`.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    fn at(&self, ms: i64) -> DateTime<Tz> {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        self.0.from_utc_datetime(&utc.naive_utc())
    }

    /// `09:14 CEST`: the clock time and the zone's abbreviation.
    pub fn clock(&self, ms: i64) -> String {
        self.at(ms).format("%H:%M %Z").to_string()
    }

    /// `2020-04-01 09:14 CEST`.
    pub fn date_time(&self, ms: i64) -> String {
        self.at(ms).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    /// Day of the month and month (1–12) of an instant in this zone.
    pub fn day_month(&self, ms: i64) -> (u32, u32) {
        let t = self.at(ms);
        (t.day(), t.month())
    }

    /// The zone's offset from UTC at an instant, in minutes (120 for CEST).
    pub fn offset_minutes(&self, ms: i64) -> i32 {
        self.at(ms).offset().fix().local_minus_utc() / 60
    }

    /// An RFC 3339 time (as alert records hold them) shown in this zone; the text itself if
    /// it is not one.
    pub fn show(&self, rfc3339: &str) -> String {
        match crate::event::parse_time_arg(rfc3339) {
            Ok(ms) => self.date_time(ms),
            Err(_) => rfc3339.to_string(),
        }
    }

    /// Like [`show`](Self::show), the clock time only.
    pub fn show_clock(&self, rfc3339: &str) -> String {
        match crate::event::parse_time_arg(rfc3339) {
            Ok(ms) => self.clock(ms),
            Err(_) => rfc3339.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2020-04-01T07:14:00Z: CEST (UTC+2) in Rome; 2020-01-15T07:14:00Z: CET (UTC+1).
    const APRIL: i64 = 1_585_725_240_000;
    const JANUARY: i64 = 1_579_072_440_000;

    #[test]
    fn rome_is_shown_with_its_summer_and_winter_offsets() {
        let rome = Zone::parse("Europe/Rome").unwrap();
        assert_eq!(rome.clock(APRIL), "09:14 CEST");
        assert_eq!(rome.date_time(JANUARY), "2020-01-15 08:14 CET");
        assert_eq!(rome.offset_minutes(APRIL), 120);
        assert_eq!(rome.show("2020-04-01T07:14:00Z"), "2020-04-01 09:14 CEST");
        assert_eq!(Zone::default().clock(APRIL), "07:14 UTC");
        // Just before midnight UTC is the next day in Rome.
        assert_eq!(rome.day_month(APRIL - 8 * 3_600_000 + 23 * 60_000), (1, 4));
        // 2020-03-31T21:30:00Z is 23:30 on 31 March in Rome.
        assert_eq!(rome.day_month(1_585_690_200_000), (31, 3));
    }

    #[test]
    fn a_bad_zone_or_public_address_names_its_key() {
        let e = Zone::parse("Europe/Atlantis").unwrap_err().to_string();
        assert!(
            e.contains("display.timezone") && e.contains("Atlantis"),
            "{e}"
        );
        let http = HttpConfig {
            public_url: "ondata.example.org".into(),
            ..HttpConfig::default()
        };
        let e = http.validate().unwrap_err().to_string();
        assert!(e.contains("http.public_url"), "{e}");
        let http = HttpConfig {
            public_url: "https://ondata.example.org/".into(),
            ..HttpConfig::default()
        };
        assert!(http.validate().is_ok());
        assert_eq!(
            http.alert_url("abc").as_deref(),
            Some("https://ondata.example.org/#alert-abc")
        );
        assert_eq!(HttpConfig::default().alert_url("abc"), None);
    }
}
