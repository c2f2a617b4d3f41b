//! Differences between two configurations, key by key: what changed, whether it can apply
//! live or needs a restart, and values redacted where they are secrets.
//!
//! Pure functions over the config model; nothing here applies or stores anything.

use super::model::Config;
use std::collections::BTreeMap;

/// Keys (or key prefixes, ending in `.`) whose new value only takes effect after a restart.
/// Everything else is applied live by the reload manager and its observers.
pub const RESTART_REQUIRED: &[&str] = &[
    "version",
    "server.listen",
    "server.http_listen",
    "server.unix_socket",
    "server.unix_socket_mode",
    "server.reflection",
    "store.url",
    "store.durability",
    "telemetry.log_format",
    "telemetry.otlp_endpoint",
    "telemetry.log_dir",
    "telemetry.log_max_bytes",
    "telemetry.log_keep",
    "cluster.replica_id",
];

/// Placeholder shown instead of a secret value.
pub const REDACTED: &str = "<redacted>";

/// How a key changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

/// One changed key. Values are TOML literals (`"30s"`, `true`), redacted for secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub restart_required: bool,
    pub secret: bool,
}

/// Whether the key at `path` holds a secret whose value must never be shown or stored.
/// Paths to files holding secrets (`*_file`) are not secrets themselves, nor are switches
/// (`allow_*`, such as `auth.allow_empty_tokens`).
pub fn is_secret(path: &str) -> bool {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    !leaf.ends_with("_file")
        && !leaf.starts_with("allow_")
        && ["password", "secret", "token", "private_key"].iter().any(|word| leaf.contains(word))
}

/// Whether a change of `path` needs a restart to take effect.
pub fn needs_restart(path: &str) -> bool {
    RESTART_REQUIRED.iter().any(|key| {
        path == *key
            || (key.ends_with('.') && path.starts_with(key))
            || path.starts_with(&format!("{key}."))
    })
}

/// Every key that differs between `old` and `new`, in path order.
pub fn diff(old: &Config, new: &Config) -> Vec<Change> {
    let (old, new) = (flatten(old), flatten(new));
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (before, after) = (old.get(path), new.get(path));
            let kind = match (before, after) {
                (Some(a), Some(b)) if a == b => return None,
                (Some(_), Some(_)) => ChangeKind::Modified,
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (None, None) => return None,
            };
            let secret = is_secret(path);
            let show = |value: Option<&String>| {
                value.map(|v| if secret { REDACTED.to_owned() } else { v.clone() })
            };
            Some(Change {
                path: path.clone(),
                kind,
                old_value: show(before),
                new_value: show(after),
                restart_required: needs_restart(path),
                secret,
            })
        })
        .collect()
}

/// The configuration as TOML text with every secret value replaced by [`REDACTED`].
pub fn redacted_toml(config: &Config) -> String {
    let mut value = toml::Value::try_from(config).unwrap_or(toml::Value::Table(toml::Table::new()));
    redact(&mut value, "");
    toml::to_string_pretty(&value).unwrap_or_default()
}

fn redact(value: &mut toml::Value, path: &str) {
    if let toml::Value::Table(table) = value {
        for (key, child) in table.iter_mut() {
            let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if is_secret(&child_path) && !child.is_table() {
                *child = toml::Value::String(REDACTED.to_owned());
            } else {
                redact(child, &child_path);
            }
        }
    }
}

/// `section.key` → TOML literal, for every leaf (arrays count as one leaf).
fn flatten(config: &Config) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, child) in table {
                    let path =
                        if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, child, out);
                }
            }
            leaf => {
                out.insert(prefix.to_owned(), leaf.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(value) = toml::Value::try_from(config) {
        walk("", &value, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reports_changed_added_and_removed_keys_with_restart_classification() {
        let old = Config::default();
        let mut new = Config::default();
        new.server.drain_timeout = Duration::from_secs(5);
        new.server.listen = "127.0.0.1:1".into();
        new.mqtt.url = Some("mqtt://broker:1883".into());
        let changes = diff(&old, &new);
        let summary: Vec<_> =
            changes.iter().map(|c| (c.path.as_str(), c.kind, c.restart_required)).collect();
        assert_eq!(
            summary,
            [
                ("mqtt.url", ChangeKind::Added, false),
                ("server.drain_timeout", ChangeKind::Modified, false),
                ("server.listen", ChangeKind::Modified, true),
            ]
        );
        assert_eq!(changes[1].old_value.as_deref(), Some("\"30s\""));
        assert_eq!(changes[1].new_value.as_deref(), Some("\"5s\""));
        let back = diff(&new, &old);
        assert_eq!(back[0].kind, ChangeKind::Removed);
    }

    #[test]
    fn identical_configs_have_no_changes() {
        assert!(diff(&Config::default(), &Config::default()).is_empty());
    }

    #[test]
    fn secrets_are_recognised_by_key_name_but_not_file_paths() {
        assert!(is_secret("mqtt.password"));
        assert!(is_secret("auth.admin_token"));
        assert!(!is_secret("mqtt.password_file"));
        assert!(!is_secret("auth.allow_empty_tokens"), "a switch, shown as true or false");
        assert!(!is_secret("server.listen"));
    }

    #[test]
    fn restart_classification_matches_whole_segments() {
        assert!(needs_restart("server.listen"));
        assert!(!needs_restart("server.listener_backlog"));
        assert!(!needs_restart("telemetry.log_level"));
    }
}
