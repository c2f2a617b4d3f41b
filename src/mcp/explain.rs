//! Tool errors that explain themselves: what failed, the gRPC status (code name and the
//! server's message), and what to do about it. The MCP layer turns these texts into tool
//! errors; it does not invent other wording.

use super::gateway::CallError;
use crate::proto::codes::code_name;
use tonic::Code;

/// The service part of a full method name: "/rebound.v1.RestartService/Restart" →
/// "rebound.v1.RestartService".
fn service_of(method: &str) -> &str {
    method.trim_start_matches('/').split('/').next().unwrap_or(method)
}

/// The sentence explaining why a call to the server at `addr` failed with `error`.
pub fn explain(addr: &str, error: &CallError) -> String {
    let CallError::Rpc { method, status } = error else {
        return error.to_string();
    };
    let code = code_name(status.code());
    let message = match status.message() {
        "" => String::new(),
        message => format!(": {message}"),
    };
    let hint = match status.code() {
        Code::Unimplemented => {
            let service = service_of(method);
            return format!(
                "the rebound server at {addr} does not offer {service} yet ({method} answered UNIMPLEMENTED{message}); this needs a server version that serves {service}"
            );
        }
        Code::InvalidArgument => "the server rejected an argument; the message names the field",
        Code::NotFound => "the named item does not exist",
        Code::AlreadyExists => "the id is already used with other parameters",
        Code::FailedPrecondition => "the server is not in a state that allows this now",
        Code::ResourceExhausted => "a safety limit refused it; the message says when to retry",
        Code::Unauthenticated => "start rebound-mcp with --token or REBOUND_TOKEN",
        Code::PermissionDenied => "the token's role does not allow this call",
        Code::DeadlineExceeded => "the server did not answer in time",
        _ => "the server reported an error",
    };
    format!("{method} failed with {code}{message} ({hint})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unimplemented_says_the_service_is_not_offered_yet() {
        let error = CallError::Rpc {
            method: "/rebound.v1.RestartService/GetRestartStatus",
            status: tonic::Status::unimplemented(""),
        };
        let text = explain("127.0.0.1:1", &error);
        assert!(
            text.contains("does not offer rebound.v1.RestartService yet")
                && text.contains("127.0.0.1:1")
                && text.contains("UNIMPLEMENTED"),
            "{text}"
        );
    }

    #[test]
    fn other_codes_keep_the_server_message() {
        let error = CallError::Rpc {
            method: "/rebound.v1.ClientCommandService/IssueCommand",
            status: tonic::Status::invalid_argument("client_uuid: not a UUID"),
        };
        let text = explain("a", &error);
        assert!(text.contains("INVALID_ARGUMENT: client_uuid: not a UUID"), "{text}");
    }
}
