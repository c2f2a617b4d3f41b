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
    /// The environment variable that set the key, when an override did (not the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
}

impl FieldError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: reason.into(), line: None, column: None, variable: None }
    }

    /// Whether this error and one at `other` concern the same key (one path is the other or
    /// contains it).
    fn overlaps(&self, other: &str) -> bool {
        let (a, b) = (self.path.as_str(), other);
        a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."))
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
    /// Every value that could not be read or failed validation; an error set by an
    /// environment override names its variable instead of `origin`.
    #[error("{}", describe(origin, errors))]
    Invalid { origin: String, errors: Vec<FieldError> },
}

impl ConfigError {
    /// The problems as a list, for reports: one entry per field (every validation error),
    /// or a single entry for file, syntax and type errors.
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ConfigError::Invalid { errors, .. } => errors.clone(),
            ConfigError::Syntax { line, column, message, .. } => vec![FieldError {
                path: String::new(),
                reason: format!("invalid TOML: {message}"),
                line: u32::try_from(*line).ok(),
                column: u32::try_from(*column).ok(),
                variable: None,
            }],
            ConfigError::NotFound { .. } | ConfigError::Io { .. } => {
                vec![FieldError::new("", self.to_string())]
            }
        }
    }
}

/// `origin: a; b; environment variable REBOUND_X__Y: c`: the file's errors under its name,
/// each override's under its variable.
fn describe(origin: &str, errors: &[FieldError]) -> String {
    let (from_env, from_origin): (Vec<_>, Vec<_>) =
        errors.iter().partition(|error| error.variable.is_some());
    let mut parts = Vec::new();
    if !from_origin.is_empty() || from_env.is_empty() {
        let listed: Vec<String> = from_origin.iter().map(ToString::to_string).collect();
        parts.push(format!("{origin}: {}", listed.join("; ")));
    }
    for error in from_env {
        let variable = error.variable.as_deref().unwrap_or_default();
        parts.push(format!("environment variable {variable}: {error}"));
    }
    parts.join("; ")
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
    let (config, mut errors) = deserialize_all(table);
    if let Some(config) = &config
        && let Err(invalid) = config.validate()
    {
        // A key already reported as unreadable runs on its default here: not again.
        let unreadable = errors.clone();
        errors.extend(
            invalid.into_iter().filter(|error| !unreadable.iter().any(|u| u.overlaps(&error.path))),
        );
    }
    for error in &mut errors {
        error.variable = overrides
            .iter()
            .find(|(key_path, _)| error.overlaps(key_path))
            .map(|(_, var)| var.clone());
    }
    let config = match config {
        Some(config) if errors.is_empty() => config,
        _ => return Err(ConfigError::Invalid { origin, errors }),
    };
    let hash = hash_config(&config);
    let env_overrides = overrides.into_iter().map(|(_, var)| var).collect();
    Ok(LoadedConfig { config, source, hash, env_overrides })
}

/// Deserialize `table`, collecting every value serde refuses rather than the first: each
/// refused key is recorded, removed (so its default stands in) and the rest read again. The
/// config is `None` when a refusal names no removable key (a missing `version`).
fn deserialize_all(mut table: toml::Table) -> (Option<Config>, Vec<FieldError>) {
    let mut errors = Vec::new();
    loop {
        let value = toml::Value::Table(table.clone());
        match serde_path_to_error::deserialize::<_, Config>(value) {
            Ok(config) => return (Some(config), errors),
            Err(err) => {
                let removed = remove(&mut table, err.path());
                errors.push(FieldError::new(err.path().to_string(), err.inner().message()));
                if !removed {
                    return (None, errors);
                }
            }
        }
    }
}

/// Remove the value at `path` from `table`; false when there is nothing to remove there.
fn remove(table: &mut toml::Table, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key: leaf }, parents)) = segments.split_last() else {
        return false;
    };
    let mut cursor = table;
    for segment in parents {
        let Segment::Map { key } = segment else { return false };
        match cursor.get_mut(key) {
            Some(toml::Value::Table(next)) => cursor = next,
            _ => return false,
        }
    }
    cursor.remove(leaf).is_some()
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
    fn cluster_settings_are_checked_with_their_paths() {
        let err = parse_str(
            "version = 1\n[cluster]\nreplica_id = \"a b\"\nlease_ttl = \"6s\"\nlease_renew = \"5s\"\n",
            Source::Inline,
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cluster.replica_id"), "{err}");
        assert!(err.contains("cluster.lease_ttl"), "{err}");
        let loaded =
            parse_str("version = 1\n[cluster]\nreplica_id = \"r-1\"\n", Source::Inline, env(&[]))
                .unwrap();
        assert_eq!(loaded.config.cluster.replica_id, "r-1");
        assert_eq!(loaded.config.cluster.lease_ttl, Duration::from_secs(15));
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
    fn an_unreadable_value_does_not_hide_the_other_errors() {
        let err = parse_str(
            "version = 1\n[server]\ndrain_timeout = \"abc\"\n[scheduler]\ntick = \"0s\"\n",
            Source::Inline,
            env(&[]),
        )
        .unwrap_err();
        let paths: Vec<String> = err.field_errors().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["server.drain_timeout", "scheduler.tick"], "{err}");
        let two_unreadable = parse_str(
            "version = 1\n[server]\ndrain_timeout = \"abc\"\nlistn = 1\n[mqtt]\nkeep_alive = 5\n",
            Source::Inline,
            env(&[]),
        )
        .unwrap_err();
        let paths: Vec<String> =
            two_unreadable.field_errors().into_iter().map(|e| e.path).collect();
        assert_eq!(paths.len(), 3, "{two_unreadable}");
        for path in ["server.drain_timeout", "server.listn", "mqtt.keep_alive"] {
            assert!(paths.contains(&path.to_owned()), "{path}: {two_unreadable}");
        }
    }

    #[test]
    fn an_override_error_names_the_variable_not_the_file() {
        let err = parse_str(
            "version = 1\n[server]\ndrain_timeout = \"abc\"\n",
            Source::File("/etc/rebound.toml".into()),
            env(&[
                ("REBOUND_SCHEDULER__TICK", "0s"),
                ("REBOUND_SERVER__LISTEN", "nowhere"),
                ("REBOUND_MQTT__KEEP_ALIVE", "soon"),
            ]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("config file /etc/rebound.toml: server.drain_timeout: "),
            "{text}"
        );
        for (var, path) in [
            ("REBOUND_SCHEDULER__TICK", "scheduler.tick"),
            ("REBOUND_SERVER__LISTEN", "server.listen"),
            ("REBOUND_MQTT__KEEP_ALIVE", "mqtt.keep_alive"),
        ] {
            assert!(text.contains(&format!("environment variable {var}: {path}: ")), "{text}");
            let error = err.field_errors().into_iter().find(|e| e.path == path).unwrap();
            assert_eq!(error.variable.as_deref(), Some(var));
        }
        let only_env = parse_str(
            "version = 1",
            Source::File("/etc/rebound.toml".into()),
            env(&[("REBOUND_SERVER__LISTEN", "nowhere")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            only_env.starts_with("environment variable REBOUND_SERVER__LISTEN: "),
            "{only_env}"
        );
        assert!(!only_env.contains("/etc/rebound.toml"), "{only_env}");
    }

    #[test]
    fn shipped_example_config_is_valid_and_matches_defaults() {
        let text = include_str!("../../deploy/config/rebound.toml");
        let loaded = parse_str(text, Source::Inline, env(&[])).unwrap();
        assert_eq!(loaded.config, Config::default());
    }
}
