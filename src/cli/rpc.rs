//! What every admin command shares: connecting to the server and turning failures into
//! one line on stderr plus the documented exit code.

use super::ClientArgs;
use crate::client::{ConnectError, Transport};
use crate::exit;

/// Connect to `--addr` as `--token` (over TLS for https://), or print why not and return exit code 69 (64 for a
/// malformed address or token).
pub async fn connect(args: &ClientArgs) -> Result<Transport, u8> {
    Transport::connect_with(&args.addr, &args.options()).await.map_err(|err| {
        eprintln!("rebound: {err}");
        match err {
            ConnectError::InvalidAddress { .. }
            | ConnectError::InvalidToken
            | ConnectError::Tls { .. } => exit::USAGE,
            _ => exit::UNAVAILABLE,
        }
    })
}

/// Print a failed RPC as one line and return the exit code for it.
pub fn failed(rpc: &str, status: &tonic::Status) -> u8 {
    eprintln!(
        "rebound: {rpc} failed: {}: {}",
        crate::api::status::code_name(status.code()),
        status.message()
    );
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => exit::UNAVAILABLE,
        tonic::Code::InvalidArgument => exit::USAGE,
        tonic::Code::Unauthenticated => {
            eprintln!("rebound: pass a token with --token or REBOUND_TOKEN");
            exit::FAILURE
        }
        tonic::Code::Unimplemented => {
            eprintln!("rebound: this server does not offer that service (older or partial build)");
            exit::FAILURE
        }
        _ => exit::FAILURE,
    }
}

/// Format a proto timestamp for people (RFC 3339, UTC, seconds).
pub fn time(value: Option<&prost_types::Timestamp>) -> String {
    value
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

/// Format a proto duration for people (`1.234 ms`, `2.5 s`).
pub fn millis(value: Option<&prost_types::Duration>) -> String {
    match value.and_then(|d| std::time::Duration::try_from(*d).ok()) {
        Some(d) if d < std::time::Duration::from_secs(1) => {
            format!("{:.3} ms", d.as_secs_f64() * 1e3)
        }
        Some(d) => format!("{:.3} s", d.as_secs_f64()),
        None => "-".to_owned(),
    }
}
