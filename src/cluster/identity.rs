//! This replica's id: `cluster.replica_id` when set, else the one a hot-restart predecessor
//! handed over, else a new random one (8 lower-case hex digits). Chosen once at start.

use crate::config::ClusterConfig;

/// The id this process runs as. `inherited` is the predecessor's, for a successor.
pub fn choose(config: &ClusterConfig, inherited: Option<&str>) -> String {
    if !config.replica_id.is_empty() {
        return config.replica_id.clone();
    }
    match inherited {
        Some(id) if crate::config::valid_replica_id(id) => id.to_owned(),
        _ => {
            let random = uuid::Uuid::new_v4().simple().to_string();
            random[..8].to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_then_inherited_then_random() {
        let mut config = ClusterConfig::default();
        let drawn = choose(&config, None);
        assert_eq!(drawn.len(), 8);
        assert!(drawn.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{drawn}");
        assert_ne!(drawn, choose(&config, None), "a new id at every cold start");
        assert_eq!(choose(&config, Some("abc123")), "abc123", "a successor keeps its id");
        assert_eq!(choose(&config, Some("bad id")).len(), 8);
        config.replica_id = "r-1".into();
        assert_eq!(choose(&config, Some("abc123")), "r-1");
    }
}
