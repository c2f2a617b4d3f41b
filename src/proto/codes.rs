//! gRPC status code names as the gRPC specification spells them (`INVALID_ARGUMENT`), for
//! the CLI's error lines, the MCP adapter's results and the server's audit trail alike.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_grpc_style() {
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
    }
}
