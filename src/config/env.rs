//! `ONDATA__…` variables over the configuration file, and the checks that name the
//! variable or key at fault.

use super::{Config, ConfigError, ENV_PREFIX};

/// The first float in `value` that is NaN or infinite, with its key.
pub(super) fn non_finite(value: &Option<toml::Value>, key: &str) -> Option<(String, f64)> {
    match value.as_ref()? {
        toml::Value::Float(f) if !f.is_finite() => Some((key.to_string(), *f)),
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| {
            let key = if key.is_empty() {
                k.clone()
            } else {
                format!("{key}.{k}")
            };
            non_finite(&Some(v.clone()), &key)
        }),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_finite(&Some(v.clone()), &format!("{key}[{i}]"))),
        _ => None,
    }
}

/// Which of `overrides`, applied to the file's `base` one at a time, makes it fail, as an
/// error naming the variable.
pub(super) fn blame_env(
    base: toml::Table,
    origin: &str,
    overrides: &[(String, String)],
) -> Option<ConfigError> {
    for (var, value) in overrides {
        let mut t = base.clone();
        apply_env_override(&mut t, var, value).ok()?;
        let text = toml::to_string(&t).ok()?;
        if let Err(e) = Config::from_toml_with_env(&text, origin, std::iter::empty()) {
            let message = match e {
                ConfigError::Parse { message, .. } => message.trim().to_string(),
                other => other.to_string(),
            };
            return Some(ConfigError::Env {
                var: var.clone(),
                message,
            });
        }
    }
    None
}

/// Sets `ONDATA__A__B__C=value` into `table` at `a.b.c`. The value is read as a TOML value
/// when it parses as one (`3`, `true`, `["a", "b"]`), otherwise taken as a plain string.
pub(super) fn apply_env_override(
    table: &mut toml::Table,
    var: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let path: Vec<String> = var[ENV_PREFIX.len()..]
        .split("__")
        .map(|p| p.to_ascii_lowercase())
        .collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::Env {
            var: var.to_string(),
            message: "expected ONDATA__SECTION__KEY, e.g. ONDATA__KAFKA__BROKERS".into(),
        });
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let (last, parents) = path.split_last().expect("path has at least one element");
    let mut cursor = table;
    for p in parents {
        let entry = cursor
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cursor = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
            var: var.to_string(),
            message: format!("`{p}` is not a table"),
        })?;
    }
    cursor.insert(last.clone(), parsed);
    Ok(())
}
