//! TestReconnect's self-test: dial this server's own listener on a fresh connection and make
//! one unary call (grpc.health.v1 Check), timing both.

use crate::error::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
const TIMEOUT_MIN: Duration = Duration::from_millis(100);
const TIMEOUT_MAX: Duration = Duration::from_secs(30);

/// What the self-test measured.
pub struct Probe {
    pub target: String,
    pub connect: Option<Duration>,
    pub call: Option<Duration>,
    pub error: Option<String>,
}

/// `session_id`: empty, or 1–128 of `[A-Za-z0-9._:-]`.
pub fn validate_session(id: &str) -> Result<Option<&str>, Error> {
    if id.is_empty() {
        return Ok(None);
    }
    let valid = id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if !valid {
        return Err(Error::invalid_argument("session_id", "1-128 characters of [A-Za-z0-9._:-]"));
    }
    Ok(Some(id))
}

/// `timeout`: 100 ms to 30 s, default 5 s.
pub fn validate_timeout(timeout: Option<prost_types::Duration>) -> Result<Duration, Error> {
    let Some(timeout) = timeout else { return Ok(TIMEOUT_DEFAULT) };
    let timeout = crate::api::convert::from_duration("timeout", &timeout)?;
    if !(TIMEOUT_MIN..=TIMEOUT_MAX).contains(&timeout) {
        return Err(Error::invalid_argument("timeout", "must be between 100ms and 30s"));
    }
    Ok(timeout)
}

/// Dial the TCP listener (a wildcard address is dialed on loopback).
pub async fn probe(tcp: SocketAddr, _unix: Option<&Path>, timeout: Duration) -> Probe {
    let mut addr = tcp;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let target = addr.to_string();
    let mut probe = Probe { target: target.clone(), connect: None, call: None, error: None };
    let endpoint = match Endpoint::from_shared(format!("http://{target}")) {
        Ok(endpoint) => endpoint.connect_timeout(timeout).timeout(timeout),
        Err(err) => {
            probe.error = Some(format!("invalid target: {err}"));
            return probe;
        }
    };
    let started = Instant::now();
    let channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(err) => {
            probe.error = Some(format!("connect: {err}"));
            return probe;
        }
    };
    probe.connect = Some(started.elapsed());
    let started = Instant::now();
    match HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await {
        Ok(_) => probe.call = Some(started.elapsed()),
        Err(status) => probe.error = Some(format!("call: {}: {}", status.code(), status.message())),
    }
    probe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_and_timeout_bounds() {
        assert_eq!(validate_session("").unwrap(), None);
        assert_eq!(validate_session("cli-1:a.b_c").unwrap(), Some("cli-1:a.b_c"));
        assert!(validate_session("has space").is_err());
        assert!(validate_session(&"x".repeat(129)).is_err());
        assert_eq!(validate_timeout(None).unwrap(), TIMEOUT_DEFAULT);
        let short = prost_types::Duration { seconds: 0, nanos: 10_000_000 };
        assert!(validate_timeout(Some(short)).is_err());
    }
}
