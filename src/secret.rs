//! Secrets in configuration: values read from the environment (`env:NAME`), and what is shown
//! of them anywhere else. A Kafka password, an admin token or the key inside a webhook URL
//! never reaches a log line, `check-config`, `/api/*` or an alert: the places that print a
//! configured value print it through these functions.

/// Shown in place of a secret value.
pub const REDACTED: &str = "<redacted>";

/// A setting that names an environment variable (`env:NAME`) that is not set.
#[derive(Debug, thiserror::Error)]
#[error("{setting} = \"env:{name}\": environment variable {name} is not set")]
pub struct UnsetSecret {
    pub setting: String,
    pub name: String,
}

/// `value` itself, or the environment variable NAME's value when it is `env:NAME`.
/// `what` names the setting in the error.
pub fn resolve(value: &str, what: &str) -> Result<String, UnsetSecret> {
    match value.strip_prefix("env:") {
        Some(name) => std::env::var(name).map_err(|_| UnsetSecret {
            setting: what.to_string(),
            name: name.to_string(),
        }),
        None => Ok(value.to_string()),
    }
}

/// Whether a librdkafka property holds a secret (`sasl.password`, `ssl.key.password`,
/// `sasl.oauthbearer.client.secret`, `ssl.key.pem`, …).
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "sasl.oauthbearer.config",
        "ssl.key.pem",
        "credential",
    ]
    .iter()
    .any(|s| key.contains(s))
}

/// A `[kafka.client]` value as it may be shown: `env:NAME` as written, another secret
/// property's value redacted, anything else as is.
pub fn shown_property(key: &str, value: &str) -> String {
    if is_secret_property(key) && !value.starts_with("env:") {
        REDACTED.to_string()
    } else {
        value.to_string()
    }
}

/// A URL as it may be shown: scheme, host and port only, so a key in the path (Slack's
/// `/services/T…/B…/KEY`), the query (`?token=`) or the user part (`user:pass@`) stays
/// hidden. `env:NAME` is shown as written.
pub fn shown_url(url: &str) -> String {
    if url.starts_with("env:") {
        return url.to_string();
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let hidden = authority.len() != host.len() || !matches!(&rest[end..], "" | "/");
    let prefix = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{prefix}{host}{}", if hidden { "/…" } else { "" })
}

/// `text` with every occurrence of `secret` replaced by `shown` (for error messages from
/// libraries that quote the URL they were given).
pub fn scrub(text: &str, secret: &str, shown: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    text.replace(secret, shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_only_scheme_host_and_port() {
        assert_eq!(
            shown_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown_url("http://user:pa55@hook.example:8080/x?token=abc"),
            "http://hook.example:8080/…"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:9093?k=1"),
            "http://127.0.0.1:9093/…"
        );
        assert_eq!(
            shown_url("http://alertmanager:9093"),
            "http://alertmanager:9093"
        );
        assert_eq!(
            shown_url("http://alertmanager:9093/"),
            "http://alertmanager:9093"
        );
        assert_eq!(
            shown_url("env:ONDATA_WEBHOOK_URL"),
            "env:ONDATA_WEBHOOK_URL"
        );
    }

    #[test]
    fn secret_properties_are_redacted_unless_from_the_environment() {
        assert_eq!(shown_property("sasl.password", "hunter2"), REDACTED);
        assert_eq!(shown_property("SSL.KEY.PASSWORD", "x"), REDACTED);
        assert_eq!(
            shown_property("sasl.oauthbearer.client.secret", "x"),
            REDACTED
        );
        assert_eq!(
            shown_property("sasl.password", "env:KAFKA_PW"),
            "env:KAFKA_PW"
        );
        assert_eq!(shown_property("sasl.username", "ondata"), "ondata");
        assert_eq!(shown_property("security.protocol", "sasl_ssl"), "sasl_ssl");
    }

    #[test]
    fn env_values_resolve_or_name_the_variable() {
        assert_eq!(resolve("plain", "x").unwrap(), "plain");
        let e = resolve("env:ONDATA_TEST_SURELY_UNSET_SECRET", "alerts.sinks[0].url")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("alerts.sinks[0].url") && e.contains("is not set"),
            "{e}"
        );
    }
}
