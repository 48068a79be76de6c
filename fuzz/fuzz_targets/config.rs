//! Any configuration text and one environment override (the input's first line, as
//! `ONDATA__A__B=value`): a valid configuration whose printed form loads back, or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ondata::config::Config;

fuzz_target!(|text: &str| {
    let (first, rest) = text.split_once('\n').unwrap_or(("", text));
    let env: Vec<(String, String)> = first
        .split_once('=')
        .map(|(k, v)| (format!("ONDATA__{k}"), v.to_string()))
        .into_iter()
        .collect();
    if let Ok(config) = Config::from_toml_with_env(rest, "fuzz.toml", env) {
        let printed = config.effective_toml();
        let again = Config::from_toml_with_env(&printed, "printed", [])
            .expect("the printed configuration loads back");
        assert_eq!(again.effective_toml(), printed);
    }
});
