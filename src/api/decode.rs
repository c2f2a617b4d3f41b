//! The status of a request tonic could not decode, as the contract states it.
//!
//! tonic answers a request whose protobuf is malformed (invalid UTF-8 included) with
//! INTERNAL, a truncated or missing message with INTERNAL, and a message over the 4 MiB
//! decoding limit with OUT_OF_RANGE, before any service sees it. The contract (common.proto)
//! says the first two are the caller's fault, INVALID_ARGUMENT naming `request`, and the last
//! a limit, RESOURCE_EXHAUSTED. [`rewrite`] turns such an answer into the contract's, through
//! the one error mapping (`super::status`); every other status is left as it is.

use crate::error::Error;
use tonic::{Code, Status};

/// Largest request message decoded: tonic's default limit, which the server keeps.
pub const MAX_MESSAGE: usize = 4 << 20;

/// The answer to a request message over [`MAX_MESSAGE`] when its size is not known.
pub fn too_large() -> Error {
    Error::ResourceExhausted(format!("request: over the {MAX_MESSAGE}-byte limit"))
}

/// Prefix of prost's decode errors, which tonic puts in the status message.
const PROTOBUF: &str = "failed to decode Protobuf message: ";
/// tonic's messages for a request body that ends inside or before its message.
const TRUNCATED: [&str; 2] = ["Unexpected EOF decoding stream.", "Missing request message."];
/// Prefix of tonic's message for a message over the decoding limit.
const TOO_LARGE: &str = "Error, decoded message length too large: ";

/// Replace, in the response headers of a trailers-only answer, tonic's status for a request
/// it could not decode with the contract's.
pub fn rewrite(headers: &mut http::HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else { return };
    let Some(error) = contract_error(status.code(), status.message()) else { return };
    if let Err(err) = Status::from(error).add_header(headers) {
        tracing::warn!(error = %err, "could not rewrite a decode failure's status");
    }
}

/// The domain error a decode failure stands for; `None` for any other status.
fn contract_error(code: Code, message: &str) -> Option<Error> {
    match code {
        Code::Internal => {
            if let Some(detail) = message.strip_prefix(PROTOBUF) {
                let reason = format!("not a valid protobuf message: {detail}");
                Some(Error::invalid_argument("request", reason))
            } else if TRUNCATED.contains(&message) {
                Some(Error::invalid_argument("request", "truncated or missing message"))
            } else {
                None
            }
        }
        Code::OutOfRange => {
            let detail = message.strip_prefix(TOO_LARGE)?;
            // "found 5000017 bytes, the limit is: 4194304 bytes"
            let numbers: Vec<&str> =
                detail.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).collect();
            let reason = match numbers.as_slice() {
                [found, limit] => format!("request: {found} bytes, over the {limit}-byte limit"),
                _ => return Some(too_large()),
            };
            Some(Error::ResourceExhausted(reason))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(code: Code, message: &str) -> Status {
        let mut headers = http::HeaderMap::new();
        Status::new(code, message).add_header(&mut headers).unwrap();
        rewrite(&mut headers);
        Status::from_header_map(&headers).unwrap()
    }

    #[test]
    fn decode_failures_get_the_contract_codes() {
        let utf8 = rewritten(
            Code::Internal,
            "failed to decode Protobuf message: RestartRequest.binary: invalid string value: data is not UTF-8 encoded",
        );
        assert_eq!(utf8.code(), Code::InvalidArgument);
        assert_eq!(
            utf8.message(),
            "request: not a valid protobuf message: RestartRequest.binary: invalid string value: data is not UTF-8 encoded"
        );
        let eof = rewritten(Code::Internal, "Unexpected EOF decoding stream.");
        assert_eq!(eof.code(), Code::InvalidArgument);
        let large = rewritten(
            Code::OutOfRange,
            "Error, decoded message length too large: found 5000017 bytes, the limit is: 4194304 bytes",
        );
        assert_eq!(large.code(), Code::ResourceExhausted);
        assert_eq!(large.message(), "request: 5000017 bytes, over the 4194304-byte limit");
    }

    #[test]
    fn other_statuses_are_left_alone() {
        let internal = rewritten(Code::Internal, "store: disk I/O error");
        assert_eq!(
            (internal.code(), internal.message()),
            (Code::Internal, "store: disk I/O error")
        );
        let range = rewritten(Code::OutOfRange, "page out of range");
        assert_eq!(range.code(), Code::OutOfRange);
    }
}
