//! The one mapping from domain errors to gRPC status codes. No other code builds a
//! `tonic::Status` from a domain error.

use crate::error::Error;
use tonic::{Code, Status};

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let code = match &err {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists(_) => Code::AlreadyExists,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::ResourceExhausted(_) => Code::ResourceExhausted,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Store(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        };
        if code == Code::Internal {
            tracing::error!(error = %err, "internal error");
        }
        Status::new(code, err.to_string())
    }
}

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
    fn maps_each_kind_to_its_code_with_a_precise_message() {
        let status = Status::from(Error::invalid_argument("client_uuid", "not a UUID"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "client_uuid: not a UUID");
        let status = Status::from(Error::NotFound { kind: "command", id: "42".into() });
        assert_eq!((status.code(), status.message()), (Code::NotFound, "command 42 not found"));
        assert_eq!(
            Status::from(Error::ResourceExhausted("x".into())).code(),
            Code::ResourceExhausted
        );
        assert_eq!(Status::from(Error::Unavailable("x".into())).code(), Code::Unavailable);
    }

    #[test]
    fn code_names_are_grpc_style() {
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::Ok), "OK");
    }
}
