//! Connection options of the gateway from `[mqtt]`: broker address, the persistent session
//! (clean session off, fixed client id, manual acks), credentials and TLS; and the socket
//! options of every broker connection rebound opens (`network`).
//!
//! The password is read from `mqtt.password_file` (first line) or the environment variable
//! `REBOUND_MQTT_PASSWORD`, at every (re)connect so a rotated password is picked up; it is
//! never taken from the command line and never logged.

use std::sync::Arc;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

use crate::config::{BrokerUrl, MqttConfig};

/// Environment variable holding the server's broker password.
pub const PASSWORD_ENV: &str = "REBOUND_MQTT_PASSWORD";

/// Socket options of the broker connection: `TCP_NODELAY`, so that a command or a batch of
/// PUBACKs leaves at once instead of waiting (Nagle) for the broker to acknowledge the
/// previous segment, which the broker may delay by up to 40 ms (delayed ACK).
pub fn network() -> rumqttc::NetworkOptions {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network
}

/// Requests (publishes, acks) the client may queue before the gateway loop takes them.
pub const REQUEST_CAPACITY: usize = 100_000;
/// Outbound QoS 1 publishes awaiting PUBACK at once (the in-flight window).
pub const INFLIGHT: u16 = 1000;
/// Largest inbound packet the client decodes; larger payloads than `mqtt.max_payload_bytes`
/// are still read (and counted as oversized) up to this, so one bad message cannot make the
/// broker redeliver it forever.
const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;
const MAX_OUTGOING_PACKET: usize = 1024 * 1024;

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

pub(crate) fn tls(config: &MqttConfig) -> Result<TlsConfiguration, OptionsError> {
    let roots = match &config.ca_file {
        Some(path) => crate::pem::roots(path)
            .map_err(|reason| OptionsError::CaFile { path: path.display().to_string(), reason })?,
        None => rustls::RootCertStore::empty(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OptionsError::Url(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}

/// The client options for `config`, whose `url` must be set.
pub fn build(config: &MqttConfig) -> Result<MqttOptions, OptionsError> {
    let url = config.url.as_deref().ok_or_else(|| OptionsError::Url("not set".into()))?;
    let broker = BrokerUrl::parse(url).map_err(OptionsError::Url)?;
    let mut options = MqttOptions::new(config.client_id.clone(), broker.host, broker.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(config.keep_alive)
        .set_inflight(INFLIGHT)
        .set_request_channel_capacity(REQUEST_CAPACITY)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET);
    if let Some(username) = &config.username {
        options.set_credentials(username.clone(), password(config)?.unwrap_or_default());
    }
    if broker.tls {
        options.set_transport(Transport::tls_with_config(tls(config)?));
    }
    Ok(options)
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
        let options = build(&config).unwrap();
        assert!(!options.clean_session());
        let login = options.credentials().map(|l| (l.username, l.password));
        assert_eq!(login, Some(("rebound".into(), "s3cret".into())));
        config.password_file = Some(dir.path().join("missing"));
        let err = build(&config).unwrap_err().to_string();
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
        let err = build(&config).unwrap_err().to_string();
        assert!(err.starts_with("mqtt.ca_file"), "{err}");
    }
}
