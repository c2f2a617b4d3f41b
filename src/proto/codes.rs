//! gRPC status code names as the gRPC specification spells them (`INVALID_ARGUMENT`), for
//! the CLI's error lines, the MCP adapter's results and the server's audit trail alike, and
//! the one table of the HTTP status each code is answered with by the console's JSON gateway.

use tonic::Code;

/// The gRPC name of a status code: `InvalidArgument` → `INVALID_ARGUMENT`.
pub fn code_name(code: Code) -> String {
    format!("{code:?}").chars().fold(String::new(), |mut out, c| {
        if c.is_uppercase() && !out.is_empty() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
        out
    })
}

/// The HTTP status a gRPC status code is answered with over HTTP/JSON (the mapping of
/// `google.rpc.Code`'s documentation; CANCELLED is nginx's 499, "client closed request").
pub fn http_status(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_http_status() {
        assert_eq!(http_status(Code::ResourceExhausted), 429);
        assert_eq!(http_status(Code::PermissionDenied), 403);
        assert_eq!(http_status(Code::Unauthenticated), 401);
        assert_eq!(http_status(Code::InvalidArgument), 400);
        for code in 0..=16 {
            let status = http_status(Code::from_i32(code));
            assert!((200..600).contains(&status), "{code} → {status}");
        }
    }

    #[test]
    fn code_names_are_grpc_style() {
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
    }
}
