//! Serde support for human-readable durations in the config file (`"30s"`, `"500ms"`, `"2m"`).
//!
//! Only the textual form is accepted, so a bare number never silently means seconds or
//! milliseconds.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*value).to_string())
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(text.trim()).map_err(|err| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?} ({err}); write it like \"30s\", \"500ms\" or \"2m\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize)]
    struct Holder {
        #[serde(with = "super")]
        d: Duration,
    }

    #[test]
    fn parses_and_formats_human_durations() {
        let h: Holder = toml::from_str("d = \"1m 30s\"").unwrap();
        assert_eq!(h.d, Duration::from_secs(90));
        assert_eq!(toml::to_string(&h).unwrap().trim(), "d = \"1m 30s\"");
    }

    #[test]
    fn rejects_bare_numbers_and_garbage() {
        assert!(toml::from_str::<Holder>("d = 30").is_err());
        let err = toml::from_str::<Holder>("d = \"soon\"").err().unwrap().to_string();
        assert!(err.contains("invalid duration"), "{err}");
    }
}
