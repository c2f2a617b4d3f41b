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
        crate::proto::codes::code_name(status.code()),
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
