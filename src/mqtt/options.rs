//! Connection parameters of the gateway from `[mqtt]`: broker address, client id,
//! keep-alive, credentials and TLS (`connect_params`), on the broker URL, socket options and
//! TLS client configuration it shares with the agent (`crate::contract::broker`).
//!
//! The password is read from `mqtt.password_file` (first line) or the environment variable
//! `REBOUND_MQTT_PASSWORD`, at every (re)connect so a rotated password is picked up; it is
//! never taken from the command line and never logged.

use std::path::Path;
use std::sync::Arc;

use super::connection::ConnectParams;
use crate::config::MqttConfig;
use crate::contract::broker::{BrokerUrl, tls_client_config};

/// Environment variable holding the server's broker password.
pub const PASSWORD_ENV: &str = "REBOUND_MQTT_PASSWORD";

/// Outbound QoS 1 publishes awaiting PUBACK at once (the gateway's in-flight window).
pub const INFLIGHT: u16 = 1000;

/// Why options could not be built (reported as the gateway's last error).
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("mqtt.url: {0}")]
    Url(String),
    #[error("mqtt.password_file {path}: {source}")]
    PasswordFile { path: String, source: std::io::Error },
    #[error("mqtt.ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
}

/// Read the password: the file when configured, else the environment, else none.
fn password(config: &MqttConfig) -> Result<Option<String>, OptionsError> {
    if let Some(path) = &config.password_file {
        let text = std::fs::read_to_string(path).map_err(|source| OptionsError::PasswordFile {
            path: path.display().to_string(),
            source,
        })?;
        return Ok(Some(text.lines().next().unwrap_or_default().to_owned()));
    }
    Ok(std::env::var(PASSWORD_ENV).ok())
}

/// The TLS client configuration for `mqtts://`: the roots of `mqtt.ca_file`.
fn tls_config(config: &MqttConfig) -> Result<Arc<rustls::ClientConfig>, OptionsError> {
    tls_client_config(config.ca_file.as_deref()).map_err(|reason| OptionsError::CaFile {
        path: config.ca_file.as_deref().unwrap_or(Path::new("")).display().to_string(),
        reason,
    })
}

/// Where and how the gateway connects for `config`, whose `url` must be set. Read at every
/// (re)connect, so a rotated password is picked up. A replica of a cluster (PostgreSQL)
/// connects as `<mqtt.client_id>-<replica id>` (`replica`), so that replicas do not take each
/// other's session.
pub fn connect_params(
    config: &MqttConfig,
    replica: Option<&str>,
) -> Result<ConnectParams, OptionsError> {
    let url = config.url.as_deref().ok_or_else(|| OptionsError::Url("not set".into()))?;
    let broker = BrokerUrl::parse(url).map_err(OptionsError::Url)?;
    let login = match &config.username {
        Some(username) => Some((username.clone(), password(config)?.unwrap_or_default())),
        None => None,
    };
    Ok(ConnectParams {
        tls: if broker.tls { Some(tls_config(config)?) } else { None },
        host: broker.host,
        port: broker.port,
        client_id: match replica {
            Some(replica) => format!("{}-{replica}", config.client_id),
            None => config.client_id.clone(),
        },
        keep_alive: config.keep_alive,
        login,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_wins_and_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        let mut config = MqttConfig {
            url: Some("mqtt://127.0.0.1:1883".into()),
            username: Some("rebound".into()),
            password_file: Some(file.clone()),
            ..MqttConfig::default()
        };
        assert_eq!(password(&config).unwrap().as_deref(), Some("s3cret"));
        let params = connect_params(&config, None).unwrap();
        assert_eq!((params.host.as_str(), params.port), ("127.0.0.1", 1883));
        assert_eq!(params.client_id, config.client_id);
        let replica = connect_params(&config, Some("a1b2c3d4")).unwrap();
        assert_eq!(replica.client_id, format!("{}-a1b2c3d4", config.client_id));
        assert!(params.tls.is_none());
        assert_eq!(params.login, Some(("rebound".into(), "s3cret".into())));
        config.password_file = Some(dir.path().join("missing"));
        let err = connect_params(&config, None).err().unwrap().to_string();
        assert!(err.starts_with("mqtt.password_file") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a pem").unwrap();
        let config = MqttConfig {
            url: Some("mqtts://broker:8883".into()),
            ca_file: Some(file),
            ..MqttConfig::default()
        };
        let err = connect_params(&config, None).err().unwrap().to_string();
        assert!(err.starts_with("mqtt.ca_file"), "{err}");
    }
}
