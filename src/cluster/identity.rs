//! This replica's id: `cluster.replica_id` when set, else the one a hot-restart predecessor
//! handed over, else one derived from where this instance runs (8 lower-case hex digits of a
//! SHA-256 of the host name, the config file's path and `server.listen` as configured).
//! Chosen once at start.
//!
//! The derived id is the same at every start of the same instance, so a replica restarted
//! after a crash connects to the broker with the same client id (`<mqtt.client_id>-<id>`) and
//! receives the device messages its persistent session queued meanwhile, and owns its queued
//! commands again; two replicas on one host differ by their config files or listen addresses.

use crate::config::ClusterConfig;

/// The id this process runs as. `inherited` is the predecessor's, for a successor;
/// `instance` describes where this instance runs (see [`instance`]).
pub fn choose(config: &ClusterConfig, inherited: Option<&str>, instance: &str) -> String {
    if !config.replica_id.is_empty() {
        return config.replica_id.clone();
    }
    match inherited {
        Some(id) if crate::config::valid_replica_id(id) => id.to_owned(),
        _ => crate::hex::sha256(instance)[..8].to_owned(),
    }
}

/// What tells this instance apart from the other replicas of a cluster and stays the same
/// across its restarts: the host name (a pod's name on Kubernetes), the config file (or
/// "defaults") and the configured listen address.
pub fn instance(config_file: Option<&std::path::Path>, listen: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let file = config_file
        .map(|path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()))
        .map_or_else(|| "defaults".to_owned(), |path| path.display().to_string());
    format!("{}\n{file}\n{listen}", host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_then_inherited_then_derived_from_the_instance() {
        let mut config = ClusterConfig::default();
        let drawn = choose(&config, None, "host\n/etc/r1.toml\n0.0.0.0:50051");
        assert_eq!(drawn.len(), 8);
        assert!(drawn.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{drawn}");
        assert_eq!(drawn, choose(&config, None, "host\n/etc/r1.toml\n0.0.0.0:50051"), "stable");
        assert_ne!(drawn, choose(&config, None, "host\n/etc/r2.toml\n0.0.0.0:50051"));
        assert_eq!(choose(&config, Some("abc123"), "x"), "abc123", "a successor keeps its id");
        assert_eq!(choose(&config, Some("bad id"), "x").len(), 8);
        config.replica_id = "r-1".into();
        assert_eq!(choose(&config, Some("abc123"), "x"), "r-1");
    }
}
