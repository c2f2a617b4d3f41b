//! JSON ⇄ protobuf for the gateway, over the crate's one descriptor pool
//! ([`crate::proto::descriptors`]): requests in the proto3 JSON mapping (either field name
//! spelling; unknown fields refused), answers with proto field names, every field present,
//! enums by name, timestamps in RFC 3339 and 64-bit integers as strings (the mapping's
//! rule, which keeps them exact in JavaScript).

use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;
use tonic::Status;

/// Encode the JSON object `body` as a message of type `descriptor`. An empty body is the
/// empty message. A malformed body is INVALID_ARGUMENT naming the field at fault.
pub fn request(descriptor: MessageDescriptor, body: &[u8]) -> Result<Vec<u8>, Status> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { body };
    let mut json = serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut json, &mut track);
    let message = DynamicMessage::deserialize(descriptor.clone(), tracked)
        .and_then(|message| json.end().map(|()| message))
        .map_err(|err| {
            let path = track.path().to_string();
            // Where the body is not a JSON object at all the path is "." or starts with "?".
            let field = if path == "." || path.starts_with('?') {
                descriptor.name().to_owned()
            } else {
                path
            };
            Status::invalid_argument(format!("{field}: {err}"))
        })?;
    Ok(message.encode_to_vec())
}

/// The message `bytes` of type `descriptor` as JSON.
pub fn response(descriptor: MessageDescriptor, bytes: &[u8]) -> Result<Value, Status> {
    let options = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
    DynamicMessage::decode(descriptor, bytes)
        .map_err(|err| Status::internal(format!("the answer does not decode: {err}")))?
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|err| Status::internal(format!("the answer has no JSON form: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::descriptors::pool;
    use crate::proto::v1 as pb;

    fn descriptor(name: &str) -> MessageDescriptor {
        pool().get_message_by_name(&format!("rebound.v1.{name}")).unwrap()
    }

    #[test]
    fn reads_the_proto3_json_mapping() {
        let body = br#"{"clientUuid": "c1", "action": "ACTION_REBOOT_HOST", "expires_in": "30s"}"#;
        let bytes = request(descriptor("IssueCommandRequest"), body).unwrap();
        let decoded = pb::IssueCommandRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.client_uuid, "c1");
        assert_eq!(decoded.action, pb::Action::RebootHost as i32);
        assert_eq!(decoded.expires_in.unwrap().seconds, 30);
        assert!(request(descriptor("GetHealthRequest"), b"").is_ok());
    }

    #[test]
    fn a_malformed_body_names_the_field() {
        let err =
            request(descriptor("IssueCommandRequest"), br#"{"action": "ACTION_NAP"}"#).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().starts_with("action: "), "{}", err.message());
        let err = request(descriptor("ListClientsRequest"), br#"{"page_size": 1, "colour": 2}"#)
            .unwrap_err();
        assert!(err.message().contains("colour"), "{}", err.message());
        let err = request(descriptor("ListClientsRequest"), b"{").unwrap_err();
        assert!(err.message().starts_with("ListClientsRequest: "), "{}", err.message());
    }

    #[test]
    fn answers_with_proto_names_and_every_field() {
        let client = pb::GetClientResponse {
            client: Some(pb::Client { mqtt_reconnect_count: 3, ..Default::default() }),
        };
        let json = response(descriptor("GetClientResponse"), &client.encode_to_vec()).unwrap();
        assert_eq!(json["client"]["mqtt_reconnect_count"], "3");
        assert_eq!(json["client"]["presence"], "PRESENCE_UNSPECIFIED");
        assert_eq!(json["client"]["service_failed_unit"], "");
    }
}
