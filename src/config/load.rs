//! Loading a configuration: read the file, apply `REBOUND_<SECTION>__<KEY>` environment
//! overrides, deserialize with unknown keys rejected, then validate.
//!
//! Every error is one line that names the file or variable and the key path, because an
//! operator reads it in a terminal or a journal. This module never applies anything.

use super::model::Config;
use std::fmt;
use std::path::{Path, PathBuf};

/// Prefix of environment variables that override config keys.
const ENV_PREFIX: &str = "REBOUND_";
/// Separator between path segments in an override variable (`REBOUND_SERVER__LISTEN`).
const ENV_SEPARATOR: &str = "__";

/// One problem in a configuration, tied to a dotted key path (empty for a syntax error,
/// which carries its line and column instead).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    pub path: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl FieldError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: reason.into(), line: None, column: None }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Why a configuration could not be loaded. Each variant displays as a single line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {}: not found", path.display())]
    NotFound { path: PathBuf },
    #[error("config file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{origin}: invalid TOML at line {line}, column {column}: {message}")]
    Syntax { origin: String, line: usize, column: usize, message: String },
    #[error("{origin}: {path}: {message}")]
    Field { origin: String, path: String, message: String },
    #[error("{origin}: {}", join(errors))]
    Invalid { origin: String, errors: Vec<FieldError> },
}

impl ConfigError {
    /// The problems as a list, for reports: one entry per field (every validation error),
    /// or a single entry for file, syntax and type errors.
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ConfigError::Invalid { errors, .. } => errors.clone(),
            ConfigError::Field { path, message, .. } => vec![FieldError::new(path, message)],
            ConfigError::Syntax { line, column, message, .. } => vec![FieldError {
                path: String::new(),
                reason: format!("invalid TOML: {message}"),
                line: u32::try_from(*line).ok(),
                column: u32::try_from(*column).ok(),
            }],
            ConfigError::NotFound { .. } | ConfigError::Io { .. } => {
                vec![FieldError::new("", self.to_string())]
            }
        }
    }
}

fn join(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Where the effective configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No file: built-in defaults plus environment overrides.
    Defaults,
    /// A TOML file on disk.
    File(PathBuf),
    /// Content handed over directly (an RPC, a test).
    Inline,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Defaults => f.write_str("defaults"),
            Source::File(path) => write!(f, "config file {}", path.display()),
            Source::Inline => f.write_str("inline config"),
        }
    }
}

/// A validated configuration together with its provenance.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub source: Source,
    /// Hex SHA-256 of the effective configuration (after overrides), for change detection.
    pub hash: String,
    /// Environment variables that overrode keys (`REBOUND_SERVER__LISTEN`, …).
    pub env_overrides: Vec<String>,
}

/// Load from `path` (or defaults when `None`) with overrides taken from `env`.
pub fn load(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    match path {
        None => parse_str("version = 1", Source::Defaults, env),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => ConfigError::NotFound { path: path.to_owned() },
                _ => ConfigError::Io { path: path.to_owned(), source },
            })?;
            parse_str(&text, Source::File(path.to_owned()), env)
        }
    }
}

/// Parse TOML text, apply overrides from `env`, deserialize and validate.
pub fn parse_str(
    text: &str,
    source: Source,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    let origin = source.to_string();
    let mut table: toml::Table = toml::from_str(text).map_err(|err| {
        let (line, column) = err.span().map(|span| line_column(text, span.start)).unwrap_or((1, 1));
        ConfigError::Syntax {
            origin: origin.clone(),
            line,
            column,
            message: err.message().to_owned(),
        }
    })?;
    let overrides = apply_env_overrides(&mut table, env);
    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
            let path = err.path().to_string();
            let origin = overrides
                .iter()
                .find(|(key_path, _)| {
                    path == *key_path
                        || path.starts_with(&format!("{key_path}."))
                        || key_path.starts_with(&format!("{path}."))
                })
                .map(|(_, var)| format!("environment variable {var}"))
                .unwrap_or_else(|| origin.clone());
            ConfigError::Field { origin, path, message: err.into_inner().message().to_owned() }
        })?;
    config.validate().map_err(|errors| ConfigError::Invalid { origin, errors })?;
    let hash = hash_config(&config);
    let env_overrides = overrides.into_iter().map(|(_, var)| var).collect();
    Ok(LoadedConfig { config, source, hash, env_overrides })
}

/// Hex SHA-256 over the canonical TOML rendering of `config`.
pub fn hash_config(config: &Config) -> String {
    let canonical = toml::to_string(config).unwrap_or_default();
    crate::hex::sha256(canonical)
}

/// Insert every `REBOUND_A__B=value` into `table` at `a.b`; returns (key path, variable) pairs.
fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let mut applied = Vec::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(key, _)| key.starts_with(ENV_PREFIX) && key.contains(ENV_SEPARATOR))
        .collect();
    vars.sort();
    for (var, value) in vars {
        let segments: Vec<String> =
            var[ENV_PREFIX.len()..].split(ENV_SEPARATOR).map(str::to_lowercase).collect();
        let Some((leaf, parents)) = segments.split_last() else { continue };
        let mut cursor = &mut *table;
        for parent in parents {
            let entry = cursor
                .entry(parent.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            let toml::Value::Table(next) = entry else { unreachable!("just made a table") };
            cursor = next;
        }
        cursor.insert(leaf.clone(), env_value(&value));
        applied.push((segments.join("."), var));
    }
    applied
}

/// Environment values are strings; booleans and integers are recognised as such.
fn env_value(raw: &str) -> toml::Value {
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => raw
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_file_gives_defaults() {
        let loaded = load(None, env(&[])).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.source, Source::Defaults);
        assert_eq!(loaded.hash.len(), 64);
    }

    #[test]
    fn env_overrides_win_and_are_typed() {
        let loaded = parse_str(
            "version = 1\n[server]\nlisten = \"127.0.0.1:1\"\n",
            Source::Inline,
            env(&[
                ("REBOUND_SERVER__LISTEN", "127.0.0.1:2"),
                ("REBOUND_SERVER__REFLECTION", "false"),
                ("REBOUND_SERVER__DRAIN_TIMEOUT", "5s"),
                ("REBOUND_MQTT_PASSWORD", "not-an-override"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.config.server.listen, "127.0.0.1:2");
        assert!(!loaded.config.server.reflection);
        assert_eq!(loaded.config.server.drain_timeout, Duration::from_secs(5));
    }

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let err = parse_str("version = 1\n[server]\nlistn = \"x\"\n", Source::Inline, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listn"), "{err}");
        assert!(err.contains("unknown field"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn unknown_env_key_names_the_variable() {
        let err = parse_str("version = 1", Source::Inline, env(&[("REBOUND_SERVR__LISTEN", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("REBOUND_SERVR__LISTEN"), "{err}");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse_str("version = 1\n[server\n", Source::Inline, env(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
    }

    #[test]
    fn missing_file_is_not_found() {
        let err = load(Some(Path::new("/nonexistent/rebound.toml")), env(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::NotFound { .. }));
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let err = parse_str(
            "version = 1\n[server]\nlisten = \"nowhere\"\n[telemetry]\nlog_format = \"json\"\notlp_endpoint = \"x\"\n",
            Source::Inline,
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("server.listen") && err.contains("telemetry.otlp_endpoint"), "{err}");
    }

    #[test]
    fn shipped_example_config_is_valid_and_matches_defaults() {
        let text = include_str!("../../deploy/config/rebound.toml");
        let loaded = parse_str(text, Source::Inline, env(&[])).unwrap();
        assert_eq!(loaded.config, Config::default());
    }
}
