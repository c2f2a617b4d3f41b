//! Where the broker is and how to reach it, for both ends of the contract: the broker URL
//! (`mqtt[s]://host[:port]`, never with credentials), the socket options, and the TLS client
//! configuration from a CA file. The server's gateway (`crate::mqtt`) and the agent build
//! their connections on these; nothing here reads a config file or connects.

use std::path::Path;
use std::sync::Arc;

/// A parsed `mqtt.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerUrl {
    /// Parse `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (8883).
    pub fn parse(url: &str) -> Result<Self, String> {
        let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtt://") {
            (rest, false)
        } else if let Some(rest) = url.strip_prefix("mqtts://") {
            (rest, true)
        } else {
            return Err(format!("{url:?} must start with mqtt:// or mqtts://"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('@') {
            // A password in the URL would sit in config files, process listings and logs.
            return Err("must not carry credentials: set mqtt.username, and the password in \
                 mqtt.password_file or REBOUND_MQTT_PASSWORD"
                .into());
        }
        if rest.is_empty() || rest.contains(['/', '?']) {
            return Err(format!("{url:?} must be mqtt[s]://host[:port] with nothing else"));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port.parse::<u16>().ok().filter(|p| *p != 0);
                let port = port.ok_or_else(|| format!("{url:?} has an invalid port"))?;
                (host, port)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        Ok(Self { host: host.to_owned(), port, tls })
    }
}

/// Socket options of the broker connection: `TCP_NODELAY`, so that a command or a batch of
/// PUBACKs leaves at once instead of waiting (Nagle) for the broker to acknowledge the
/// previous segment, which the broker may delay by up to 40 ms (delayed ACK).
pub fn network() -> rumqttc::NetworkOptions {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network
}

/// The TLS client configuration for `mqtts://`: the roots in `ca_file` (none: an empty root
/// store). The error is the reason, for the caller to prefix with its field name.
pub fn tls_client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = match ca_file {
        Some(path) => crate::pem::roots(path)?,
        None => rustls::RootCertStore::empty(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_with_default_ports() {
        let plain = BrokerUrl::parse("mqtt://127.0.0.1").unwrap();
        assert_eq!((plain.host.as_str(), plain.port, plain.tls), ("127.0.0.1", 1883, false));
        let tls = BrokerUrl::parse("mqtts://broker.example:8884").unwrap();
        assert_eq!((tls.host.as_str(), tls.port, tls.tls), ("broker.example", 8884, true));
        let credentials = BrokerUrl::parse("mqtt://user:pw@host:1").unwrap_err();
        assert!(credentials.contains("REBOUND_MQTT_PASSWORD"), "{credentials}");
        assert!(!credentials.contains("pw"), "the password is not echoed: {credentials}");
        assert!(BrokerUrl::parse("mqtt://host:0").is_err());
        assert!(BrokerUrl::parse("http://host").is_err());
    }
}
